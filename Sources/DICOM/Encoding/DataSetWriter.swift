/// How to encode a data set: the output options of DCMTK's tools (movescu, dcmconv).
public struct EncodingOptions: Sendable, Equatable {
    /// `+e` explicit lengths for sequences and items (default), `-e` undefined lengths.
    public enum SequenceLength: Sendable, Equatable { case explicit, undefined }
    /// `+g=` recalculate group lengths that are present (default), `+g` add one to every
    /// group, `-g` remove them all.
    public enum GroupLength: Sendable, Equatable { case recalculate, create, remove }
    /// `+p f i`: pad the file to a multiple of `file` bytes and items to a multiple of `item`
    /// bytes with Data Set Trailing Padding (FFFC,FFFC). 0 leaves that part alone.
    public struct Padding: Sendable, Equatable {
        public var file: Int
        public var item: Int
        public init(file: Int, item: Int) {
            self.file = file
            self.item = item
        }
    }

    public var sequenceLength: SequenceLength = .explicit
    public var groupLength: GroupLength = .recalculate
    /// `+u` (default) keeps UN, UT, UC, UR, OF, OD, OL, OV, SV, UV; `-u` writes them as OB.
    public var enableNewVRs = true
    /// nil (`-p`, the default) removes existing trailing padding.
    public var padding: Padding? = nil
    /// `+cl`: zlib level for the deflated syntax.
    public var compressionLevel = 6

    public init() {}
}

/// Encodes data sets in any of the uncompressed transfer syntaxes (PS3.5 sections 7, A.1-A.5).
public struct DataSetWriter {
    public let transferSyntax: TransferSyntax
    public let options: EncodingOptions
    private let explicitVR: Bool
    private let bigEndian: Bool

    public init(transferSyntax: TransferSyntax, options: EncodingOptions = EncodingOptions()) {
        self.transferSyntax = transferSyntax
        self.options = options
        self.explicitVR = transferSyntax.isExplicitVR
        self.bigEndian = transferSyntax.isBigEndian
    }

    /// The encoded data set; deflated when the syntax says so. Spooled values are read in.
    /// - Parameter precedingBytes: bytes before the data set in the file (preamble and
    ///   file meta information), for aligning the file with `+p`.
    public func encode(_ dataSet: DataSet, precedingBytes: Int = 0) throws -> [UInt8] {
        var out = Output()
        try encodeItemBody(dataSet, into: &out, topLevel: true, precedingBytes: precedingBytes)
        var plain = out.bytes
        if !out.splices.isEmpty {
            plain = []
            try out.emit { plain.append(contentsOf: $0) }
        }
        return transferSyntax.isDeflated ? try Deflate.compress(plain, level: options.compressionLevel) : plain
    }

    /// Encodes the data set into `sink`, in pieces. Spooled values are copied from their
    /// spool a chunk at a time, so the memory used is that of the data set without them.
    /// (Deflated output is the exception: it is compressed whole, in memory.)
    public func write(_ dataSet: DataSet, precedingBytes: Int = 0, to sink: ([UInt8]) throws -> Void) throws {
        var out = Output()
        try encodeItemBody(dataSet, into: &out, topLevel: true, precedingBytes: precedingBytes)
        if transferSyntax.isDeflated {
            var plain: [UInt8] = []
            try out.emit { plain.append(contentsOf: $0) }
            try sink(try Deflate.compress(plain, level: options.compressionLevel))
            return
        }
        try out.emit(sink)
    }

    /// The header of an element whose `length` bytes of value follow as they are, with the
    /// padding byte after an odd length left to the caller: for writing a large value
    /// straight through in a little endian syntax. The same header `encode` writes.
    public func header(tag: Tag, vr: VR, length: Int) throws -> [UInt8] {
        let padded = length + (length % 2)
        guard padded <= 0xFFFF_FFFE else {
            throw DICOMError.encoding("element \(tag) is \(length) bytes, more than a length field holds")
        }
        var out = Output()
        writeHeader(tag: tag, vr: outputVR(vr, length: padded), length: UInt32(padded), into: &out)
        return out.bytes
    }

    /// Encoded bytes with holes where spooled values go. `count` is the encoded length
    /// including the spooled values; positions for patching lengths index `bytes`.
    struct Output {
        var bytes: [UInt8] = []
        /// Spooled values and where in `bytes` they go (before the byte at `position`).
        var splices: [(position: Int, value: SpooledBytes, swapUnit: Int)] = []
        var spooledCount = 0

        var count: Int { bytes.count + spooledCount }

        mutating func append(_ byte: UInt8) { bytes.append(byte) }
        mutating func append(contentsOf other: some Collection<UInt8>) { bytes.append(contentsOf: other) }

        mutating func splice(_ value: SpooledBytes, swapUnit: Int) {
            splices.append((bytes.count, value, swapUnit))
            spooledCount += value.count
        }

