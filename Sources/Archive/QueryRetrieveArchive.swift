import DICOM
import DICOMNetwork
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Where a move destination's storage SCP listens.
public struct ArchiveDestination: Sendable, Equatable {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

public struct ArchiveConfiguration: Sendable {
    /// The archive's AE title: answered in associations, calling AE title of its stores.
    public var aeTitle = "DEMO"
    public var faults = ArchiveFaults()
    public var maximumPDULength: UInt32 = 16384
    public var acseTimeout: Double = 30
    /// How long the archive waits for a C-STORE response on its store sub-associations.
    /// (On the associations it accepts it waits for the next request as long as the peer
    /// keeps the connection: a requestor says nothing while its C-MOVE runs.)
    public var dimseTimeout: Double = 60
    public init() {}
}

/// What the archive does, for logs and tests.
public enum ArchiveEvent: Sendable {
    case association(AcceptorEvent)
    case findAnswered(level: String, matches: Int)
    case moveStarted(destination: String, objects: Int)
    case moveRefused(status: DIMSEStatus, reason: String)
    case subAssociationOpened(destination: String)
    case subAssociationClosed(destination: String, error: String?)
    case subOperation(index: Int, sopInstanceUID: String, status: DIMSEStatus?)
    case moveEnded(status: DIMSEStatus, counts: SubOperationCounts)
}

/// A small Query/Retrieve SCP on this package's network layer: C-ECHO, C-FIND and C-MOVE in
/// the patient-root, study-root and patient/study-only models, with C-STORE sub-operations
/// to the move destination. It serves the demo studies for `movescu --demo`, and, with
/// `ArchiveFaults`, plays the misbehaving archive in tests.
public final class QueryRetrieveArchive: Sendable {
    public let port: Int
    public let aeTitle: String
    private let acceptor: AssociationAcceptor
    private let environment: Environment

    /// Connections currently open to the archive (not counting its store sub-associations).
    public var activeConnections: Int { acceptor.activeConnections }

    final class Environment: Sendable {
        let store: ArchiveStore
        let configuration: ArchiveConfiguration
        let group: EventLoopGroup
        let logger: Logger
        let observer: @Sendable (ArchiveEvent) -> Void
        let routes = Mutex<(table: [String: ArchiveDestination], fallback: ArchiveDestination?)>(([:], nil))
        let background = Mutex<[Task<Void, Never>]>([])

        init(store: ArchiveStore, configuration: ArchiveConfiguration, group: EventLoopGroup, logger: Logger,
             observer: @escaping @Sendable (ArchiveEvent) -> Void) {
            self.store = store
            self.configuration = configuration
            self.group = group
            self.logger = logger
            self.observer = observer
        }

        func destination(for aeTitle: String) -> ArchiveDestination? {
            let key = aeTitle.trimming(" ")
            return routes.withLock { $0.table[key] ?? $0.fallback }
        }
    }

    private init(port: Int, aeTitle: String, acceptor: AssociationAcceptor, environment: Environment) {
        self.port = port
        self.aeTitle = aeTitle
        self.acceptor = acceptor
        self.environment = environment
    }

    /// Listens on `host:port` (0: the system chooses) and serves `store`.
    public static func start(host: String = "127.0.0.1", port: Int = 0, store: ArchiveStore,
                             configuration: ArchiveConfiguration = ArchiveConfiguration(),
                             group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             logger: Logger = Logger(label: "archive"),
                             observer: @escaping @Sendable (ArchiveEvent) -> Void = { _ in }) async throws -> QueryRetrieveArchive {
        let environment = Environment(store: store, configuration: configuration, group: group, logger: logger, observer: observer)
        var acceptorConfiguration = AcceptorConfiguration()
        acceptorConfiguration.aeTitle = configuration.aeTitle
        acceptorConfiguration.maximumPDULength = configuration.maximumPDULength
        acceptorConfiguration.acseTimeout = configuration.acseTimeout
        acceptorConfiguration.dimseTimeout = nil
        acceptorConfiguration.abstractSyntaxes = Set(QueryRetrieveModel.allCases.flatMap { [$0.findSOPClass, $0.moveSOPClass] })
        acceptorConfiguration.transferSyntaxPreference = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
        let acceptor = try await AssociationAcceptor.start(
            host: host, port: port, configuration: acceptorConfiguration, group: group, logger: logger,
            observer: { observer(.association($0)) },
            service: { association in try await serve(association, environment) })
        return QueryRetrieveArchive(port: acceptor.port, aeTitle: configuration.aeTitle, acceptor: acceptor, environment: environment)
    }

