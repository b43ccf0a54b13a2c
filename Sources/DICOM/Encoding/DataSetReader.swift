/// Builds a `DataSet` tree from parser events.
public struct DataSetBuilder: Sendable {
    private enum Partial {
        case dataSet([DataElement])
        case sequence(tag: Tag, vr: VR, items: [DataSet])
        case fragments(tag: Tag, vr: VR, fragments: [[UInt8]])
        case largeValue(tag: Tag?, vr: VR, bytes: [UInt8])  // tag nil: a fragment
    }

    private var stack: [Partial] = [.dataSet([])]

    public init() {}

    public mutating func consume(_ event: DataSetEvent) {
        switch event {
        case .element(let tag, let vr, let value):
            add(DataElement(tag: tag, vr: vr, value: .bytes(value)))
        case .valueStart(let tag, let vr, let length):
            // The length is what the stream claims: reserve no more than a little of it.
            var bytes: [UInt8] = []
            bytes.reserveCapacity(min(length, 1 << 20))
            stack.append(.largeValue(tag: tag, vr: vr, bytes: bytes))
        case .fragmentStart(let length):
            var bytes: [UInt8] = []
            bytes.reserveCapacity(min(length, 1 << 20))
            stack.append(.largeValue(tag: nil, vr: .OB, bytes: bytes))
        case .valueChunk(let chunk):
            guard case .largeValue(let tag, let vr, var bytes) = stack.removeLast() else { return }
            bytes.append(contentsOf: chunk)
            stack.append(.largeValue(tag: tag, vr: vr, bytes: bytes))
        case .valueEnd:
            guard case .largeValue(let tag, let vr, let bytes) = stack.removeLast() else { return }
            if let tag {
                add(DataElement(tag: tag, vr: vr, value: .bytes(bytes)))
            } else if case .fragments(let t, let v, var fragments) = stack.removeLast() {
                fragments.append(bytes)
                stack.append(.fragments(tag: t, vr: v, fragments: fragments))
            }
        case .sequenceStart(let tag, let vr, _):
            stack.append(.sequence(tag: tag, vr: vr, items: []))
        case .itemStart:
            stack.append(.dataSet([]))
        case .itemEnd:
            guard case .dataSet(let elements) = stack.removeLast(),
                  case .sequence(let tag, let vr, var items) = stack.removeLast() else { return }
            items.append(DataSet(sortedOrNot: elements))
            stack.append(.sequence(tag: tag, vr: vr, items: items))
        case .sequenceEnd:
            guard case .sequence(let tag, let vr, let items) = stack.removeLast() else { return }
            add(DataElement(tag: tag, vr: vr, value: .sequence(items)))
        case .fragmentsStart(let tag, let vr):
            stack.append(.fragments(tag: tag, vr: vr, fragments: []))
        case .fragment(let bytes):
            guard case .fragments(let tag, let vr, var fragments) = stack.removeLast() else { return }
            fragments.append(bytes)
            stack.append(.fragments(tag: tag, vr: vr, fragments: fragments))
        case .fragmentsEnd:
            guard case .fragments(let tag, let vr, let fragments) = stack.removeLast() else { return }
            add(DataElement(tag: tag, vr: vr, value: .fragments(fragments)))
        }
    }

    private mutating func add(_ element: DataElement) {
        guard case .dataSet(var elements) = stack.removeLast() else { return }
        elements.append(element)
        stack.append(.dataSet(elements))
    }

    /// The data set built so far (the top level).
    public var dataSet: DataSet {
        guard case .dataSet(let elements) = stack.first else { return DataSet() }
        return DataSet(sortedOrNot: elements)
    }
}

extension DataSet {
    /// Elements as read: usually in order already; sorted (last duplicate wins) if not.
    init(sortedOrNot elements: [DataElement]) {
        var ordered = true
        for i in elements.indices.dropFirst() where !(elements[i - 1].tag < elements[i].tag) {
            ordered = false
            break
        }
        if ordered {
            self.init()
            self.elements_ = elements
        } else {
            self.init(elements)
        }
    }
}

/// Reads whole data sets from bytes.
public enum DataSetReader {
    /// Decodes a complete data set (no file meta information) in the given syntax.
    /// - Parameter baseOffset: added to the offsets in error messages.
    public static func read<Bytes: Collection>(
        _ bytes: Bytes, transferSyntax: TransferSyntax, options: DataSetParser.Options = .init(), baseOffset: Int = 0
    ) throws -> DataSet where Bytes.Element == UInt8 {
        var parser = DataSetParser(transferSyntax: transferSyntax, options: options, baseOffset: baseOffset)
        try parser.append(bytes)
        parser.finish()
        var builder = DataSetBuilder()
        while let event = try parser.next() {
            builder.consume(event)
        }
        var dataSet = builder.dataSet
        if !transferSyntax.isExplicitVR {
            dataSet.resolveAmbiguousVRs(dictionary: options.dictionary ?? .active)
        }
        return dataSet
    }
}

extension DataSet {
    /// Implicit VR streams do not say whether a "US or SS" element is signed: where the same
    /// data set has Pixel Representation (0028,0103) 1 it is SS, as DCMTK decides.
    mutating func resolveAmbiguousVRs(dictionary: DataDictionary) {
        let signed = integers(Tag(0x0028, 0x0103))?.first == 1
        for i in elements_.indices {
            switch elements_[i].value {
            case .sequence(var items):
                for j in items.indices { items[j].resolveAmbiguousVRs(dictionary: dictionary) }
                elements_[i].value = .sequence(items)
            case .bytes:
                if signed && elements_[i].vr == .US, dictionary.entry(for: elements_[i].tag)?.vrs == [.US, .SS] {
                    elements_[i].vr = .SS
                }
            case .fragments:
                break
            }
        }
    }
}
