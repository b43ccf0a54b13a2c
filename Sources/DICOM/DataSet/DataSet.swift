/// A data set: data elements in ascending tag order (PS3.5 section 7).
public struct DataSet: Sendable, Equatable {
    public var elements: [DataElement] { elements_ }
    var elements_: [DataElement]

    public init() { elements_ = [] }

    /// Elements in any order; for equal tags the last one wins.
    public init(_ elements: [DataElement]) {
        self.elements_ = []
        for element in elements { set(element) }
    }

    public var isEmpty: Bool { elements.isEmpty }
    public var count: Int { elements.count }

    private func index(of tag: Tag) -> (found: Bool, index: Int) {
        if let last = elements.last, last.tag < tag { return (false, elements.count) }
        var low = 0, high = elements.count
        while low < high {
            let mid = (low + high) / 2
            if elements[mid].tag < tag { low = mid + 1 } else { high = mid }
        }
        return (low < elements.count && elements[low].tag == tag, low)
    }

    public subscript(tag: Tag) -> DataElement? {
        get {
            let (found, i) = index(of: tag)
            return found ? elements[i] : nil
        }
        set {
            if let newValue {
                precondition(newValue.tag == tag, "element stored under another tag")
                set(newValue)
            } else {
                remove(tag)
            }
        }
    }

    /// Inserts the element, replacing one with the same tag.
    public mutating func set(_ element: DataElement) {
        let (found, i) = index(of: element.tag)
        if found { elements_[i] = element } else { elements_.insert(element, at: i) }
    }

    @discardableResult
    public mutating func remove(_ tag: Tag) -> DataElement? {
        let (found, i) = index(of: tag)
        return found ? elements_.remove(at: i) : nil
    }

    public mutating func removeAll(where predicate: (DataElement) -> Bool) {
        elements_.removeAll(where: predicate)
    }

    public func contains(_ tag: Tag) -> Bool { index(of: tag).found }
}

// MARK: - Typed access

extension DataSet {
    /// The Specific Character Set of this data set (not of its enclosing one).
    public var specificCharacterSet: SpecificCharacterSet {
        guard let element = self[.specificCharacterSet], let bytes = element.bytes else { return .default }
        return SpecificCharacterSet(bytes: bytes)
    }

    /// All values of a string element, decoded and with padding removed.
    public func strings(_ tag: Tag, characterSet: SpecificCharacterSet? = nil) -> [String]? {
        guard let element = self[tag], element.vr.isString || element.vr == .UN, let bytes = element.bytes else {
            return nil
        }
        guard element.vr.usesSpecificCharacterSet else { return DataSet.plainValues(bytes, vr: element.vr) }
        let text = (characterSet ?? specificCharacterSet).decode(bytes, isPersonName: element.vr == .PN)
        if element.vr.isSingleValuedText { return [String(text.trailingTrimmed)] }
        return text.split(separator: "\\", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
    }

    /// The values of a string VR that Specific Character Set does not apply to (UI, CS, DA,
    /// DS, UR, ...), taken apart as bytes: the backslash and the padding are ASCII, so no
    /// character set is read and no grapheme is looked at (the storage SCP reads several such
    /// values of every object it receives). UI values lose trailing NULs and spaces, the others
    /// leading spaces too; UR is one value.
    static func plainValues(_ bytes: [UInt8], vr: VR) -> [String] {
        func value(_ part: ArraySlice<UInt8>) -> String {
            var start = part.startIndex
            var end = part.endIndex
            while end > start && (part[end - 1] == 0x20 || part[end - 1] == 0x00) { end -= 1 }
            if vr != .UI && !vr.isSingleValuedText {
                while start < end && part[start] == 0x20 { start += 1 }
            }
            return String(decoding: part[start..<end], as: UTF8.self)
        }
        if vr.isSingleValuedText { return [value(bytes[...])] }
        return bytes.split(separator: 0x5C, omittingEmptySubsequences: false).map(value)
    }

    /// The first value of a string element.
    public func string(_ tag: Tag, characterSet: SpecificCharacterSet? = nil) -> String? {
        strings(tag, characterSet: characterSet)?.first
    }

    /// Sets a string element (values joined by backslashes). The VR comes from the data
    /// dictionary unless given. Text is stored as UTF-8.
    public mutating func setString(_ value: String, for tag: Tag, vr: VR? = nil) {
        let vr = vr ?? DataDictionary.active.implicitVR(for: tag)
        set(DataElement(tag: tag, vr: vr, bytes: ValueCoding.encodeString(value, vr: vr)))
    }

    /// The unsigned integers of a US/UL element (or of an SS/SL one, reinterpreted).
    public func integers(_ tag: Tag) -> [Int]? {
        guard let element = self[tag], let bytes = element.bytes else { return nil }
        return ValueCoding.integers(bytes, vr: element.vr)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\0" { s = s.dropLast() }
        return String(s)
    }
}