    /// Moves to `aeTitle` go to `destination`.
    public func route(_ aeTitle: String, to destination: ArchiveDestination) {
        environment.routes.withLock { $0.table[aeTitle.trimming(" ")] = destination }
    }

    /// Moves to AE titles with no route of their own go here (nil: they are refused with
    /// "move destination unknown").
    public func routeUnknownTitles(to destination: ArchiveDestination?) {
        environment.routes.withLock { $0.fallback = destination }
    }

    /// Stops listening, ends open associations and waits for stores still running.
    public func stop() async {
        await acceptor.stop()
        let tasks = environment.background.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in tasks { await task.value }
    }

    // MARK: - Serving one association

    /// A C-FIND or C-MOVE being answered, which a C-CANCEL can stop.
    final class Operation: Sendable {
        let messageID: UInt16
        private let flag = Mutex(false)
        init(messageID: UInt16) { self.messageID = messageID }
        func cancel() { flag.withLock { $0 = true } }
        var cancelled: Bool { flag.withLock { $0 } }
    }

    /// Reads the association's messages; each C-FIND or C-MOVE runs as its own task so that
    /// a C-CANCEL for it is read while it runs.
    static func serve(_ association: AcceptedAssociation, _ environment: Environment) async throws {
        var running: (task: Task<Void, Error>, operation: Operation)?
        do {
            while let (message, contextID, dataSet) = try await association.nextMessage() {
                switch message {
                case .echoRQ(let rq):
                    try await association.answerEcho(rq, contextID: contextID)
                case .cancelRQ(let rq):
                    if let running, running.operation.messageID == rq.messageIDBeingRespondedTo { running.operation.cancel() }
                case .findRQ(let rq):
                    try await running?.task.value
                    let operation = Operation(messageID: rq.messageID)
                    running = (Task { try await find(rq, contextID: contextID, dataSet: dataSet, association, operation, environment) }, operation)
                case .moveRQ(let rq):
                    try await running?.task.value
                    let operation = Operation(messageID: rq.messageID)
                    running = (Task { try await move(rq, contextID: contextID, dataSet: dataSet, association, operation, environment) }, operation)
                default:
                    throw AssociationFailure.protocolError("\(message.name) is not a message this archive serves")
                }
            }
            try await running?.task.value
        } catch {
            running?.task.cancel()
            _ = try? await running?.task.value
            throw error
        }
    }

    static func syntax(of association: AcceptedAssociation, _ contextID: UInt8) -> TransferSyntax {
        association.context(contextID).flatMap { TransferSyntax(uid: $0.transferSyntax) } ?? .implicitVRLittleEndian
    }

    static func model(for sopClass: String) -> QueryRetrieveModel? {
        QueryRetrieveModel.allCases.first { $0.findSOPClass == sopClass || $0.moveSOPClass == sopClass }
    }

    static func find(_ rq: CFindRQ, contextID: UInt8, dataSet: [UInt8]?, _ association: AcceptedAssociation,
                     _ operation: Operation, _ environment: Environment) async throws {
        let faults = environment.configuration.faults
        let syntax = syntax(of: association, contextID)
        func respond(_ status: DIMSEStatus, _ identifier: DataSet? = nil, comment: String? = nil) async throws {
            if faults.responseDelay != .zero { try await Task.sleep(for: faults.responseDelay) }
            var rsp = CFindRSP(messageIDBeingRespondedTo: rq.messageID, affectedSOPClassUID: rq.affectedSOPClassUID,
                               status: status, hasDataSet: identifier != nil)
            rsp.errorComment = comment
            let bytes = try identifier.map { try DataSetWriter(transferSyntax: syntax).encode($0) }
            try await association.send(.findRSP(rsp), dataSet: bytes, contextID: contextID)
        }
        let answers: [DataSet]
        do {
            guard let model = model(for: rq.affectedSOPClassUID) else {
                throw QueryError(status: 0x0122, description: "\(rq.affectedSOPClassUID) is not a C-FIND SOP class")
            }
            let identifier = try readIdentifier(dataSet, syntax)
            var matcher = QueryMatcher(store: environment.store, model: model)
            matcher.retrieveAETitle = environment.configuration.aeTitle
            answers = try matcher.find(identifier)
            environment.observer(.findAnswered(level: identifier.string(.queryRetrieveLevel) ?? "", matches: answers.count))
        } catch let error as QueryError {
            try await respond(DIMSEStatus(error.status), comment: error.description)
            return
        }
        for answer in answers {
            if operation.cancelled {
                try await respond(.cancel)
                return
            }
            try await respond(.pending, answer)
        }
        try await respond(operation.cancelled ? .cancel : .success)
    }

