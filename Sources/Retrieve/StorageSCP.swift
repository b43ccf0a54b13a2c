import DICOM
import DICOMNetwork
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// The storage SCP that receives the moved objects. Each object goes to a hidden temporary
/// file in the output directory as its fragments arrive, is checked, written under its
/// final name (temporary name, then rename) and only then acknowledged.
///
/// Objects are written a quarter of a MiB at a time for their first 4 MiB, then a MiB at a
/// time (see `writeChunk(for:)`), each such write job where the association is served, on its
/// event loop, as DCMTK's storescp does it in its one thread, while the output folder takes
/// them quickly (the page cache does, a MiB in well under a millisecond). Once a job
/// takes longer than `StorageOptions.slowWrite` (a network share, a disk the kernel throttles
/// writers to, a busy machine), the jobs of objects not complete at their first job move to
/// the thread pool for the rest of the run, so that one association's disk waits do not hold
/// up the others on its loop; so do, always, the jobs of such objects whose last job encodes
/// the whole object from the spool (compressed, big endian, converted by +te and the like).
final class StorageSCP: Sendable {
    let options: StorageOptions
    let emit: @Sendable (RetrieveEvent) -> Void
    /// Where file work goes once the output folder has been slow; see above.
    let pool: NIOThreadPool
    /// A write job has taken longer than `options.slowWrite`: objects not complete at their
    /// first job are written on the pool from now on.
    private let writesOnPool: Atomic<Bool>
    /// Write jobs on the pool: `idle()` waits for them after the associations have ended.
    private let jobsOut = Mutex(0)
    /// Write jobs sent to the pool so far (for tests).
    private let poolJobs = Atomic(0)
    var jobsSentToPool: Int { poolJobs.load(ordering: .relaxed) }
    /// `faulted` counts the objects refused because the output directory could not take
    /// them (full, read-only...); `fault` is the errno of the first such failure.
    private let tally = Mutex((objects: 0, bytes: 0, failed: 0, faulted: 0, fault: Int32?.none))

    static let writeChunk = 1 << 20
    /// The write jobs of an object's first `PartFile.earlyUpTo` bytes, while they are done on
    /// the event loop: a CT or MR image (half a MiB or a few) is then mostly on disk when its
    /// last fragment comes, and its response goes out sooner; the sender waits for it before the
    /// next object. Written whole at its end, such an image held the response back for its
    /// whole write: 1000 CT images were retrieved with a seventh more CPU and received from
    /// one storescu in nearly a third more time. A large object's later jobs are a MiB (on
    /// ext4 larger writes get larger page-cache folios: written a quarter MiB at a time
    /// throughout, a gigabyte took a fifth more CPU).
    /// The same size as the part file's early buffer, so that each early job reaches the file.
    static let earlyWriteChunk = PartFile.earlyBufferSize

    /// How many pending bytes make a write job for `incoming`. A MiB from the start where early
    /// jobs would not help and would cost hops to the thread pool: on the pool, and for an
    /// object encoded whole at its end (nothing of it reaches the file before; its jobs before
    /// the last go to the pool), so that a small object there is still one job.
    private func writeChunk(for incoming: Incoming) -> Int {
        !writingOnPool && incoming.writesAsItComes && incoming.bytes <= PartFile.earlyUpTo
            ? StorageSCP.earlyWriteChunk : StorageSCP.writeChunk
    }

    init(options: StorageOptions, pool: NIOThreadPool, emit: @escaping @Sendable (RetrieveEvent) -> Void) {
        self.options = options
        self.pool = pool
        self.emit = emit
        writesOnPool = Atomic(options.slowWrite <= .zero)
    }

    var writingOnPool: Bool { writesOnPool.load(ordering: .relaxed) }

    /// Runs a write job where the association is served; a slow one sends the jobs of objects
    /// not complete at their first job to the pool from then on.
    private func writeHere(_ job: () throws -> (ObjectSink, Result<(String, Bool), StoreFailure>?), into current: Incoming) {
        let started = ContinuousClock.now
        StorageSCP.apply(Result { try job() }, to: current, options: options)
        let took = ContinuousClock.now - started
        if took > options.slowWrite, !writesOnPool.exchange(true, ordering: .relaxed) {
            emit(.writesMovedToThreadPool(milliseconds: Int((took.seconds * 1000).rounded())))
        }
    }

