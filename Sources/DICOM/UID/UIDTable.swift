/// The UIDs the standard defines (PS3.6 Annex A), from the generated table.
public struct UIDEntry: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case transferSyntax = "ts"
        case storageSOPClass = "storage"
        case queryRetrieveSOPClass = "qr"
        case otherSOPClass = "sop"
        case other
    }

    public var uid: String
    public var kind: Kind
    public var keyword: String
    public var name: String
    /// For storage SOP classes, the file-name prefix DCMTK uses (CT, MR, PI, SRt ...).
    public var filePrefix: String?
    public var isRetired: Bool
    /// Accepted by DCMTK 3.6.7's storage SCP (its dcmAllStorageSOPClassUIDs).
    public var acceptedByDCMTK367: Bool
}

public enum UIDTable {
    /// Every UID of the generated table, in numeric order (read as bytes: split as Strings,
    /// the 500 lines cost 44 million instructions at every start of the program).
    public static let all: [UIDEntry] = {
        var entries: [UIDEntry] = []
        GeneratedTable.forEachRow(of: generatedUIDTable) { f in
            let text = GeneratedTable.text
            precondition(f.count == 6, "generated UID table line does not parse: \(f.map(text).joined(separator: "\t"))")
            entries.append(UIDEntry(
                uid: text(f[0]), kind: UIDEntry.Kind(rawValue: text(f[1])) ?? .other, keyword: text(f[2]), name: text(f[3]),
                filePrefix: f[4].isEmpty ? nil : text(f[4]), isRetired: f[5].contains(UInt8(ascii: "R")),
                acceptedByDCMTK367: f[5].contains(UInt8(ascii: "D"))))
        }
        return entries
    }()

    private static let byUID: [String: UIDEntry] = Dictionary(all.map { ($0.uid, $0) }, uniquingKeysWith: { a, _ in a })
    private static let byKeyword: [String: UIDEntry] = Dictionary(
        all.filter { !$0.keyword.isEmpty }.map { ($0.keyword, $0) }, uniquingKeysWith: { a, _ in a })

    public static func entry(for uid: String) -> UIDEntry? { byUID[uid] }
    public static func entry(forKeyword keyword: String) -> UIDEntry? { byKeyword[keyword] }

    /// Every storage SOP class of the current standard, and the retired ones DCMTK 3.6.7 accepts.
    public static let storageSOPClasses: [UIDEntry] = all.filter { $0.kind == .storageSOPClass }

    /// The prefix DCMTK gives a received file of this SOP class (`CT` in `CT.1.2.3`).
    /// SOP classes no table knows (private ones) get `OT`, the abbreviation DCMTK 3.6.7 logs
    /// for them; it names the file `(null).<uid>`, which helps no one.
    public static func filePrefix(forSOPClass uid: String) -> String {
        byUID[uid]?.filePrefix ?? "OT"
    }
}

// MARK: - Query/Retrieve information models

/// The Query/Retrieve information models (PS3.4 Annex C) and their SOP classes.
public enum QueryRetrieveModel: String, CaseIterable, Sendable {
    case patientRoot, studyRoot, patientStudyOnly

    public var findSOPClass: String {
        switch self {
        case .patientRoot: return "1.2.840.10008.5.1.4.1.2.1.1"
        case .studyRoot: return "1.2.840.10008.5.1.4.1.2.2.1"
        case .patientStudyOnly: return "1.2.840.10008.5.1.4.1.2.3.1"
        }
    }
    public var moveSOPClass: String {
        switch self {
        case .patientRoot: return "1.2.840.10008.5.1.4.1.2.1.2"
        case .studyRoot: return "1.2.840.10008.5.1.4.1.2.2.2"
        case .patientStudyOnly: return "1.2.840.10008.5.1.4.1.2.3.2"
        }
    }
    public var getSOPClass: String {
        switch self {
        case .patientRoot: return "1.2.840.10008.5.1.4.1.2.1.3"
        case .studyRoot: return "1.2.840.10008.5.1.4.1.2.2.3"
        case .patientStudyOnly: return "1.2.840.10008.5.1.4.1.2.3.3"
        }
    }
}

public enum WellKnownUID {
    public static let verification = "1.2.840.10008.1.1"
    public static let compositeInstanceRootRetrieveMove = "1.2.840.10008.5.1.4.1.2.4.2"
    public static let compositeInstanceRootRetrieveGet = "1.2.840.10008.5.1.4.1.2.4.3"
    public static let dicomApplicationContext = "1.2.840.10008.3.1.1.1"
}
