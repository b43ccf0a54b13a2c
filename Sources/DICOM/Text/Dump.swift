import Foundation

/// Prints data sets one element a line in dcmdump's format:
/// `(gggg,eeee) VR value                                 #  len, vm Keyword`,
/// items and sequences indented by two spaces a level. Sequences and items are printed
/// as of undefined length, the way this package writes them with `-e`.
public struct DumpFormatter: Sendable {
    /// Values longer than this many characters are cut and end in "..."; nil prints all (dcmdump +L).
    public var maximumValueLength: Int? = 64
    public var dictionary: DataDictionary

    public init(maximumValueLength: Int? = 64, dictionary: DataDictionary = DataDictionary.active) {
        self.maximumValueLength = maximumValueLength
        self.dictionary = dictionary
    }

    /// The lines for a data set (no trailing newline on each).
    public func lines(_ dataSet: DataSet) -> [String] {
        var out: [String] = []
        append(dataSet, depth: 0, characterSet: dataSet.specificCharacterSet, into: &out)
        return out
    }

    public func format(_ dataSet: DataSet) -> String {
        lines(dataSet).joined(separator: "\n")
    }

    private func append(_ dataSet: DataSet, depth: Int, characterSet inherited: SpecificCharacterSet, into out: inout [String]) {
        let characterSet = dataSet.contains(.specificCharacterSet) ? dataSet.specificCharacterSet : inherited
        var creators: [UInt32: String] = [:]
        for element in dataSet.elements {
            if element.tag.isPrivateCreator, let bytes = element.bytes {
                creators[element.tag.value] = String(decoding: bytes, as: UTF8.self).trimmingSpaces
            }
            let creator = element.tag.privateCreatorTag.flatMap { creators[$0.value] }
            let name = dictionary.keyword(for: element.tag, privateCreator: creator) ?? "Unknown Tag & Data"
            switch element.value {
            case .bytes(let bytes):
                out.append(line(depth, element.tag, element.vr.rawValue, valueText(element, bytes, characterSet),
                                "\(pad3(bytes.count)), \(element.valueMultiplicity) \(name)"))
            case .sequence(let items):
                out.append(line(depth, element.tag, "SQ", "(Sequence with undefined length #=\(items.count))",
                                "u/l, 1 \(name)"))
                for item in items {
                    out.append(line(depth + 1, .item, "na", "(Item with undefined length #=\(item.count))", "u/l, 1 Item"))
                    append(item, depth: depth + 2, characterSet: characterSet, into: &out)
                    out.append(line(depth + 1, .itemDelimitationItem, "na", "(ItemDelimitationItem)", "  0, 0 ItemDelimitationItem"))
                }
                out.append(line(depth, .sequenceDelimitationItem, "na", "(SequenceDelimitationItem)", "  0, 0 SequenceDelimitationItem"))
            case .fragments(let fragments):
                out.append(line(depth, element.tag, element.vr.rawValue, "(PixelSequence #=\(fragments.count))", "u/l, 1 \(name)"))
                for fragment in fragments {
                    let text = fragment.isEmpty ? "(no value available)" : cut(fragment.map(hex2).joined(separator: "\\"))
                    out.append(line(depth + 1, .item, "pi", text, "\(pad3(fragment.count)), 1 Item"))
                }
                out.append(line(depth, .sequenceDelimitationItem, "na", "(SequenceDelimitationItem)", "  0, 0 SequenceDelimitationItem"))
            case .spooled(let value):
                // Like dcmdump's values above its load limit.
                out.append(line(depth, element.tag, element.vr.rawValue, "(not loaded)",
                                "\(pad3(value.count)), \(element.valueMultiplicity) \(name)"))
            case .spooledFragments(let fragments):
                out.append(line(depth, element.tag, element.vr.rawValue, "(PixelSequence #=\(fragments.count))", "u/l, 1 \(name)"))
                for fragment in fragments {
                    out.append(line(depth + 1, .item, "pi", fragment.count == 0 ? "(no value available)" : "(not loaded)",
                                    "\(pad3(fragment.count)), 1 Item"))
                }
                out.append(line(depth, .sequenceDelimitationItem, "na", "(SequenceDelimitationItem)", "  0, 0 SequenceDelimitationItem"))
            }
        }
    }