        func emit(_ sink: ([UInt8]) throws -> Void) throws {
            var from = 0
            for splice in splices {
                if splice.position > from { try sink(Array(bytes[from..<splice.position])) }
                // Chunks are a multiple of every swap unit (8) when bytes are swapped; otherwise
                // pieces kept in memory go out as they are, uncopied.
                try splice.value.read(aligned: splice.swapUnit > 1) { chunk in
                    if splice.swapUnit > 1 {
                        var swapped = chunk
                        ValueCoding.swapBytes(&swapped, unit: splice.swapUnit)
                        try sink(swapped)
                    } else {
                        try sink(chunk)
                    }
                }
                from = splice.position
            }
            if from < bytes.count { try sink(from == 0 ? bytes : Array(bytes[from...])) }
        }
    }

    // MARK: Data sets and items

    private func encodeItemBody(_ dataSet: DataSet, into out: inout Output, topLevel: Bool, precedingBytes: Int) throws {
        let start = out.count
        // Existing trailing padding is dropped (-p) or made anew (+p).
        var elements = dataSet.elements.filter { $0.tag != .dataSetTrailingPadding }
        switch options.groupLength {
        case .remove:
            elements.removeAll { $0.tag.isGroupLength && $0.tag.group != 0x0000 }
        case .create:
            var groups = Set<UInt16>()
            for element in elements where !element.tag.isGroupLength && element.tag.group != 0x0002 && !element.tag.isDelimiter {
                groups.insert(element.tag.group)
            }
            for group in groups where !elements.contains(where: { $0.tag == Tag(group, 0) }) {
                elements.append(DataElement(tag: Tag(group, 0), vr: .UL, bytes: [0, 0, 0, 0]))
            }
            elements.sort { $0.tag < $1.tag }
        case .recalculate:
            break
        }

        var groupLengthPosition: Int? = nil  // where the current group's length value sits
        var groupStart = 0
        var currentGroup: UInt16? = nil

        func closeGroup(_ out: inout Output) throws {
            if let position = groupLengthPosition {
                writeU32(try length32(out.count - groupStart, "group \(String(format: "%04x", currentGroup ?? 0))"), at: position, in: &out)
            }
            groupLengthPosition = nil
        }

        for element in elements {
            if element.tag.group != currentGroup {
                try closeGroup(&out)
                currentGroup = element.tag.group
            }
            if element.tag.isGroupLength {
                // Written with a placeholder and patched at the end of the group.
                writeHeader(tag: element.tag, vr: .UL, length: 4, into: &out)
                groupLengthPosition = out.bytes.count
                appendU32(0, to: &out)
                groupStart = out.count
                continue
            }
            try encode(element, into: &out)
        }
        try closeGroup(&out)

        if let padding = options.padding {
            let unit = topLevel ? padding.file : padding.item
            if unit > 0 {
                let length = (topLevel ? precedingBytes : 0) + out.count - start
                appendPadding(currentLength: length, unit: unit, into: &out)
            }
        }
    }

    /// Data Set Trailing Padding (FFFC,FFFC) OB, sized so that the total becomes a multiple of `unit`.
    private func appendPadding(currentLength: Int, unit: Int, into out: inout Output) {
        let header = explicitVR ? 12 : 8
        var total = currentLength + header
        var padLength = (unit - total % unit) % unit
        if padLength % 2 == 1 { padLength += unit }  // values have even length
        total += padLength
        writeHeader(tag: .dataSetTrailingPadding, vr: .OB, length: UInt32(padLength), into: &out)
        out.append(contentsOf: repeatElement(0, count: padLength))
    }

    // MARK: Elements

    private func outputVR(_ vr: VR, length: Int) -> VR {
        var vr = vr
        if !options.enableNewVRs {
            switch vr {
            case .UN, .UT, .UC, .UR, .OF, .OD, .OL, .OV, .SV, .UV: vr = .OB
            default: break
            }
        }
        if explicitVR && !vr.hasLongExplicitLength && length > 0xFFFF {
            // Too long for a 2-byte length field: only UN (or OB) can carry it.
            vr = options.enableNewVRs ? .UN : .OB
        }
        return vr
    }

