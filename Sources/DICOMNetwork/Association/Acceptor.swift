import DICOM
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// What happens on the acceptor, for whoever logs or draws it. `id` numbers the connections
/// from 1 in the order they arrive.
public enum AcceptorEvent: Sendable {
    case connected(id: Int, peer: String)
    case requested(id: Int, AssociateRQ)
    case accepted(id: Int, AssociateAC, agreed: [PresentationNegotiation.Agreed], maximumSendPDV: Int)
    case rejected(id: Int, AssociateRJ, reason: String)
    case released(id: Int)
    /// The association or connection ended abnormally; the text says how.
    case aborted(id: Int, reason: String)
    /// The connection is closed and its resources are gone.
    case closed(id: Int)
}

/// An association a peer requested and we accepted, handed to the service from async code.
public final class AcceptedAssociation: @unchecked Sendable {
    public let id: Int
    public let request: AssociateRQ
    public let response: AssociateAC
    public let agreed: [PresentationNegotiation.Agreed]
    /// The peer's address as text, for logs.
    public let peer: String
    private let connection: DIMSEConnection
    private(set) var releaseAnswered = false

    init(id: Int, request: AssociateRQ, response: AssociateAC, peer: String, connection: DIMSEConnection) {
        self.id = id
        self.request = request
        self.response = response
        self.peer = peer
        self.connection = connection
        self.agreed = AcceptorPolicy.agreed(request, response)
        connection.contextIDs = Set(agreed.map(\.id))
        connection.maximumPDVDataLength = PDataFragmenter.maximumPDVDataLength(
            peerMaximumLength: request.header.userInformation.maximumLength ?? 0)
    }

    public var callingAETitle: String { request.header.callingAETitle }
    public var calledAETitle: String { request.header.calledAETitle }
    public var maximumPDVDataLength: Int { connection.maximumPDVDataLength }

    /// The context with this ID, if it was accepted.
    public func context(_ id: UInt8) -> PresentationNegotiation.Agreed? {
        agreed.first { $0.id == id }
    }

    /// The next command or data fragment, within the DIMSE timeout. nil once the peer has
    /// released the association (the release is answered here); throws when it ends any
    /// other way.
    public func nextEvent() async throws -> AssociationEvent? {
        try await answeringRelease { try await $0.nextEvent() }
    }

    /// The next whole message with its data set in memory.
    public func nextMessage() async throws -> (message: DIMSEMessage, contextID: UInt8, dataSet: [UInt8]?)? {
        try await answeringRelease { try await $0.nextMessage() }
    }

    /// What `receive` returns; once it says the peer released (nil), the release is answered.
    private func answeringRelease<T>(_ receive: (DIMSEConnection) async throws -> T?) async throws -> T? {
        guard !releaseAnswered else { return nil }
        guard let value = try await receive(connection) else {
            try await connection.channel.writeAndFlush(ULRequest.releaseResponse)
            releaseAnswered = true
            return nil
        }
        return value
    }

    public func send(_ message: DIMSEMessage, dataSet: [UInt8]? = nil, contextID: UInt8) async throws {
        try await connection.send(message, dataSet: dataSet, contextID: contextID)
    }

    /// Answers a C-ECHO-RQ with success.
    public func answerEcho(_ rq: CEchoRQ, contextID: UInt8) async throws {
        try await send(.echoRSP(CEchoRSP(messageIDBeingRespondedTo: rq.messageID, status: .success)), contextID: contextID)
    }

    public func abort() {
        connection.abort()
    }

    /// Bytes written to the socket unchecked, past the PDU encoder: for fault injection only.
    public func writeRawBytesForFaultInjection(_ bytes: [UInt8]) async throws {
        try await connection.writeRawBytes(bytes)
    }

    func drain() async { await connection.drain() }
}

/// Counts the connections in flight.
final class ConnectionCounter: Sendable {
    private let state = Mutex((next: 1, active: 0))
    func open() -> Int {
        state.withLock { s in
            s.active += 1
            defer { s.next += 1 }
            return s.next
        }
    }
    func close() { state.withLock { $0.active -= 1 } }
    var active: Int { state.withLock { $0.active } }
}

/// The handlers of the connections an event-loop acceptor has open, for stopping it.
final class OpenConnections: Sendable {
    private let state = Mutex((open: [Int: (handler: EventLoopAcceptorHandler, channel: Channel)](), stopping: false))

