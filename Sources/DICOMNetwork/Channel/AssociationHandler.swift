import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the local user asks of the upper layer (the service primitives of PS3.8 section 7).
public enum ULRequest: Sendable {
    // Indirect, as in `PDU`: the small requests stay small enough for NIO's messages.
    indirect case associate(AssociateRQ)
    indirect case accept(AssociateAC)
    case reject(AssociateRJ)
    case data(PDataTF)
    case release
    case releaseResponse
    case abort

    /// The primitive's name, for messages.
    public var name: String {
        switch self {
        case .associate: return "A-ASSOCIATE request"
        case .accept: return "A-ASSOCIATE accept"
        case .reject: return "A-ASSOCIATE reject"
        case .data: return "P-DATA request"
        case .release: return "A-RELEASE request"
        case .releaseResponse: return "A-RELEASE response"
        case .abort: return "A-ABORT request"
        }
    }
}

/// What the upper layer tells the local user.
public enum ULIndicationEvent: Equatable, Sendable {
    // Indirect, as in `PDU`: every P-DATA indication goes up the pipeline as a message.
    indirect case associateRequest(AssociateRQ)
    indirect case associateAccepted(AssociateAC)
    case associateRejected(AssociateRJ)
    case data(PDataTF)
    case releaseRequest
    case releaseConfirmed
    /// The peer's service user sent A-ABORT.
    case aborted(Abort)
    /// The association ended abnormally: the peer's provider aborted, a protocol error, a
    /// timeout, or the connection closed. The text says which.
    case providerAborted(String)
}

public enum AssociationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A request the protocol machine does not allow in its state.
    case notAllowed(request: String, state: ULState)

    public var description: String {
        switch self {
        case .notAllowed(let request, let state): return "\(request) is not allowed in state \(state)"
        }
    }
}

/// Runs the upper-layer state machine on a channel: PDUs in, indications up; requests in,
/// PDUs out. Holds no protocol logic of its own beyond mapping messages to events and
/// carrying out the effects the machine returns.
public final class AssociationHandler: ChannelDuplexHandler, @unchecked Sendable {
    public typealias InboundIn = PDU
    public typealias InboundOut = ULIndicationEvent
    public typealias OutboundIn = ULRequest
    public typealias OutboundOut = PDU

    public enum Role: Sendable { case requestor, acceptor }

    private var machine = ULStateMachine()
    private let role: Role
    private let artimTimeout: TimeAmount
    private var artim: Scheduled<Void>?
    private var logger: Logger
    /// Why the association is ending, for the indication when the connection closes.
    private var endReason: String?
    private var indicatedEnd = false

    public var state: ULState { machine.state }

    public init(role: Role, artimTimeout: TimeAmount = .seconds(30), logger: Logger = Logger(label: "dicom.ul")) {
        self.role = role
        self.artimTimeout = artimTimeout
        self.logger = logger
    }

    // MARK: Inbound

    public func channelActive(context: ChannelHandlerContext) {
        if role == .acceptor {
            run(.evt5, pdu: nil, context: context)
        }
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let pdu = unwrapInboundIn(data)
        let event = ULEvent(received: pdu)
        var abortSource: UInt8 = 0
        if case .abort(let abort) = pdu { abortSource = abort.source }
        if event == .evt19 { endReason = "the peer sent an unknown PDU type 0x\(String(pdu.typeCode, radix: 16))" }
        run(event, pdu: pdu, abortSource: abortSource, context: context)
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Logged at debug: the user of the association reports how it ended, once.
        if let pduError = error as? PDUError {
            endReason = "the peer sent a bad PDU: \(pduError)"
            logger.debug("\(pduError)")
            run(.evt19, pdu: nil, context: context)
            return
        }
        endReason = describeConnectionError(error)
        logger.debug("connection error: \(error)")
        context.close(promise: nil)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        run(.evt17, pdu: nil, context: context)
        artim?.cancel()
        artim = nil
        // Before an association exists the machine indicates nothing; the user still
        // learns why the connection ended.
        if !indicatedEnd, let endReason {
            indicatedEnd = true
            context.fireChannelRead(wrapInboundOut(.providerAborted(endReason)))
        }
        context.fireChannelInactive()
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        let event: ULEvent
        var pdu: PDU?
        switch request {
        case .associate(let rq):
            // The channel is connected already: Evt1 (AE-1) then the connect confirmation Evt2.
            guard machine.state == .sta1 else {
                promise?.fail(AssociationError.notAllowed(request: request.name, state: machine.state))
                return
            }
            _ = machine.handle(.evt1)
            event = .evt2
            pdu = .associateRQ(rq)
        case .accept(let ac): event = .evt7; pdu = .associateAC(ac)
        case .reject(let rj): event = .evt8; pdu = .associateRJ(rj)
        case .data(let p): event = .evt9; pdu = .pData(p)
        case .release: event = .evt11; pdu = .releaseRQ
        case .releaseResponse: event = .evt14; pdu = .releaseRP
        case .abort:
            event = .evt15
            pdu = .abort(Abort(source: 0, reason: 0))
            endReason = "aborted by this side"
        }
        guard ULStateMachine.action(state: machine.state, event: event) != nil else {
            promise?.fail(AssociationError.notAllowed(request: request.name, state: machine.state))
            return
        }
        run(event, pdu: pdu, context: context, promise: promise)
    }

