import DICOM

/// The query as the console edits it: the identifier's attributes as rows with `-k` paths,
/// the levels and their unique keys, and the identifiers a find and a move send.
public enum QueryKeys {
    public static let levelTag = Tag(0x0008, 0x0052)
    public static let characterSetTag = Tag(0x0008, 0x0005)
    public static let levels = ["PATIENT", "STUDY", "SERIES", "IMAGE"]

    /// One attribute of the identifier, possibly inside a sequence item.
    public struct Row: Equatable, Sendable {
        /// The attribute as a `-k` path: `PatientName`, `ReferencedStudySequence[0].ReferencedSOPInstanceUID`.
        public var path: String
        public var value: String
        public var depth: Int
        public var isSequence: Bool
        /// The top-level tag the row belongs to.
        public var topTag: Tag
    }

    static func name(_ tag: Tag) -> String {
        DataDictionary.active.keyword(for: tag) ?? String(format: "%04X,%04X", tag.group, tag.element)
    }

    /// The identifier flattened into rows, sequences followed by their items' attributes.
    public static func rows(_ identifier: DataSet) -> [Row] {
        var out: [Row] = []
        func walk(_ dataSet: DataSet, prefix: String, depth: Int, top: Tag?) {
            for element in dataSet.elements {
                let path = prefix + name(element.tag)
                let topTag = top ?? element.tag
                if let items = element.items {
                    out.append(Row(path: path, value: items.isEmpty ? "(empty sequence)" : "(\(items.count) item\(items.count == 1 ? "" : "s"))",
                                   depth: depth, isSequence: true, topTag: topTag))
                    for (i, item) in items.enumerated() {
                        walk(item, prefix: path + "[\(i)].", depth: depth + 1, top: topTag)
                    }
                } else {
                    let value: String
                    if element.vr.isString {
                        value = dataSet.strings(element.tag)?.joined(separator: "\\") ?? ""
                    } else if element.vr.isBinaryNumber, let numbers = dataSet.integers(element.tag) {
                        value = numbers.map(String.init).joined(separator: "\\")
                    } else {
                        value = "(\(element.valueLength) bytes)"
                    }
                    out.append(Row(path: path, value: value, depth: depth, isSequence: false, topTag: topTag))
                }
            }
        }
        walk(identifier, prefix: "", depth: 0, top: nil)
        return out
    }

    public static func level(of identifier: DataSet) -> String? {
        identifier.string(levelTag)?.trimmingCharacters(in: .whitespaces).uppercased()
    }

    /// The unique keys a C-MOVE at `level` may carry in `model` (PS3.4 C.4.2.2.1): the
    /// unique keys of the level and of the levels above it.
    public static func uniqueKeys(level: String, model: QueryRetrieveModel) -> [Tag] {
        let patientID = Tag(0x0010, 0x0020), study = Tag(0x0020, 0x000D)
        let series = Tag(0x0020, 0x000E), instance = Tag(0x0008, 0x0018)
        var keys: [Tag] = []
        let depth = levels.firstIndex(of: level) ?? 0
        if model != .studyRoot { keys.append(patientID) }
        if depth >= 1 { keys.append(study) }
        if depth >= 2 { keys.append(series) }
        if depth >= 3 { keys.append(instance) }
        return keys
    }

    /// Attributes of a move identifier beyond the unique keys (and the level and character
    /// set): the manual's known problem, which some SCPs refuse. Empty when all is well.
    public static func extraMoveKeys(_ identifier: DataSet, model: QueryRetrieveModel) -> [String] {
        let level = level(of: identifier) ?? "STUDY"
        let allowed = Set(uniqueKeys(level: level, model: model) + [levelTag, characterSetTag])
        return identifier.elements.filter { !allowed.contains($0.tag) }.map { name($0.tag) }
    }

    /// The levels a model has: study root has no PATIENT level, patient/study only stops at STUDY.
    public static func levels(for model: QueryRetrieveModel) -> [String] {
        switch model {
        case .patientRoot: return levels
        case .studyRoot: return ["STUDY", "SERIES", "IMAGE"]
        case .patientStudyOnly: return ["PATIENT", "STUDY"]
        }
    }

    /// What a find at the level asks for when the query lacks it: the columns the results show,
    /// and the unique keys a move of a result needs. In the patient-rooted models a level below
    /// PATIENT takes no patient attributes but the Patient ID (a hierarchical SCP refuses them).
    public static func returnKeys(level: String, model: QueryRetrieveModel) -> [Tag] {
        var keys = displayKeys(level: level)
        if model != .studyRoot && level != "PATIENT" {
            let patientLevel: Set<Tag> = [Tag(0x0010, 0x0010), Tag(0x0010, 0x0030), Tag(0x0010, 0x0040)]
            keys.removeAll { patientLevel.contains($0) }
        }
        for tag in uniqueKeys(level: level, model: model) where !keys.contains(tag) { keys.append(tag) }
        return keys
    }

