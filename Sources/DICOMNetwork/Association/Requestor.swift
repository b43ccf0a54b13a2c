import DICOM
import Logging
import NIOCore
import NIOPosix
import Synchronization

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
    public var channel: Channel { connection.channel }
    public let accepted: AssociateAC
    public let agreed: [PresentationNegotiation.Agreed]
    /// Data bytes per PDV the peer accepts.
    public var maximumPDVDataLength: Int { connection.maximumPDVDataLength }
    private let connection: DIMSEConnection
    private var nextMessageID: UInt16 = 1
    /// Released or aborted.
    private(set) var ended = false

    private init(connection: DIMSEConnection, accepted: AssociateAC, proposed: [ProposedPresentationContext]) {
        self.connection = connection
        self.accepted = accepted
        self.agreed = PresentationNegotiation.agreed(proposed: proposed, accepted: accepted.presentationContexts)
        connection.maximumPDVDataLength = PDataFragmenter.maximumPDVDataLength(peerMaximumLength: accepted.header.userInformation.maximumLength ?? 0)
        connection.contextIDs = Set(agreed.map(\.id))
    }

    /// Connects, proposes the contexts, waits for the answer, and runs `body` on the
    /// association. `body` should release or abort it; if it does neither, or throws, the
    /// association is aborted. The connection is closed when this returns.
    public static func withAssociation<Result: Sendable>(
        host: String, port: Int, contexts: [ProposedPresentationContext],
        configuration: RequestorConfiguration, group: EventLoopGroup,
        logger: Logger = Logger(label: "dicom.requestor"),
        _ body: (AssociationRequestor) async throws -> Result
    ) async throws -> Result {
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
        if let timeout = configuration.connectTimeout { bootstrap = bootstrap.connectTimeout(timeout) }
        let asyncChannel: NIOAsyncChannel<ULIndicationEvent, ULRequest>
        do {
            asyncChannel = try await bootstrap.connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        PDUChannelHandler(maximumLength: configuration.maximumPDULength),
                        AssociationHandler(role: .requestor, artimTimeout: configuration.acseTimeout, logger: logger),
                    ])
                    return try NIOAsyncChannel<ULIndicationEvent, ULRequest>(wrappingChannelSynchronously: channel)
                }
            }
        } catch {
            throw AssociationFailure.connectFailed("\(error)")
        }
        return try await asyncChannel.executeThenClose { inbound, _ in
            let channel = asyncChannel.channel
            let connection = DIMSEConnection(channel: channel, iterator: inbound.makeAsyncIterator(),
                                             acseTimeout: configuration.acseTimeout, dimseTimeout: configuration.dimseTimeout)
            let association = try await negotiate(connection, contexts: contexts, configuration: configuration)
            do {
                let result = try await body(association)
                if !association.ended { association.abort() }
                return result
            } catch {
                if !association.ended { association.abort() }
                throw error
            }
        }
    }

    private static func negotiate(_ connection: DIMSEConnection, contexts: [ProposedPresentationContext],
                                  configuration: RequestorConfiguration) async throws -> AssociationRequestor {
        var header = AssociateHeader(calledAETitle: configuration.calledAETitle, callingAETitle: configuration.callingAETitle)
        header.userInformation.maximumLength = configuration.maximumPDULength
        header.userInformation.implementationClassUID = Implementation.classUID
        header.userInformation.implementationVersionName = Implementation.versionName
        let rq = AssociateRQ(header: header, presentationContexts: contexts)
        try await connection.channel.writeAndFlush(ULRequest.associate(rq))
        guard let answer = try await connection.nextIndication(timeout: configuration.acseTimeout, what: "A-ASSOCIATE response") else {
            throw AssociationFailure.aborted("the connection closed while waiting for the A-ASSOCIATE response")
        }
        switch answer {
        case .associateAccepted(let ac):
            return AssociationRequestor(connection: connection, accepted: ac, proposed: contexts)
        case .associateRejected(let rj):
            throw AssociationFailure.rejected(rj)
        case .aborted(let abort):
            throw AssociationFailure.aborted("the peer aborted (source \(abort.source), reason \(abort.reason))")
        case .providerAborted(let why):
            throw AssociationFailure.aborted(why)
        default:
            connection.abort()
            throw AssociationFailure.protocolError("unexpected \(answer) while waiting for the A-ASSOCIATE response")
        }
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
        try await connection.send([(message, dataSet)], contextID: contextID)
    }

    /// Sends messages one behind the other in one write (a request and the C-CANCEL of it):
    /// nothing can come between them.
    public func send(_ messages: [(DIMSEMessage, [UInt8]?)], contextID: UInt8) async throws {
        try await connection.send(messages, contextID: contextID)
    }

    /// The next command or data fragment as it arrives, within the DIMSE timeout.
    public func nextEvent() async throws -> AssociationEvent {
        guard let event = try await connection.nextEvent() else {
            throw AssociationFailure.protocolError("the peer asked to release while a response was due")
        }
        return event
    }

    /// The next complete message with its data set, within the DIMSE timeout.
    public func receive() async throws -> (message: DIMSEMessage, contextID: UInt8, dataSet: [UInt8]?) {
        guard let message = try await connection.nextMessage() else {
            throw AssociationFailure.protocolError("the peer asked to release while a response was due")
        }
        return message
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
            throw AssociationFailure.protocolError("expected C-ECHO-RSP to message \(id), got \(message.name)")
        }
        return rsp.status
    }

    /// C-STORE of one data set, already encoded in the transfer syntax agreed for its class.
    public func store(sopClassUID: String, sopInstanceUID: String, dataSet: [UInt8], contextID: UInt8) async throws -> DIMSEStatus {
        let id = makeMessageID()
        try await send(.storeRQ(CStoreRQ(messageID: id, affectedSOPClassUID: sopClassUID, affectedSOPInstanceUID: sopInstanceUID)),
                       dataSet: dataSet, contextID: contextID)
        let (message, _, _) = try await receive()
        guard case .storeRSP(let rsp) = message, rsp.messageIDBeingRespondedTo == id else {
            throw AssociationFailure.protocolError("expected C-STORE-RSP to message \(id), got \(message.name)")
        }
        return rsp.status
    }

    /// A-RELEASE, waiting for the peer's A-RELEASE-RP.
    public func release() async throws {
        ended = true
        try await channel.writeAndFlush(ULRequest.release)
        while true {
            guard let event = try await connection.nextIndication(timeout: connection.acseTimeout, what: "A-RELEASE-RP") else {
                throw AssociationFailure.aborted("the connection closed while waiting for A-RELEASE-RP")
            }
            switch event {
            case .releaseConfirmed:
                await connection.drain()
                return
            case .releaseRequest:
                // Release collision (PS3.8 7.2.2): as requestor we answer, then get our answer.
                try await channel.writeAndFlush(ULRequest.releaseResponse)
            case .aborted, .providerAborted: throw AssociationFailure.aborted("while releasing: \(event)")
            default: continue  // late data after our release request (AR-6), or a release collision
            }
        }
    }

    public func abort() {
        ended = true
        connection.abort()
    }

    /// Bytes written to the socket unchecked, past the PDU encoder: for fault injection only.
    public func writeRawBytesForFaultInjection(_ bytes: [UInt8]) async throws {
        try await connection.writeRawBytes(bytes)
    }
}
