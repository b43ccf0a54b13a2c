/// What the incremental reader found next in a data set stream.
///
/// Values of binary VRs are little endian whatever the stream's byte order. A value no larger
/// than the parser's `maximumBufferedValue` arrives whole (`element`, `fragment`); a larger one
/// arrives as `valueStart`, one or more `valueChunk`s and `valueEnd`, so that a 2 GB pixel
/// data element never has to sit in memory.
public enum DataSetEvent: Sendable, Equatable {
    case element(tag: Tag, vr: VR, value: [UInt8])
    case valueStart(tag: Tag, vr: VR, length: Int)
    /// Part of a large value: a part of the chunk given to the parser when its bytes can be
    /// handed on as they are (no copy), else a copy.
    case valueChunk(ByteChunk)
    case valueEnd
    /// A sequence (SQ, or UN of undefined length, which is an implicit VR sequence).
    case sequenceStart(tag: Tag, vr: VR, undefinedLength: Bool)
    case itemStart(undefinedLength: Bool)
    case itemEnd
    case sequenceEnd
    /// Encapsulated pixel data: each item is a fragment, the first the basic offset table.
    case fragmentsStart(tag: Tag, vr: VR)
    case fragment([UInt8])
    /// A large fragment: followed by value chunks and `valueEnd`.
    case fragmentStart(length: Int)
    case fragmentsEnd
}

/// An incremental reader of data sets (PS3.5 section 7): feed it bytes as they arrive,
/// pull events. Pure value, no I/O; it never holds more than one header plus
/// `maximumBufferedValue` bytes beyond what it has handed out.
public struct DataSetParser: Sendable {
    public struct Options: Sendable {
        /// Values up to this size arrive whole; larger ones in chunks.
        public var maximumBufferedValue: Int = 1 << 20
        /// Sequences nested deeper than this are refused as malformed.
        public var maximumDepth: Int = 128
        /// The data dictionary for implicit VR streams.
        public var dictionary: DataDictionary? = nil
        public init() {}
    }

    private struct Encoding: Equatable {
        var explicitVR: Bool
        var bigEndian: Bool
    }

    private enum Frame {
        case sequence(end: Int?, encoding: Encoding)
        case item(end: Int?, creators: [UInt32: String])
        case fragments(end: Int?)
    }

    private enum Pending {
        case none
        /// A large value still arriving: bytes left, swap unit.
        case value(remaining: Int, unit: Int, isFragment: Bool)
        case valueEnd
    }

    public let transferSyntax: TransferSyntax
    public let options: Options
    private let dictionary: DataDictionary

    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// A chunk given, not copied into `buffer`: it follows what is left in the buffer. The
    /// parts of it that belong to a large value are handed on as they are, once the buffer
    /// is all parsed; the rest is moved into the buffer a little at a time (`directStep`) as
    /// the parser needs it, so that a chunk with elements before the start of a large value
    /// (the first PDV of an object) is not copied whole into the buffer and then out again.
    private var direct: ByteChunk?
    /// How much of the direct chunk is moved into the buffer when the parser needs more.
    static let directStep = 4096
    /// Stream offset of buffer[0].
    private var bufferBase = 0
    private var inputFinished = false
    private var stack: [Frame] = []
    private var topLevelCreators: [UInt32: String] = [:]
    private var encoding: Encoding
    private var pending: Pending = .none
    private var inflater: Inflater?
    private var failure: DICOMError?

    /// - Parameter baseOffset: the stream offset of the first byte given, for error messages.
    public init(transferSyntax: TransferSyntax, options: Options = Options(), baseOffset: Int = 0) {
        self.transferSyntax = transferSyntax
        self.options = options
        self.dictionary = options.dictionary ?? DataDictionary.active
        self.encoding = Encoding(explicitVR: transferSyntax.isExplicitVR, bigEndian: transferSyntax.isBigEndian)
        self.bufferBase = baseOffset
        if transferSyntax.isDeflated { inflater = Inflater() }
    }

    /// The stream offset of the next byte to parse.
    public var offset: Int { bufferBase + readIndex }

    /// True once the input is finished and every element, item and sequence is complete.
    public var isComplete: Bool {
        inputFinished && readIndex == buffer.count && direct == nil && stack.isEmpty && isNotPending && failure == nil
    }

    private var isNotPending: Bool {
        if case .none = pending { return true }
        return false
    }

    /// Adds bytes that arrived (compressed ones for a deflated syntax).
    public mutating func append<Bytes: Collection>(_ bytes: Bytes) throws where Bytes.Element == UInt8 {
        try appendCopy(bytes)
    }

