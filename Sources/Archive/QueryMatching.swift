import DICOM

/// Why an identifier cannot be answered; the text goes into the response's Error Comment.
public struct QueryError: Error, Sendable, CustomStringConvertible {
    public var status: UInt16
    public var description: String
}

/// C-FIND matching and C-MOVE selection over an `ArchiveStore` (PS3.4 C.2.2.2): single value,
/// universal (empty), wildcard (* and ?), UID list and range matching. Keys the archive does
/// not know match everything and come back empty.
public struct QueryMatcher: Sendable {
    public let store: ArchiveStore
    public let model: QueryRetrieveModel
    /// Returned as Retrieve AE Title (0008,0054) when asked for.
    public var retrieveAETitle = ""

    public init(store: ArchiveStore, model: QueryRetrieveModel) {
        self.store = store
        self.model = model
    }

    /// The level an identifier asks for, checked against the model.
    public func level(of identifier: DataSet) throws(QueryError) -> QueryLevel {
        let text = identifier.string(.queryRetrieveLevel) ?? ""
        guard let level = QueryLevel(rawValue: text) else {
            throw QueryError(status: 0xC000, description: text.isEmpty ? "the identifier has no Query/Retrieve Level (0008,0052)"
                                 : "unknown Query/Retrieve Level \"\(text)\"")
        }
        guard QueryLevel.levels(of: model).contains(level) else {
            throw QueryError(status: 0xA900, description: "the \(model.rawValue) model has no \(level.rawValue) level")
        }
        return level
    }

    /// The C-FIND answers: one identifier per matching entity of the level, with the keys
    /// asked for filled in.
    public func find(_ identifier: DataSet) throws(QueryError) -> [DataSet] {
        let level = try level(of: identifier)
        let keys = identifier.elements.filter { $0.tag != .queryRetrieveLevel && $0.tag != .specificCharacterSet && $0.tag.group != 0x0002 }
        var answers: [DataSet] = []
        // Keys of levels below the one asked for cannot be matched there (PS3.4 C.4.1.2.1):
        // they come back empty and select nothing.
        let matching = keys.filter { (QueryAttributes.all[$0.tag] ?? .patient) <= level }
        for entity in entities(at: level) where matches(identifier, keys: matching, entity: entity) {
            var answer = DataSet()
            answer.setString(level.rawValue, for: .queryRetrieveLevel, vr: .CS)
            var needsUTF8 = false
            for key in keys {
                if key.tag == QueryAttributes.retrieveAETitle {
                    answer.setString(retrieveAETitle, for: key.tag, vr: .AE)
                } else if let value = entity[key.tag], key.vr != .SQ {
                    answer.set(value)
                    if let bytes = value.bytes, bytes.contains(where: { $0 >= 0x80 }) { needsUTF8 = true }
                } else {
                    answer.set(DataElement(tag: key.tag, vr: key.vr, bytes: []))
                }
            }
            if needsUTF8 { answer.setString("ISO_IR 192", for: .specificCharacterSet, vr: .CS) }
            answers.append(answer)
        }
        return answers
    }

    /// The objects a C-MOVE identifier names: the level's unique key must be given.
    public func instancesToMove(_ identifier: DataSet) throws(QueryError) -> [ArchivedInstance] {
        let level = try level(of: identifier)
        guard let unique = identifier.string(level.uniqueKey), !unique.isEmpty else {
            throw QueryError(status: 0xA900, description: "a \(level.rawValue) level C-MOVE needs \(level.uniqueKey) (its unique key)")
        }
        // Unique keys of this level and above select; other keys are ignored, as PS3.4 C.4.2.2.1 says.
        let selecting = identifier.elements.filter { element in
            QueryLevel.allCases.contains { $0 <= level && $0.uniqueKey == element.tag }
        }
        return store.instances.filter { matches(identifier, keys: selecting, entity: $0.attributes) }
    }