    private func encode(_ element: DataElement, into out: inout Output) throws {
        switch element.value {
        case .bytes(let value):
            let padded = value.count % 2 == 1
            let length = value.count + (padded ? 1 : 0)
            guard length <= 0xFFFF_FFFE else {
                throw DICOMError.encoding("element \(element.tag) is \(value.count) bytes, more than a length field holds")
            }
            let vr = outputVR(element.vr, length: length)
            writeHeader(tag: element.tag, vr: vr, length: UInt32(length), into: &out)
            // Swapped by the VR written: a value written as OB or UN (-u, or too long for its
            // VR) is a byte string and stays in little endian order, as DCMTK writes it.
            if bigEndian && vr.byteSwapUnit > 1 {
                var swapped = value
                ValueCoding.swapBytes(&swapped, unit: vr.byteSwapUnit)
                out.append(contentsOf: swapped)
            } else {
                out.append(contentsOf: value)
            }
            if padded { out.append(element.vr.paddingByte) }

        case .spooled(let value):
            let padded = value.count % 2 == 1
            let length = value.count + (padded ? 1 : 0)
            guard length <= 0xFFFF_FFFE else {
                throw DICOMError.encoding("element \(element.tag) is \(value.count) bytes, more than a length field holds")
            }
            let vr = outputVR(element.vr, length: length)
            writeHeader(tag: element.tag, vr: vr, length: UInt32(length), into: &out)
            out.splice(value, swapUnit: bigEndian ? vr.byteSwapUnit : 1)
            if padded { out.append(element.vr.paddingByte) }

        case .spooledFragments(let fragments):
            writeHeader(tag: element.tag, vr: element.vr == .OW ? .OW : .OB, length: 0xFFFF_FFFF, into: &out)
            for fragment in fragments {
                let padded = fragment.count % 2 == 1
                writeItemHeader(.item, length: UInt32(fragment.count + (padded ? 1 : 0)), into: &out)
                out.splice(fragment, swapUnit: 1)
                if padded { out.append(0) }
            }
            writeItemHeader(.sequenceDelimitationItem, length: 0, into: &out)

        case .sequence(let items):
            let undefined = options.sequenceLength == .undefined
            writeHeader(tag: element.tag, vr: .SQ, length: undefined ? 0xFFFF_FFFF : 0, into: &out)
            let lengthPosition = out.bytes.count - 4
            let sequenceStart = out.count
            for item in items {
                writeItemHeader(.item, length: undefined ? 0xFFFF_FFFF : 0, into: &out)
                let itemLengthPosition = out.bytes.count - 4
                let itemStart = out.count
                try encodeItemBody(item, into: &out, topLevel: false, precedingBytes: 0)
                if undefined {
                    writeItemHeader(.itemDelimitationItem, length: 0, into: &out)
                } else {
                    writeU32(try length32(out.count - itemStart, "an item of \(element.tag)"), at: itemLengthPosition, in: &out)
                }
            }
            if undefined {
                writeItemHeader(.sequenceDelimitationItem, length: 0, into: &out)
            } else {
                writeU32(try length32(out.count - sequenceStart, "sequence \(element.tag)"), at: lengthPosition, in: &out)
            }

        case .fragments(let fragments):
            // Encapsulated pixel data always has undefined length (PS3.5 A.4).
            writeHeader(tag: element.tag, vr: element.vr == .OW ? .OW : .OB, length: 0xFFFF_FFFF, into: &out)
            for fragment in fragments {
                let padded = fragment.count % 2 == 1
                writeItemHeader(.item, length: UInt32(fragment.count + (padded ? 1 : 0)), into: &out)
                out.append(contentsOf: fragment)
                if padded { out.append(0) }
            }
            writeItemHeader(.sequenceDelimitationItem, length: 0, into: &out)
        }
    }

    /// A length that must fit a 32-bit field (and not be the undefined length).
    private func length32(_ length: Int, _ what: @autoclosure () -> String) throws -> UInt32 {
        guard let value = UInt32(exactly: length), value != 0xFFFF_FFFF else {
            throw DICOMError.encoding("\(what()) is \(length) bytes, more than a 32-bit length field holds")
        }
        return value
    }

    // MARK: Headers

    private func writeHeader(tag: Tag, vr: VR, length: UInt32, into out: inout Output) {
        appendU16(tag.group, to: &out)
        appendU16(tag.element, to: &out)
        if explicitVR {
            let code = vr.code
            out.append(UInt8(code >> 8))
            out.append(UInt8(code & 0xFF))
            if vr.hasLongExplicitLength {
                out.append(0)
                out.append(0)
                appendU32(length, to: &out)
            } else {
                appendU16(UInt16(truncatingIfNeeded: length), to: &out)
            }
        } else {
            appendU32(length, to: &out)
        }
    }

    private func writeItemHeader(_ tag: Tag, length: UInt32, into out: inout Output) {
        appendU16(tag.group, to: &out)
        appendU16(tag.element, to: &out)
        appendU32(length, to: &out)
    }

    @inline(__always)
    private func appendU16(_ v: UInt16, to out: inout Output) {
        if bigEndian {
            out.append(UInt8(v >> 8)); out.append(UInt8(v & 0xFF))
        } else {
            out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8))
        }
    }

    @inline(__always)
    private func appendU32(_ v: UInt32, to out: inout Output) {
        out.append(contentsOf: [0, 0, 0, 0])
        writeU32(v, at: out.bytes.count - 4, in: &out)
    }

    @inline(__always)
    private func writeU32(_ v: UInt32, at i: Int, in out: inout Output) {
        if bigEndian {
            out.bytes[i] = UInt8(v >> 24); out.bytes[i + 1] = UInt8(v >> 16 & 0xFF); out.bytes[i + 2] = UInt8(v >> 8 & 0xFF); out.bytes[i + 3] = UInt8(v & 0xFF)
        } else {
            out.bytes[i] = UInt8(v & 0xFF); out.bytes[i + 1] = UInt8(v >> 8 & 0xFF); out.bytes[i + 2] = UInt8(v >> 16 & 0xFF); out.bytes[i + 3] = UInt8(v >> 24)
        }
    }
}
