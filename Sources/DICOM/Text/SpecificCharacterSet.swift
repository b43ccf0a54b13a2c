#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Specific Character Set (0008,0005) for decoding text for display (PS3.3 C.12.1.1.2,
/// PS3.5 section 6.1). Single-byte repertoires, UTF-8, GB18030/GBK and the ISO 2022 code
/// extensions (Japanese IR 87 / 159 / 13, Korean IR 149, Chinese IR 58) are decoded with
/// the C library's iconv.
public struct SpecificCharacterSet: Sendable, Equatable {
    /// The defined terms, as given (the first may be empty: the default repertoire).
    public var terms: [String]

    public static let `default` = SpecificCharacterSet(terms: [])

    public init(terms: [String]) { self.terms = terms }

    public init(bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        terms = text.split(separator: "\\", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
        if terms.allSatisfy({ $0.isEmpty }) { terms = [] }
    }

    /// The iconv name for a defined term's G0/G1 repertoire (without ISO 2022 switching).
    static func iconvName(forTerm term: String) -> String? {
        switch term.replacingOccurrences(of: "ISO 2022 ", with: "ISO_") {
        case "", "ISO_IR 6": return "ASCII"
        case "ISO_IR 100": return "ISO-8859-1"
        case "ISO_IR 101": return "ISO-8859-2"
        case "ISO_IR 109": return "ISO-8859-3"
        case "ISO_IR 110": return "ISO-8859-4"
        case "ISO_IR 144": return "ISO-8859-5"
        case "ISO_IR 127": return "ISO-8859-6"
        case "ISO_IR 126": return "ISO-8859-7"
        case "ISO_IR 138": return "ISO-8859-8"
        case "ISO_IR 148": return "ISO-8859-9"
        case "ISO_IR 203": return "ISO-8859-15"
        case "ISO_IR 13": return "SHIFT_JIS"
        case "ISO_IR 166": return "TIS-620"
        case "ISO_IR 192": return "UTF-8"
        case "GB18030": return "GB18030"
        case "GBK": return "GBK"
        case "ISO_IR 87": return "ISO-2022-JP"
        case "ISO_IR 159": return "ISO-2022-JP-2"
        case "ISO_IR 149": return "EUC-KR"
        case "ISO_IR 58": return "GB2312"
        default: return nil
        }
    }

    /// Decodes a text value. Bytes no repertoire explains come out as U+FFFD, never an error.
    public func decode(_ bytes: [UInt8], isPersonName: Bool = false) -> String {
        if bytes.allSatisfy({ $0 < 0x80 && $0 != 0x1B }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        let first = terms.first ?? ""
        let usesCodeExtensions = terms.contains { $0.hasPrefix("ISO 2022") }
        if !usesCodeExtensions || !bytes.contains(0x1B) {
            let name = SpecificCharacterSet.iconvName(forTerm: first) ?? "ISO-8859-1"
            if name == "ASCII" || name == "ISO-2022-JP" || name == "ISO-2022-JP-2" {
                // The default repertoire has no high half; show such bytes as Latin-1
                // (what most archives mean by them).
                return convert(bytes[...], from: "ISO-8859-1")
            }
            if name == "UTF-8" { return String(decoding: bytes, as: UTF8.self) }
            return convert(bytes[...], from: name)
        }
        return decodeISO2022(bytes, initial: first, isPersonName: isPersonName)
    }

    /// ISO 2022 code extension: escape sequences switch the G0 or G1 set; delimiters of
    /// person names and values reset to the initial set (PS3.5 section 6.1.2.5.3).
    private func decodeISO2022(_ bytes: [UInt8], initial: String, isPersonName: Bool) -> String {
        let initialG1 = SpecificCharacterSet.iconvName(forTerm: initial) ?? "ISO-8859-1"
        var g0 = "ASCII"  // or a multi-byte set given by escape
        var g0Escape: [UInt8] = []
        var g1 = initialG1
        var result = ""
        var segment: [UInt8] = []

        func flush() {
            guard !segment.isEmpty else { return }
            if !g0Escape.isEmpty {
                // Let iconv's ISO-2022-JP(-2) decoder see the designation it needs.
                result += convert((g0Escape + segment + [0x1B, 0x28, 0x42])[...], from: g0)
            } else if segment.allSatisfy({ $0 < 0x80 }) {
                result += String(decoding: segment, as: UTF8.self)
            } else if g1 == "ASCII" || g1.hasPrefix("ISO-2022-JP") {
                result += convert(segment[...], from: "ISO-8859-1")
            } else {
                result += convert(segment[...], from: g1)
            }
            segment.removeAll(keepingCapacity: true)
        }

        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x1B {
                flush()
                let rest = bytes[(i + 1)...]
                func starts(_ seq: [UInt8]) -> Bool { rest.starts(with: seq) }
                if starts([0x28, 0x42]) || starts([0x28, 0x4A]) {  // ESC ( B, ESC ( J
                    g0 = "ASCII"; g0Escape = []; i += 3; continue
                } else if starts([0x24, 0x42]) {  // ESC $ B: JIS X 0208
                    g0 = "ISO-2022-JP"; g0Escape = [0x1B, 0x24, 0x42]; i += 3; continue
                } else if starts([0x24, 0x28, 0x44]) {  // ESC $ ( D: JIS X 0212
                    g0 = "ISO-2022-JP-2"; g0Escape = [0x1B, 0x24, 0x28, 0x44]; i += 4; continue
                } else if starts([0x29, 0x49]) {  // ESC ) I: JIS X 0201 katakana
                    g1 = "SHIFT_JIS"; i += 3; continue
                } else if starts([0x24, 0x29, 0x43]) {  // ESC $ ) C: KS X 1001
                    g1 = "EUC-KR"; i += 4; continue
                } else if starts([0x24, 0x29, 0x41]) {  // ESC $ ) A: GB 2312
                    g1 = "GB2312"; i += 4; continue
                } else if rest.first == 0x2D, rest.count >= 2 {  // ESC - F: 96-character G1 sets
                    let table: [UInt8: String] = [
                        0x41: "ISO-8859-1", 0x42: "ISO-8859-2", 0x43: "ISO-8859-3", 0x44: "ISO-8859-4",
                        0x4C: "ISO-8859-5", 0x47: "ISO-8859-6", 0x46: "ISO-8859-7", 0x48: "ISO-8859-8",
                        0x4D: "ISO-8859-9", 0x54: "TIS-620", 0x62: "ISO-8859-15",
                    ]
                    g1 = table[rest[rest.startIndex + 1]] ?? g1
                    i += 3; continue
                }
                segment.append(b)
                i += 1
                continue
            }
            let isDelimiter = b == 0x5C || b == 0x0D || b == 0x0A || b == 0x09 || b == 0x0C
                || (isPersonName && (b == 0x5E || b == 0x3D))
            if isDelimiter && g0Escape.isEmpty {
                flush()
                result.unicodeScalars.append(Unicode.Scalar(b))
                g1 = initialG1
                i += 1
                continue
            }
            segment.append(b)
            i += 1
        }
        flush()
        return result
    }
}

/// Converts bytes to a String with iconv; undecodable bytes become U+FFFD.
func convert(_ bytes: ArraySlice<UInt8>, from encoding: String) -> String {
    let cd = iconv_open("UTF-8", encoding)
    if cd == iconv_t(bitPattern: -1) {
        return String(decoding: bytes, as: UTF8.self)
    }
    defer { iconv_close(cd) }
    var input = Array(bytes)
    var output = [UInt8](repeating: 0, count: input.count * 4 + 16)
    var result: [UInt8] = []
    input.withUnsafeMutableBufferPointer { inBuf in
        output.withUnsafeMutableBufferPointer { outBuf in
            var inPtr: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(inBuf.baseAddress!).assumingMemoryBound(to: CChar.self)
            var inLeft = inBuf.count
            while true {
                var outPtr: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuf.baseAddress!).assumingMemoryBound(to: CChar.self)
                var outLeft = outBuf.count
                let rc = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft)
                result.append(contentsOf: outBuf[0..<(outBuf.count - outLeft)])
                if rc != -1 || inLeft == 0 { break }
                if errno == E2BIG { continue }
                // Invalid or incomplete sequence: emit U+FFFD and skip one byte.
                result.append(contentsOf: [0xEF, 0xBF, 0xBD])
                inPtr = inPtr.map { $0 + 1 }
                inLeft -= 1
                if inLeft == 0 { break }
            }
        }
    }
    return String(decoding: result, as: UTF8.self)
}
