import DICOMNetwork
import Logging
import NIOPosix

/// The storage SCP of a retrieve on its own: listening, writing what arrives as a retrieve
/// would, until stopped. For the receive benchmarks, where DCMTK's storescu is the sender.
public final class StorageService: Sendable {
    private let scp: StorageSCP
    private let acceptor: AssociationAcceptor

    /// The port it listens on.
    public var port: Int { acceptor.port }
    /// Objects stored so far, their bytes, and objects refused.
    public var stored: (objects: Int, bytes: Int, failed: Int) {
        let s = scp.stored
        return (s.objects, s.bytes, s.failed)
    }

    private init(scp: StorageSCP, acceptor: AssociationAcceptor) {
        self.scp = scp
        self.acceptor = acceptor
    }

    /// Listens on `configuration.listenPort` (0: the system picks) with the configuration's
    /// AE title (the move destination), PDU size, timeouts, syntaxes and storage options.
    public static func start(_ configuration: RetrieveConfiguration, logger: Logger = Logger(label: "movescu.storage"),
                             emit: @escaping @Sendable (RetrieveEvent) -> Void = { _ in }) async throws -> StorageService {
        let scp = StorageSCP(options: configuration.storage, pool: NIOThreadPool.singleton, emit: emit)
        let acceptor = try await RetrieveEngine.startStorageSCP(scp, port: configuration.listenPort ?? 0, configuration: configuration,
                                                               logger: logger, emit: emit)
        return StorageService(scp: scp, acceptor: acceptor)
    }

    /// Stops listening; open associations run to their end.
    public func stop() async {
        await acceptor.stop(abortOpen: false)
        await scp.idle()
    }
}