    func add(_ id: Int, _ handler: EventLoopAcceptorHandler, _ channel: Channel) {
        let stopping = state.withLock { s in
            if !s.stopping { s.open[id] = (handler, channel) }
            return s.stopping
        }
        // Accepted while the acceptor stops (its initializer ran after the listening socket
        // closed): closed at once.
        if stopping {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { _ in self.state.withLock { _ = $0.open.removeValue(forKey: id) } }
    }

    /// From now on new connections are closed; the ones open now.
    func stop() -> [(handler: EventLoopAcceptorHandler, channel: Channel)] {
        state.withLock { s in
            s.stopping = true
            return Array(s.open.values)
        }
    }
}

/// Listens for associations and serves each independently of the others: one that
/// misbehaves ends in an abort or a close without disturbing the rest. A service is either
/// async code on a task of its own (`Service`) or an `EventLoopAssociationService` called on
/// the association's event loop.
public final class AssociationAcceptor: Sendable {
    public typealias Service = @Sendable (AcceptedAssociation) async throws -> Void
    public typealias EventLoopServiceFactory = @Sendable (EventLoopAssociation) -> any EventLoopAssociationService
    public typealias Observer = @Sendable (AcceptorEvent) -> Void

    /// The port we listen on (the one the system chose when asked for port 0).
    public let port: Int
    private let serverChannel: Channel
    /// The task serving the async services; nil for event-loop services.
    private let runTask: Task<Void, Never>?
    private let open: OpenConnections?
    private let counter: ConnectionCounter

    /// Connections currently open.
    public var activeConnections: Int { counter.active }

    private init(port: Int, serverChannel: Channel, runTask: Task<Void, Never>?, open: OpenConnections?, counter: ConnectionCounter) {
        self.port = port
        self.serverChannel = serverChannel
        self.runTask = runTask
        self.open = open
        self.counter = counter
    }

    /// How much one read of an accepted socket may take. NIO's default stops growing at 64 KiB;
    /// a storage association that is sent a large object reads far fewer times with room for
    /// 1 MiB, and each read of a loopback or fast link costs a system call and often an ACK.
    /// The buffer starts small and only grows while reads keep filling it.
    static let readSizes = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16384, maximum: 1 << 20)

    /// One read each time the socket is readable, not NIO's default of up to four. Data PDVs
    /// are views of the read buffer (see `PDUDecoder`), so a buffer is often still in use when
    /// the next read comes; NIO then allocates another and keeps up to this many per channel,
    /// each up to the MiB above. With four, 16 storage associations at once took 65 MB of
    /// memory against 42 MB with one, for the same CPU time.
    static let readsPerWakeUp: UInt = 1

