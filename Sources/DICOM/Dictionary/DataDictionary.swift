import Foundation
import Synchronization

/// A data dictionary: tags ↔ keywords, VRs and VMs (PS3.6).
///
/// `DataDictionary.standard` is generated from the current standard; `DataDictionary.active`
/// is the one the rest of the program uses, which `loadEnvironment()` builds from the
/// standard one plus the files named in `DCMDICTPATH`.
public struct DataDictionary: Sendable {
    private var exact: [UInt32: DictionaryEntry] = [:]
    private var patterns: [DictionaryEntry] = []
    private var privateEntries: [PrivateKey: DictionaryEntry] = [:]
    private var keywords: [String: DictionaryEntry] = [:]

    private struct PrivateKey: Hashable {
        var group: UInt16
        var creator: String
        var element: UInt8
    }

    public init() {}

    /// Adds an entry; a later entry for the same tag or keyword replaces the earlier one.
    public mutating func add(_ entry: DictionaryEntry) {
        switch entry.pattern {
        case .exact(let tag):
            if let old = exact[tag.value], keywords[old.keyword] == old { keywords[old.keyword] = nil }
            exact[tag.value] = entry
        case .range:
            patterns.removeAll { $0.pattern == entry.pattern }
            patterns.append(entry)
        case .privateElement(let groups, let creator, let element):
            for group in groups where group & 1 == 1 {
                privateEntries[PrivateKey(group: group, creator: creator, element: element)] = entry
            }
            return  // private names are not global keywords
        }
        if !entry.keyword.isEmpty { keywords[entry.keyword] = entry }
    }

    public var count: Int { exact.count + patterns.count + privateEntries.count }

    /// The entry for a tag. Private data elements need the creator of their block.
    public func entry(for tag: Tag, privateCreator: String? = nil) -> DictionaryEntry? {
        if let entry = exact[tag.value] { return entry }
        if tag.isGroupLength && tag.group != 0x0000 && tag.group != 0x0002 {
            return DataDictionary.genericGroupLength
        }
        if tag.isPrivate {
            if tag.isPrivateCreator {
                return DataDictionary.privateCreatorEntry
            }
            if let creator = privateCreator, tag.element >= 0x1000 {
                let key = PrivateKey(group: tag.group, creator: creator, element: UInt8(tag.element & 0xFF))
                if let entry = privateEntries[key] { return entry }
                // Dictionaries often list a creator's elements in group "gggg" only once,
                // for the group the vendor uses; DCMTK looks them up the same way.
            }
            return nil
        }
        for entry in patterns where entry.matches(tag) { return entry }
        return nil
    }

    /// The entry for a keyword such as `PatientID`.
    public func entry(forKeyword keyword: String) -> DictionaryEntry? { keywords[keyword] }

    /// Every keyword the dictionary knows, sorted: for completion in the console.
    public var allKeywords: [String] { keywords.keys.sorted() }

    /// The VR to use for a tag read from an implicit VR stream.
    public func implicitVR(for tag: Tag, privateCreator: String? = nil) -> VR {
        entry(for: tag, privateCreator: privateCreator)?.implicitVR ?? .UN
    }

    /// The keyword for a tag, or nil for tags the dictionary does not know.
    public func keyword(for tag: Tag, privateCreator: String? = nil) -> String? {
        entry(for: tag, privateCreator: privateCreator)?.keyword
    }

    static let privateCreatorEntry = DictionaryEntry(
        pattern: .range(groups: 0x0009...0xFFFF, parity: .odd, elements: 0x0010...0x00FF, elementStep: 1),
        vrs: [.LO], vm: "1", keyword: "PrivateCreator", name: "Private Creator", isRetired: false)
    static let genericGroupLength = DictionaryEntry(
        pattern: .range(groups: 0x0000...0xFFFF, parity: .any, elements: 0x0000...0x0000, elementStep: 1),
        vrs: [.UL], vm: "1", keyword: "GenericGroupLength", name: "Generic Group Length", isRetired: false)
}

// MARK: - The standard dictionary and the active one

extension DataDictionary {
    /// Every public tag of the current standard, from the generated table (read as bytes:
    /// splitting its 5,000 lines as Strings cost about 0.4 billion instructions).
    public static let standard: DataDictionary = {
        var dictionary = DataDictionary()
        GeneratedTable.forEachRow(of: generatedStandardDictionary) { dictionary.add(standardEntry($0)) }
        return dictionary
    }()