    /// The entities of a level, each with the attributes of its level and those above, and
    /// the counts and modalities computed over what lies below.
    func entities(at level: QueryLevel) -> [DataSet] {
        var order: [String] = []
        var groups: [String: [ArchivedInstance]] = [:]
        for instance in store.instances {
            let key = instance.attributes.string(level.uniqueKey) ?? ""
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(instance)
        }
        return order.map { key in
            let members = groups[key]!
            var attributes = DataSet()
            for element in members[0].attributes.elements where (QueryAttributes.all[element.tag] ?? .image) <= level {
                attributes.set(element)
            }
            func distinct(_ tag: Tag) -> Int { Set(members.compactMap { $0.attributes.string(tag) }).count }
            switch level {
            case .patient:
                attributes.setString(String(distinct(.studyInstanceUID)), for: QueryAttributes.numberOfPatientRelatedStudies, vr: .IS)
                attributes.setString(String(distinct(.seriesInstanceUID)), for: QueryAttributes.numberOfPatientRelatedSeries, vr: .IS)
                attributes.setString(String(members.count), for: QueryAttributes.numberOfPatientRelatedInstances, vr: .IS)
            case .study:
                var modalities: [String] = []
                for m in members.compactMap({ $0.attributes.string(.modality) }) where !modalities.contains(m) { modalities.append(m) }
                attributes.setString(modalities.joined(separator: "\\"), for: QueryAttributes.modalitiesInStudy, vr: .CS)
                attributes.setString(String(distinct(.seriesInstanceUID)), for: QueryAttributes.numberOfStudyRelatedSeries, vr: .IS)
                attributes.setString(String(members.count), for: QueryAttributes.numberOfStudyRelatedInstances, vr: .IS)
            case .series:
                attributes.setString(String(members.count), for: QueryAttributes.numberOfSeriesRelatedInstances, vr: .IS)
            case .image:
                break
            }
            return attributes
        }
    }

    /// Every key with a value matches the entity's value (keys it lacks match anything).
    func matches(_ identifier: DataSet, keys: [DataElement], entity: DataSet) -> Bool {
        for key in keys where key.vr != .SQ && key.tag != QueryAttributes.retrieveAETitle {
            guard let wanted = identifier.strings(key.tag), !wanted.allSatisfy({ $0.isEmpty }) else { continue }
            guard QueryAttributes.all[key.tag] != nil || entity.contains(key.tag) else { continue }
            let values = entity.strings(key.tag) ?? [""]
            // A UID list is matched whole; other multi-valued keys match when any of their
            // values matches any of the entity's (Modalities in Study = CT\\MR).
            let alternatives = key.vr == .UI ? [wanted.joined(separator: "\\")] : wanted.filter { !$0.isEmpty }
            if !values.contains(where: { value in alternatives.contains { Self.match($0, value: value, vr: key.vr) } }) { return false }
        }
        return true
    }

    /// One key against one value.
    static func match(_ key: String, value: String, vr: VR) -> Bool {
        switch vr {
        case .UI:
            return key.split(separator: "\\").contains { $0.trimming(" \0") == value }
        case .DA, .TM, .DT:
            guard key.contains("-") else { return key.trimming(" ") == value.trimming(" ") }
            let parts = key.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimming(" ") }
            let value = value.replacingAll(":", with: "")
            let low = parts[0].replacingAll(":", with: ""), high = parts[1].replacingAll(":", with: "")
            if value.isEmpty { return false }
            return (low.isEmpty || value >= low) && (high.isEmpty || value <= high || value.hasPrefix(high))
        default:
            // Person names match without regard to case, as most archives do.
            let fold = vr == .PN
            let k = fold ? key.uppercased() : key
            let v = fold ? value.uppercased() : value
            if k.contains("*") || k.contains("?") { return wildcard(Array(k), Array(v)) }
            return k.trimming(" ") == v.trimming(" ")
        }
    }

    /// `*` any run of characters, `?` exactly one.
    static func wildcard(_ pattern: [Character], _ text: [Character]) -> Bool {
        var p = 0, t = 0, star = -1, mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1; t += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p; mark = t; p += 1
            } else if star >= 0 {
                p = star + 1; mark += 1; t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}

extension StringProtocol {
    func trimming(_ set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }

    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}
