import CFileSystem
import Foundation
import Synchronization

/// Who we are in file meta information and association negotiation.
public enum Implementation {
    /// A UUID-derived UID (PS3.5 B.2): this implementation has no registered root.
    public static let classUID = "2.25.130020151924074013573615803443644076612"
    public static let versionName = "SWIFT_MOVESCU_01"
}

/// A DICOM file (PS3.10 section 7): optional 128-byte preamble and "DICM", file meta
/// information (group 0002, explicit VR little endian), then the data set.
public struct DICOMFile: Sendable, Equatable {
    /// Group 0002; empty when the file had no meta information.
    public var meta: DataSet
    public var dataSet: DataSet
    /// The syntax the data set was (or will be) encoded in.
    public var transferSyntax: TransferSyntax

    public init(meta: DataSet = DataSet(), dataSet: DataSet, transferSyntax: TransferSyntax) {
        self.meta = meta
        self.dataSet = dataSet
        self.transferSyntax = transferSyntax
    }

    // MARK: Reading

    public static func read(path: String, options: DataSetParser.Options = .init()) throws -> DICOMFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                throw DICOMError.io(path: path, reason: isDirectory.boolValue ? "is a directory" : "cannot be read")
            }
            throw DICOMError.io(path: path, reason: "no such file")
        }
        do {
            return try read(bytes: [UInt8](data), options: options)
        } catch let error as DICOMError {
            throw DICOMError.io(path: path, reason: error.description)
        }
    }

    /// Reads a file with or without preamble and meta information. Without meta
    /// information the transfer syntax is recognised from the first element.
    public static func read(bytes: [UInt8], options: DataSetParser.Options = .init()) throws -> DICOMFile {
        var position = 0
        var meta = DataSet()
        if bytes.count >= 132 && bytes[128] == 0x44 && bytes[129] == 0x49 && bytes[130] == 0x43 && bytes[131] == 0x4D {
            position = 132
            (meta, position) = try readMeta(bytes, from: position)
        } else if bytes.count >= 4 && bytes[0] == 0x02 && bytes[1] == 0x00 && isPlausibleMetaStart(bytes) {
            (meta, position) = try readMeta(bytes, from: 0)
        } else if bytes.count < 8 {
            throw DICOMError.truncated(offset: 0, reason: "\(bytes.count) byte(s) are too few for a DICOM file or data set")
        }

        let syntax: TransferSyntax
        if let uid = meta.string(.transferSyntaxUID), !uid.isEmpty {
            guard let ts = TransferSyntax(uid: uid) else {
                throw DICOMError.malformed(offset: 0, reason: "Transfer Syntax UID (0002,0010) '\(uid)' is not a UID")
            }
            syntax = ts
        } else {
            syntax = try detectSyntax(bytes, at: position)
        }
        let dataSet = try DataSetReader.read(bytes[position...], transferSyntax: syntax, options: options, baseOffset: position)
        return DICOMFile(meta: meta, dataSet: dataSet, transferSyntax: syntax)
    }

    private static func isPlausibleMetaStart(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 8 && VR(bytes: bytes[4], bytes[5]) != nil
    }

    /// Group 0002 in explicit VR little endian, up to the first element of another group.
    private static func readMeta(_ bytes: [UInt8], from start: Int) throws -> (DataSet, Int) {
        var meta = DataSet()
        var position = start
        func u16(_ i: Int) -> UInt16 { UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> UInt32 { UInt32(u16(i)) | UInt32(u16(i + 2)) << 16 }
        while position + 8 <= bytes.count, u16(position) == 0x0002 {
            let tag = Tag(0x0002, u16(position + 2))
            var length: Int
            var header: Int
            let vr: VR
            if let explicit = VR(bytes: bytes[position + 4], bytes[position + 5]) {
                vr = explicit
                if vr.hasLongExplicitLength {
                    guard position + 12 <= bytes.count else {
                        throw DICOMError.truncated(offset: position, reason: "file meta information ends inside the header of \(tag)")
                    }
                    length = Int(u32(position + 8))
                    header = 12
                } else {
                    length = Int(u16(position + 6))
                    header = 8
                }
            } else {
                // Some writers put the meta information in implicit VR.
                vr = DataDictionary.active.implicitVR(for: tag)
                length = Int(u32(position + 4))
                header = 8
            }
            guard length != 0xFFFF_FFFF, position + header + length <= bytes.count else {
                throw DICOMError.truncated(offset: position, reason: "file meta information element \(tag) has length \(length), past the end of the file")
            }
            meta.set(DataElement(tag: tag, vr: vr, bytes: Array(bytes[(position + header)..<(position + header + length)])))
            position += header + length
        }
        if let groupLength = meta.integers(.fileMetaInformationGroupLength)?.first,
           let lengthElement = meta[.fileMetaInformationGroupLength], lengthElement.bytes?.count == 4 {
            let declaredEnd = start + 12 + groupLength
            if declaredEnd > bytes.count {
                throw DICOMError.truncated(offset: bytes.count, reason: "file meta information group length \(groupLength) runs past the end of the file")
            }
        }
        if position >= bytes.count {
            throw DICOMError.truncated(offset: position, reason: "the file ends after its meta information, with no data set")
        }
        return (meta, position)
    }

    /// Recognises the encoding of a data set without meta information from its first
    /// element, as DCMTK does: explicit when bytes 4-5 name a VR, big endian when the group
    /// reads smaller that way.
    public static func detectSyntax(_ bytes: [UInt8], at position: Int) throws -> TransferSyntax {
        guard bytes.count >= position + 8 else {
            throw DICOMError.truncated(offset: position, reason: "too few bytes to recognise the transfer syntax")
        }
        let little = UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
        let big = UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
        let explicit = VR(bytes: bytes[position + 4], bytes[position + 5]) != nil
        if big < little && big != 0 {
            return explicit ? .explicitVRBigEndian : .implicitVRLittleEndian
        }
        return explicit ? .explicitVRLittleEndian : .implicitVRLittleEndian
    }

    // MARK: Writing

    public struct WriteOptions: Sendable, Equatable {
        /// `+F` (default): preamble and meta information; `-F`: the data set alone.
        public var fileFormat = true
        /// nil (`+t=`): the syntax the data set came in.
        public var transferSyntax: TransferSyntax? = nil
        public var encoding = EncodingOptions()
        /// (0002,0016) in new meta information.
        public var sourceApplicationEntityTitle: String? = nil
        public init() {}
    }

    /// New file meta information for a data set (PS3.10 section 7.1).
    public static func makeMeta(sopClassUID: String, sopInstanceUID: String, transferSyntax: TransferSyntax,
                                sourceApplicationEntityTitle: String? = nil) -> DataSet {
        var meta = DataSet()
        meta.set(DataElement(tag: .fileMetaInformationVersion, vr: .OB, bytes: [0x00, 0x01]))
        meta.setString(sopClassUID, for: .mediaStorageSOPClassUID, vr: .UI)
        meta.setString(sopInstanceUID, for: .mediaStorageSOPInstanceUID, vr: .UI)
        meta.setString(transferSyntax.uid, for: .transferSyntaxUID, vr: .UI)
        meta.setString(Implementation.classUID, for: .implementationClassUID, vr: .UI)
        meta.setString(Implementation.versionName, for: .implementationVersionName, vr: .SH)
        if let ae = sourceApplicationEntityTitle, !ae.isEmpty {
            meta.setString(ae, for: .sourceApplicationEntityTitle, vr: .AE)
        }
        return meta
    }

    /// Encodes the meta group in explicit VR little endian with its group length.
    public static func encodeMeta(_ meta: DataSet) throws -> [UInt8] {
        var group = meta
        group.removeAll { $0.tag.group != 0x0002 }
        group.set(DataElement(tag: .fileMetaInformationGroupLength, vr: .UL, bytes: [0, 0, 0, 0]))
        var options = EncodingOptions()
        options.groupLength = .recalculate
        return try DataSetWriter(transferSyntax: .explicitVRLittleEndian, options: options).encode(group)
    }

    /// The bytes of the file (or bare data set with `-F`).
    public func encoded(_ options: WriteOptions = WriteOptions()) throws -> [UInt8] {
        var out: [UInt8] = []
        try write(options) { out.append(contentsOf: $0) }
        return out
    }

    /// Encodes the file (or bare data set with `-F`) into `sink`, in pieces: spooled values
    /// are copied a chunk at a time and never held whole.
    public func write(_ options: WriteOptions = WriteOptions(), to sink: ([UInt8]) throws -> Void) throws {
        let syntax = options.transferSyntax ?? transferSyntax
        if syntax.isEncapsulated && syntax != transferSyntax {
            throw DICOMError.encoding("writing \(syntax.name) would need compressing the pixel data, which this tool does not do")
        }
        if syntax != transferSyntax && transferSyntax.isEncapsulated {
            throw DICOMError.encoding("the data set has compressed pixel data (\(transferSyntax.name)); it can only be written in that syntax")
        }
        var dataSet = self.dataSet
        dataSet.removeAll { $0.tag.group == 0x0002 }
        if !options.fileFormat {
            var encoding = options.encoding
            encoding.padding = nil
            try DataSetWriter(transferSyntax: syntax, options: encoding).write(dataSet, to: sink)
            return
        }
        let sopClass = dataSet.string(.sopClassUID) ?? meta.string(.mediaStorageSOPClassUID) ?? ""
        let sopInstance = dataSet.string(.sopInstanceUID) ?? meta.string(.mediaStorageSOPInstanceUID) ?? ""
        let sourceAE = options.sourceApplicationEntityTitle ?? meta.string(.sourceApplicationEntityTitle)
        let newMeta = DICOMFile.makeMeta(sopClassUID: sopClass, sopInstanceUID: sopInstance, transferSyntax: syntax,
                                         sourceApplicationEntityTitle: sourceAE)
        let header = try DICOMFile.fileHeader(newMeta)
        try sink(header)
        try DataSetWriter(transferSyntax: syntax, options: options.encoding)
            .write(dataSet, precedingBytes: header.count, to: sink)
    }

    /// The preamble, "DICM" and the encoded meta information.
    public static func fileHeader(_ meta: DataSet) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 128)
        out.append(contentsOf: Array("DICM".utf8))
        out.append(contentsOf: try encodeMeta(meta))
        return out
    }

    /// `+B`: a data set exactly as it arrived (bytes in its transfer syntax, deflated ones
    /// still deflated), behind new meta information (or alone with `-F`). Nothing in it is
    /// decoded or changed.
    public static func encodeBitPreserving(dataSetBytes: [UInt8], transferSyntax: TransferSyntax,
                                           sopClassUID: String, sopInstanceUID: String,
                                           fileFormat: Bool = true, sourceApplicationEntityTitle: String? = nil) throws -> [UInt8] {
        guard fileFormat else { return dataSetBytes }
        let meta = makeMeta(sopClassUID: sopClassUID, sopInstanceUID: sopInstanceUID, transferSyntax: transferSyntax,
                            sourceApplicationEntityTitle: sourceApplicationEntityTitle)
        var out = try fileHeader(meta)
        out.append(contentsOf: dataSetBytes)
        return out
    }

    /// Writes the file: to a temporary name in the same folder first, then renamed, so that
    /// the final name only ever holds a complete file.
    public func write(to path: String, options: WriteOptions = WriteOptions()) throws {
        let bytes = try encoded(options)
        try AtomicFile.write(bytes, to: path)
    }
}

