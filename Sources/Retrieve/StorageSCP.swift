import DICOM
import DICOMNetwork
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// The storage SCP that receives the moved objects. Each object goes to a hidden temporary
/// file in the output directory as its fragments arrive, is checked, written under its
/// final name (temporary name, then rename) and only then acknowledged.
final class StorageSCP: Sendable {
    let options: StorageOptions
    let emit: @Sendable (RetrieveEvent) -> Void
    /// File work runs here, never on the cooperative pool or an event loop.
    let pool: NIOThreadPool
    private let tally = Mutex((objects: 0, bytes: 0, failed: 0))

    static let writeChunk = 1 << 20

    init(options: StorageOptions, pool: NIOThreadPool, emit: @escaping @Sendable (RetrieveEvent) -> Void) {
        self.options = options
        self.pool = pool
        self.emit = emit
    }

    var stored: (objects: Int, bytes: Int, failed: Int) { tally.withLock { $0 } }

    /// One object on its way in.
    private struct Incoming {
        var request: CStoreRQ
        var contextID: UInt8
        var transferSyntax: String
        var temporaryPath: String?
        var handle: FileHandle?
        /// Fragments not yet written: the thread pool is asked once a MiB, not once a PDV.
        var pending: [UInt8] = []
        var bytes = 0
        var started = ContinuousClock.now
        /// Set when the object is refused before its data is complete; the data is drained.
        var refusal: (DIMSEStatus, String)?
    }

    func serve(_ association: AcceptedAssociation) async throws {
        var incoming: Incoming?
        do {
            while let event = try await association.nextEvent() {
                switch event {
                case .command(.echoRQ(let rq), let id):
                    emit(.echoReceived(id: association.id, messageID: rq.messageID))
                    try await association.answerEcho(rq, contextID: id)
                case .command(.storeRQ(let rq), let id):
                    emit(.storeRequestReceived(id: association.id, messageID: rq.messageID,
                                               sopClassUID: rq.affectedSOPClassUID, sopInstanceUID: rq.affectedSOPInstanceUID))
                    emit(.storeBegan(id: association.id))
                    incoming = try await begin(rq, contextID: id, association: association)
                case .dataFragment(let bytes, _, let isLast):
                    guard var current = incoming else { continue }
                    emit(.storeProgress(id: association.id, bytes: bytes.count))
                    current.bytes += bytes.count
                    if current.refusal == nil, let handle = current.handle {
                        current.pending += bytes
                        if current.pending.count >= StorageSCP.writeChunk || isLast {
                            let chunk = current.pending
                            current.pending = []
                            do {
                                try await pool.runIfActive { try handle.write(contentsOf: chunk) }
                            } catch {
                                current.refusal = (.storeOutOfResources, "cannot write \(current.temporaryPath ?? "?"): \(error)")
                            }
                        }
                    }
                    incoming = current
                    guard isLast else { continue }
                    emit(.storeEnded(id: association.id))
                    let status = await finish(current)
                    incoming = nil
                    let rsp = CStoreRSP(messageIDBeingRespondedTo: current.request.messageID,
                                        affectedSOPClassUID: current.request.affectedSOPClassUID,
                                        affectedSOPInstanceUID: current.request.affectedSOPInstanceUID, status: status)
                    try await association.send(.storeRSP(rsp), contextID: current.contextID)
                case .command(let other, _):
                    throw AssociationFailure.protocolError("a storage SCP does not serve \(other.name)")
                }
            }
        } catch {
            if let incoming { await discard(incoming) }
            throw error
        }
    }