    var stored: (objects: Int, bytes: Int, failed: Int, faulted: Int, fault: Int32?) { tally.withLock { $0 } }

    /// Returns once no write job is out: an association that ended while one was leaves its
    /// clean-up (or its record, when the job committed the object) to the job's return, which
    /// must come before the counts are read or the process ends.
    func idle() async {
        while jobsOut.withLock({ $0 }) > 0 {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// One object on its way in. A class: it is handed between the association, its write
    /// jobs' returns and the checks without copying its fields each time (a struct was copied
    /// in and out of its optional on every fragment).
    private final class Incoming {
        let request: CStoreRQ
        let contextID: UInt8
        let transferSyntax: String
        /// Where the object is being written: made by the first write job; nil before that,
        /// with --ignore and once refused.
        var sink: ObjectSink?
        /// The syntax the object is written in; nil when it is not written (--ignore, or
        /// refused when it began).
        var syntax: TransferSyntax?
        var storing: Bool { syntax != nil }
        /// Each write job is its size of file work or so (see `ObjectSink.writesAsItComes`);
        /// otherwise the job that finishes the object encodes all of it.
        var writesAsItComes = false
        /// What finishing the object gave: the write job with the last fragment finishes it.
        var outcome: Result<(String, Bool), StoreFailure>?
        /// Fragments not yet handed to the sink (kept as they came, not copied together): they
        /// are written a write job at a time, not a PDV at a time.
        var pending: [ByteChunk] = []
        var pendingBytes = 0
        var bytes = 0
        var started = ContinuousClock.now
        /// Set when the object is refused before its data is complete; the data is drained.
        var refusal: (DIMSEStatus, String)?
        /// The errno when the refusal is the file system's (the disk full, say).
        var systemCode: Int32?

        init(request: CStoreRQ, contextID: UInt8, transferSyntax: String) {
            self.request = request
            self.contextID = contextID
            self.transferSyntax = transferSyntax
        }
    }

    /// The service of one storage association, on the association's event loop.
    func service(for association: EventLoopAssociation) -> any EventLoopAssociationService {
        StorageAssociation(scp: self)
    }

    /// One association's objects, one at a time. Called on the association's event loop only.
    ///
    /// Fragments are gathered and written in write jobs (`writeChunk(for:)`), here on the
    /// event loop while the output folder is quick (see `StorageSCP`). Otherwise an object not
    /// complete at its first write job is written on the thread pool: while a job is out the
    /// association keeps reading, up to two MiB more; beyond that, and once the object's last
    /// fragment is in, it is paused until the job is back. An object complete at its first job
    /// (a CT or MR image, once jobs are a MiB there) is always written here: the hop to the
    /// thread pool and back costs more than the write.
    private final class StorageAssociation: EventLoopAssociationService {
        let scp: StorageSCP
        var incoming: Incoming?
        /// The object's last fragment has arrived.
        var lastIn = false
        /// A write job is on the thread pool; the sink is the job's until it is back.
        var jobOut = false
        var paused = false
        /// The association ended while a write job was out; the job's return cleans up.
        var ended = false

        init(scp: StorageSCP) { self.scp = scp }

        func received(_ event: AssociationEvent, on association: EventLoopAssociation) throws {
            let emit = scp.emit
            switch event {
            case .command(.echoRQ(let rq), let id):
                emit(.echoReceived(id: association.id, messageID: rq.messageID))
                association.post(.echoRSP(CEchoRSP(messageIDBeingRespondedTo: rq.messageID, status: .success)), contextID: id)
            case .command(.storeRQ(let rq), let id):
                emit(.storeRequestReceived(id: association.id, messageID: rq.messageID,
                                           sopClassUID: rq.affectedSOPClassUID, sopInstanceUID: rq.affectedSOPInstanceUID))
                emit(.storeBegan(id: association.id))
                incoming?.sink?.discard()
                lastIn = false
                let current = scp.begin(rq, contextID: id, transferSyntax: association.context(id)?.transferSyntax)
                incoming = current
                if !rq.hasDataSet {
                    // Nothing will follow: refused and answered now.
                    if current.refusal == nil {
                        current.refusal = (.cannotUnderstand, "the C-STORE request says that no data set follows it")
                    }
                    lastIn = true
                    advance(on: association)
                }
            case .dataFragment(let bytes, _, let isLast):
                guard let current = incoming else { return }
                emit(.storeProgress(id: association.id, bytes: bytes.count))
                current.bytes += bytes.count
                if current.refusal == nil && current.storing {
                    // Behind a write job that is out (a slow disk), a view of a read buffer is
                    // copied: queued views would keep whole read buffers alive.
                    current.pending.append(jobOut && bytes.isView ? ByteChunk(bytes.array) : bytes)
                    current.pendingBytes += bytes.count
                }
                if isLast { lastIn = true }
                advance(on: association)
            case .command(let other, _):
                throw AssociationFailure.protocolError("a storage SCP does not serve \(other.name)")
            }
        }

        /// Starts the write job that is due, if none is out; completes the object once its
        /// last fragment is written.
        private func advance(on association: EventLoopAssociation) {
            defer { updatePause(association) }
            guard !jobOut, let current = incoming else { return }
            if current.refusal != nil {
                current.pending = []
                current.pendingBytes = 0
            }
            while current.refusal == nil && (lastIn || current.pendingBytes >= scp.writeChunk(for: current)),
                  let (job, finishing) = scp.writeJob(current, lastIn: lastIn) {
                if (current.sink == nil && finishing) || (!scp.writingOnPool && current.writesAsItComes) {
                    scp.writeHere(job, into: current)
                    if finishing { break }
                } else {
                    jobOut = true
                    scp.jobsOut.withLock { $0 += 1 }
                    scp.poolJobs.add(1, ordering: .relaxed)
                    let this = NIOLoopBound(self, eventLoop: association.eventLoop)
                    scp.pool.runIfActive(eventLoop: association.eventLoop, job).whenComplete { result in
                        this.value.written(result, finishing: finishing, on: association)
                    }
                    return
                }
            }
            if lastIn { complete(current, on: association) }
        }

        /// A write job is back from the thread pool.
        private func written(_ result: Result<(ObjectSink, Result<(String, Bool), StoreFailure>?), any Error>, finishing: Bool,
                             on association: EventLoopAssociation) {
            jobOut = false
            defer { scp.jobsOut.withLock { $0 -= 1 } }
            guard let current = incoming else {
                if case .success(let (sink, _)) = result { sink.discard() }
                return
            }
            StorageSCP.apply(result, to: current, options: scp.options)
            if ended {
                incoming = nil
                // The association ended while the job was out. An object the job committed is
                // kept and counted (there is no one left to answer); anything else goes.
                if finishing, case .success? = current.outcome {
                    _ = scp.finish(current)
                } else {
                    cutOff(current, association)
                }
                return
            }
            if finishing {
                complete(current, on: association)
                updatePause(association)
            } else {
                advance(on: association)
            }
        }

        /// Reading stops while a job is out and the object is complete or two MiB wait.
        private func updatePause(_ association: EventLoopAssociation) {
            let pause = jobOut && (lastIn || (incoming?.pendingBytes ?? 0) >= 2 * StorageSCP.writeChunk)
            guard pause != paused else { return }
            paused = pause
            if pause { association.pause() } else { association.resume() }
        }

        /// The last fragment is in and written: checked, recorded and answered.
        private func complete(_ current: Incoming, on association: EventLoopAssociation) {
            incoming = nil
            lastIn = false
            scp.emit(.storeEnded(id: association.id))
            let status = scp.finish(current)
            let rsp = CStoreRSP(messageIDBeingRespondedTo: current.request.messageID,
                                affectedSOPClassUID: current.request.affectedSOPClassUID,
                                affectedSOPInstanceUID: current.request.affectedSOPInstanceUID, status: status)
            association.post(.storeRSP(rsp), contextID: current.contextID)
        }

        func ended(_ association: EventLoopAssociation, error: (any Error)?) {
            ended = true
            guard !jobOut, let current = incoming else { return }
            incoming = nil
            cutOff(current, association)
        }

        /// Removes what was written of an object whose association ended before its end.
        /// Directly, not on the thread pool (close and unlink are quick).
        private func cutOff(_ current: Incoming, _ association: EventLoopAssociation) {
            current.sink?.discard()
            scp.emit(.warning("\(AETitle.printable(current.request.affectedSOPInstanceUID)) was cut off after \(current.bytes) bytes "
                              + "when sub-association \(association.id) ended; nothing of it is kept"))
        }
    }

    /// A data set that does not parse is one we cannot understand (C000); anything else is
    /// a failure to write (A700).
    static func refusal(for error: any Error) -> (DIMSEStatus, String) {
        switch error {
        case DICOMError.malformed, DICOMError.truncated, DICOMError.unsupportedTransferSyntax:
            return (.cannotUnderstand, "the data set cannot be read: \(error)")
        default:
            return (.storeOutOfResources, "\(error)")
        }
    }

    /// The errno of a failed file system call in the output directory, nil for other errors.
    static func systemCode(of error: any Error) -> Int32? {
        if case DICOMError.fileSystem(_, _, let code) = error { return code }
        return nil
    }

    private func begin(_ rq: CStoreRQ, contextID: UInt8, transferSyntax: String?) -> Incoming {
        let incoming = Incoming(request: rq, contextID: contextID,
                                transferSyntax: transferSyntax ?? TransferSyntax.implicitVRLittleEndian.uid)
        if options.ignore { return incoming }
        let instance = options.correctUIDPadding ? ObjectNaming.unpadded(rq.affectedSOPInstanceUID) : rq.affectedSOPInstanceUID
        guard ObjectNaming.fileName(sopClassUID: rq.affectedSOPClassUID, sopInstanceUID: instance) != nil else {
            incoming.refusal = (.cannotUnderstand, "the SOP Instance UID \"\(AETitle.printable(rq.affectedSOPInstanceUID))\" is not a valid UID; it is never used as a file name")
            return incoming
        }
        guard let syntax = TransferSyntax(uid: incoming.transferSyntax) else {
            incoming.refusal = (.cannotUnderstand, "unknown transfer syntax \(incoming.transferSyntax)")
            return incoming
        }
        incoming.syntax = syntax
        incoming.writesAsItComes = ObjectSink.writesAsItComes(syntax, options)
        return incoming
    }

    /// A write job failed before it had a sink to write to.
    struct CannotCreate: Error { var underlying: any Error }

    /// A write job's worth of the fragments pending (all of them when fewer), as one job that
    /// first makes the sink (for the object's first write) and, when it takes the last fragment
    /// (`lastIn`: the object's last fragment has arrived), also finishes the object. nil when
    /// the object is not written.
    private func writeJob(_ incoming: Incoming, lastIn: Bool)
        -> (job: @Sendable () throws -> (ObjectSink, Result<(String, Bool), StoreFailure>?), finishing: Bool)? {
        guard let syntax = incoming.syntax else { return nil }
        var count = 0, bytes = 0
        let chunk = writeChunk(for: incoming)
        while count < incoming.pending.count && bytes < chunk {
            bytes += incoming.pending[count].count
            count += 1
        }
        let fragments = Array(incoming.pending.prefix(count))
        incoming.pending.removeFirst(count)
        incoming.pendingBytes -= bytes
        let finishing = lastIn && incoming.pending.isEmpty
        let existing = incoming.sink
        let (rq, options) = (incoming.request, self.options)
        let job: @Sendable () throws -> (ObjectSink, Result<(String, Bool), StoreFailure>?) = {
            let sink: ObjectSink
            if let existing {
                sink = existing
            } else {
                do {
                    sink = try ObjectSink(request: rq, transferSyntax: syntax, options: options)
                } catch {
                    throw CannotCreate(underlying: error)
                }
            }
            do {
                for fragment in fragments { try sink.consume(fragment) }
            } catch {
                sink.discard()
                throw error
            }
            return (sink, finishing ? sink.finish() : nil)
        }
        return (job, finishing)
    }

    /// What a write job gave, into the object's state.
    private static func apply(_ result: Result<(ObjectSink, Result<(String, Bool), StoreFailure>?), any Error>,
                              to incoming: Incoming, options: StorageOptions) {
        switch result {
        case .success(let (sink, outcome)):
            incoming.sink = sink
            incoming.outcome = outcome
        case .failure(let error as CannotCreate):
            incoming.refusal = (.storeOutOfResources, "cannot write in \(options.outputDirectory): \(error.underlying)")
            incoming.systemCode = StorageSCP.systemCode(of: error.underlying)
        case .failure(let error):
            // The job discarded a sink that failed; one it never ran on (the pool stopped) goes here.
            incoming.sink?.discard()
            incoming.sink = nil
            incoming.refusal = StorageSCP.refusal(for: error)
            incoming.systemCode = StorageSCP.systemCode(of: error)
        }
    }

    /// Checks and writes the object; the status to answer.
    private func finish(_ incoming: Incoming) -> DIMSEStatus {
        let seconds = (ContinuousClock.now - incoming.started).seconds
        let rq = incoming.request
        if let (status, reason) = incoming.refusal {
            incoming.sink?.discard()
            fail(rq.affectedSOPInstanceUID, status, reason, systemCode: incoming.systemCode)
            return status
        }
        guard incoming.storing else {
            // --ignore: received, acknowledged, not kept.
            record(ReceivedObject(path: nil, sopClassUID: rq.affectedSOPClassUID, sopInstanceUID: rq.affectedSOPInstanceUID,
                                  transferSyntax: incoming.transferSyntax, bytes: incoming.bytes, seconds: seconds))
            return .success
        }
        // The last fragment's write job finished the object, or failed and set a refusal.
        guard let result = incoming.outcome else {
            fail(rq.affectedSOPInstanceUID, .storeOutOfResources, "nothing of the object could be written")
            return .storeOutOfResources
        }
        switch result {
        case .success(let (path, overwritten)):
            if overwritten { emit(.fileOverwritten(path: path)) }
            record(ReceivedObject(path: path, sopClassUID: rq.affectedSOPClassUID, sopInstanceUID: rq.affectedSOPInstanceUID,
                                  transferSyntax: incoming.transferSyntax, bytes: incoming.bytes, seconds: seconds))
            return .success
        case .failure(let failure):
            incoming.sink?.discard()
            fail(rq.affectedSOPInstanceUID, failure.status, failure.reason, systemCode: failure.systemCode)
            return failure.status
        }
    }

    private func record(_ object: ReceivedObject) {
        tally.withLock { $0.objects += 1; $0.bytes += object.bytes }
        emit(.objectStored(object))
    }

    private func fail(_ uid: String, _ status: DIMSEStatus, _ reason: String, systemCode: Int32? = nil) {
        tally.withLock {
            $0.failed += 1
            if let systemCode {
                $0.faulted += 1
                $0.fault = $0.fault ?? systemCode
            }
        }
        emit(.objectFailed(sopInstanceUID: uid, status: status, reason: reason))
    }

    struct StoreFailure: Error {
        var status: DIMSEStatus
        var reason: String
        var systemCode: Int32? = nil
    }
}

/// Writes one incoming object as its data arrives, in bounded memory.
///
/// The data set is parsed as it comes: small elements are kept, large values (pixel data,
/// fragments) go to an anonymous spool file. At the end the SOP UIDs are checked against the
/// command and the file is encoded into a hidden `.part` file in the output folder, which is
/// renamed to its final name. With +B the received bytes go straight behind new meta
/// information and are parsed only to check the UIDs.
///
/// Not thread-safe: the association's serve loop uses it from one job at a time.
final class ObjectSink: @unchecked Sendable {
    let request: CStoreRQ
    let transferSyntax: TransferSyntax
    let options: StorageOptions
    private var parser: DataSetParser
    private var builder: DataSetBuilder
    private let part: PartFile
    /// Large top-level values (pixel data) go straight into the part file as they arrive,
    /// instead of through the spool, when the file is written in the syntax it came in
    /// (little endian, native, not deflated) with no padding and no group lengths made: the
    /// elements before such a value are written first, the ones after at the end.
    private let writeThrough: Bool
    /// Sequence and fragment nesting of the parser's events (0: top level).
    private var depth = 0
    /// The file header is written, and elements up to this tag (nil: none yet).
    private var headerWritten = false
    private var writtenUpTo: Tag?
    /// A value being written through: its VR and whether its length is odd.
    private var streaming: (tag: Tag, vr: VR, odd: Bool)?
    /// Values written through so far (for tests).
    private(set) var valuesWrittenThrough = 0
    /// Value chunks written through that were views of a read buffer, not copies (for tests).
    private(set) var viewsWrittenThrough = 0

    /// Values larger than this are spooled, not kept in memory.
    static let largeValue = 64 << 10

    /// - Parameter writingThrough: false keeps every large value in the spool (tests compare
    ///   the two ways).
    init(request: CStoreRQ, transferSyntax: TransferSyntax, options: StorageOptions, writingThrough: Bool = true) throws {
        self.request = request
        self.transferSyntax = transferSyntax
        self.options = options
        var parserOptions = DataSetParser.Options()
        parserOptions.maximumBufferedValue = ObjectSink.largeValue
        parser = DataSetParser(transferSyntax: transferSyntax, options: parserOptions)
        writeThrough = writingThrough && ObjectSink.writesThrough(transferSyntax, options)
        // Written early only when the bytes go to the file as they come: an object encoded
        // whole at its end is written in one go, in MiB writes.
        part = try PartFile(directory: options.outputDirectory, writesEarly: options.bitPreserving || writeThrough)
        if options.bitPreserving {
            builder = DataSetBuilder(largeValues: .discard)
            if options.write.fileFormat {
                // Like DCMTK's movescu, the meta information names no source AE title.
                let meta = DICOMFile.makeMeta(sopClassUID: Self.fix(request.affectedSOPClassUID, options),
                                              sopInstanceUID: Self.fix(request.affectedSOPInstanceUID, options),
                                              transferSyntax: transferSyntax)
                do {
                    try part.write(try DICOMFile.fileHeader(meta))
                } catch {
                    part.discard()
                    throw error
                }
            }
        } else {
            builder = DataSetBuilder(largeValues: .spool(Spool(directory: options.outputDirectory)))
        }
    }

    /// Whether large values go straight into the part file (see `writeThrough`).
    static func writesThrough(_ transferSyntax: TransferSyntax, _ options: StorageOptions) -> Bool {
        let output = options.write.transferSyntax ?? transferSyntax
        return !options.bitPreserving && options.write.fileFormat && output == transferSyntax
            && !transferSyntax.isBigEndian && !transferSyntax.isDeflated && !transferSyntax.isEncapsulated
            && options.write.encoding.padding == nil && options.write.encoding.groupLength != .create
    }

    /// Whether every write job of an object is about its size of file work: its bytes go to the
    /// file as they come (written through, or +B), not encoded whole from the spool by the
    /// job that finishes it.
    static func writesAsItComes(_ transferSyntax: TransferSyntax, _ options: StorageOptions) -> Bool {
        options.bitPreserving || writesThrough(transferSyntax, options)
    }

    static func fix(_ uid: String, _ options: StorageOptions) -> String {
        options.correctUIDPadding ? ObjectNaming.unpadded(uid) : uid
    }

    /// The next piece of the data set.
    func consume(_ bytes: ByteChunk) throws {
        if options.bitPreserving { try part.write(bytes) }
        try parser.append(bytes)
        try drain()
    }

    private func drain() throws {
        while let event = try parser.next() {
            if let current = streaming {
                switch event {
                case .valueChunk(let chunk):
                    if chunk.isView { viewsWrittenThrough += 1 }
                    try part.write(chunk)
                case .valueEnd:
                    if current.odd { try part.write([current.vr.paddingByte]) }
                    writtenUpTo = current.tag
                    streaming = nil
                    valuesWrittenThrough += 1
                default:
                    throw DICOMError.malformed(offset: 0, reason: "\(event) inside the value of \(current.tag)")
                }
                continue
            }
            switch event {
            case .sequenceStart, .fragmentsStart: depth += 1
            case .sequenceEnd, .fragmentsEnd: depth -= 1
            case .valueStart(let tag, let vr, let length) where writeThrough && depth == 0 && tag.group != 0x0002
                && !builder.dataSet.contains(Tag(tag.group, 0x0000)):
                try writePending(before: tag)
                try part.write(try DataSetWriter(transferSyntax: transferSyntax, options: options.write.encoding)
                    .header(tag: tag, vr: vr, length: length))
                try part.reserve(Int(length) + Int(length % 2))
                streaming = (tag, vr, length % 2 == 1)
                continue
            default: break
            }
            try builder.consume(event)
        }
    }

    /// Writes the file header (once) and the top-level elements not written yet.
    private func writePending(before tag: Tag? = nil) throws {
        let dataSet = builder.dataSet
        if !headerWritten {
            let meta = DICOMFile.makeMeta(sopClassUID: dataSet.string(.sopClassUID) ?? "",
                                          sopInstanceUID: dataSet.string(.sopInstanceUID) ?? "", transferSyntax: transferSyntax,
                                          sourceApplicationEntityTitle: options.write.sourceApplicationEntityTitle)
            try part.write(try DICOMFile.fileHeader(meta))
            headerWritten = true
        }
        var pending = dataSet
        pending.removeAll { element in
            element.tag.group == 0x0002 || writtenUpTo.map { element.tag <= $0 } == true || tag.map { element.tag >= $0 } == true
        }
        if !transferSyntax.isExplicitVR { pending.resolveAmbiguousVRs() }
        guard !pending.isEmpty else { return }
        try DataSetWriter(transferSyntax: transferSyntax, options: options.write.encoding).write(pending) { try part.write($0) }
    }

    /// Checks the object and puts it under its final name.
    func finish() -> Result<(String, Bool), StorageSCP.StoreFailure> {
        let rq = request
        var dataSet: DataSet
        do {
            parser.finish()
            try drain()
            dataSet = builder.dataSet
            if !transferSyntax.isExplicitVR { dataSet.resolveAmbiguousVRs() }
        } catch {
            let (status, reason) = StorageSCP.refusal(for: error)
            return .failure(StorageSCP.StoreFailure(status: status, reason: reason))
        }
        let commandClass = Self.fix(rq.affectedSOPClassUID, options), commandInstance = Self.fix(rq.affectedSOPInstanceUID, options)
        let dataClass = Self.fix(dataSet.string(.sopClassUID) ?? "", options)
        let dataInstance = Self.fix(dataSet.string(.sopInstanceUID) ?? "", options)
        guard dataClass == commandClass, dataInstance == commandInstance else {
            return .failure(StorageSCP.StoreFailure(status: .dataSetDoesNotMatchSOPClass,
                                                    reason: "the data set's SOP Class/Instance UID (\(dataClass), \(dataInstance)) differ from the command's (\(commandClass), \(commandInstance))"))
        }
        guard let name = ObjectNaming.fileName(sopClassUID: commandClass, sopInstanceUID: commandInstance) else {
            return .failure(StorageSCP.StoreFailure(status: .cannotUnderstand, reason: "the SOP Instance UID is not a valid UID"))
        }
        let finalPath = options.outputDirectory + "/" + name
        // access(2), not FileManager: one system call and no more, once per object.
        let existed = access(finalPath, F_OK) == 0
        do {
            if headerWritten {
                // Written through: what came after the last large value.
                try writePending()
            } else if !options.bitPreserving {
                try DICOMFile(dataSet: dataSet, transferSyntax: transferSyntax).write(options.write) { try part.write($0) }
            }
            try part.commit(as: finalPath)
        } catch {
            return .failure(StorageSCP.StoreFailure(status: .storeOutOfResources, reason: "cannot write \(finalPath): \(error)",
                                                    systemCode: StorageSCP.systemCode(of: error)))
        }
        return .success((finalPath, existed))
    }

    /// Removes what was written (a refused or failed object); does nothing after a commit.
    func discard() {
        part.discard()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