/// Writes files so that their final name appears only when they are complete.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let part = try PartFile(directory: directory)
        do {
            try part.write(bytes)
            try part.commit(as: path)
        } catch {
            part.discard()
            throw error
        }
    }
}

/// A file being written under a hidden temporary name (`.movescu-<pid>-XXXXXX.part`, the
/// PID being the writing process's) in the folder of its final name; `commit` renames it
/// into place once it is complete, `discard` removes it. Writes are buffered and go out in
/// large pieces. Not for concurrent use: one writer at a time.
///
/// A process killed while writing leaves its part file behind; `removeAbandoned` clears
/// those whose writer is gone, and only those: two runs may share a folder.
public final class PartFile: @unchecked Sendable {
    public let temporaryPath: String
    private var fd: Int32
    /// What the next flush writes, in order: large pieces as they were given, small ones
    /// gathered.
    private var pieces: [ByteChunk] = []
    private var small: [UInt8] = []
    private var pendingBytes = 0
    /// Bytes written so far.
    public private(set) var size = 0
    /// Renamed into place: nothing left to discard, and the temporary name may be reused.
    private var committed = false
    /// Pending bytes are written once this many have gathered, and, for a file that
    /// `writesEarly`, once `earlyBufferSize` have while it is no larger than `earlyUpTo`: an
    /// image of half a MiB is then mostly written before its last bytes come (see
    /// `StorageSCP.earlyWriteChunk`), and a large value goes out in large writes.
    static let bufferSize = 1 << 20
    public static let earlyBufferSize = 1 << 18
    public static let earlyUpTo = 4 << 20
    /// Pieces at least this large are not copied; smaller ones are gathered.
    static let smallWrite = 4096
    /// Pieces per writev (well under IOV_MAX).
    static let maximumPieces = 128

