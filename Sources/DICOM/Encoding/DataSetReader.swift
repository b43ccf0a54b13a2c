/// Builds a `DataSet` tree from parser events.
///
/// Values the parser hands out in chunks (larger than its `maximumBufferedValue`) are kept
/// as the policy says: in memory, in a spool file, or not at all. With a spool, every
/// fragment of encapsulated pixel data goes there too, so that the memory a data set takes
/// no longer grows with its pixel data.
public struct DataSetBuilder: Sendable {
    public enum LargeValues: Sendable {
        /// Gathered in memory.
        case keep
        /// Written to the spool; elements refer to it (`.spooled`, `.spooledFragments`).
        case spool(Spool)
        /// Left out of the data set (for a reader that needs only the small elements).
        case discard
    }

    private enum Partial {
        case dataSet([DataElement])
        case sequence(tag: Tag, vr: VR, items: [DataSet])
        case fragments(tag: Tag, vr: VR, fragments: [[UInt8]])
        case spooledFragments(tag: Tag, vr: VR, fragments: [SpooledBytes])
        case largeValue(tag: Tag?, vr: VR, bytes: [UInt8])  // tag nil: a fragment
        case spooling(tag: Tag?, vr: VR, start: Int)
        case discarding(tag: Tag?)
    }

    private var stack: [Partial] = [.dataSet([])]
    public let largeValues: LargeValues

    public init(largeValues: LargeValues = .keep) {
        self.largeValues = largeValues
    }

    /// Takes the next parser event. Throws only when the spool cannot be written.
    public mutating func consume(_ event: DataSetEvent) throws {
        switch event {
        case .element(let tag, let vr, let value):
            add(DataElement(tag: tag, vr: vr, value: .bytes(value)))
        case .valueStart(let tag, let vr, let length):
            startLarge(tag: tag, vr: vr, length: length)
        case .fragmentStart(let length):
            startLarge(tag: nil, vr: .OB, length: length)
        case .valueChunk(let chunk):
            switch stack.removeLast() {
            case .largeValue(let tag, let vr, var bytes):
                bytes.append(contentsOf: chunk)
                stack.append(.largeValue(tag: tag, vr: vr, bytes: bytes))
            case .spooling(let tag, let vr, let start):
                if case .spool(let spool) = largeValues { try spool.append(chunk) }
                stack.append(.spooling(tag: tag, vr: vr, start: start))
            case let other:
                stack.append(other)
            }
        case .valueEnd:
            switch stack.removeLast() {
            case .largeValue(let tag?, let vr, let bytes):
                add(DataElement(tag: tag, vr: vr, value: .bytes(bytes)))
            case .largeValue(nil, _, let bytes):
                addFragment(bytes)
            case .spooling(let tag, let vr, let start):
                guard case .spool(let spool) = largeValues else { return }
                let value = SpooledBytes(spool: spool, offset: start, count: spool.end - start)
                if let tag {
                    add(DataElement(tag: tag, vr: vr, value: .spooled(value)))
                } else {
                    addSpooledFragment(value)
                }
            case .discarding:
                break
            case let other:
                stack.append(other)
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
            switch largeValues {
            case .keep: stack.append(.fragments(tag: tag, vr: vr, fragments: []))
            case .spool: stack.append(.spooledFragments(tag: tag, vr: vr, fragments: []))
            case .discard: stack.append(.discarding(tag: tag))
            }
        case .fragment(let bytes):
            switch largeValues {
            case .keep:
                addFragment(bytes)
            case .spool(let spool):
                let start = spool.end
                try spool.append(bytes)
                addSpooledFragment(SpooledBytes(spool: spool, offset: start, count: bytes.count))
            case .discard:
                break
            }
        case .fragmentsEnd:
            switch stack.removeLast() {
            case .fragments(let tag, let vr, let fragments):
                add(DataElement(tag: tag, vr: vr, value: .fragments(fragments)))
            case .spooledFragments(let tag, let vr, let fragments):
                add(DataElement(tag: tag, vr: vr, value: .spooledFragments(fragments)))
            case .discarding:
                break
            case let other:
                stack.append(other)
            }
        }
    }

    private mutating func startLarge(tag: Tag?, vr: VR, length: Int) {
        switch largeValues {
        case .keep:
            // The length is what the stream claims: reserve no more than a little of it.
            var bytes: [UInt8] = []
            bytes.reserveCapacity(min(length, 1 << 20))
            stack.append(.largeValue(tag: tag, vr: vr, bytes: bytes))
        case .spool(let spool):
            stack.append(.spooling(tag: tag, vr: vr, start: spool.end))
        case .discard:
            stack.append(.discarding(tag: tag))
        }
    }

    private mutating func addFragment(_ bytes: [UInt8]) {
        guard case .fragments(let t, let v, var fragments) = stack.removeLast() else { return }
        fragments.append(bytes)
        stack.append(.fragments(tag: t, vr: v, fragments: fragments))
    }

    private mutating func addSpooledFragment(_ value: SpooledBytes) {
        guard case .spooledFragments(let t, let v, var fragments) = stack.removeLast() else { return }
        fragments.append(value)
        stack.append(.spooledFragments(tag: t, vr: v, fragments: fragments))
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
            try builder.consume(event)
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
    public mutating func resolveAmbiguousVRs(dictionary: DataDictionary = .active) {
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
            case .fragments, .spooled, .spooledFragments:
                break
            }
        }
    }
}
