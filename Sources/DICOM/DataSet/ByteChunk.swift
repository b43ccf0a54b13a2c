/// A run of bytes passed along without copying: an array (or a part of one), or a read-only
/// view of memory that another object owns, such as a network receive buffer.
///
/// A view keeps its owner alive, and with it the memory, for as long as the chunk (or a
/// part of it) exists. Whoever makes a view promises that nobody writes to those bytes while
/// the owner is referenced from elsewhere; SwiftNIO's byte buffers keep that promise (they
/// copy before writing to storage that is not theirs alone).
public struct ByteChunk: RandomAccessCollection, @unchecked Sendable {
    private enum Storage {
        case array([UInt8])
        case view(owner: AnyObject, base: UnsafeRawPointer)
    }

    private let storage: Storage
    public let startIndex: Int
    public let endIndex: Int

    public init(_ bytes: [UInt8]) {
        storage = .array(bytes)
        startIndex = 0
        endIndex = bytes.count
    }

    /// A view of `bytes`, which `owner` keeps alive and nobody writes to (a promise the
    /// compiler cannot check: within this package only).
    package init(owner: AnyObject, bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress {
            storage = .view(owner: owner, base: base)
        } else {
            storage = .array([])
        }
        startIndex = 0
        endIndex = bytes.count
    }

    private init(storage: Storage, range: Range<Int>) {
        self.storage = storage
        startIndex = range.lowerBound
        endIndex = range.upperBound
    }

    public subscript(position: Int) -> UInt8 {
        precondition(position >= startIndex && position < endIndex, "index out of range")
        switch storage {
        case .array(let bytes): return bytes[position]
        case .view(_, let base): return base.load(fromByteOffset: position, as: UInt8.self)
        }
    }

    /// The same storage, no copy; indices stay those of the whole.
    public subscript(bounds: Range<Int>) -> ByteChunk {
        precondition(bounds.lowerBound >= startIndex && bounds.upperBound <= endIndex, "range out of bounds")
        return ByteChunk(storage: storage, range: bounds)
    }

    /// Whether the bytes are another object's memory (a receive buffer) rather than an array.
    public var isView: Bool {
        if case .view = storage { return true }
        return false
    }

    /// The bytes as an array: the array itself when the chunk is all of one, else a copy.
    public var array: [UInt8] {
        if case .array(let bytes) = storage, startIndex == 0, endIndex == bytes.count { return bytes }
        return withUnsafeBytes { Array($0) }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .array(let bytes):
            return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[startIndex..<endIndex])) }
        case .view(let owner, let base):
            return try withExtendedLifetime(owner) {
                try body(UnsafeRawBufferPointer(start: base + startIndex, count: endIndex - startIndex))
            }
        }
    }

    /// Copies with memcpy, not byte by byte, where a generic algorithm (`Array(chunk)`,
    /// `append(contentsOf:)`) takes the chunk as a sequence.
    public func _copyContents(initializing buffer: UnsafeMutableBufferPointer<UInt8>) -> (IndexingIterator<ByteChunk>, Int) {
        let n = Swift.min(count, buffer.count)
        if n > 0 {
            withUnsafeBytes { source in
                UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: source.baseAddress!, byteCount: n)
            }
        }
        return (self[(startIndex + n)..<endIndex].makeIterator(), n)
    }

    public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        try withUnsafeBytes { try body(UnsafeBufferPointer(start: $0.baseAddress?.assumingMemoryBound(to: UInt8.self), count: $0.count)) }
    }
}

extension ByteChunk: Equatable {
    public static func == (a: ByteChunk, b: ByteChunk) -> Bool {
        a.count == b.count && a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.elementsEqual(y) } }
    }
}

extension ByteChunk {
    /// A view of a copy of `bytes` in memory of its own, as a receive buffer is: for tests
    /// of the paths that views take.
    static func view(copying bytes: [UInt8]) -> ByteChunk {
        let owner = OwnedMemory(bytes)
        return ByteChunk(owner: owner, bytes: UnsafeRawBufferPointer(rebasing: owner.memory[..<bytes.count]))
    }

    private final class OwnedMemory {
        let memory: UnsafeMutableRawBufferPointer

        init(_ bytes: [UInt8]) {
            memory = .allocate(byteCount: Swift.max(bytes.count, 1), alignment: 16)
            bytes.withUnsafeBytes { memory.copyMemory(from: $0) }
        }

        deinit { memory.deallocate() }
    }
}
