/// A `-k` key: an attribute to set (or insert) in every query, DCMTK's forms
/// `gggg,eeee=value`, `(gggg,eeee)=value`, `Keyword=value`, `Keyword=` and `Keyword` (both
/// empty values), and, beyond DCMTK, sequence paths such as
/// `ReferencedStudySequence[0].ReferencedSOPInstanceUID=1.2.3`.
public struct KeyOverride: Sendable, Equatable, CustomStringConvertible {
    /// One step into a sequence: the sequence's tag and the item index.
    public struct Step: Sendable, Equatable {
        public var sequence: Tag
        public var item: Int
    }

    public var path: [Step]
    public var tag: Tag
    public var vr: VR
    /// nil for an empty value.
    public var value: String?
    /// The key as given, for messages.
    public let text: String

    public var description: String { text }

    /// Items may be addressed up to this index; more is surely a typo.
    public static let maximumItemIndex = 9999
    /// A key may go at most this many sequences deep.
    public static let maximumPathDepth = 32
    /// Applying a key creates the items before the one it names (empty), so a path may
    /// address at most this many items in all; otherwise a short key such as
    /// `(0008,1110)[9999].(0008,1110)[9999]...` would make millions of empty items.
    public static let maximumItemsOnPath = 10_000

    public init(parsing text: String, dictionary: DataDictionary = .active) throws {
        self.text = text
        func fail(_ reason: String) -> DICOMError { .badKey(key: text, reason: reason) }

        let keyPart: Substring
        if let equals = text.firstIndex(of: "=") {
            keyPart = text[text.startIndex..<equals]
            let v = String(text[text.index(after: equals)...])
            value = v.isEmpty ? nil : v
        } else {
            keyPart = Substring(text)
            value = nil
        }
        let trimmedKey = keyPart.trimmingSpaces
        guard !trimmedKey.isEmpty else { throw fail("no tag or keyword before '='") }

        var steps: [(Tag, Int?)] = []
        for segment in KeyOverride.splitPath(trimmedKey) {
            var name = Substring(segment)
            var index: Int? = nil
            if name.hasSuffix("]") {
                guard let open = name.lastIndex(of: "[") else { throw fail("']' without '[' in '\(segment)'") }
                let digits = name[name.index(after: open)..<name.index(before: name.endIndex)]
                guard let n = Int(digits), n >= 0, n <= KeyOverride.maximumItemIndex else {
                    throw fail("'[\(digits)]' is not an item number from 0 to \(KeyOverride.maximumItemIndex)")
                }
                index = n
                name = name[name.startIndex..<open]
            }
            steps.append((try KeyOverride.parseTag(name, dictionary: dictionary, fail: fail), index))
        }
        guard let last = steps.popLast() else { throw fail("no tag or keyword") }
        guard steps.count <= KeyOverride.maximumPathDepth else {
            throw fail("the path goes \(steps.count) sequences deep; at most \(KeyOverride.maximumPathDepth) are allowed")
        }
        let itemsOnPath = steps.reduce(0) { $0 + ($1.1 ?? 0) + 1 }
        guard itemsOnPath <= KeyOverride.maximumItemsOnPath else {
            throw fail("the path addresses \(itemsOnPath) items; at most \(KeyOverride.maximumItemsOnPath) are allowed in all")
        }
        path = []
        for (tag, index) in steps {
            guard let index else {
                throw fail("sequence \(KeyOverride.name(tag, dictionary)) needs an item number, as in \(KeyOverride.name(tag, dictionary))[0]")
            }
            let vr = dictionary.entry(for: tag)?.implicitVR
            guard vr == .SQ else { throw fail("\(KeyOverride.name(tag, dictionary)) is not a sequence") }
            path.append(Step(sequence: tag, item: index))
        }
        tag = last.0
        if last.1 != nil { throw fail("the last part of a key names an attribute, not an item") }
        vr = dictionary.entry(for: tag)?.implicitVR ?? .UN
        if tag.isPrivateCreator { vr = .LO }
        if vr == .SQ, value != nil { throw fail("\(KeyOverride.name(tag, dictionary)) is a sequence and takes no value") }
        if tag.group == 0xFFFE { throw fail("\(tag) is an item or delimitation tag, not an attribute") }
        if let value, vr != .UN {
            do {
                _ = try ValueCoding.encode(text: value, vr: vr)
            } catch let error as DICOMError {
                throw fail(error.description)
            }
        }
    }

    private static func name(_ tag: Tag, _ dictionary: DataDictionary) -> String {
        dictionary.keyword(for: tag) ?? tag.description
    }

    /// Splits at dots that separate path steps (never inside parentheses).
    private static func splitPath(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for c in text {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if c == "." && depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        return parts
    }

    private static func parseTag(_ text: Substring, dictionary: DataDictionary, fail: (String) -> DICOMError) throws -> Tag {
        var t = text.trimmingSpaces[...]
        if t.hasPrefix("(") {
            guard t.hasSuffix(")") else { throw fail("'\(t)' has '(' without ')'") }
            t = t.dropFirst().dropLast()
        }
        if t.contains(",") {
            let parts = t.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].count == 4, parts[1].count == 4,
                  let g = UInt16(parts[0], radix: 16), let e = UInt16(parts[1], radix: 16) else {
                throw fail("'\(text)' is not a tag gggg,eeee of hex digits")
            }
            return Tag(g, e)
        }
        if t.isEmpty { throw fail("an empty step in the path") }
        guard let entry = dictionary.entry(forKeyword: String(t)) else {
            throw fail("'\(t)' is not a keyword of the data dictionary")
        }
        guard case .exact(let tag) = entry.pattern else {
            throw fail("'\(t)' names a repeating group; give the tag as gggg,eeee")
        }
        return tag
    }

    /// Sets the attribute in the data set, creating sequences and items on the way.
    public func apply(to dataSet: inout DataSet) {
        KeyOverride.apply(self, path[...], to: &dataSet)
    }

    private static func apply(_ key: KeyOverride, _ path: ArraySlice<Step>, to dataSet: inout DataSet) {
        guard let step = path.first else {
            let value: DataElement.Value
            if key.vr == .SQ {
                value = .sequence([])
            } else {
                // Checked in init. A tag the dictionary does not know (UN) takes the text as it is.
                let text = key.value ?? ""
                value = .bytes(key.vr == .UN ? ValueCoding.encodeString(text, vr: .UN)
                    : (try? ValueCoding.encode(text: text, vr: key.vr)) ?? [])
            }
            dataSet.set(DataElement(tag: key.tag, vr: key.vr, value: value))
            return
        }
        var items = dataSet[step.sequence]?.items ?? []
        while items.count <= step.item { items.append(DataSet()) }
        apply(key, path.dropFirst(), to: &items[step.item])
        dataSet.set(DataElement(tag: step.sequence, vr: .SQ, value: .sequence(items)))
    }
}