    /// Whether the first `earlyUpTo` bytes are written a quarter MiB at a time (see
    /// `bufferSize`); not for a file whose bytes all come at once at its end.
    private let writesEarly: Bool

    public init(directory: String, writesEarly: Bool = true) throws {
        self.writesEarly = writesEarly
        // Created with O_EXCL (never through a link an attacker put there) and mode 0666,
        // which the kernel narrows by the umask (or the folder's default ACL): ordinary
        // output, no fchmod after mkstemp's 0600. A name taken already (another run in
        // another PID namespace) moves on to the next one.
        var attempts = 0
        while true {
            var path = directory
            path.reserveCapacity(directory.utf8.count + PartFile.namePrefix.utf8.count + 11)
            path += PartFile.namePrefix
            path += PartFile.nextSuffix()
            path += ".part"
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 {
                self.fd = fd
                self.temporaryPath = path
                break
            }
            attempts += 1
            guard errno == EEXIST, attempts < 100 else {
                throw DICOMError.fileSystem(path: directory, action: "cannot create a file there", code: errno)
            }
        }
        // Held while the file is written (and dropped by the kernel when the writer dies):
        // a run in another PID namespace or on another host sharing the folder, to which
        // our PID means nothing, sees the lock and leaves the file alone.
        _ = flock(fd, LOCK_EX | LOCK_NB)
    }