    /// One line of the generated table: mask, VRs, VM, keyword, name, R when retired.
    private static func standardEntry(_ fields: [GeneratedTable.Field]) -> DictionaryEntry {
        let text = GeneratedTable.text
        guard fields.count >= 6, let pattern = hexTag(fields[0]).map({ .exact(Tag($0)) }) ?? patternFromMask(text(fields[0])[...]) else {
            preconditionFailure("generated dictionary line does not parse: \(fields.map(text).joined(separator: "\t"))")
        }
        var vrs: [VR] = []
        var at = fields[1].startIndex
        while at + 1 < fields[1].endIndex {
            if let vr = VR(bytes: fields[1][at], fields[1][at + 1]) { vrs.append(vr) }
            at += 3  // "OB/OW"
        }
        return DictionaryEntry(pattern: pattern, vrs: preferredOrder(vrs), vm: text(fields[2]), keyword: text(fields[3]),
                               name: text(fields[4]), isRetired: fields[5].first == UInt8(ascii: "R"))
    }

    /// Eight hex digits as a tag; nil for masks with x.
    private static func hexTag(_ field: Slice<UnsafeBufferPointer<UInt8>>) -> UInt32? {
        guard field.count == 8 else { return nil }
        var value: UInt32 = 0
        for c in field {
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// For tags with several VRs, the one an implicit VR stream gets (DCMTK's choice:
    /// US for US/SS, OW for OB/OW and for LUT data).
    private static func preferredOrder(_ vrs: [VR]) -> [VR] {
        guard vrs.count > 1 else { return vrs }
        if vrs.contains(.OW) { return [.OW] + vrs.filter { $0 != .OW } }
        if vrs.contains(.US) { return [.US] + vrs.filter { $0 != .US } }
        return vrs
    }

    /// "0010xxxx" style masks from the generator: x is any hex digit; a repeating group
    /// (50xx, 60xx, 7Fxx) covers the even groups only.
    private static func patternFromMask(_ mask: Substring) -> DictionaryEntry.Pattern? {
        let chars = Array(mask.utf8)
        guard chars.count == 8 else { return nil }
        if !chars.contains(UInt8(ascii: "x")) {
            guard let value = UInt32(mask, radix: 16) else { return nil }
            return .exact(Tag(value))
        }
        func range(_ part: ArraySlice<UInt8>) -> (ClosedRange<UInt16>, UInt16)? {
            let low = String(decoding: part.map { $0 == UInt8(ascii: "x") ? UInt8(ascii: "0") : $0 }, as: UTF8.self)
            let high = String(decoding: part.map { $0 == UInt8(ascii: "x") ? UInt8(ascii: "f") : $0 }, as: UTF8.self)
            guard let lo = UInt16(low, radix: 16), let hi = UInt16(high, radix: 16) else { return nil }
            // The step is the weight of the lowest 'x' digit.
            var step: UInt16 = 1
            if part.contains(UInt8(ascii: "x")) {
                for c in part.reversed() {
                    if c == UInt8(ascii: "x") { break }
                    step &*= 16
                }
            }
            return (lo...hi, step)
        }
        guard let (groups, _) = range(chars[0..<4]), let (elements, step) = range(chars[4..<8]) else { return nil }
        let parity: DictionaryEntry.Pattern.Parity = groups.count > 1 ? .even : .any
        return .range(groups: groups, parity: parity, elements: elements, elementStep: step)
    }

    private static let activeDictionary = Mutex<DataDictionary>(DataDictionary.standard)

    /// The dictionary in use: the standard one, or what `loadEnvironment` installed.
    public static var active: DataDictionary {
        get { activeDictionary.withLock { $0 } }
        set { activeDictionary.withLock { $0 = newValue } }
    }

    /// The standard dictionary with the dicom.dic files named in `DCMDICTPATH`
    /// (colon-separated) loaded over it, in order. Empty path entries are skipped.
    public static func loadingEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DataDictionary {
        var dictionary = DataDictionary.standard
        guard let path = environment["DCMDICTPATH"], !path.isEmpty else { return dictionary }
        for file in path.split(separator: ":", omittingEmptySubsequences: true) {
            try dictionary.load(dicomDicFile: String(file))
        }
        return dictionary
    }
}