    private mutating func appendCopy<Bytes: Collection>(_ bytes: Bytes) throws where Bytes.Element == UInt8 {
        precondition(!inputFinished, "bytes appended after finish()")
        takeDirect()
        compact()
        if inflater != nil {
            let out = try inflater!.inflate(Array(bytes), offset: offset)
            buffer.append(contentsOf: out)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// Adds bytes that arrived, without copying them unless a chunk given before is still
    /// held: when everything before them is parsed the array itself becomes the buffer, and a
    /// value chunk that is all of it is handed out as is; behind bytes still to parse it is
    /// kept as the direct chunk.
    public mutating func append(_ bytes: [UInt8]) throws {
        guard inflater == nil, direct == nil else {
            try appendCopy(bytes)
            return
        }
        precondition(!inputFinished, "bytes appended after finish()")
        guard readIndex == buffer.count else {
            // Behind bytes still to parse: kept as it is, after them.
            if !bytes.isEmpty { direct = ByteChunk(bytes) }
            return
        }
        bufferBase += readIndex
        readIndex = 0
        buffer = bytes
    }

    /// Adds bytes that arrived. Unless a chunk given before is still held, a view is not
    /// copied: it becomes the direct chunk, and the parts of it that are a large value's come
    /// out as value chunks of it.
    public mutating func append(_ chunk: ByteChunk) throws {
        guard chunk.isView else {
            try append(chunk.array)
            return
        }
        guard inflater == nil, direct == nil else {
            try appendCopy(chunk)
            return
        }
        precondition(!inputFinished, "bytes appended after finish()")
        if !chunk.isEmpty { direct = chunk }
    }

    /// Moves up to `count` bytes of the direct chunk (all of it by default) into the buffer,
    /// behind what is left there; parsed bytes are dropped first when nothing is left.
    private mutating func takeDirect(upTo count: Int = .max) {
        guard let chunk = direct else { return }
        if readIndex == buffer.count {
            bufferBase += readIndex
            readIndex = 0
            buffer = []
        } else {
            compact()
        }
        let n = min(count, chunk.count)
        let end = chunk.startIndex + n
        buffer.append(contentsOf: chunk[chunk.startIndex..<end])
        direct = end == chunk.endIndex ? nil : chunk[end..<chunk.endIndex]
    }

    /// No more bytes will come than those in the buffer.
    private var allInBuffer: Bool { inputFinished && direct == nil }

    /// Says that no more bytes will come.
    public mutating func finish() {
        inputFinished = true
    }

    private mutating func compact() {
        if readIndex > 65536 && readIndex * 2 > buffer.count {
            buffer.removeFirst(readIndex)
            bufferBase += readIndex
            readIndex = 0
        }
    }

    private var available: Int { buffer.count - readIndex }

    // MARK: Reading numbers

    @inline(__always)
    private func u16(at i: Int) -> UInt16 {
        encoding.bigEndian ? UInt16(buffer[i]) << 8 | UInt16(buffer[i + 1])
            : UInt16(buffer[i + 1]) << 8 | UInt16(buffer[i])
    }

    @inline(__always)
    private func u32(at i: Int) -> UInt32 {
        encoding.bigEndian
            ? UInt32(buffer[i]) << 24 | UInt32(buffer[i + 1]) << 16 | UInt32(buffer[i + 2]) << 8 | UInt32(buffer[i + 3])
            : UInt32(buffer[i + 3]) << 24 | UInt32(buffer[i + 2]) << 16 | UInt32(buffer[i + 1]) << 8 | UInt32(buffer[i])
    }

    // MARK: Events

    /// The next event, or nil when more input is needed (or, once finished, at the end:
    /// check `isComplete`). Throws on malformed or truncated input; after an error every
    /// call throws the same error.
    public mutating func next() throws -> DataSetEvent? {
        if let failure { throw failure }
        do {
            while true {
                if let event = try nextEvent() { return event }
                guard direct != nil else { return nil }
                // More is needed and the direct chunk has it: a partial word of a value
                // completed, or the next few KB for element headers.
                var step = DataSetParser.directStep
                if case .value(_, let unit, _) = pending {
                    // Big endian words are swapped in the buffer: all of the chunk goes there.
                    if encoding.bigEndian && unit > 1 { step = .max }
                    else if available > 0 && available < unit { step = unit - available }
                }
                takeDirect(upTo: step)
            }
        } catch var error as DICOMError {
            if inflater != nil {
                // Offsets count bytes of the inflated stream, not of the file.
                switch error {
                case .malformed(let offset, let reason): error = .malformed(offset: offset, reason: reason + " (offset in the inflated data)")
                case .truncated(let offset, let reason): error = .truncated(offset: offset, reason: reason + " (offset in the inflated data)")
                default: break
                }
            }
            failure = error
            throw error
        }
    }

    private mutating func nextEvent() throws -> DataSetEvent? {
        if let chunk = direct, readIndex == buffer.count {
            switch pending {
            case .value(let remaining, let unit, let isFragment) where !(encoding.bigEndian && unit > 1)
                && (chunk.count >= remaining || chunk.count >= max(unit, 1)):
                // A large value's bytes in a chunk given whole: handed on as they are (in
                // whole words, as from the buffer).
                var n = min(remaining, chunk.count)
                if n < remaining { n -= n % max(unit, 1) }
                let end = chunk.startIndex + n
                direct = end == chunk.endIndex ? nil : chunk[end..<chunk.endIndex]
                bufferBase += n
                let left = remaining - n
                pending = left == 0 ? .valueEnd : .value(remaining: left, unit: unit, isFragment: isFragment)
                return .valueChunk(chunk[chunk.startIndex..<end])
            default:
                // Element headers, or a value's partial word: from the buffer, which `next`
                // fills from the direct chunk as far as needed.
                break
            }
        }
        switch pending {
        case .valueEnd:
            pending = .none
            return .valueEnd
        case .value(let remaining, let unit, let isFragment):
            var n = min(remaining, available)
            if n < remaining {
                n -= n % max(unit, 1)
                // Wait for a worthwhile chunk, unless the rest is in the direct chunk (which
                // is handed on as it is once the buffer is used up).
                if n < 4096 && !inputFinished && direct == nil { return nil }
                if n == 0 && direct != nil { return nil }
                if n == 0 {
                    throw DICOMError.truncated(offset: offset, reason: "the stream ends inside a value with \(remaining) byte(s) still to come")
                }
            }
            var chunk: [UInt8]
            if readIndex == 0 && n == buffer.count {
                // All of the buffer: handed out as it is, and the parser lets go of it, so
                // that a later append does not copy what the chunk holds.
                chunk = buffer
                buffer = []
                bufferBase += n
            } else {
                chunk = Array(buffer[readIndex..<(readIndex + n)])
                readIndex += n
            }
            if encoding.bigEndian && unit > 1 { ValueCoding.swapBytes(&chunk, unit: unit) }
            let left = remaining - n
            pending = left == 0 ? .valueEnd : .value(remaining: left, unit: unit, isFragment: isFragment)
            return .valueChunk(ByteChunk(chunk))
        case .none:
            break
        }

        // Close containers of explicit length that end here.
        if let top = stack.last {
            switch top {
            case .sequence(let end?, _) where offset >= end:
                try checkEnd(end, "sequence")
                popSequence()
                return .sequenceEnd
            case .item(let end?, _) where offset >= end:
                try checkEnd(end, "item")
                stack.removeLast()
                return .itemEnd
            case .fragments(let end?) where offset >= end:
                try checkEnd(end, "pixel data")
                stack.removeLast()
                return .fragmentsEnd
            default:
                break
            }
        }

        guard available >= 8 else {
            if allInBuffer {
                if let inflater, !inflater.isFinished {
                    throw DICOMError.truncated(offset: offset, reason: "the deflated data ends before its final block")
                }
                if available == 0 && stack.isEmpty { return nil }
                if available == 0 {
                    throw DICOMError.truncated(offset: offset, reason: "the stream ends inside \(openContainerDescription)")
                }
                throw DICOMError.truncated(offset: offset, reason: "\(available) byte(s) left where an element header of 8 or more belongs")
            }
            return nil
        }

        let start = readIndex
        let tag = Tag(u16(at: start), u16(at: start + 2))

        if tag.group == 0xFFFE {
            return try readDelimiter(tag, start: start)
        }
        if case .sequence = stack.last {
            throw DICOMError.malformed(offset: offset, reason: "element \(tag) where an item (fffe,e000) or a sequence delimiter belongs")
        }
        if case .fragments = stack.last {
            throw DICOMError.malformed(offset: offset, reason: "element \(tag) inside encapsulated pixel data, where a fragment item belongs")
        }

        var vr: VR
        var length: UInt32
        var headerLength: Int
        if encoding.explicitVR {
            let b0 = buffer[start + 4], b1 = buffer[start + 5]
            if let known = VR(bytes: b0, b1) {
                vr = known
                if vr.hasLongExplicitLength {
                    guard available >= 12 else { return try needMore("element header of \(tag)") }
                    length = u32(at: start + 8)
                    headerLength = 12
                } else {
                    length = UInt32(u16(at: start + 6))
                    headerLength = 8
                }
            } else if b0 >= 0x41 && b0 <= 0x5A && b1 >= 0x41 && b1 <= 0x5A {
                // A VR the standard does not define (yet): read it as UN with a 4-byte length,
                // as PS3.5 7.1.2 asks of future VRs.
                guard available >= 12 else { return try needMore("element header of \(tag)") }
                vr = .UN
                length = u32(at: start + 8)
                headerLength = 12
            } else {
                throw DICOMError.malformed(offset: offset + 4, reason: "element \(tag) has VR bytes \(hex2(b0)) \(hex2(b1)), which name no VR")
            }
        } else {
            vr = dictionary.implicitVR(for: tag, privateCreator: privateCreator(for: tag))
            length = u32(at: start + 4)
            headerLength = 8
        }

        let valueStart = offset + headerLength
        if length == 0xFFFF_FFFF {
            readIndex += headerLength
            return try openUndefinedLength(tag: tag, vr: vr, at: valueStart - headerLength)
        }

        let valueLength = Int(length)
        if let limit = containerEnd, valueStart + valueLength > limit {
            throw DICOMError.malformed(offset: offset, reason: "element \(tag) \(vr.rawValue) has length \(valueLength), past the end of its \(openContainerName) at byte \(limit)")
        }

        if vr == .SQ {
            readIndex += headerLength
            try pushSequence(end: valueStart + valueLength, encoding: encoding)
            return .sequenceStart(tag: tag, vr: .SQ, undefinedLength: false)
        }

        if valueLength <= options.maximumBufferedValue {
            guard available >= headerLength + valueLength else {
                if allInBuffer {
                    throw DICOMError.truncated(offset: offset, reason: "element \(tag) \(vr.rawValue) has length \(valueLength) but only \(available - headerLength) byte(s) follow")
                }
                return nil
            }
            var value = Array(buffer[(start + headerLength)..<(start + headerLength + valueLength)])
            readIndex += headerLength + valueLength
            if encoding.bigEndian && vr.byteSwapUnit > 1 { ValueCoding.swapBytes(&value, unit: vr.byteSwapUnit) }
            if tag.isPrivateCreator { recordCreator(tag, value) }
            // An odd-length OB or UN gets the pad byte it lacks, as DCMTK does on reading.
            if valueLength % 2 == 1 && (vr == .OB || vr == .UN) { value.append(0) }
            return .element(tag: tag, vr: vr, value: value)
        }
        readIndex += headerLength
        pending = .value(remaining: valueLength, unit: vr.byteSwapUnit, isFragment: false)
        return .valueStart(tag: tag, vr: vr, length: valueLength)
    }

    private func needMore(_ what: String) throws -> DataSetEvent? {
        if allInBuffer {
            throw DICOMError.truncated(offset: offset, reason: "the stream ends inside the \(what)")
        }
        return nil
    }

    private func checkEnd(_ end: Int, _ what: String) throws {
        if offset > end {
            throw DICOMError.malformed(offset: offset, reason: "the last element of a \(what) runs past its end at byte \(end)")
        }
    }

    private mutating func openUndefinedLength(tag: Tag, vr: VR, at elementOffset: Int) throws -> DataSetEvent {
        switch vr {
        case .SQ:
            try pushSequence(end: nil, encoding: encoding)
            return .sequenceStart(tag: tag, vr: .SQ, undefinedLength: true)
        case .UN:
            // PS3.5 6.2.2: UN of undefined length is a sequence encoded in implicit VR little endian.
            try pushSequence(end: nil, encoding: Encoding(explicitVR: false, bigEndian: false))
            return .sequenceStart(tag: tag, vr: .SQ, undefinedLength: true)
        case .OB, .OW:
            guard stack.count < options.maximumDepth * 2 else { throw tooDeep() }
            stack.append(.fragments(end: nil))
            // Encapsulated pixel data is OB whatever the stream says (PS3.5 A.4).
            return .fragmentsStart(tag: tag, vr: .OB)
        default:
            throw DICOMError.malformed(offset: elementOffset, reason: "element \(tag) \(vr.rawValue) has undefined length, which only SQ, UN and encapsulated OB/OW may have")
        }
    }

    private mutating func readDelimiter(_ tag: Tag, start: Int) throws -> DataSetEvent? {
        let length = u32(at: start + 4)
        let here = offset
        switch (tag, stack.last) {
        case (.item, .sequence?):
            readIndex += 8
            guard stack.count < options.maximumDepth * 2 else { throw tooDeep() }
            if length == 0xFFFF_FFFF {
                stack.append(.item(end: nil, creators: [:]))
                return .itemStart(undefinedLength: true)
            }
            let end = offset + Int(length)
            if let limit = containerEnd, end > limit {
                throw DICOMError.malformed(offset: here, reason: "item of length \(length) runs past the end of its sequence at byte \(limit)")
            }
            stack.append(.item(end: end, creators: [:]))
            return .itemStart(undefinedLength: false)
        case (.item, .fragments?):
            guard length != 0xFFFF_FFFF else {
                throw DICOMError.malformed(offset: here, reason: "a pixel data fragment has undefined length")
            }
            let n = Int(length)
            if let limit = containerEnd, offset + 8 + n > limit {
                throw DICOMError.malformed(offset: here, reason: "fragment of length \(n) runs past the end of the pixel data at byte \(limit)")
            }
            if n <= options.maximumBufferedValue {
                guard available >= 8 + n else {
                    if allInBuffer {
                        throw DICOMError.truncated(offset: here, reason: "a fragment of length \(n) has only \(available - 8) byte(s)")
                    }
                    return nil
                }
                let value = Array(buffer[(start + 8)..<(start + 8 + n)])
                readIndex += 8 + n
                return .fragment(value)
            }
            readIndex += 8
            pending = .value(remaining: n, unit: 1, isFragment: true)
            return .fragmentStart(length: n)
        case (.itemDelimitationItem, .item(nil, _)?):
            readIndex += 8
            stack.removeLast()
            return .itemEnd
        case (.sequenceDelimitationItem, .sequence(nil, _)?):
            readIndex += 8
            popSequence()
            return .sequenceEnd
        case (.sequenceDelimitationItem, .fragments(nil)?):
            readIndex += 8
            stack.removeLast()
            return .fragmentsEnd
        case (.sequenceDelimitationItem, nil) where length == 0:
            // A stray sequence delimiter at the top level: DCMTK and pydicom skip it.
            readIndex += 8
            return try nextEvent()
        default:
            throw DICOMError.malformed(offset: here, reason: "delimiter \(tag) where \(expectation) belongs")
        }
    }

    private var expectation: String {
        switch stack.last {
        case nil: return "a top-level element"
        case .sequence?: return "an item or the end of the sequence"
        case .item?: return "an element or the end of the item"
        case .fragments?: return "a fragment or the end of the pixel data"
        }
    }

    private func tooDeep() -> DICOMError {
        .malformed(offset: offset, reason: "sequences nested more than \(options.maximumDepth) deep")
    }

    private mutating func pushSequence(end: Int?, encoding newEncoding: Encoding) throws {
        guard stack.count < options.maximumDepth * 2 else { throw tooDeep() }
        stack.append(.sequence(end: end, encoding: encoding))
        encoding = newEncoding
    }

    private mutating func popSequence() {
        if case .sequence(_, let outer) = stack.removeLast() { encoding = outer }
    }

    /// The end offset of the innermost container of explicit length.
    private var containerEnd: Int? {
        for frame in stack.reversed() {
            switch frame {
            case .sequence(let end?, _), .item(let end?, _), .fragments(let end?): return end
            default: continue
            }
        }
        return nil
    }

    private var openContainerName: String {
        switch stack.last {
        case .sequence?: return "sequence"
        case .item?: return "item"
        case .fragments?: return "pixel data"
        case nil: return "data set"
        }
    }

    private var openContainerDescription: String {
        "an open \(openContainerName) (nesting depth \(stack.count))"
    }

    // MARK: Private creators (for implicit VR look-ups of private tags)

    private func privateCreator(for tag: Tag) -> String? {
        guard let creatorTag = tag.privateCreatorTag else { return nil }
        let creators: [UInt32: String]
        if case .item(_, let c)? = stack.last { creators = c } else { creators = topLevelCreators }
        return creators[creatorTag.value]
    }

    private mutating func recordCreator(_ tag: Tag, _ value: [UInt8]) {
        let name = String(decoding: value, as: UTF8.self).trimmingSpaces
        if case .item(let end, var creators)? = stack.last {
            creators[tag.value] = name
            stack[stack.count - 1] = .item(end: end, creators: creators)
        } else {
            topLevelCreators[tag.value] = name
        }
    }
}
