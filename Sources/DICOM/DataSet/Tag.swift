/// A data element tag: (group, element), PS3.5 section 7.1.
public struct Tag: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var group: UInt16
    public var element: UInt16

    @inlinable public init(_ group: UInt16, _ element: UInt16) {
        self.group = group
        self.element = element
    }

    @inlinable public init(_ value: UInt32) {
        self.group = UInt16(truncatingIfNeeded: value >> 16)
        self.element = UInt16(truncatingIfNeeded: value)
    }

    /// The tag as one 32-bit number, group in the high half.
    @inlinable public var value: UInt32 { UInt32(group) << 16 | UInt32(element) }

    @inlinable public static func < (lhs: Tag, rhs: Tag) -> Bool { lhs.value < rhs.value }

    /// Odd groups other than 0001, 0003, 0005, 0007 and FFFF hold private data elements.
    public var isPrivate: Bool {
        group & 1 == 1 && group > 0x0007 && group != 0xFFFF
    }

    /// (gggg,0010)-(gggg,00FF) in a private group reserve a block for a private creator.
    public var isPrivateCreator: Bool { isPrivate && element >= 0x0010 && element <= 0x00FF }

    /// For a private data element (gggg,xxyy), the creator element (gggg,00xx) owning it.
    public var privateCreatorTag: Tag? {
        guard isPrivate, element >= 0x1000 else { return nil }
        return Tag(group, element >> 8)
    }

    public var isGroupLength: Bool { element == 0x0000 }

    /// Item, item delimitation and sequence delimitation tags (group FFFE).
    public var isDelimiter: Bool { group == 0xFFFE }

    /// `(gggg,eeee)` with lower-case hex digits, as dcmdump prints it.
    public var description: String { "(\(hex4(group)),\(hex4(element)))" }
}

@usableFromInline let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

func hex4(_ value: UInt16) -> String {
    String(decoding: [
        hexDigits[Int(value >> 12 & 0xF)], hexDigits[Int(value >> 8 & 0xF)],
        hexDigits[Int(value >> 4 & 0xF)], hexDigits[Int(value & 0xF)],
    ], as: UTF8.self)
}

func hex2(_ value: UInt8) -> String {
    String(decoding: [hexDigits[Int(value >> 4)], hexDigits[Int(value & 0xF)]], as: UTF8.self)
}

extension Tag {
    public static let item = Tag(0xFFFE, 0xE000)
    public static let itemDelimitationItem = Tag(0xFFFE, 0xE00D)
    public static let sequenceDelimitationItem = Tag(0xFFFE, 0xE0DD)

    public static let fileMetaInformationGroupLength = Tag(0x0002, 0x0000)
    public static let fileMetaInformationVersion = Tag(0x0002, 0x0001)
    public static let mediaStorageSOPClassUID = Tag(0x0002, 0x0002)
    public static let mediaStorageSOPInstanceUID = Tag(0x0002, 0x0003)
    public static let transferSyntaxUID = Tag(0x0002, 0x0010)
    public static let implementationClassUID = Tag(0x0002, 0x0012)
    public static let implementationVersionName = Tag(0x0002, 0x0013)
    public static let sourceApplicationEntityTitle = Tag(0x0002, 0x0016)

    public static let specificCharacterSet = Tag(0x0008, 0x0005)
    public static let sopClassUID = Tag(0x0008, 0x0016)
    public static let sopInstanceUID = Tag(0x0008, 0x0018)
    public static let queryRetrieveLevel = Tag(0x0008, 0x0052)
    public static let modality = Tag(0x0008, 0x0060)
    public static let patientName = Tag(0x0010, 0x0010)
    public static let patientID = Tag(0x0010, 0x0020)
    public static let studyInstanceUID = Tag(0x0020, 0x000D)
    public static let seriesInstanceUID = Tag(0x0020, 0x000E)
    public static let pixelData = Tag(0x7FE0, 0x0010)
    public static let dataSetTrailingPadding = Tag(0xFFFC, 0xFFFC)
}
