#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Where large values (pixel data, fragments) of data sets being received are kept, so that
/// an object of any size passes through in bounded memory.
///
/// The first `memoryLimit` bytes stay in memory: most images are smaller, and writing them to
/// a file only to read them back would double the disk traffic. Beyond that everything goes
/// to a file that is unlinked as soon as it is created: it has no name, cannot be left
/// behind by a crash, and disappears when the last `Spool` reference goes. Values are
/// appended through a write buffer and read back in chunks by the writer.
public final class Spool: Sendable {
    private struct State {
        /// Until the spool spills: the appended pieces as they came (not copied together),
        /// with the offset of each.
        var pieces: [[UInt8]] = []
        var pieceStarts: [Int] = []
        /// After it spilled: the write buffer in front of the file.
        var buffer: [UInt8] = []
        /// Bytes in the file plus those still in memory.
        var size = 0
        /// The file, once the spool has spilled.
        var fd: Int32?
    }

    private let state = Mutex(State())
    /// Where the spool file goes when it is needed, for error messages too.
    public let directory: String
    /// Bytes kept in memory before the spool spills to its file.
    public let memoryLimit: Int
    static let bufferSize = 1 << 20

    /// A spool whose file, if it comes to one, goes in `directory` (ideally on the same file
    /// system as the output, so that its space is accounted where the user expects).
    public init(directory: String, memoryLimit: Int = 4 << 20) {
        self.directory = directory
        self.memoryLimit = memoryLimit
    }

    deinit {
        if let fd = state.withLock({ $0.fd }) { close(fd) }
    }

    /// Whether the values have gone to a file.
    public var spilled: Bool { state.withLock { $0.fd != nil } }

    /// Bytes spooled so far.
    public var size: Int { state.withLock { $0.size } }

    /// The offset where the next appended byte goes: the start of a value about to be spooled.
    public var end: Int { size }

    /// Appends bytes; a value is the range from `end` before its first append to `end` after
    /// its last. An array is kept as it is while the spool is in memory.
    /// Appends a chunk: an array is kept as it is while the spool is in memory, a view of
    /// another object's memory is copied (the spool does not keep read buffers alive).
    public func append(_ chunk: ByteChunk) throws {
        try append(chunk.array)
    }

    public func append(_ bytes: some Collection<UInt8>) throws {
        guard !bytes.isEmpty else { return }
        try state.withLock { state in
            if state.fd == nil {
                state.pieceStarts.append(state.size)
                state.pieces.append(bytes as? [UInt8] ?? Array(bytes))
                state.size += bytes.count
                guard state.size > memoryLimit else { return }
                // Spill: everything so far to the file, from now on through the buffer.
                let fd = try createFile()
                state.fd = fd
                for (start, piece) in zip(state.pieceStarts, state.pieces) { try writeAll(fd, piece, at: start) }
                state.pieces = []
                state.pieceStarts = []
                return
            }
            state.buffer.append(contentsOf: bytes)
            state.size += bytes.count
            if state.buffer.count >= Spool.bufferSize { try flush(&state) }
        }
    }

    private func createFile() throws -> Int32 {
        // Named with our PID for the moment before the unlink, as part files are (see
        // PartFile.removeAbandoned).
        var template = Array((directory + "/.movescu-spool-\(getpid())-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw DICOMError.fileSystem(path: directory, action: "cannot create a spool file", code: errno)
        }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        unlink(path)
        return fd
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], at start: Int) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(start + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DICOMError.fileSystem(path: directory, action: "cannot write the spool file", code: errno)
                }
                done += n
            }
        }
    }

    private func flush(_ state: inout State) throws {
        guard let fd = state.fd, !state.buffer.isEmpty else { return }
        try writeAll(fd, state.buffer, at: state.size - state.buffer.count)
        state.buffer.removeAll(keepingCapacity: true)
    }

    /// Calls `body` with the value's bytes in order.
    ///
    /// With `aligned` (the default) every piece but the last is exactly `chunk` bytes,
    /// rounded down to a multiple of 8 (the largest byte-swap unit), for a caller that swaps
    /// bytes piece by piece. Without it, pieces kept in memory are handed over as they were
    /// appended, uncopied, whatever their sizes.
    public func read(_ value: SpooledBytes, chunk: Int = 1 << 20, aligned: Bool = true, _ body: ([UInt8]) throws -> Void) throws {
        let chunk = max(8, chunk & ~7)
        let inMemory: (pieces: [[UInt8]], starts: [Int])? = try state.withLock { state in
            if state.fd == nil { return (state.pieces, state.pieceStarts) }
            try flush(&state)
            return nil
        }
        var offset = value.offset
        let end = value.offset + value.count
        if let (pieces, starts) = inMemory {
            guard end <= (starts.last.map { $0 + pieces.last!.count } ?? 0) else {
                throw DICOMError.io(path: directory, reason: "a spooled value runs past the end of the spool")
            }
            // The piece that holds the first byte.
            var index = starts.lastIndex { $0 <= offset } ?? 0
            var pending: [UInt8] = []
            while offset < end {
                let piece = pieces[index], start = starts[index]
                let from = offset - start, to = min(piece.count, end - start)
                if !aligned {
                    try body(from == 0 && to == piece.count ? piece : Array(piece[from..<to]))
                } else {
                    var at = from
                    while at < to {
                        let take = min(to - at, chunk - pending.count)
                        pending.append(contentsOf: piece[at..<(at + take)])
                        at += take
                        if pending.count == chunk {
                            try body(pending)
                            pending.removeAll(keepingCapacity: true)
                        }
                    }
                }
                offset = start + to
                index += 1
            }
            if !pending.isEmpty { try body(pending) }
            return
        }
        let fd = state.withLock { $0.fd! }
        var buffer = [UInt8](repeating: 0, count: min(chunk, max(value.count, 1)))
        while offset < end {
            // Whole chunks (never a short read), so that a chunk is always a multiple of
            // every byte-swap unit the writer applies to it.
            let want = min(buffer.count, end - offset)
            var got = 0
            while got < want {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, want - got, off_t(offset + got)) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw DICOMError.fileSystem(path: directory, action: "cannot read the spool file back", code: errno) }
                guard n > 0 else {
                    throw DICOMError.io(path: directory, reason: "cannot read the spool file back (it is shorter than written)")
                }
                got += n
            }
            try body(want == buffer.count ? buffer : Array(buffer[0..<want]))
            offset += want
        }
    }

    /// The whole value in memory.
    public func bytes(_ value: SpooledBytes) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        try read(value) { out.append(contentsOf: $0) }
        return out
    }
}

/// A value kept in a `Spool`: `count` bytes from `offset`, little endian like in-memory values.
public struct SpooledBytes: Sendable, Equatable {
    public let spool: Spool
    public let offset: Int
    public let count: Int

    public init(spool: Spool, offset: Int, count: Int) {
        self.spool = spool
        self.offset = offset
        self.count = count
    }

    public static func == (a: SpooledBytes, b: SpooledBytes) -> Bool {
        a.spool === b.spool && a.offset == b.offset && a.count == b.count
    }

    public func read(chunk: Int = 1 << 20, aligned: Bool = true, _ body: ([UInt8]) throws -> Void) throws {
        try spool.read(self, chunk: chunk, aligned: aligned, body)
    }

    public func bytes() throws -> [UInt8] { try spool.bytes(self) }
}
