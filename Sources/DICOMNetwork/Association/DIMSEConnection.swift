import DICOM
import Logging
import NIOCore
import Synchronization

/// Why an association could not be used.
public enum AssociationFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// TCP connect failed (refused, unreachable, timed out).
    case connectFailed(String)
    case rejected(AssociateRJ)
    case aborted(String)
    /// No answer within the ACSE timeout (-ta) or DIMSE timeout (-td).
    case timedOut(String)
    case protocolError(String)

    public var description: String {
        switch self {
        case .connectFailed(let why): return "TCP connection failed: \(why)"
        case .rejected(let rj): return "association rejected: \(rj.resultText), \(rj.sourceText), \(rj.reasonText)"
        case .aborted(let why): return "association aborted: \(why)"
        case .timedOut(let what): return "timed out waiting for \(what)"
        case .protocolError(let why): return "protocol error: \(why)"
        }
    }
}

/// Set once by a timer on the event loop, read by the waiting task.
final class TimeoutFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// What arrives on an established association, as it arrives: a whole command, then its
/// data set in fragments (so that a large object can go to disk without being held whole).
public enum AssociationEvent: Equatable, Sendable {
    case command(DIMSEMessage, contextID: UInt8)
    case dataFragment(ByteChunk, contextID: UInt8, isLast: Bool)
}

/// The part requestor and acceptor share once an association is established: indications in
/// (with back pressure, through NIOAsyncChannel), messages out, the DIMSE timeout, and the
/// reassembly of commands. Used by one task at a time.
final class DIMSEConnection: @unchecked Sendable {
    typealias Inbound = NIOAsyncChannelInboundStream<ULIndicationEvent>.AsyncIterator

    let channel: Channel
    private var iterator: Inbound
    private var assembler = MessageAssembler()
    /// Events of the last indication not taken yet: from `nextQueued` on. Taken ones are moved
    /// out (an empty fragment left in their place), so that a fragment's buffer has one owner,
    /// which can then adopt it.
    private var queued: [AssociationEvent] = []
    private var nextQueued = 0
    /// A bad PDV found after others of the same indication: the association is aborted and
    /// this thrown once the events before it are taken (a store completed before it is still
    /// answered, as when the two came in separate P-DATA-TFs).
    private var failureAfterQueued: (any Error)?
    /// Presentation context IDs a PDV may use; others are a protocol error.
    var contextIDs: Set<UInt8> = []
    var maximumPDVDataLength = 16372
    let acseTimeout: TimeAmount
    let dimseTimeout: TimeAmount?

    init(channel: Channel, iterator: Inbound, acseTimeout: TimeAmount, dimseTimeout: TimeAmount?) {
        self.channel = channel
        self.iterator = iterator
        self.acseTimeout = acseTimeout
        self.dimseTimeout = dimseTimeout
    }

    /// The next indication, or a timeout (which aborts the association and is reported as
    /// a timeout, not as the abort it causes). nil when the connection closed.
    func nextIndication(timeout: TimeAmount?, what: String) async throws -> ULIndicationEvent? {
        let fired = TimeoutFlag()
        let channel = self.channel
        let timer = timeout.map { t in
            channel.eventLoop.scheduleTask(in: t) {
                fired.set()
                channel.writeAndFlush(ULRequest.abort, promise: nil)
            }
        }
        defer { timer?.cancel() }
        let event: ULIndicationEvent?
        do {
            event = try await iterator.next()
        } catch {
            if fired.isSet { throw AssociationFailure.timedOut(what) }
            throw AssociationFailure.aborted("\(error)")
        }
        if fired.isSet { throw AssociationFailure.timedOut(what) }
        return event
    }

    /// The next command or data fragment. nil when the peer asks to release between messages
    /// (the caller answers); throws when the association ends any other way.
    func nextEvent() async throws -> AssociationEvent? {
        while nextQueued == queued.count {
            queued.removeAll(keepingCapacity: true)
            nextQueued = 0
            if let failure = failureAfterQueued {
                failureAfterQueued = nil
                abort()
                throw failure
            }
            guard let indication = try await nextIndication(timeout: dimseTimeout, what: "a DIMSE message") else {
                throw AssociationFailure.aborted("the connection closed")
            }
            switch indication {
            case .data(let pdu):
                pdvs: for pdv in pdu.values {
                    let event: MessageAssembler.Event?
                    do {
                        event = try receive(pdv)
                    } catch {
                        if queued.isEmpty { abort(); throw error }
                        failureAfterQueued = error
                        break pdvs
                    }
                    switch event {
                    case .command(let id, let message)?: queued.append(.command(message, contextID: id))
                    case .dataFragment(let id, let bytes, let isLast)?: queued.append(.dataFragment(bytes, contextID: id, isLast: isLast))
                    case nil: break
                    }
                }
            case .releaseRequest:
                guard assembler.isIdle else {
                    abort()
                    throw AssociationFailure.protocolError("the peer asked to release in the middle of a message")
                }
                return nil
            case .aborted(let abort):
                throw AssociationFailure.aborted("the peer aborted (source \(abort.source), reason \(abort.reason))")
            case .providerAborted(let why):
                throw AssociationFailure.aborted(why)
            default:
                abort()
                throw AssociationFailure.protocolError("unexpected \(indication) on an established association")
            }
        }
        // Not removeFirst: that moves every event behind it, and a merged indication holds
        // up to a MiB of PDVs.
        var event = AssociationEvent.dataFragment(ByteChunk([]), contextID: 0, isLast: false)
        swap(&event, &queued[nextQueued])
        nextQueued += 1
        return event
    }

