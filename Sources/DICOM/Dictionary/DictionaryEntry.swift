/// One entry of a data dictionary (PS3.6): the attribute a tag, or a range of tags, names.
public struct DictionaryEntry: Sendable, Equatable {
    /// The tags this entry covers.
    public enum Pattern: Sendable, Equatable {
        /// Exactly one tag.
        case exact(Tag)
        /// Tags in a range of groups and elements; `groupParity` restricts to even or odd groups.
        case range(groups: ClosedRange<UInt16>, parity: Parity, elements: ClosedRange<UInt16>, elementStep: UInt16)
        /// A private data element of a named creator: (gggg,xxee) in a block the creator reserved.
        /// A range of groups (usually one) of which only the odd ones are private.
        case privateElement(groups: ClosedRange<UInt16>, creator: String, element: UInt8)

        public enum Parity: Sendable, Equatable { case even, odd, any }
    }

    public var pattern: Pattern
    /// The VRs the standard allows, first the one used when an implicit VR stream says nothing.
    /// Empty for item and delimitation tags.
    public var vrs: [VR]
    public var vm: String
    public var keyword: String
    public var name: String
    public var isRetired: Bool

    public init(pattern: Pattern, vrs: [VR], vm: String, keyword: String, name: String, isRetired: Bool) {
        self.pattern = pattern
        self.vrs = vrs
        self.vm = vm
        self.keyword = keyword
        self.name = name
        self.isRetired = isRetired
    }

    /// The VR to assume for the element when the stream does not carry one.
    public var implicitVR: VR { vrs.first ?? .UN }

    /// The representative tag: the exact tag, or the lowest of a range.
    public var tag: Tag {
        switch pattern {
        case .exact(let tag): return tag
        case .range(let groups, _, let elements, _): return Tag(groups.lowerBound, elements.lowerBound)
        case .privateElement(let groups, _, let element): return Tag(groups.lowerBound, 0x1000 | UInt16(element))
        }
    }

    func matches(_ tag: Tag) -> Bool {
        switch pattern {
        case .exact(let t):
            return t == tag
        case .range(let groups, let parity, let elements, let step):
            guard groups.contains(tag.group), elements.contains(tag.element) else { return false }
            switch parity {
            case .even where tag.group & 1 != 0: return false
            case .odd where tag.group & 1 == 0: return false
            default: break
            }
            return (tag.element - elements.lowerBound) % step == 0
        case .privateElement:
            return false
        }
    }
}
