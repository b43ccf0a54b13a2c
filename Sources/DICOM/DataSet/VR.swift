/// Value representations, PS3.5 section 6.2.
public enum VR: String, CaseIterable, Sendable {
    case AE, AS, AT, CS, DA, DS, DT, FD, FL, IS, LO, LT, OB, OD, OF, OL, OV, OW
    case PN, SH, SL, SQ, SS, ST, SV, TM, UC, UI, UL, UN, UR, US, UT, UV

    /// The VR for two bytes read from an explicit VR stream, or nil when they name none.
    public init?(bytes b0: UInt8, _ b1: UInt8) {
        guard let vr = VR.byCode[UInt16(b0) << 8 | UInt16(b1)] else { return nil }
        self = vr
    }

    private static let byCode: [UInt16: VR] = {
        var table: [UInt16: VR] = [:]
        for vr in VR.allCases { table[vr.code] = vr }
        return table
    }()

    /// The two ASCII bytes, first byte in the high half.
    public var code: UInt16 {
        let utf8 = Array(rawValue.utf8)
        return UInt16(utf8[0]) << 8 | UInt16(utf8[1])
    }

    /// Explicit VR encodings give these a 2-byte reserved field and a 4-byte length
    /// (PS3.5 Table 7.1-1); all others have a 2-byte length.
    public var hasLongExplicitLength: Bool {
        switch self {
        case .OB, .OD, .OF, .OL, .OV, .OW, .SQ, .UC, .UN, .UR, .UT, .SV, .UV: return true
        default: return false
        }
    }

    /// The size of the unit whose bytes are swapped between little and big endian.
    public var byteSwapUnit: Int {
        switch self {
        case .AT, .OW, .SS, .US: return 2
        case .FL, .OF, .OL, .SL, .UL: return 4
        case .FD, .OD, .OV, .SV, .UV: return 8
        default: return 1
        }
    }

    /// Character string VRs, whose values are text split by backslashes (where multi-valued).
    public var isString: Bool {
        switch self {
        case .AE, .AS, .CS, .DA, .DS, .DT, .IS, .LO, .LT, .PN, .SH, .ST, .TM, .UC, .UI, .UR, .UT:
            return true
        default:
            return false
        }
    }

    /// Strings whose value may hold backslashes as text, not as value separators.
    public var isSingleValuedText: Bool { self == .LT || self == .ST || self == .UT || self == .UR }

    /// Text affected by Specific Character Set (0008,0005).
    public var usesSpecificCharacterSet: Bool {
        switch self {
        case .LO, .LT, .PN, .SH, .ST, .UC, .UT: return true
        default: return false
        }
    }

    /// The byte used to pad a value to even length (PS3.5 section 6.2).
    public var paddingByte: UInt8 { isString && self != .UI ? 0x20 : 0x00 }

    /// Binary VRs holding a fixed-size number per value.
    public var isBinaryNumber: Bool {
        switch self {
        case .AT, .FD, .FL, .SL, .SS, .SV, .UL, .US, .UV: return true
        default: return false
        }
    }

    /// Other-byte/word/... VRs, printed as hex.
    public var isOtherBinary: Bool {
        switch self {
        case .OB, .OD, .OF, .OL, .OV, .OW, .UN: return true
        default: return false
        }
    }
}