    // MARK: Effects

    private func run(_ event: ULEvent, pdu: PDU?, abortSource: UInt8 = 0, context: ChannelHandlerContext,
                     promise: EventLoopPromise<Void>? = nil) {
        let transition = machine.handle(event, abortSource: abortSource)
        logger.trace("\(transition.from) \(transition.event) -> \(transition.action?.rawValue ?? "none") -> \(transition.to)")
        if endReason == nil, event != .evt15, let pdu, transition.action == .aa1 || transition.action == .aa8 {
            endReason = "the peer sent \(pdu.name), which the protocol does not allow in state \(transition.from)"
        }
        guard transition.action != nil else {
            promise?.succeed(())
            return
        }
        var promise = promise
        for effect in transition.effects {
            switch effect {
            case .openTransport:
                break  // the bootstrap connected the channel before this handler ran
            case .closeTransport:
                context.close(promise: nil)
            case .sendAssociateRQ, .sendAssociateAC, .sendAssociateRJ, .sendPData, .sendReleaseRQ, .sendReleaseRP:
                if let pdu {
                    context.writeAndFlush(wrapOutboundOut(pdu), promise: promise)
                    promise = nil
                }
            case .sendAbort(let source):
                let reason: UInt8 = source == 2 ? (event == .evt19 ? 1 : 2) : 0
                context.writeAndFlush(wrapOutboundOut(.abort(Abort(source: source, reason: reason))), promise: promise)
                promise = nil
            case .startARTIM:
                artim?.cancel()
                let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
                artim = context.eventLoop.scheduleTask(in: artimTimeout) { [weak self] in
                    guard let self else { return }
                    self.endReason = self.endReason ?? "the ARTIM timer expired"
                    self.run(.evt18, pdu: nil, context: boundContext.value)
                }
            case .stopARTIM:
                artim?.cancel()
                artim = nil
            case .indicate(let indication):
                deliver(indication, pdu: pdu, context: context)
            }
        }
        promise?.succeed(())
    }

    private func deliver(_ indication: ULIndication, pdu: PDU?, context: ChannelHandlerContext) {
        let event: ULIndicationEvent
        switch (indication, pdu) {
        case (.transportConnected, _): return
        case (.associateRequest, .associateRQ(let rq)?): event = .associateRequest(rq)
        case (.associateAccepted, .associateAC(let ac)?): event = .associateAccepted(ac)
        case (.associateRejected, .associateRJ(let rj)?): event = .associateRejected(rj)
        case (.pData, .pData(let p)?): event = .data(p)
        case (.releaseRequest, _): event = .releaseRequest
        case (.releaseConfirmed, _): event = .releaseConfirmed
        case (.abort, .abort(let a)?): event = .aborted(a)
        case (.providerAbort, .abort(let a)?):
            event = .providerAborted("the peer's service provider aborted (reason \(a.reason))")
        case (.providerAbort, _):
            event = .providerAborted(endReason ?? "the peer closed the connection")
        default:
            return
        }
        if case .providerAborted = event {
            guard !indicatedEnd else { return }
            indicatedEnd = true
        }
        if case .aborted = event { indicatedEnd = true }
        context.fireChannelRead(wrapInboundOut(event))
    }
}

/// A connection error in words: the common errno values as what they mean for a DICOM peer.
func describeConnectionError(_ error: Error) -> String {
    if let io = error as? IOError {
        switch io.errnoCode {
        case ECONNRESET: return "the peer reset the connection"
        case EPIPE: return "the peer closed the connection while we were sending"
        case ETIMEDOUT: return "the connection timed out"
        default: return "connection error: \(io)"
        }
    }
    return "connection error: \(error)"
}