    /// Binds `host:port` (0.0.0.0 for all interfaces) and starts serving.
    public static func start(host: String = "0.0.0.0", port: Int, configuration: AcceptorConfiguration,
                             group: EventLoopGroup, logger: Logger = Logger(label: "dicom.acceptor"),
                             observer: @escaping Observer = { _ in },
                             service: @escaping Service) async throws -> AssociationAcceptor {
        let artim = TimeAmount.nanoseconds(Int64(configuration.acseTimeout * 1e9))
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.recvAllocator, value: AssociationAcceptor.readSizes)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: AssociationAcceptor.readsPerWakeUp)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        QuickAckHandler(),
                        PDUChannelHandler(maximumLength: configuration.maximumPDULength),
                        AssociationHandler(role: .acceptor, artimTimeout: artim, logger: logger),
                    ])
                    return try NIOAsyncChannel<ULIndicationEvent, ULRequest>(wrappingChannelSynchronously: channel)
                }
            }
        let counter = ConnectionCounter()
        let boundPort = server.channel.localAddress?.port ?? port
        let task = Task {
            await withDiscardingTaskGroup { group in
                do {
                    try await server.executeThenClose { inbound in
                        for try await child in inbound {
                            let id = counter.open()
                            group.addTask {
                                await serve(child, id: id, configuration: configuration, counter: counter,
                                            logger: logger, observer: observer, service: service)
                                counter.close()
                                observer(.closed(id: id))
                            }
                        }
                    }
                } catch {
                    logger.error("the listening socket failed: \(error)")
                }
            }
        }
        return AssociationAcceptor(port: boundPort, serverChannel: server.channel, runTask: task, open: nil, counter: counter)
    }

    /// Binds `host:port` and serves each association with the service `makeService` returns,
    /// on the association's event loop: no task per association and no async bridge between
    /// the channel and the service.
    public static func start(host: String = "0.0.0.0", port: Int, configuration: AcceptorConfiguration,
                             group: EventLoopGroup, logger: Logger = Logger(label: "dicom.acceptor"),
                             observer: @escaping Observer = { _ in },
                             serviceOnEventLoop makeService: @escaping EventLoopServiceFactory) async throws -> AssociationAcceptor {
        let artim = TimeAmount.nanoseconds(Int64(configuration.acseTimeout * 1e9))
        let counter = ConnectionCounter()
        let open = OpenConnections()
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.recvAllocator, value: AssociationAcceptor.readSizes)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: AssociationAcceptor.readsPerWakeUp)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let id = counter.open()
                    let handler = EventLoopAcceptorHandler(id: id, eventLoop: channel.eventLoop, configuration: configuration,
                                                           counter: counter, logger: logger, observer: observer,
                                                           makeService: makeService)
                    do {
                        try channel.pipeline.syncOperations.addHandlers([
                            QuickAckHandler(),
                            PDUChannelHandler(maximumLength: configuration.maximumPDULength),
                            AssociationHandler(role: .acceptor, artimTimeout: artim, logger: logger),
                            handler,
                        ])
                    } catch {
                        counter.close()
                        throw error
                    }
                    open.add(id, handler, channel)
                }
            }
            .bind(host: host, port: port).get()
        let boundPort = server.localAddress?.port ?? port
        return AssociationAcceptor(port: boundPort, serverChannel: server, runTask: nil, open: open, counter: counter)
    }

    /// Stops listening and waits until every association has ended (open ones are aborted
    /// when `abortOpen` is set, else they run to their end).
    public func stop(abortOpen: Bool = true) async {
        try? await serverChannel.close()
        if let runTask {
            if abortOpen { runTask.cancel() }
            await runTask.value
        }
        if let open {
            for (handler, channel) in open.stop() {
                if abortOpen { handler.abortFromOutside() }
                try? await channel.closeFuture.get()
            }
        }
    }

    private static func serve(_ child: NIOAsyncChannel<ULIndicationEvent, ULRequest>, id: Int,
                              configuration: AcceptorConfiguration, counter: ConnectionCounter,
                              logger: Logger, observer: Observer, service: Service) async {
        let peer = child.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown peer"
        var logger = logger
        logger[metadataKey: "association"] = "\(id)"
        observer(.connected(id: id, peer: peer))
        do {
            try await child.executeThenClose { inbound, _ in
                let connection = DIMSEConnection(
                    channel: child.channel, iterator: inbound.makeAsyncIterator(),
                    acseTimeout: .nanoseconds(Int64(configuration.acseTimeout * 1e9)),
                    dimseTimeout: configuration.dimseTimeout.map { .nanoseconds(Int64($0 * 1e9)) })
                // The handler's ARTIM timer bounds this wait (AE-5).
                let first: ULIndicationEvent?
                do {
                    first = try await connection.nextIndication(timeout: nil, what: "A-ASSOCIATE-RQ")
                } catch {
                    report(id, "before any association request: \(error)", logger, observer)
                    return
                }
                guard let first else {
                    report(id, "the peer closed the connection before sending an A-ASSOCIATE-RQ", logger, observer)
                    return
                }
                let rq: AssociateRQ
                switch first {
                case .associateRequest(let request): rq = request
                case .providerAborted(let why):
                    report(id, why, logger, observer)
                    return
                default:
                    report(id, "expected an A-ASSOCIATE-RQ, got \(first)", logger, observer)
                    return
                }
                observer(.requested(id: id, rq))
                // This connection is counted in `active` already.
                switch AcceptorPolicy.answer(rq, configuration: configuration, activeAssociations: counter.active - 1) {
                case .reject(let rj, let why):
                    logger.info("rejecting association from \(AETitle.printable(rq.header.callingAETitle))@\(peer): \(why)")
                    observer(.rejected(id: id, rj, reason: why))
                    try? await child.channel.writeAndFlush(ULRequest.reject(rj))
                    await connection.drain()
                case .accept(let ac):
                    do {
                        try await child.channel.writeAndFlush(ULRequest.accept(ac))
                    } catch {
                        // The peer broke the protocol before our answer: say how.
                        if case .providerAborted(let why)? = try? await connection.nextIndication(timeout: .seconds(1), what: "the reason") {
                            report(id, why, logger, observer)
                        } else {
                            report(id, "\(error)", logger, observer)
                        }
                        return
                    }
                    let association = AcceptedAssociation(id: id, request: rq, response: ac, peer: peer, connection: connection)
                    observer(.accepted(id: id, ac, agreed: association.agreed, maximumSendPDV: association.maximumPDVDataLength))
                    do {
                        try await withTaskCancellationHandler {
                            try await service(association)
                        } onCancel: {
                            association.abort()
                        }
                        if association.releaseAnswered {
                            observer(.released(id: id))
                            await association.drain()
                        } else {
                            association.abort()
                            report(id, "the service ended before the peer released the association", logger, observer)
                        }
                    } catch {
                        association.abort()
                        report(id, "\(error)", logger, observer)
                    }
                }
            }
        } catch {
            report(id, describeConnectionError(error), logger, observer)
        }
    }

    private static func report(_ id: Int, _ why: String, _ logger: Logger, _ observer: Observer) {
        logger.warning("connection \(id) ended: \(why)")
        observer(.aborted(id: id, reason: why))
    }
}