    /// `/.movescu-<pid>-`, made once: built for every object, the name took a hundredth of
    /// the user time of receiving small objects.
    private static let namePrefix = "/.movescu-\(getpid())-"
    private static let counter = Atomic<UInt64>(0)
    private static let digits: StaticString = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    /// Six letters and digits: a counter through Swift's hasher, whose key is random in each
    /// process, so that names are unique in a run and cannot be guessed from one another by
    /// someone who shares the folder (who could otherwise take the next names first).
    static func nextSuffix() -> String {
        var hasher = Hasher()
        hasher.combine(counter.add(1, ordering: .relaxed).newValue)
        var n = UInt64(bitPattern: Int64(hasher.finalize()))
        return String(unsafeUninitializedCapacity: 6) { suffix in
            digits.withUTF8Buffer { digits in
                for i in 0..<6 {
                    suffix[i] = digits[Int(n % 62)]
                    n /= 62
                }
            }
            return 6
        }
    }

    deinit {
        // Never committed: the temporary file goes with the object.
        if !committed { discard() }
    }

    public func write(_ bytes: [UInt8]) throws {
        try write(ByteChunk(bytes))
    }

    /// Writes a chunk: kept as it is when large (a receive buffer's view included), gathered
    /// with others when small.
    public func write(_ bytes: ByteChunk) throws {
        if size + bytes.count >= topUpAt { _ = try allocateAhead(past: size + bytes.count) }
        size += bytes.count
        if bytes.count >= PartFile.smallWrite {
            // Kept as it is (pixel data arrives in pieces of a PDV or more): no copy.
            closeSmall()
            pieces.append(bytes)
        } else {
            small.append(contentsOf: bytes)
        }
        pendingBytes += bytes.count
        let due = writesEarly && size <= PartFile.earlyUpTo ? PartFile.earlyBufferSize : PartFile.bufferSize
        if pendingBytes >= due || pieces.count >= PartFile.maximumPieces { try flush() }
    }

