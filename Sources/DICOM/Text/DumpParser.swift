/// Reads the text dcmdump prints and dump2dcm reads back into a data set:
/// `(gggg,eeee) VR value  # comment`, where the value is `[text]`, numbers or hex separated
/// by backslashes, `=UIDKeyword`, or `(no value available)`. Sequences open with an SQ line,
/// items with `(fffe,e000)` and close with `(fffe,e00d)` / `(fffe,e0dd)`. A keyword may stand
/// in place of the tag. Lines starting with `#` and blank lines are ignored.
public enum DumpParser {
    public struct Result: Sendable, Equatable {
        /// File meta information elements (group 0002) found in the text.
        public var meta: DataSet
        public var dataSet: DataSet
    }

    private enum Open {
        case dataSet([DataElement])
        case sequence(tag: Tag, items: [DataSet])
        case fragments(tag: Tag, vr: VR, fragments: [[UInt8]])
    }

    public static func parse(_ text: String, source: String = "dump", dictionary: DataDictionary = .active) throws -> Result {
        var stack: [Open] = [.dataSet([])]
        var meta = DataSet()
        var lineNumber = 0

        func fail(_ reason: String) -> DICOMError { .badDump(source: source, line: lineNumber, reason: reason) }

        func add(_ element: DataElement) throws {
            guard case .dataSet(var elements) = stack.removeLast() else {
                throw fail("element \(element.tag) inside a sequence but outside an item")
            }
            elements.append(element)
            stack.append(.dataSet(elements))
        }

        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            line = line.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.hasPrefix("#") { continue }

            // Tag, or keyword
            let tag: Tag
            if line.hasPrefix("(") {
                guard let close = line.firstIndex(of: ")") else { throw fail("'(' without ')' around the tag") }
                tag = try parseTag(line[line.index(after: line.startIndex)..<close], fail: fail)
                line = line[line.index(after: close)...]
            } else {
                let word = line.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
                guard !word.isEmpty else { throw fail("expected a tag (gggg,eeee) or a keyword at the start of the line") }
                guard let entry = dictionary.entry(forKeyword: String(word)) else {
                    throw fail("'\(word)' is not a keyword of the data dictionary")
                }
                tag = entry.tag
                line = line.dropFirst(word.count)
            }
            line = line.drop { $0 == " " || $0 == "\t" }

            // VR (optional when a keyword or a known tag tells it)
            var vrText = String(line.prefix { $0.isLetter || $0 == "?" })
            if vrText.count == 2 { line = line.dropFirst(2) } else { vrText = "" }
            line = line.drop { $0 == " " || $0 == "\t" }

            // Value: bracketed, parenthesised note, =UID name, or bare tokens up to '#'.
            var valueText: String? = nil
            var note: String? = nil
            if line.hasPrefix("[") {
                guard let close = line.lastIndex(of: "]") else { throw fail("'[' without ']' around the value") }
                valueText = String(line[line.index(after: line.startIndex)..<close])
            } else if line.hasPrefix("("), !(vrText == "AT" && line.dropFirst(5).first == ",") {
                let close = line.firstIndex(of: ")") ?? line.endIndex
                note = String(line[line.index(after: line.startIndex)..<close])
            } else {
                let end = line.firstIndex(of: "#") ?? line.endIndex
                let bare = line[line.startIndex..<end].trimmingSpaces
                valueText = bare.isEmpty ? nil : bare
            }

            // Delimiters and items
            if tag.group == 0xFFFE {
                switch tag {
                case .item:
                    if case .fragments(let t, let v, var fragments) = stack.last {
                        stack.removeLast()
                        fragments.append(try valueText.map { try ValueCoding.encode(text: $0, vr: .OB) } ?? [])
                        stack.append(.fragments(tag: t, vr: v, fragments: fragments))
                    } else if case .sequence = stack.last {
                        stack.append(.dataSet([]))
                    } else {
                        throw fail("item (fffe,e000) outside a sequence")
                    }
                case .itemDelimitationItem:
                    guard stack.count > 1, case .dataSet(let elements) = stack.removeLast(),
                          case .sequence(let t, var items) = stack.removeLast() else {
                        throw fail("item delimitation (fffe,e00d) outside an item")
                    }
                    items.append(DataSet(elements))
                    stack.append(.sequence(tag: t, items: items))
                case .sequenceDelimitationItem:
                    switch stack.last {
                    case .sequence(let t, let items)?:
                        stack.removeLast()
                        try add(DataElement(tag: t, vr: .SQ, value: .sequence(items)))
                    case .fragments(let t, let v, let fragments)?:
                        stack.removeLast()
                        try add(DataElement(tag: t, vr: v, value: .fragments(fragments)))
                    default:
                        throw fail("sequence delimitation (fffe,e0dd) outside a sequence")
                    }
                default:
                    throw fail("\(tag) is not an item or delimitation tag")
                }
                continue
            }

            let vr: VR
            if vrText.isEmpty {
                vr = dictionary.implicitVR(for: tag)
            } else if let known = VR(rawValue: vrText) {
                vr = known
            } else {
                throw fail("'\(vrText)' is not a VR")
            }

            if vr == .SQ {
                stack.append(.sequence(tag: tag, items: []))
                continue
            }
            if let note, note.hasPrefix("PixelSequence") {
                stack.append(.fragments(tag: tag, vr: vr, fragments: []))
                continue
            }
            var bytes: [UInt8] = []
            if var text = valueText {
                if vr == .UI, text.hasPrefix("=") {
                    let name = String(text.dropFirst())
                    guard let uid = uidForName(name) else { throw fail("'=\(name)' names no UID this tool knows") }
                    text = uid
                }
                do {
                    bytes = try ValueCoding.encode(text: text, vr: vr)
                } catch let error as DICOMError {
                    throw fail("\(tag) \(vr.rawValue): \(error.description)")
                }
            } else if let note, note != "no value available" {
                throw fail("'(\(note))' is not a value for \(tag) \(vr.rawValue)")
            }
            let element = DataElement(tag: tag, vr: vr, bytes: bytes)
            if tag.group == 0x0002 && stack.count == 1 {
                meta.set(element)
            } else {
                try add(element)
            }
        }
        guard stack.count == 1, case .dataSet(let elements) = stack[0] else {
            throw DICOMError.badDump(source: source, line: lineNumber, reason: "the text ends inside a sequence or item")
        }
        return Result(meta: meta, dataSet: DataSet(elements))
    }

    static func parseTag(_ text: Substring, fail: (String) -> DICOMError) throws -> Tag {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 4,
              let group = UInt16(parts[0], radix: 16), let element = UInt16(parts[1], radix: 16) else {
            throw fail("'(\(text))' is not a tag (gggg,eeee) in hex")
        }
        return Tag(group, element)
    }

    /// UIDs by our keyword, or by the names dcmdump prints for the common ones.
    static func uidForName(_ name: String) -> String? {
        let dcmtkNames = [
            "LittleEndianImplicit": "1.2.840.10008.1.2", "LittleEndianExplicit": "1.2.840.10008.1.2.1",
            "BigEndianExplicit": "1.2.840.10008.1.2.2", "DeflatedLittleEndianExplicit": "1.2.840.10008.1.2.1.99",
            "JPEGBaseline": "1.2.840.10008.1.2.4.50", "JPEGExtended:Process2+4": "1.2.840.10008.1.2.4.51",
            "JPEGLossless:Non-hierarchical-1stOrderPrediction": "1.2.840.10008.1.2.4.70",
            "JPEGLSLossless": "1.2.840.10008.1.2.4.80", "JPEGLSLossy": "1.2.840.10008.1.2.4.81",
            "JPEG2000LosslessOnly": "1.2.840.10008.1.2.4.90", "JPEG2000": "1.2.840.10008.1.2.4.91",
            "RLELossless": "1.2.840.10008.1.2.5", "VerificationSOPClass": "1.2.840.10008.1.1",
        ]
        if let uid = dcmtkNames[name] { return uid }
        if let entry = UIDTable.entry(forKeyword: name) { return entry.uid }
        return nil
    }
}