    private func begin(_ rq: CStoreRQ, contextID: UInt8, association: AcceptedAssociation) async throws -> Incoming {
        var incoming = Incoming(request: rq, contextID: contextID,
                                transferSyntax: association.context(contextID)?.transferSyntax ?? TransferSyntax.implicitVRLittleEndian.uid)
        if options.ignore { return incoming }
        let instance = options.correctUIDPadding ? ObjectNaming.unpadded(rq.affectedSOPInstanceUID) : rq.affectedSOPInstanceUID
        guard ObjectNaming.fileName(sopClassUID: rq.affectedSOPClassUID, sopInstanceUID: instance) != nil else {
            incoming.refusal = (.cannotUnderstand, "the SOP Instance UID \"\(AETitle.printable(rq.affectedSOPInstanceUID))\" is not a valid UID; it is never used as a file name")
            return incoming
        }
        let path = options.outputDirectory + "/.movescu-\(UInt64.random(in: 0...UInt64.max)).part"
        do {
            incoming.handle = try await pool.runIfActive {
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw DICOMError.io(path: path, reason: "cannot be created")
                }
                return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            }
            incoming.temporaryPath = path
        } catch {
            incoming.refusal = (.storeOutOfResources, "cannot write in \(options.outputDirectory): \(error)")
        }
        return incoming
    }

    private func discard(_ incoming: Incoming) async {
        try? incoming.handle?.close()
        if let path = incoming.temporaryPath { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Checks and writes the object; the status to answer.
    private func finish(_ incoming: Incoming) async -> DIMSEStatus {
        let seconds = (ContinuousClock.now - incoming.started).seconds
        let rq = incoming.request
        if let (status, reason) = incoming.refusal {
            await discard(incoming)
            fail(rq.affectedSOPInstanceUID, status, reason)
            return status
        }
        if options.ignore {
            record(ReceivedObject(path: nil, sopClassUID: rq.affectedSOPClassUID, sopInstanceUID: rq.affectedSOPInstanceUID,
                                  transferSyntax: incoming.transferSyntax, bytes: incoming.bytes, seconds: seconds))
            return .success
        }
        let options = self.options
        let result: Result<(String, Bool), StoreFailure>
        do {
            result = try await pool.runIfActive {
                Self.write(incoming, options: options)
            }
        } catch {
            result = .failure(StoreFailure(status: .storeOutOfResources, reason: "\(error)"))
        }
        await discard(incoming)
        switch result {
        case .success(let (path, overwritten)):
            if overwritten { emit(.fileOverwritten(path: path)) }
            record(ReceivedObject(path: path, sopClassUID: rq.affectedSOPClassUID, sopInstanceUID: rq.affectedSOPInstanceUID,
                                  transferSyntax: incoming.transferSyntax, bytes: incoming.bytes, seconds: seconds))
            return .success
        case .failure(let failure):
            fail(rq.affectedSOPInstanceUID, failure.status, failure.reason)
            return failure.status
        }
    }

    private func record(_ object: ReceivedObject) {
        tally.withLock { $0.objects += 1; $0.bytes += object.bytes }
        emit(.objectStored(object))
    }

    private func fail(_ uid: String, _ status: DIMSEStatus, _ reason: String) {
        tally.withLock { $0.failed += 1 }
        emit(.objectFailed(sopInstanceUID: uid, status: status, reason: reason))
    }

    struct StoreFailure: Error {
        var status: DIMSEStatus
        var reason: String
    }

    /// Reads the received data set back, checks its UIDs against the command, and writes
    /// the file under its final name. Runs on the thread pool.
    private static func write(_ incoming: Incoming, options: StorageOptions) -> Result<(String, Bool), StoreFailure> {
        let rq = incoming.request
        // The temporary file is read back and deleted: it needs no fsync.
        guard let path = incoming.temporaryPath else {
            return .failure(StoreFailure(status: .storeOutOfResources, reason: "no temporary file"))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(StoreFailure(status: .storeOutOfResources, reason: "cannot read back \(path)"))
        }
        let raw = [UInt8](data)
        guard let syntax = TransferSyntax(uid: incoming.transferSyntax) else {
            return .failure(StoreFailure(status: .cannotUnderstand, reason: "unknown transfer syntax \(incoming.transferSyntax)"))
        }
        let dataSet: DataSet
        do {
            dataSet = try DataSetReader.read(raw, transferSyntax: syntax)
        } catch {
            return .failure(StoreFailure(status: .cannotUnderstand, reason: "the data set cannot be read: \(error)"))
        }
        func fix(_ uid: String) -> String { options.correctUIDPadding ? ObjectNaming.unpadded(uid) : uid }
        let commandClass = fix(rq.affectedSOPClassUID), commandInstance = fix(rq.affectedSOPInstanceUID)
        let dataClass = fix(dataSet.string(.sopClassUID) ?? ""), dataInstance = fix(dataSet.string(.sopInstanceUID) ?? "")
        guard dataClass == commandClass, dataInstance == commandInstance else {
            return .failure(StoreFailure(status: .dataSetDoesNotMatchSOPClass,
                                         reason: "the data set's SOP Class/Instance UID (\(dataClass), \(dataInstance)) differ from the command's (\(commandClass), \(commandInstance))"))
        }
        guard let name = ObjectNaming.fileName(sopClassUID: commandClass, sopInstanceUID: commandInstance) else {
            return .failure(StoreFailure(status: .cannotUnderstand, reason: "the SOP Instance UID is not a valid UID"))
        }
        let finalPath = options.outputDirectory + "/" + name
        let existed = FileManager.default.fileExists(atPath: finalPath)
        do {
            let bytes: [UInt8]
            // Like DCMTK's movescu, the meta information names no source AE title.
            let writeOptions = options.write
            if options.bitPreserving {
                bytes = try DICOMFile.encodeBitPreserving(dataSetBytes: raw, transferSyntax: syntax, sopClassUID: commandClass,
                                                          sopInstanceUID: commandInstance, fileFormat: writeOptions.fileFormat)
            } else {
                bytes = try DICOMFile(dataSet: dataSet, transferSyntax: syntax).encoded(writeOptions)
            }
            try AtomicFile.write(bytes, to: finalPath)
        } catch {
            return .failure(StoreFailure(status: .storeOutOfResources, reason: "cannot write \(finalPath): \(error)"))
        }
        return .success((finalPath, existed))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