    /// Values at least this large are checked against the room left when their length is
    /// known, and on ext4 have their blocks allocated ahead of their writes.
    public static let reserveFrom = 4 << 20
    /// How far ahead of the writes blocks are allocated: a window, topped up when the writes
    /// are half-way through it, never the whole of a declared length (a peer that declares
    /// 4 GiB and stalls holds no more of the disk than this).
    public static let reserveWindow = 64 << 20

    /// The end of the value being allocated for, how far its blocks are allocated, and the
    /// size at which the next window is allocated (`Int.max`: none).
    private var reservedEnd = 0
    private var reservedUpTo = 0
    private var topUpAt = Int.max

    /// Says that `length` bytes follow what has been written so far (a large value whose
    /// header has come). From `reserveFrom` bytes:
    /// - a value larger than the room left on the file system fails now, before any of it is
    ///   written (a file-system error, ENOSPC);
    /// - on ext4 its blocks are allocated ahead of the writes, a window at a time, the file's
    ///   size unchanged (fallocate with FALLOC_FL_KEEP_SIZE): the writes land in blocks that
    ///   exist instead of ext4 reserving and mapping them page by page (a sixth less CPU for
    ///   receiving a gigabyte). A window that does not fit fails as a write would (ENOSPC,
    ///   EDQUOT, EFBIG); where allocating ahead is not possible the writes go on as before.
    ///
    /// Returns whether blocks were allocated (for tests).
    @discardableResult
    public func reserve(_ length: Int) throws -> Bool {
        topUpAt = .max
        guard length >= PartFile.reserveFrom, fd >= 0 else { return false }
        var pays: Int32 = 0
        let room = cfilesystem_room(fd, &pays)
        if room >= 0 && Int64(length) > room {
            throw DICOMError.fileSystem(path: temporaryPath, action: "cannot write a value of \(length) bytes (\(room) free)", code: ENOSPC)
        }
        guard pays != 0 else { return false }
        reservedEnd = size + length
        reservedUpTo = size
        return try allocateAhead(past: size)
    }

    /// Allocates the blocks from `reservedUpTo` to a window past `position` (or to the
    /// value's end).
    private func allocateAhead(past position: Int) throws -> Bool {
        topUpAt = .max
        let upTo = min(reservedEnd, position + PartFile.reserveWindow)
        guard upTo > reservedUpTo else { return false }
        while cfilesystem_reserve(fd, Int64(reservedUpTo), Int64(upTo - reservedUpTo)) != 0 {
            let code = errno
            switch code {
            case EINTR: continue
            case ENOSPC, EDQUOT, EFBIG:
                throw DICOMError.fileSystem(path: temporaryPath, action: "cannot write", code: code)
            default: return false
            }
        }
        reservedUpTo = upTo
        if upTo < reservedEnd { topUpAt = upTo - PartFile.reserveWindow / 2 }
        return true
    }

    private func closeSmall() {
        guard !small.isEmpty else { return }
        pieces.append(ByteChunk(small))
        small = []
    }

    /// Everything pending, in one writev(2) when the kernel takes it all.
    private func flush() throws {
        closeSmall()
        guard !pieces.isEmpty else { return }
        var vectors: [iovec] = []
        vectors.reserveCapacity(pieces.count)
        try PartFile.withVectors(pieces[...], &vectors) { vectors in
            var index = 0
            while index < vectors.count {
                let n = vectors.withUnsafeBufferPointer { systemWritev(fd, $0.baseAddress! + index, Int32(vectors.count - index)) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DICOMError.fileSystem(path: temporaryPath, action: "cannot write", code: errno)
                }
                var done = n
                while index < vectors.count && done >= vectors[index].iov_len {
                    done -= vectors[index].iov_len
                    index += 1
                }
                if done > 0 {
                    vectors[index].iov_base += done
                    vectors[index].iov_len -= done
                }
            }
        }
        pieces.removeAll(keepingCapacity: true)
        pendingBytes = 0
    }

