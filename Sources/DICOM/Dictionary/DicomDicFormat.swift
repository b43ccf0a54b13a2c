import Foundation

/// DCMTK's dicom.dic text format: one entry a line, tab-separated
/// `(tag) VR Keyword VM Version`, '#' comments. Tags are `(gggg,eeee)`, group ranges
/// `(gggg-gggg,eeee)` (even groups; `-o-` odd, `-u-` both), element ranges `(gggg,eeee-eeee)`,
/// and private tags `(gggg,"creator",ee)`.
extension DataDictionary {
    /// Loads a dicom.dic file over this dictionary. Errors name the file and line.
    public mutating func load(dicomDicFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DICOMError.dictionary(file: path, line: 0, reason: "cannot read the file")
        }
        try load(dicomDicText: String(decoding: data, as: UTF8.self), source: path)
    }

    public mutating func load(dicomDicText text: String, source: String) throws {
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: true)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            func fail(_ reason: String) -> DICOMError {
                .dictionary(file: source, line: lineNumber, reason: reason)
            }
            guard fields.count >= 4 else {
                throw fail("expected tag, VR, keyword and VM separated by tabs, found \(fields.count) field(s)")
            }
            let pattern = try Self.parseDicTag(fields[0], fail: fail)
            let vrs = try Self.parseDicVR(fields[1], fail: fail)
            let keyword = fields[2]
            // DCMTK's own private.dic has names with spaces; control characters are refused.
            guard !keyword.isEmpty, !keyword.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw fail("keyword '\(keyword)' is not a name")
            }
            let vm = fields[3]
            guard !vm.isEmpty, vm.allSatisfy({ $0.isNumber || $0 == "-" || $0 == "n" }) else {
                throw fail("VM '\(vm)' is not a value multiplicity such as 1, 1-n or 2-2n")
            }
            let retired = fields.count > 4 && fields[4].lowercased().contains("retired")
            add(DictionaryEntry(pattern: pattern, vrs: vrs, vm: vm, keyword: keyword, name: keyword, isRetired: retired))
        }
    }

    private static func parseDicVR(_ text: String, fail: (String) -> DICOMError) throws -> [VR] {
        switch text {
        case "ox", "px": return [.OW, .OB]
        case "xs": return [.US, .SS]
        case "lt": return [.OW, .US, .SS]
        case "up": return [.UL]
        case "na": return []
        default:
            guard let vr = VR(rawValue: text) else { throw fail("unknown VR '\(text)'") }
            return [vr]
        }
    }

    private static func parseDicTag(_ text: String, fail: (String) -> DICOMError) throws -> DictionaryEntry.Pattern {
        guard text.hasPrefix("("), text.hasSuffix(")") else {
            throw fail("tag '\(text)' is not in parentheses")
        }
        let inner = text.dropFirst().dropLast()
        func hexRange(_ part: Substring, allowParity: Bool) throws -> (ClosedRange<UInt16>, DictionaryEntry.Pattern.Parity) {
            let pieces = part.split(separator: "-", omittingEmptySubsequences: false)
            func hex(_ s: Substring) throws -> UInt16 {
                guard s.count == 4, let v = UInt16(s, radix: 16) else {
                    throw fail("'\(s)' in tag '\(text)' is not four hex digits")
                }
                return v
            }
            switch pieces.count {
            case 1:
                let v = try hex(pieces[0])
                return (v...v, .any)
            case 2:
                let lo = try hex(pieces[0]), hi = try hex(pieces[1])
                guard lo <= hi else { throw fail("range '\(part)' in tag '\(text)' is empty") }
                return (lo...hi, allowParity ? .even : .any)
            case 3 where allowParity:
                let lo = try hex(pieces[0]), hi = try hex(pieces[2])
                guard lo <= hi else { throw fail("range '\(part)' in tag '\(text)' is empty") }
                switch pieces[1] {
                case "o": return (lo...hi, .odd)
                case "u": return (lo...hi, .any)
                default: throw fail("range '\(part)' in tag '\(text)' has '\(pieces[1])' where o or u belongs")
                }
            default:
                throw fail("'\(part)' in tag '\(text)' is not a tag or a range")
            }
        }
        // Private: (gggg,"creator",ee)
        if let firstQuote = inner.firstIndex(of: "\""), let lastQuote = inner.lastIndex(of: "\""), firstQuote < lastQuote {
            let groupText = inner[inner.startIndex..<firstQuote].dropLast()  // drop the comma
            let creator = String(inner[inner.index(after: firstQuote)..<lastQuote])
            let elementText = inner[inner.index(after: lastQuote)...].dropFirst()  // drop the comma
            // The element is the offset in the creator's block: "ee", or "xxee" of which
            // only the low byte counts.
            guard groupText.last != ",", elementText.count == 2 || elementText.count == 4,
                  let element = UInt16(elementText, radix: 16) else {
                throw fail("private tag '\(text)' is not (gggg,\"creator\",ee)")
            }
            let (groups, _) = try hexRange(groupText, allowParity: true)
            return .privateElement(groups: groups, creator: creator, element: UInt8(element & 0xFF))
        }
        let parts = inner.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw fail("tag '\(text)' is not (gggg,eeee)") }

        let (groups, parity) = try hexRange(parts[0], allowParity: true)
        var (elements, elementParity) = try hexRange(parts[1], allowParity: true)
        if groups.count == 1 && elements.count == 1 {
            return .exact(Tag(groups.lowerBound, elements.lowerBound))
        }
        // Element ranges follow the same notation; even/odd ones step by two from their start.
        var step: UInt16 = 1
        if elements.count > 1 && elementParity != .any {
            step = 2
            let start = elements.lowerBound
            let wantOdd = elementParity == .odd
            if (start & 1 == 1) != wantOdd {
                guard start < elements.upperBound else { throw fail("range '\(parts[1])' in tag '\(text)' is empty") }
                elements = (start + 1)...elements.upperBound
            }
        }
        return .range(groups: groups, parity: parity, elements: elements, elementStep: step)
    }
}