    /// What one PDV completes; a PDV on a context never accepted, or out of order, is a
    /// protocol error.
    private func receive(_ pdv: PresentationDataValue) throws -> MessageAssembler.Event? {
        guard contextIDs.contains(pdv.contextID) else {
            throw AssociationFailure.protocolError("the peer sent data on presentation context \(pdv.contextID), which was not accepted")
        }
        do {
            return try assembler.receive(pdv)
        } catch {
            throw AssociationFailure.protocolError("\(error)")
        }
    }

    /// The next whole message with its data set collected in memory (for small ones:
    /// responses, identifiers). nil when the peer asks to release.
    func nextMessage() async throws -> (message: DIMSEMessage, contextID: UInt8, dataSet: [UInt8]?)? {
        guard let first = try await nextEvent() else { return nil }
        guard case .command(let message, let id) = first else {
            throw AssociationFailure.protocolError("a data fragment without a command")  // the assembler prevents this
        }
        guard message.hasDataSet else { return (message, id, nil) }
        var data: [UInt8] = []
        while true {
            guard let event = try await nextEvent() else {
                throw AssociationFailure.protocolError("the peer asked to release before a data set was complete")
            }
            guard case .dataFragment(let bytes, _, let isLast) = event else {
                throw AssociationFailure.protocolError("a command before the data set was complete")
            }
            data += bytes
            if isLast { return (message, id, data) }
        }
    }

    /// Sends a message (and its data set, already encoded in the context's syntax).
    func send(_ message: DIMSEMessage, dataSet: [UInt8]? = nil, contextID: UInt8) async throws {
        try await send([(message, dataSet)], contextID: contextID)
    }

    /// Sends messages in order: their PDUs are written a MiB at a time, each batch flushed
    /// once and awaited. Awaiting each PDU cost a task resumption per PDU and let a busy
    /// machine put time between a request and the C-CANCEL behind it; a batch of a MiB keeps
    /// a large data set from being queued in the channel whole.
    func send(_ messages: [(DIMSEMessage, [UInt8]?)], contextID: UInt8) async throws {
        let pdus = messages.flatMap { message, dataSet in
            PDataFragmenter.pdus(contextID: contextID, command: message.commandSet(), dataSet: dataSet,
                                 maximumPDVDataLength: maximumPDVDataLength)
        }
        let channel = self.channel
        var start = 0
        while start < pdus.count {
            var end = start, bytes = 0
            while end < pdus.count && (end == start || bytes < 1 << 20) {
                bytes += pdus[end].values.reduce(0) { $0 + $1.payload.count }
                end += 1
            }
            let batch = pdus[start..<end]
            let written = channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
                for pdu in batch.dropLast() { channel.write(ULRequest.data(pdu), promise: nil) }
                return channel.writeAndFlush(ULRequest.data(batch[batch.endIndex - 1]))
            }
            do {
                try await written.get()
            } catch {
                throw AssociationFailure.aborted("sending \(messages.map(\.0.name).joined(separator: " and ")) failed: \(error)")
            }
            start = end
        }
    }

    /// Waits for the connection to close (after a rejection or release response), at most
    /// the ACSE timeout, then closes it.
    func drain() async {
        while (try? await nextIndication(timeout: acseTimeout, what: "the peer to close")) != nil {}
        try? await channel.close()
    }

    func abort() {
        channel.writeAndFlush(ULRequest.abort, promise: nil)
    }

    /// Writes bytes to the socket as they are, past the PDU encoder and the upper-layer state
    /// machine, which never learn of them. Only for fault injection (the demo archive's
    /// fault modes): a peer that sends a malformed or truncated PDU.
    func writeRawBytes(_ bytes: [UInt8]) async throws {
        let channel = self.channel
        try await channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            do {
                let encoder = try channel.pipeline.syncOperations.context(handlerType: PDUChannelHandler.self)
                return encoder.writeAndFlush(NIOAny(channel.allocator.buffer(bytes: bytes)))
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }.get()
    }
}

extension DIMSEMessage {
    /// The message's name as PS3.7 spells it.
    public var name: String {
        switch self {
        case .echoRQ: return "C-ECHO-RQ"
        case .echoRSP: return "C-ECHO-RSP"
        case .storeRQ: return "C-STORE-RQ"
        case .storeRSP: return "C-STORE-RSP"
        case .findRQ: return "C-FIND-RQ"
        case .findRSP: return "C-FIND-RSP"
        case .moveRQ: return "C-MOVE-RQ"
        case .moveRSP: return "C-MOVE-RSP"
        case .getRQ: return "C-GET-RQ"
        case .getRSP: return "C-GET-RSP"
        case .cancelRQ: return "C-CANCEL-RQ"
        }
    }
}