    /// The pieces' bytes as I/O vectors, valid inside `body`.
    private static func withVectors(_ pieces: ArraySlice<ByteChunk>, _ vectors: inout [iovec],
                                    _ body: (inout [iovec]) throws -> Void) throws {
        guard let first = pieces.first else { return try body(&vectors) }
        try first.withUnsafeBytes { raw in
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count))
            try withVectors(pieces.dropFirst(), &vectors, body)
        }
    }

    /// Writes what is buffered, closes the file and renames it to `path`.
    public func commit(as path: String) throws {
        try flush()
        let fd = self.fd
        self.fd = -1
        if close(fd) != 0 {
            throw DICOMError.fileSystem(path: temporaryPath, action: "cannot close", code: errno)
        }
        if rename(temporaryPath, path) != 0 {
            throw DICOMError.fileSystem(path: path, action: "cannot rename into place", code: errno)
        }
        committed = true
    }

    /// Removes the temporary file (after a failure or a refusal). Does nothing once committed.
    public func discard() {
        // What is pending goes too (views of read buffers among it).
        pieces = []
        small = []
        pendingBytes = 0
        if fd >= 0 { close(fd); fd = -1 }
        if !committed {
            unlink(temporaryPath)
            committed = true
        }
    }
}

extension PartFile {
    /// The PID in the name of a part file (`.movescu-<pid>-XXXXXX.part`) or of a spool file
    /// caught between its creation and its unlink (`.movescu-spool-<pid>-XXXXXX`); nil for
    /// any other name, older part files without a PID included (their writer cannot be told).
    public static func writerPID(ofFileNamed name: String) -> pid_t? {
        guard name.hasPrefix(".movescu-") else { return nil }
        var rest = Substring(name.dropFirst(".movescu-".count))
        let isSpool = rest.hasPrefix("spool-")
        if isSpool {
            rest = rest.dropFirst("spool-".count)
        } else {
            guard rest.hasSuffix(".part") else { return nil }
            rest = rest.dropLast(".part".count)
        }
        let fields = rest.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count == 2, fields[1].count == 6,
              fields[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
              fields[0].allSatisfy({ $0.isASCII && $0.isNumber }),
              let pid = pid_t(fields[0]), pid > 0 else { return nil }
        return pid
    }

    /// Whether a process with this PID exists on this machine (one we may not signal exists
    /// too). A PID reused since its writer died keeps that writer's files: never the wrong
    /// way round.
    public static func isRunning(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Removes the part and spool files in `directory` whose writing process no longer runs
    /// (killed, or lost with the machine) and returns their names. Files of running
    /// processes, this one included, and files without a PID in their name are left alone.
    @discardableResult
    public static func removeAbandoned(in directory: String, isRunning: (pid_t) -> Bool = PartFile.isRunning) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names.sorted() {
            guard let pid = writerPID(ofFileNamed: name), pid != getpid(), !isRunning(pid) else { continue }
            // A writer that holds its lock is alive somewhere, whatever its PID says here.
            let path = directory + "/" + name
            let fd = open(path, O_RDONLY | O_NOFOLLOW)
            if fd >= 0 {
                defer { close(fd) }
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            }
            if unlink(path) == 0 { removed.append(name) }
        }
        return removed
    }
}

/// writev(2), under a name that does not collide with the `write` methods here.
private func systemWritev(_ fd: Int32, _ vectors: UnsafePointer<iovec>, _ count: Int32) -> Int {
    #if canImport(Glibc)
    return Glibc.writev(fd, vectors, count)
    #else
    return Darwin.writev(fd, vectors, count)
    #endif
}