    private func pad3(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 3 ? s : String(repeating: " ", count: 3 - s.count) + s
    }

    private func line(_ depth: Int, _ tag: Tag, _ vr: String, _ value: String, _ trailer: String) -> String {
        var s = String(repeating: "  ", count: depth) + "\(tag) \(vr) " + value
        // dcmdump pads by bytes, not by characters.
        let width = depth * 2 + 15 + 40
        let length = s.utf8.count
        if length < width { s += String(repeating: " ", count: width - length) }
        return s + " # " + trailer
    }

    private func cut(_ text: String) -> String {
        guard let limit = maximumValueLength, text.count > limit else { return text }
        return String(text.prefix(limit)) + "..."
    }

    func valueText(_ element: DataElement, _ bytes: [UInt8], _ characterSet: SpecificCharacterSet) -> String {
        if bytes.isEmpty { return "(no value available)" }
        let vr = element.vr
        if vr.isString && element.valueMultiplicity == 0 { return "(no value available)" }
        if vr.isString {
            // Trailing padding is not part of the value; dcmdump does not print it either.
            var end = bytes.count
            while end > 0 && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x00) { end -= 1 }
            let value = Array(bytes[..<end])
            let text = vr.usesSpecificCharacterSet ? characterSet.decode(value, isPersonName: vr == .PN)
                : String(decoding: value, as: UTF8.self)
            // Control characters would break the one-line format.
            let visible = String(String.UnicodeScalarView(text.unicodeScalars.map {
                $0.value < 0x20 && $0 != "\t" ? "." : $0
            }))
            return cut("[" + visible + "]")
        }
        let slice = bytes[...]
        func values(_ width: Int, _ render: (Int) -> String) -> String {
            cut(stride(from: 0, through: bytes.count - width, by: width).map(render).joined(separator: "\\"))
        }
        switch vr {
        case .US: return values(2) { String(ValueCoding.readLE(slice, $0, 2)) }
        case .SS: return values(2) { String(Int16(bitPattern: UInt16(ValueCoding.readLE(slice, $0, 2)))) }
        case .UL: return values(4) { String(ValueCoding.readLE(slice, $0, 4)) }
        case .SL: return values(4) { String(Int32(bitPattern: UInt32(ValueCoding.readLE(slice, $0, 4)))) }
        case .UV: return values(8) { String(ValueCoding.readLE(slice, $0, 8)) }
        case .SV: return values(8) { String(Int64(bitPattern: ValueCoding.readLE(slice, $0, 8))) }
        case .FL, .OF: return values(4) { formatFloat(Double(Float(bitPattern: UInt32(ValueCoding.readLE(slice, $0, 4)))), digits: 9) }
        case .FD, .OD: return values(8) { formatFloat(Double(bitPattern: ValueCoding.readLE(slice, $0, 8)), digits: 17) }
        case .AT:
            return values(4) {
                Tag(UInt16(ValueCoding.readLE(slice, $0, 2)), UInt16(ValueCoding.readLE(slice, $0 + 2, 2))).description
            }
        case .OW: return values(2) { hex4(UInt16(ValueCoding.readLE(slice, $0, 2))) }
        case .OL: return values(4) { String(ValueCoding.readLE(slice, $0, 4)) }
        case .OV: return values(8) { String(ValueCoding.readLE(slice, $0, 8)) }
        default: return values(1) { hex2(bytes[$0]) }
        }
    }
}

/// `%.<digits>g`: FL with 9 significant digits and FD with 17, enough to give back the same
/// binary value (DCMTK prints them so, apart from its own rounding of some large doubles).
func formatFloat(_ value: Double, digits: Int) -> String {
    String(format: "%.\(digits)g", value)
}
