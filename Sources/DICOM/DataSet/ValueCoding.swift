import Foundation

/// Conversions between value bytes (little endian) and text, for every VR.
public enum ValueCoding {
    /// A string value padded to even length with the VR's padding byte.
    public static func encodeString(_ value: String, vr: VR) -> [UInt8] {
        var bytes = Array(value.utf8)
        if bytes.count % 2 == 1 { bytes.append(vr.paddingByte) }
        return bytes
    }

    /// Encodes text as the VR requires, in the forms dcmdump prints: strings as they are
    /// (padded), numbers (also OF, OD, OL, OV) as backslash-separated decimal text, AT as
    /// `(gggg,eeee)` or `ggggeeee`, OB, OW and UN as backslash-separated hex.
    public static func encode(text: String, vr: VR) throws -> [UInt8] {
        if vr.isString { return encodeString(text, vr: vr) }
        if text.isEmpty { return [] }
        let parts = text.split(separator: "\\", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
        var out: [UInt8] = []
        func bad(_ part: String, _ what: String) -> DICOMError {
            .encoding("'\(part)' is not \(what) for VR \(vr.rawValue)")
        }
        for part in parts {
            switch vr {
            case .US:
                guard let v = UInt16(part) else { throw bad(part, "an unsigned 16-bit number") }
                appendLE(&out, UInt64(v), 2)
            case .SS:
                guard let v = Int16(part) else { throw bad(part, "a signed 16-bit number") }
                appendLE(&out, UInt64(UInt16(bitPattern: v)), 2)
            case .UL, .OL:
                guard let v = UInt32(part) else { throw bad(part, "an unsigned 32-bit number") }
                appendLE(&out, UInt64(v), 4)
            case .SL:
                guard let v = Int32(part) else { throw bad(part, "a signed 32-bit number") }
                appendLE(&out, UInt64(UInt32(bitPattern: v)), 4)
            case .UV, .OV:
                guard let v = UInt64(part) else { throw bad(part, "an unsigned 64-bit number") }
                appendLE(&out, v, 8)
            case .SV:
                guard let v = Int64(part) else { throw bad(part, "a signed 64-bit number") }
                appendLE(&out, UInt64(bitPattern: v), 8)
            case .FL, .OF:
                guard let v = Float(part) else { throw bad(part, "a number") }
                appendLE(&out, UInt64(v.bitPattern), 4)
            case .FD, .OD:
                guard let v = Double(part) else { throw bad(part, "a number") }
                appendLE(&out, v.bitPattern, 8)
            case .AT:
                var digits = part
                if digits.hasPrefix("(") && digits.hasSuffix(")") { digits = String(digits.dropFirst().dropLast()) }
                digits = digits.replacingOccurrences(of: ",", with: "")
                guard digits.count == 8, let v = UInt32(digits, radix: 16) else { throw bad(part, "a tag (gggg,eeee)") }
                appendLE(&out, UInt64(v >> 16), 2)
                appendLE(&out, UInt64(v & 0xFFFF), 2)
            case .OW, .OB, .UN:
                let width = vr == .OW ? 2 : 1
                guard !part.isEmpty, part.count <= width * 2, let v = UInt64(part, radix: 16) else {
                    throw bad(part, "a hex value of \(width) byte(s)")
                }
                appendLE(&out, v, width)
            case .SQ:
                throw DICOMError.encoding("a sequence has no text value")
            default:
                throw DICOMError.encoding("no text form for VR \(vr.rawValue)")
            }
        }
        if vr == .OB || vr == .UN, out.count % 2 == 1 { out.append(0) }
        return out
    }

    @inline(__always)
    static func appendLE(_ out: inout [UInt8], _ value: UInt64, _ width: Int) {
        for i in 0..<width { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    @inline(__always)
    static func readLE(_ bytes: ArraySlice<UInt8>, _ start: Int, _ width: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<width { v |= UInt64(bytes[start + i]) << (8 * UInt64(i)) }
        return v
    }

    /// Integer values of US, SS, UL, SL, UV, SV elements.
    public static func integers(_ bytes: [UInt8], vr: VR) -> [Int]? {
        let slice = bytes[...]
        switch vr {
        case .US: return stride(from: 0, to: bytes.count - 1, by: 2).map { Int(readLE(slice, $0, 2)) }
        case .SS: return stride(from: 0, to: bytes.count - 1, by: 2).map { Int(Int16(bitPattern: UInt16(readLE(slice, $0, 2)))) }
        case .UL: return stride(from: 0, to: bytes.count - 3, by: 4).map { Int(readLE(slice, $0, 4)) }
        case .SL: return stride(from: 0, to: bytes.count - 3, by: 4).map { Int(Int32(bitPattern: UInt32(readLE(slice, $0, 4)))) }
        case .SV: return stride(from: 0, to: bytes.count - 7, by: 8).map { Int(Int64(bitPattern: readLE(slice, $0, 8))) }
        case .UV: return stride(from: 0, to: bytes.count - 7, by: 8).map { Int(truncatingIfNeeded: readLE(slice, $0, 8)) }
        case .IS, .DS:
            return String(decoding: bytes, as: UTF8.self).split(separator: "\\").compactMap { Int($0.trimmingSpaces) }
        default: return nil
        }
    }

    /// Reverses the byte order of every `unit`-byte value in place (a trailing partial unit stays).
    public static func swapBytes(_ bytes: inout [UInt8], unit: Int) {
        guard unit > 1 else { return }
        bytes.withUnsafeMutableBufferPointer { buffer in
            var i = 0
            let end = buffer.count - buffer.count % unit
            while i < end {
                var lo = i, hi = i + unit - 1
                while lo < hi {
                    buffer.swapAt(lo, hi)
                    lo += 1
                    hi -= 1
                }
                i += unit
            }
        }
    }
}
