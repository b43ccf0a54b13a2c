import DICOM
import Logging
import NIOCore

/// A service that handles an accepted association on the association's event loop, one
/// command or data fragment at a time, with no task and no async bridge: for services whose
/// work per event is short, or handed to a thread pool (the storage SCP). Its methods are
/// called on the event loop only, and it may call the association's only from there.
public protocol EventLoopAssociationService: AnyObject {
    /// The next command or data fragment. Throwing aborts the association; the error is
    /// what the acceptor reports.
    func received(_ event: AssociationEvent, on association: EventLoopAssociation) throws
    /// The association ended, once: released by the peer (nil) or any other way.
    func ended(_ association: EventLoopAssociation, error: (any Error)?)
}

/// An accepted association served on its event loop (see `EventLoopAssociationService`).
/// Confined to that loop: every method is called there.
public final class EventLoopAssociation: @unchecked Sendable {
    public let id: Int
    public let request: AssociateRQ
    public let response: AssociateAC
    public let agreed: [PresentationNegotiation.Agreed]
    /// The peer's address as text, for logs.
    public let peer: String
    public let maximumPDVDataLength: Int
    public var eventLoop: EventLoop { handler.eventLoop }
    private unowned let handler: EventLoopAcceptorHandler

    fileprivate init(id: Int, request: AssociateRQ, response: AssociateAC, peer: String, handler: EventLoopAcceptorHandler) {
        self.id = id
        self.request = request
        self.response = response
        self.peer = peer
        self.handler = handler
        agreed = AcceptorPolicy.agreed(request, response)
        maximumPDVDataLength = PDataFragmenter.maximumPDVDataLength(peerMaximumLength: request.header.userInformation.maximumLength ?? 0)
    }

    public var callingAETitle: String { request.header.callingAETitle }

    /// The context with this ID, if it was accepted.
    public func context(_ id: UInt8) -> PresentationNegotiation.Agreed? {
        agreed.first { $0.id == id }
    }

    /// Sends a message; a failed write ends the association, and the service learns it
    /// through `ended`.
    public func post(_ message: DIMSEMessage, dataSet: [UInt8]? = nil, contextID: UInt8) {
        handler.post(message, dataSet: dataSet, contextID: contextID)
    }

    /// Holds further events (and stops reading the socket) until `resume`: while the
    /// service waits for work it handed elsewhere.
    public func pause() { handler.pause() }

    /// Hands on the events held since `pause`, then reads again.
    public func resume() { handler.resume() }

    public func abort() { handler.abortAssociation() }
}

