/// A data element: tag, VR and value (PS3.5 section 7.1).
///
/// Byte values are kept in little endian order whatever the transfer syntax they came in;
/// the writer swaps them for big endian output.
public struct DataElement: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        /// The value bytes, little endian for binary VRs, without any added padding.
        case bytes([UInt8])
        /// The items of a sequence (VR SQ, or UN of undefined length read as a sequence).
        case sequence([DataSet])
        /// Encapsulated pixel data: the basic offset table first, then the fragments, as received.
        case fragments([[UInt8]])
        /// A large value kept in a spool file rather than in memory (see `DataSetBuilder`).
        case spooled(SpooledBytes)
        /// Encapsulated pixel data whose offset table and fragments are kept in a spool file.
        case spooledFragments([SpooledBytes])
    }

    public var tag: Tag
    public var vr: VR
    public var value: Value

    public init(tag: Tag, vr: VR, value: Value) {
        self.tag = tag
        self.vr = vr
        self.value = value
    }

    public init(tag: Tag, vr: VR, bytes: [UInt8]) {
        self.init(tag: tag, vr: vr, value: .bytes(bytes))
    }

    public var bytes: [UInt8]? {
        if case .bytes(let b) = value { return b }
        return nil
    }

    public var items: [DataSet]? {
        if case .sequence(let items) = value { return items }
        return nil
    }

    /// Whether the value sits in a spool file rather than in memory.
    public var isSpooled: Bool {
        switch value {
        case .spooled, .spooledFragments: return true
        default: return false
        }
    }

    /// The value's length in bytes, without padding (0 for sequences).
    public var valueLength: Int {
        switch value {
        case .bytes(let b): return b.count
        case .spooled(let s): return s.count
        case .fragments(let f): return f.reduce(0) { $0 + $1.count }
        case .spooledFragments(let f): return f.reduce(0) { $0 + $1.count }
        case .sequence: return 0
        }
    }

    public var fragments: [[UInt8]]? {
        if case .fragments(let f) = value { return f }
        return nil
    }

    /// Number of values (VM) as dcmdump counts it.
    public var valueMultiplicity: Int {
        switch value {
        case .sequence(let items): return items.count
        case .fragments(let fragments): return fragments.count
        case .spooledFragments(let fragments): return fragments.count
        case .spooled(let value):
            if vr.isOtherBinary || vr.isString || vr.byteSwapUnit <= 1 { return 1 }
            return value.count / vr.byteSwapUnit
        case .bytes(let b):
            if vr.isOtherBinary { return 1 }
            if b.isEmpty { return 0 }
            if vr.isString {
                if b.allSatisfy({ $0 == 0x20 || $0 == 0x00 }) { return 0 }
                if vr.isSingleValuedText { return 1 }
                return b.reduce(1) { $0 + ($1 == UInt8(ascii: "\\") ? 1 : 0) }
            }
            switch vr {
            case .AT: return b.count / 4
            case .FD, .SV, .UV: return b.count / 8
            case .FL, .SL, .UL: return b.count / 4
            case .SS, .US: return b.count / 2
            default: return 1
            }
        }
    }
}