    static func displayKeys(level: String) -> [Tag] {
        switch level {
        case "PATIENT":
            return [Tag(0x0010, 0x0010), Tag(0x0010, 0x0020), Tag(0x0010, 0x0030), Tag(0x0010, 0x0040),
                    Tag(0x0020, 0x1200)]
        case "SERIES":
            return [Tag(0x0020, 0x0011), Tag(0x0008, 0x0060), Tag(0x0008, 0x103E), Tag(0x0020, 0x1209),
                    Tag(0x0020, 0x000D), Tag(0x0020, 0x000E)]
        case "IMAGE":
            return [Tag(0x0020, 0x0013), Tag(0x0008, 0x0016), Tag(0x0020, 0x000D), Tag(0x0020, 0x000E),
                    Tag(0x0008, 0x0018)]
        default:
            return [Tag(0x0010, 0x0010), Tag(0x0010, 0x0020), Tag(0x0008, 0x0020), Tag(0x0008, 0x0061),
                    Tag(0x0008, 0x1030), Tag(0x0020, 0x1208), Tag(0x0020, 0x000D)]
        }
    }

    /// The find identifier: the query with the level's return keys added (empty) where absent,
    /// and the unique keys above the level that the model needs for its hierarchy kept as given.
    public static func findIdentifier(_ query: DataSet, model: QueryRetrieveModel) -> DataSet {
        var identifier = query
        let level = level(of: query) ?? "STUDY"
        if !identifier.contains(levelTag) { identifier.setString("STUDY", for: levelTag, vr: .CS) }
        // Values typed in the console are UTF-8: say so when any is not plain ASCII.
        if !identifier.contains(characterSetTag), identifier.elements.contains(where: { $0.bytes?.contains { $0 >= 0x80 } == true }) {
            identifier.setString("ISO_IR 192", for: characterSetTag, vr: .CS)
        }
        for tag in returnKeys(level: level, model: model) where !identifier.contains(tag) {
            if let entry = DataDictionary.active.entry(for: tag), let vr = entry.vrs.first {
                identifier.set(DataElement(tag: tag, vr: vr, bytes: []))
            }
        }
        return identifier
    }

    /// The move identifier for one find result: the level and the result's unique keys.
    /// Throws a message when the result lacks one of them.
    public static func moveIdentifier(for result: DataSet, level: String, model: QueryRetrieveModel) throws(ConsoleMessage) -> DataSet {
        var identifier = DataSet()
        identifier.setString(level, for: levelTag, vr: .CS)
        if let charset = result[characterSetTag] { identifier.set(charset) }
        for tag in uniqueKeys(level: level, model: model) {
            guard let element = result[tag], let value = result.string(tag), !value.isEmpty else {
                throw ConsoleMessage("the result has no \(name(tag)), which a move at \(level) level needs")
            }
            identifier.set(element)
        }
        return identifier
    }

    /// Removes the attribute at a row's path (a whole sequence, an item's attribute).
    public static func remove(path: String, from identifier: inout DataSet) throws(ConsoleMessage) {
        let key: KeyOverride
        do { key = try KeyOverride(parsing: path) } catch { throw ConsoleMessage("\(error)") }
        func remove(_ steps: ArraySlice<KeyOverride.Step>, in dataSet: inout DataSet) {
            guard let step = steps.first else { _ = dataSet.remove(key.tag); return }
            guard var items = dataSet[step.sequence]?.items, step.item < items.count else { return }
            remove(steps.dropFirst(), in: &items[step.item])
            dataSet.set(DataElement(tag: step.sequence, vr: .SQ, value: .sequence(items)))
        }
        remove(key.path[...], in: &identifier)
    }
}

/// A message for the operator, as an error a console step may throw.
public struct ConsoleMessage: Error, Equatable, Sendable, CustomStringConvertible {
    public var text: String
    public init(_ text: String) { self.text = text }
    public var description: String { text }
}

/// Saving the console's query as a file movescu (and DCMTK's) reads back.
public enum QueryFiles {
    /// `.dcm` or `.dicom`: a DICOM file (meta information naming the model's FIND class);
    /// anything else: dump text, one attribute a line.
    public static func save(_ identifier: DataSet, to path: String, model: QueryRetrieveModel) throws {
        let lower = path.lowercased()
        let bytes: [UInt8]
        if lower.hasSuffix(".dcm") || lower.hasSuffix(".dicom") {
            let meta = DICOMFile.makeMeta(sopClassUID: model.findSOPClass, sopInstanceUID: "", transferSyntax: .explicitVRLittleEndian)
            bytes = try DICOMFile(meta: meta, dataSet: identifier, transferSyntax: .explicitVRLittleEndian).encoded()
        } else {
            let text = "# movescu query (dump text): one attribute a line, (gggg,eeee) VR [value]\n"
                + DumpFormatter(maximumValueLength: nil).lines(identifier).joined(separator: "\n") + "\n"
            bytes = Array(text.utf8)
        }
        try AtomicFile.write(bytes, to: path)
    }
}