/// The acceptor's end of the pipeline for an event-loop service: answers the association
/// request by the acceptor's policy, assembles DIMSE messages from P-DATA, answers the
/// release, keeps the DIMSE timeout and holds events while the service is paused. What the
/// async `AssociationAcceptor.serve` does for a task-based service, without a task.
final class EventLoopAcceptorHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ULIndicationEvent
    typealias OutboundIn = ULRequest
    typealias OutboundOut = ULRequest

    private enum State {
        case awaitingRequest
        /// The request is in and answered on the loop's next turn: PDUs that came with it in
        /// the same read reach the upper-layer state machine first, which aborts on data
        /// sent before our answer (AA-8), as when the answer took longer.
        case answering
        case established(EventLoopAssociation, any EventLoopAssociationService)
        /// Rejected, released or ended: whatever still comes is dropped until the close.
        case done
    }

    /// An event held while paused; the release request, or a protocol error found after
    /// them, is held behind the events before it.
    private enum Held {
        case event(AssociationEvent)
        case release
        case failure(any Error)
    }

    let id: Int
    let eventLoop: EventLoop
    private let configuration: AcceptorConfiguration
    private let counter: ConnectionCounter
    private let logger: Logger
    private let observer: AssociationAcceptor.Observer
    private let makeService: AssociationAcceptor.EventLoopServiceFactory
    private var context: ChannelHandlerContext?
    private var state = State.awaitingRequest
    private var peer = "unknown peer"
    private var assembler = MessageAssembler()
    private var contextIDs: Set<UInt8> = []
    private var held: [Held] = []
    private var nextHeld = 0
    private var paused = false
    /// A read asked for while paused, passed on at `resume`.
    private var readWanted = false
    private var dimseTimer: Scheduled<Void>?
    private var closed = false
    /// A protocol error is held behind earlier events: what comes after it is dropped.
    private var failureHeld = false

    init(id: Int, eventLoop: EventLoop, configuration: AcceptorConfiguration, counter: ConnectionCounter, logger: Logger,
         observer: @escaping AssociationAcceptor.Observer, makeService: @escaping AssociationAcceptor.EventLoopServiceFactory) {
        self.id = id
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.counter = counter
        var logger = logger
        logger[metadataKey: "association"] = "\(id)"
        self.logger = logger
        self.observer = observer
        self.makeService = makeService
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A channel closed before it was ever active (the acceptor stopping) is never
        // inactive: it is still counted out here.
        closeOnce()
        self.context = nil
    }

    private func closeOnce() {
        guard !closed else { return }
        closed = true
        counter.close()
        observer(.closed(id: id))
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown peer"
        observer(.connected(id: id, peer: peer))
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        dimseTimer?.cancel()
        fail(AssociationFailure.aborted("the connection closed"), abort: false)
        state = .done
        closeOnce()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let indication = unwrapInboundIn(data)
        switch state {
        case .awaitingRequest:
            guard case .associateRequest(let rq) = indication else {
                answer(indication, context: context)
                return
            }
            state = .answering
            let loopBound = NIOLoopBound(context, eventLoop: eventLoop)
            eventLoop.execute {
                guard case .answering = self.state else { return }
                self.answer(rq, context: loopBound.value)
            }
        case .answering:
            let why: String
            switch indication {
            case .providerAborted(let reason): why = reason
            case .aborted(let abort): why = "the peer aborted (source \(abort.source), reason \(abort.reason))"
            default: return
            }
            state = .done
            report(why)
            context.close(promise: nil)
        case .established:
            established(indication)
        case .done:
            break
        }
    }

    // MARK: Before the association

    /// Anything but a request first ends the connection.
    private func answer(_ indication: ULIndicationEvent, context: ChannelHandlerContext) {
        state = .done
        if case .providerAborted(let why) = indication {
            report(why)
        } else {
            report("expected an A-ASSOCIATE-RQ, got \(indication)")
        }
        context.close(promise: nil)
    }

    private func answer(_ rq: AssociateRQ, context: ChannelHandlerContext) {
        observer(.requested(id: id, rq))
        // This connection is counted in `active` already.
        switch AcceptorPolicy.answer(rq, configuration: configuration, activeAssociations: counter.active - 1) {
        case .reject(let rj, let why):
            state = .done
            logger.info("rejecting association from \(AETitle.printable(rq.header.callingAETitle))@\(peer): \(why)")
            observer(.rejected(id: id, rj, reason: why))
            // The peer closes; the upper layer's ARTIM timer closes if it does not.
            context.writeAndFlush(wrapOutboundOut(.reject(rj)), promise: nil)
        case .accept(let ac):
            let association = EventLoopAssociation(id: id, request: rq, response: ac, peer: peer, handler: self)
            contextIDs = Set(association.agreed.map(\.id))
            let service = makeService(association)
            state = .established(association, service)
            // Told before the write: a write that fails at once closes the channel, and the
            // observer hears of the end after the acceptance, not before it.
            observer(.accepted(id: id, ac, agreed: association.agreed, maximumSendPDV: association.maximumPDVDataLength))
            context.writeAndFlush(wrapOutboundOut(.accept(ac)), promise: nil)
            armDIMSETimer()
        }
    }

    // MARK: The established association

    private func established(_ indication: ULIndicationEvent) {
        switch indication {
        case .data where failureHeld, .releaseRequest where failureHeld:
            return
        case .data(let pdu):
            for pdv in pdu.values {
                let event: MessageAssembler.Event?
                do {
                    guard contextIDs.contains(pdv.contextID) else {
                        throw AssociationFailure.protocolError("the peer sent data on presentation context \(pdv.contextID), which was not accepted")
                    }
                    do {
                        event = try assembler.receive(pdv)
                    } catch {
                        throw AssociationFailure.protocolError("\(error)")
                    }
                } catch {
                    // The events before the bad PDV are handed on first (a store completed
                    // before it is still answered).
                    failureHeld = true
                    hand(.failure(error))
                    return
                }
                switch event {
                case .command(let id, let message)?: hand(.event(.command(message, contextID: id)))
                case .dataFragment(let id, let bytes, let isLast)?: hand(.event(.dataFragment(bytes, contextID: id, isLast: isLast)))
                case nil: continue
                }
                guard case .established = state else { return }
            }
        case .releaseRequest:
            if assembler.isIdle {
                hand(.release)
            } else {
                failureHeld = true
                hand(.failure(AssociationFailure.protocolError("the peer asked to release in the middle of a message")))
            }
        case .aborted(let abort):
            fail(AssociationFailure.aborted("the peer aborted (source \(abort.source), reason \(abort.reason))"), abort: false)
        case .providerAborted(let why):
            fail(AssociationFailure.aborted(why), abort: false)
        default:
            fail(AssociationFailure.protocolError("unexpected \(indication) on an established association"), abort: true)
        }
        if case .established = state, !paused { armDIMSETimer() }
    }

    /// Hands an event to the service now, or holds it behind the ones held already.
    private func hand(_ item: Held) {
        if paused || nextHeld < held.count {
            held.append(item)
        } else {
            process(item)
        }
    }

    private func process(_ item: Held) {
        guard case .established(let association, let service) = state else { return }
        switch item {
        case .event(let event):
            do {
                try service.received(event, on: association)
            } catch {
                fail(error, abort: true)
            }
        case .release:
            dimseTimer?.cancel()
            state = .done
            context?.writeAndFlush(wrapOutboundOut(.releaseResponse), promise: nil)
            observer(.released(id: id))
            service.ended(association, error: nil)
        case .failure(let error):
            fail(error, abort: true)
        }
    }

    /// Ends the association with `error`: aborted here when `abort` (the peer's own abort or
    /// a closed connection needs none), reported, the service told, the channel closed. Once:
    /// the state leaves `.established` before anything is written, so that a write closing
    /// the channel at once cannot end it a second time with another reason.
    private func fail(_ error: any Error, abort: Bool) {
        guard case .established(let association, let service) = state else { return }
        dimseTimer?.cancel()
        state = .done
        held.removeAll()
        nextHeld = 0
        if abort { context?.writeAndFlush(wrapOutboundOut(.abort), promise: nil) }
        report("\(error)")
        service.ended(association, error: error)
        // Closed at once, not after the peer or ARTIM: nothing more can happen on it.
        context?.close(promise: nil)
    }

    private func report(_ why: String) {
        logger.warning("connection \(id) ended: \(why)")
        observer(.aborted(id: id, reason: why))
    }

    /// The DIMSE timeout (-td) runs while we wait for the peer, not while the service works.
    private func armDIMSETimer() {
        dimseTimer?.cancel()
        dimseTimer = nil
        guard let seconds = configuration.dimseTimeout else { return }
        dimseTimer = eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [weak self] in
            guard let self, case .established = self.state, !self.paused else { return }
            self.fail(AssociationFailure.timedOut("a DIMSE message"), abort: true)
        }
    }

    // MARK: For the association

    func post(_ message: DIMSEMessage, dataSet: [UInt8]?, contextID: UInt8) {
        guard let context, case .established(let association, _) = state else { return }
        for pdu in PDataFragmenter.pdus(contextID: contextID, command: message.commandSet(), dataSet: dataSet,
                                        maximumPDVDataLength: association.maximumPDVDataLength) {
            context.writeAndFlush(wrapOutboundOut(.data(pdu)), promise: nil)
        }
    }

    func pause() {
        paused = true
        dimseTimer?.cancel()
        dimseTimer = nil
    }

    func resume() {
        paused = false
        while !paused, nextHeld < held.count {
            let item = held[nextHeld]
            nextHeld += 1
            process(item)
        }
        if nextHeld == held.count {
            held.removeAll(keepingCapacity: true)
            nextHeld = 0
        }
        guard !paused else { return }
        if case .established = state { armDIMSETimer() }
        // Whatever the state (a held release answered): the peer's close must still be read.
        if readWanted, let context {
            readWanted = false
            context.read()
        }
    }

    func abortAssociation() {
        fail(AssociationFailure.aborted("aborted by this side"), abort: true)
    }

    /// Aborts from outside the loop (the acceptor stopping with abortOpen).
    func abortFromOutside() {
        eventLoop.execute {
            if case .established = self.state {
                self.fail(AssociationFailure.aborted("the storage SCP was stopped"), abort: true)
            } else {
                self.context?.close(promise: nil)
            }
        }
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if paused {
            readWanted = true
        } else {
            context.read()
        }
    }
}