    static func readIdentifier(_ bytes: [UInt8]?, _ syntax: TransferSyntax) throws(QueryError) -> DataSet {
        guard let bytes else { throw QueryError(status: 0xA900, description: "the request has no identifier") }
        do {
            return try DataSetReader.read(bytes, transferSyntax: syntax)
        } catch {
            throw QueryError(status: 0xA900, description: "the identifier cannot be read: \(error)")
        }
    }

    enum SubResult: Sendable {
        /// With the SOP Instance UID of the object (the one sent, for a fault that changed it).
        case completed(String), warning(String), failed(String), skipped
    }

    static func move(_ rq: CMoveRQ, contextID: UInt8, dataSet: [UInt8]?, _ association: AcceptedAssociation,
                     _ operation: Operation, _ environment: Environment) async throws {
        let faults = environment.configuration.faults
        let syntax = syntax(of: association, contextID)
        var responses = 0
        func respond(_ status: DIMSEStatus, _ counts: SubOperationCounts, comment: String? = nil, identifier: DataSet? = nil) async throws {
            if faults.responseDelay != .zero { try await Task.sleep(for: faults.responseDelay) }
            defer { responses += 1 }
            if status.isPending, responses == faults.malformedPDUInsteadOfResponse {
                // A P-DATA-TF whose one item claims more bytes than the PDU holds.
                try await association.writeRawBytesForFaultInjection([0x04, 0x00, 0x00, 0x00, 0x00, 0x0A,
                                                                      0x00, 0x00, 0x01, 0x00, 0x01, 0x03, 0xDE, 0xAD, 0xBE, 0xEF])
                return
            }
            var rsp = CMoveRSP(messageIDBeingRespondedTo: rq.messageID, affectedSOPClassUID: rq.affectedSOPClassUID,
                               status: status, counts: counts, hasDataSet: identifier != nil)
            rsp.errorComment = comment
            let bytes = try identifier.map { try DataSetWriter(transferSyntax: syntax).encode($0) }
            try await association.send(.moveRSP(rsp), dataSet: bytes, contextID: contextID)
        }
        let instances: [ArchivedInstance]
        let destination: ArchiveDestination
        do {
            guard let model = model(for: rq.affectedSOPClassUID) else {
                throw QueryError(status: 0x0122, description: "\(rq.affectedSOPClassUID) is not a C-MOVE SOP class")
            }
            let identifier = try readIdentifier(dataSet, syntax)
            instances = try QueryMatcher(store: environment.store, model: model).instancesToMove(identifier)
            if faults.neverAnswerMoves {
                // Silent until the peer gives up (its DIMSE timeout aborts us, which cancels this).
                try await Task.sleep(for: .seconds(365 * 24 * 3600))
                return
            }
            guard let found = environment.destination(for: rq.moveDestination) else {
                throw QueryError(status: DIMSEStatus.moveDestinationUnknown.code,
                                 description: "move destination \"\(rq.moveDestination.trimming(" "))\" is unknown to this archive")
            }
            destination = found
        } catch let error as QueryError {
            environment.observer(.moveRefused(status: DIMSEStatus(error.status), reason: error.description))
            try await respond(DIMSEStatus(error.status), SubOperationCounts(remaining: 0, completed: 0, failed: 0, warning: 0),
                              comment: error.description)
            return
        }
        let total = instances.count
        environment.observer(.moveStarted(destination: rq.moveDestination, objects: total))
        let originator = (aeTitle: association.callingAETitle, messageID: rq.messageID)

        if faults.finalResponseBeforeStores {
            let counts = SubOperationCounts(remaining: 0, completed: UInt16(clamping: total), failed: 0, warning: 0)
            try await respond(.success, counts)
            environment.observer(.moveEnded(status: .success, counts: counts))
            let task = Task {
                await storeAll(instances, to: destination, calledAETitle: rq.moveDestination, originator: originator,
                               operation: operation, environment: environment) { _ in }
            }
            environment.background.withLock { $0.append(task) }
            return
        }

        var completed = 0, failed = 0, warning = 0, skipped = 0
        var failedUIDs: [String] = []
        let (results, sink) = AsyncStream.makeStream(of: SubResult.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await storeAll(instances, to: destination, calledAETitle: rq.moveDestination, originator: originator,
                               operation: operation, environment: environment) { sink.yield($0) }
                sink.finish()
            }
            var lastUID = ""
            for await result in results {
                switch result {
                case .completed(let uid):
                    completed += 1
                    lastUID = uid
                case .warning(let uid):
                    warning += 1
                    lastUID = uid
                case .failed(let uid):
                    failed += 1
                    failedUIDs.append(uid)
                    lastUID = uid
                case .skipped: skipped += 1
                }
                let done = completed + warning + failed + skipped
                if done < total && skipped == 0 {
                    var identifier: DataSet?
                    if faults.pendingResponsesWithDataSet {
                        var d = DataSet()
                        d.setString("STUDY", for: .queryRetrieveLevel, vr: .CS)
                        d.setString(lastUID, for: .sopInstanceUID, vr: .UI)
                        identifier = d
                    }
                    try await respond(.pending, SubOperationCounts(remaining: UInt16(clamping: total - done), completed: UInt16(clamping: completed),
                                                                   failed: UInt16(clamping: failed), warning: UInt16(clamping: warning)),
                                      identifier: identifier)
                }
            }
            try await group.waitForAll()
        }
        let counts = SubOperationCounts(remaining: UInt16(clamping: operation.cancelled ? skipped : 0), completed: UInt16(clamping: completed),
                                        failed: UInt16(clamping: failed), warning: UInt16(clamping: warning))
        let status: DIMSEStatus
        var identifier: DataSet?
        if operation.cancelled {
            status = .cancel
        } else if failed > 0 || warning > 0 {
            status = .subOperationsCompleteWithFailures
            if !failedUIDs.isEmpty {
                var d = DataSet()
                d.setString(failedUIDs.joined(separator: "\\"), for: Tag(0x0008, 0x0058), vr: .UI)
                identifier = d
            }
        } else {
            status = .success
        }
        try await respond(status, counts, identifier: identifier)
        environment.observer(.moveEnded(status: status, counts: counts))
    }

