/// A transfer syntax and what its UID says about the encoding (PS3.5 section 10, Annex A).
public struct TransferSyntax: Hashable, Sendable, CustomStringConvertible {
    public let uid: String
    public let isExplicitVR: Bool
    public let isBigEndian: Bool
    /// The data set after the file meta information (or the whole P-DATA stream) is
    /// compressed with raw deflate (RFC 1951).
    public let isDeflated: Bool
    /// Pixel data is encapsulated in fragments.
    public let isEncapsulated: Bool

    public init(uid: String, isExplicitVR: Bool, isBigEndian: Bool, isDeflated: Bool, isEncapsulated: Bool) {
        self.uid = uid
        self.isExplicitVR = isExplicitVR
        self.isBigEndian = isBigEndian
        self.isDeflated = isDeflated
        self.isEncapsulated = isEncapsulated
    }

    public static let implicitVRLittleEndian = TransferSyntax(
        uid: "1.2.840.10008.1.2", isExplicitVR: false, isBigEndian: false, isDeflated: false, isEncapsulated: false)
    public static let explicitVRLittleEndian = TransferSyntax(
        uid: "1.2.840.10008.1.2.1", isExplicitVR: true, isBigEndian: false, isDeflated: false, isEncapsulated: false)
    public static let explicitVRBigEndian = TransferSyntax(
        uid: "1.2.840.10008.1.2.2", isExplicitVR: true, isBigEndian: true, isDeflated: false, isEncapsulated: false)
    public static let deflatedExplicitVRLittleEndian = TransferSyntax(
        uid: "1.2.840.10008.1.2.1.99", isExplicitVR: true, isBigEndian: false, isDeflated: true, isEncapsulated: false)

    /// The four uncompressed encodings this package reads and writes.
    public static let uncompressed: [TransferSyntax] = [
        .implicitVRLittleEndian, .explicitVRLittleEndian, .explicitVRBigEndian, .deflatedExplicitVRLittleEndian,
    ]

    /// The syntax a UID names. Every syntax the standard defines after the first four is
    /// explicit VR little endian with encapsulated pixel data, apart from the deflated and
    /// referenced (JPIP) ones; an unknown UID is taken to be so too, as PS3.5 requires
    /// of new syntaxes. Returns nil only for a string that is not a UID.
    public init?(uid: String) {
        let uid = uid.trimmingUIDPadding
        guard isValidUID(uid) else { return nil }
        switch uid {
        case TransferSyntax.implicitVRLittleEndian.uid, "1.2.840.10008.1.20":
            self.init(uid: uid, isExplicitVR: false, isBigEndian: false, isDeflated: false, isEncapsulated: false)
        case TransferSyntax.explicitVRLittleEndian.uid:
            self = .explicitVRLittleEndian
        case TransferSyntax.explicitVRBigEndian.uid:
            self = .explicitVRBigEndian
        case TransferSyntax.deflatedExplicitVRLittleEndian.uid:
            self = .deflatedExplicitVRLittleEndian
        case "1.2.840.10008.1.2.4.95", "1.2.840.10008.1.2.4.205":  // JPIP referenced, deflated
            self.init(uid: uid, isExplicitVR: true, isBigEndian: false, isDeflated: true, isEncapsulated: false)
        case "1.2.840.10008.1.2.4.94", "1.2.840.10008.1.2.4.204":  // JPIP referenced
            self.init(uid: uid, isExplicitVR: true, isBigEndian: false, isDeflated: false, isEncapsulated: false)
        default:
            self.init(uid: uid, isExplicitVR: true, isBigEndian: false, isDeflated: false, isEncapsulated: true)
        }
    }

    /// Whether this package can decode and encode data sets in this syntax (pixel data of
    /// compressed syntaxes is kept as received, never decompressed).
    public var isKnown: Bool { UIDTable.entry(for: uid)?.kind == .transferSyntax }

    public var name: String { UIDTable.entry(for: uid)?.name ?? uid }
    public var description: String { name }

    /// The transfer syntaxes DCMTK 3.6.7's storage SCPs accept with `+xa`, in its order of
    /// preference (explicit VR little endian listed before big endian on little endian hosts).
    public static let dcmtkAcceptAll: [String] = [
        "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101", "1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.103",
        "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105", "1.2.840.10008.1.2.4.106", "1.2.840.10008.1.2.4.107",
        "1.2.840.10008.1.2.4.108", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2",
    ]
}

extension StringProtocol {
    /// A UID with trailing NUL or space padding removed.
    var trailingTrimmed: SubSequence {
        var end = endIndex
        while end > startIndex {
            let before = index(before: end)
            let c = self[before]
            if c == "\0" || c == " " { end = before } else { break }
        }
        return self[startIndex..<end]
    }
}

extension String {
    var trimmingUIDPadding: String { String(trailingTrimmed) }
}

/// A UID per PS3.5 section 9.1: 1 to 64 characters of digits and dots, components without
/// leading zeros, no empty component.
public func isValidUID(_ uid: String) -> Bool {
    let bytes = Array(uid.utf8)
    guard !bytes.isEmpty, bytes.count <= 64 else { return false }
    var componentStart = true
    var componentLeadingZero = false
    for b in bytes {
        if b == UInt8(ascii: ".") {
            if componentStart { return false }
            componentStart = true
        } else if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
            if componentStart {
                componentLeadingZero = b == UInt8(ascii: "0")
                componentStart = false
            } else if componentLeadingZero {
                return false
            }
        } else {
            return false
        }
    }
    return !componentStart
}
