import DICOM
import Logging
import NIOCore
import NIOPosix
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

/// Hands indications from the channel to an async stream.
final class IndicationBridge: ChannelInboundHandler, Sendable {
    typealias InboundIn = ULIndicationEvent
    let continuation: AsyncStream<ULIndicationEvent>.Continuation

    init(_ continuation: AsyncStream<ULIndicationEvent>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }
    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }
}

/// The settings of an association we request.
public struct RequestorConfiguration: Sendable {
    public var callingAETitle = "MOVESCU"
    public var calledAETitle = "ANY-SCP"
    /// The largest P-DATA-TF PDU we accept (-pdu).
    public var maximumPDULength: UInt32 = 16384
    /// -to: nil waits as long as the system does.
    public var connectTimeout: TimeAmount? = nil
    /// -ta
    public var acseTimeout: TimeAmount = .seconds(30)
    /// -td: nil waits forever.
    public var dimseTimeout: TimeAmount? = nil
    public init() {}
}

/// An association this side requested, used from async code.
public final class AssociationRequestor: @unchecked Sendable {
    public let channel: Channel
    public let accepted: AssociateAC
    public let agreed: [PresentationNegotiation.Agreed]
    /// Data bytes per PDV the peer accepts.
    public let maximumPDVDataLength: Int
    private let configuration: RequestorConfiguration
    private var iterator: AsyncStream<ULIndicationEvent>.AsyncIterator
    private var assembler = MessageAssembler()
    private var nextMessageID: UInt16 = 1

    private init(channel: Channel, accepted: AssociateAC, proposed: [ProposedPresentationContext],
                 configuration: RequestorConfiguration, iterator: AsyncStream<ULIndicationEvent>.AsyncIterator) {
        self.channel = channel
        self.accepted = accepted
        self.agreed = PresentationNegotiation.agreed(proposed: proposed, accepted: accepted.presentationContexts)
        self.maximumPDVDataLength = PDataFragmenter.maximumPDVDataLength(peerMaximumLength: accepted.header.userInformation.maximumLength ?? 0)
        self.configuration = configuration
        self.iterator = iterator
    }