    /// Sends every object to the destination, on one association or, with the fault, on
    /// many at once; reports one result per object, in any order.
    static func storeAll(_ instances: [ArchivedInstance], to destination: ArchiveDestination, calledAETitle: String,
                         originator: (aeTitle: String, messageID: UInt16), operation: Operation, environment: Environment,
                         report: @escaping @Sendable (SubResult) -> Void) async {
        let lanes = max(1, min(environment.configuration.faults.parallelSubAssociations, instances.count))
        var chunks = [[(Int, ArchivedInstance)]](repeating: [], count: lanes)
        for (index, instance) in instances.enumerated() { chunks[index % lanes].append((index, instance)) }
        await withTaskGroup(of: Void.self) { group in
            for chunk in chunks where !chunk.isEmpty {
                group.addTask {
                    await storeChunk(chunk, to: destination, calledAETitle: calledAETitle, originator: originator,
                                     operation: operation, environment: environment, report: report)
                }
            }
        }
    }

    struct DeliberateAbort: Error, CustomStringConvertible {
        var description: String
    }

    static func storeChunk(_ chunk: [(Int, ArchivedInstance)], to destination: ArchiveDestination, calledAETitle: String,
                           originator: (aeTitle: String, messageID: UInt16), operation: Operation, environment: Environment,
                           report: @escaping @Sendable (SubResult) -> Void) async {
        let faults = environment.configuration.faults
        var classes: [String] = []
        for (_, instance) in chunk where !classes.contains(instance.sopClassUID) { classes.append(instance.sopClassUID) }
        // Odd context IDs 1...255: at most 128 classes; objects of others fail for want of a context.
        classes = Array(classes.prefix(128))
        let contexts = classes.enumerated().map { i, sopClass in
            ProposedPresentationContext(id: UInt8(2 * i + 1), abstractSyntax: sopClass,
                                        transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid])
        }
        var configuration = RequestorConfiguration()
        configuration.callingAETitle = environment.configuration.aeTitle
        configuration.calledAETitle = calledAETitle.trimming(" ")
        configuration.maximumPDULength = environment.configuration.maximumPDULength
        configuration.acseTimeout = .nanoseconds(Int64(environment.configuration.acseTimeout * 1e9))
        configuration.dimseTimeout = .nanoseconds(Int64(environment.configuration.dimseTimeout * 1e9))
        var reported = 0
        func done(_ result: SubResult) {
            report(result)
            reported += 1
        }
        environment.observer(.subAssociationOpened(destination: calledAETitle))
        do {
            try await AssociationRequestor.withAssociation(
                host: destination.host, port: destination.port, contexts: contexts, configuration: configuration,
                group: environment.group, logger: environment.logger) { association in
                for (index, instance) in chunk {
                    if operation.cancelled || Task.isCancelled {
                        done(.skipped)
                        continue
                    }
                    if faults.failedSubOperations.contains(index) {
                        environment.observer(.subOperation(index: index, sopInstanceUID: instance.sopInstanceUID, status: nil))
                        done(.failed(instance.sopInstanceUID))
                        continue
                    }
                    if faults.storeDelay != .zero { try await Task.sleep(for: faults.storeDelay) }
                    guard let context = association.context(for: instance.sopClassUID),
                          let syntax = TransferSyntax(uid: context.transferSyntax) else {
                        environment.observer(.subOperation(index: index, sopInstanceUID: instance.sopInstanceUID, status: nil))
                        done(.failed(instance.sopInstanceUID))
                        continue
                    }
                    var commandUID = instance.sopInstanceUID
                    var bytes = instance.dataSet
                    let hostile = faults.hostileInstanceUIDs[index]
                    if hostile != nil || faults.mismatchedInstanceUIDs.contains(index) || syntax != .explicitVRLittleEndian {
                        var object = try DataSetReader.read(bytes, transferSyntax: .explicitVRLittleEndian)
                        if let hostile {
                            commandUID = hostile
                            object.setString(hostile, for: .sopInstanceUID, vr: .UI)
                        }
                        if faults.mismatchedInstanceUIDs.contains(index) {
                            object.setString(instance.sopInstanceUID + ".999", for: .sopInstanceUID, vr: .UI)
                        }
                        bytes = try DataSetWriter(transferSyntax: syntax).encode(object)
                    }
                    var rq = CStoreRQ(messageID: association.makeMessageID(), affectedSOPClassUID: instance.sopClassUID,
                                      affectedSOPInstanceUID: commandUID)
                    rq.moveOriginatorApplicationEntityTitle = originator.aeTitle
                    rq.moveOriginatorMessageID = originator.messageID
                    if faults.hugePDULengthBeforeStore == index {
                        try await association.writeRawBytesForFaultInjection([0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 32))
                        // The peer refuses it with an abort; wait for that, then give up.
                        while true { _ = try await association.nextEvent() }
                    }
                    if faults.abortDuringStore == index {
                        let pdus = PDataFragmenter.pdus(contextID: context.id, command: DIMSEMessage.storeRQ(rq).commandSet(), dataSet: bytes,
                                                        maximumPDVDataLength: association.maximumPDVDataLength)
                        for pdu in pdus.prefix(max(2, pdus.count / 2)) {
                            try await association.writeRawBytesForFaultInjection(PDU.pData(pdu).encoded())
                        }
                        association.abort()
                        throw DeliberateAbort(description: "aborted on purpose in the middle of object \(index)")
                    }
                    try await association.send(.storeRQ(rq), dataSet: bytes, contextID: context.id)
                    let (message, _, _) = try await association.receive()
                    guard case .storeRSP(let rsp) = message, rsp.messageIDBeingRespondedTo == rq.messageID else {
                        throw AssociationFailure.protocolError("expected C-STORE-RSP to message \(rq.messageID), got \(message.name)")
                    }
                    environment.observer(.subOperation(index: index, sopInstanceUID: commandUID, status: rsp.status))
                    switch rsp.status.category {
                    case .success where faults.warningSubOperations.contains(index): done(.warning(commandUID))
                    case .success: done(.completed(commandUID))
                    case .warning: done(.warning(commandUID))
                    default: done(.failed(commandUID))
                    }
                }
                try await association.release()
            }
            environment.observer(.subAssociationClosed(destination: calledAETitle, error: nil))
        } catch {
            environment.logger.warning("store sub-association to \(calledAETitle) ended: \(error)")
            environment.observer(.subAssociationClosed(destination: calledAETitle, error: "\(error)"))
            // Whatever was not sent failed.
            for (_, instance) in chunk.dropFirst(reported) { report(.failed(instance.sopInstanceUID)) }
        }
    }
}