    /// Connects, proposes the contexts, and waits for the answer.
    public static func open(host: String, port: Int, contexts: [ProposedPresentationContext],
                            configuration: RequestorConfiguration, group: EventLoopGroup,
                            logger: Logger = Logger(label: "dicom.requestor")) async throws -> AssociationRequestor {
        let (stream, continuation) = AsyncStream<ULIndicationEvent>.makeStream()
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(PDUDecoder(maximumLength: configuration.maximumPDULength)),
                        MessageToByteHandler(PDUEncoder()),
                        AssociationHandler(role: .requestor, artimTimeout: configuration.acseTimeout, logger: logger),
                        IndicationBridge(continuation),
                    ])
                }
            }
        if let timeout = configuration.connectTimeout { bootstrap = bootstrap.connectTimeout(timeout) }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            throw AssociationFailure.connectFailed("\(error)")
        }
        var header = AssociateHeader(calledAETitle: configuration.calledAETitle, callingAETitle: configuration.callingAETitle)
        header.userInformation.maximumLength = configuration.maximumPDULength
        header.userInformation.implementationClassUID = Implementation.classUID
        header.userInformation.implementationVersionName = Implementation.versionName
        let rq = AssociateRQ(header: header, presentationContexts: contexts)
        try await channel.writeAndFlush(ULRequest.associate(rq))
        var iterator = stream.makeAsyncIterator()
        let answer = try await next(&iterator, channel: channel, timeout: configuration.acseTimeout, what: "A-ASSOCIATE response")
        switch answer {
        case .associateAccepted(let ac):
            return AssociationRequestor(channel: channel, accepted: ac, proposed: contexts, configuration: configuration, iterator: iterator)
        case .associateRejected(let rj):
            throw AssociationFailure.rejected(rj)
        case .aborted(let abort):
            throw AssociationFailure.aborted("the peer aborted (source \(abort.source), reason \(abort.reason))")
        case .providerAborted(let why):
            throw AssociationFailure.aborted(why)
        default:
            channel.close(promise: nil)
            throw AssociationFailure.protocolError("unexpected \(answer) while waiting for the A-ASSOCIATE response")
        }
    }

    /// The next indication, or a timeout (which aborts the association and is reported as
    /// a timeout, not as the abort it causes).
    private static func next(_ iterator: inout AsyncStream<ULIndicationEvent>.AsyncIterator, channel: Channel,
                             timeout: TimeAmount?, what: String) async throws -> ULIndicationEvent {
        let fired = TimeoutFlag()
        let timer = timeout.map { t in
            channel.eventLoop.scheduleTask(in: t) {
                fired.set()
                channel.writeAndFlush(ULRequest.abort, promise: nil)
            }
        }
        defer { timer?.cancel() }
        let event = await iterator.next()
        if fired.isSet { throw AssociationFailure.timedOut(what) }
        guard let event else {
            throw AssociationFailure.aborted("the connection closed while waiting for \(what)")
        }
        return event
    }

    public func makeMessageID() -> UInt16 {
        defer { nextMessageID &+= 1 }
        return nextMessageID
    }

    /// The context agreed for an abstract syntax.
    public func context(for abstractSyntax: String) -> PresentationNegotiation.Agreed? {
        agreed.first { $0.abstractSyntax == abstractSyntax }
    }

    /// Sends a message (and its data set, already encoded in the context's syntax).
    public func send(_ message: DIMSEMessage, dataSet: [UInt8]? = nil, contextID: UInt8) async throws {
        for pdu in PDataFragmenter.pdus(contextID: contextID, command: message.commandSet(), dataSet: dataSet,
                                        maximumPDVDataLength: maximumPDVDataLength) {
            try await channel.writeAndFlush(ULRequest.data(pdu))
        }
    }

    /// The next complete message with its data set, within the DIMSE timeout.
    public func receive() async throws -> (message: DIMSEMessage, contextID: UInt8, dataSet: [UInt8]?) {
        var pending: (DIMSEMessage, UInt8)?
        var data: [UInt8] = []
        while true {
            let event = try await AssociationRequestor.next(&iterator, channel: channel, timeout: configuration.dimseTimeout, what: "a DIMSE message")
            switch event {
            case .data(let pdu):
                for pdv in pdu.values {
                    let events: [MessageAssembler.Event]
                    do {
                        events = try assembler.receive(pdv)
                    } catch {
                        abort()
                        throw AssociationFailure.protocolError("\(error)")
                    }
                    for e in events {
                        switch e {
                        case .command(let id, let message):
                            if !message.hasDataSet { return (message, id, nil) }
                            pending = (message, id)
                        case .dataFragment(_, let bytes, let isLast):
                            data += bytes
                            if isLast, let (message, id) = pending { return (message, id, data) }
                        }
                    }
                }
            case .aborted(let abort):
                throw AssociationFailure.aborted("the peer aborted (source \(abort.source), reason \(abort.reason))")
            case .providerAborted(let why):
                throw AssociationFailure.aborted(why)
            case .releaseRequest:
                throw AssociationFailure.protocolError("the peer asked to release while a response was due")
            default:
                throw AssociationFailure.protocolError("unexpected \(event)")
            }
        }
    }

    /// C-ECHO on the Verification context.
    public func echo() async throws -> DIMSEStatus {
        guard let context = context(for: WellKnownUID.verification) else {
            throw AssociationFailure.protocolError("the peer accepted no Verification presentation context")
        }
        let id = makeMessageID()
        try await send(.echoRQ(CEchoRQ(messageID: id)), contextID: context.id)
        let (message, _, _) = try await receive()
        guard case .echoRSP(let rsp) = message, rsp.messageIDBeingRespondedTo == id else {
            throw AssociationFailure.protocolError("expected C-ECHO-RSP to message \(id), got \(message)")
        }
        return rsp.status
    }

    /// A-RELEASE, waiting for the peer's A-RELEASE-RP.
    public func release() async throws {
        try await channel.writeAndFlush(ULRequest.release)
        while true {
            let event = try await AssociationRequestor.next(&iterator, channel: channel, timeout: configuration.acseTimeout, what: "A-RELEASE-RP")
            switch event {
            case .releaseConfirmed: return
            case .data: continue  // late data after our release request (AR-6)
            case .aborted, .providerAborted: throw AssociationFailure.aborted("while releasing: \(event)")
            default: continue
            }
        }
    }

    public func abort() {
        channel.writeAndFlush(ULRequest.abort, promise: nil)
    }
}
