import DICOM

/// One object the archive holds: the attributes it is found by, and the whole data set as
/// sent (explicit VR little endian, re-encoded when a peer accepts only implicit VR).
public struct ArchivedInstance: Sendable {
    /// Patient, study, series and instance attributes, as text (UTF-8).
    public var attributes: DataSet
    public var dataSet: [UInt8]

    public var sopClassUID: String { attributes.string(.sopClassUID) ?? "" }
    public var sopInstanceUID: String { attributes.string(.sopInstanceUID) ?? "" }

    /// Takes the query attributes from the object itself.
    public init(dataSet object: DataSet) throws {
        var attributes = DataSet()
        for tag in QueryAttributes.all.keys {
            if let element = object[tag] { attributes.set(element) }
        }
        // Stored as UTF-8 text whatever the object's character set was.
        for element in attributes.elements where element.vr.usesSpecificCharacterSet {
            if let text = object.strings(element.tag)?.joined(separator: "\\") {
                attributes.setString(text, for: element.tag, vr: element.vr)
            }
        }
        self.attributes = attributes
        self.dataSet = try DataSetWriter(transferSyntax: .explicitVRLittleEndian).encode(object)
    }
}

/// The levels of the query/retrieve information models (PS3.4 C.3).
public enum QueryLevel: String, CaseIterable, Sendable, Comparable {
    case patient = "PATIENT", study = "STUDY", series = "SERIES", image = "IMAGE"

    /// The key that identifies an entity of this level.
    public var uniqueKey: Tag {
        switch self {
        case .patient: return .patientID
        case .study: return .studyInstanceUID
        case .series: return .seriesInstanceUID
        case .image: return .sopInstanceUID
        }
    }

    var rank: Int { QueryLevel.allCases.firstIndex(of: self)! }
    public static func < (a: QueryLevel, b: QueryLevel) -> Bool { a.rank < b.rank }

    /// The levels a model has.
    public static func levels(of model: QueryRetrieveModel) -> [QueryLevel] {
        switch model {
        case .patientRoot: return [.patient, .study, .series, .image]
        case .studyRoot: return [.study, .series, .image]
        case .patientStudyOnly: return [.patient, .study]
        }
    }
}

/// The attributes the archive matches and returns, with the level each belongs to.
enum QueryAttributes {
    static let all: [Tag: QueryLevel] = [
        Tag(0x0010, 0x0010): .patient, Tag(0x0010, 0x0020): .patient, Tag(0x0010, 0x0030): .patient,
        Tag(0x0010, 0x0040): .patient,
        Tag(0x0020, 0x000D): .study, Tag(0x0008, 0x0020): .study, Tag(0x0008, 0x0030): .study,
        Tag(0x0008, 0x0050): .study, Tag(0x0020, 0x0010): .study, Tag(0x0008, 0x1030): .study,
        Tag(0x0008, 0x0090): .study,
        Tag(0x0020, 0x000E): .series, Tag(0x0008, 0x0060): .series, Tag(0x0020, 0x0011): .series,
        Tag(0x0008, 0x103E): .series, Tag(0x0018, 0x0015): .series,
        Tag(0x0008, 0x0018): .image, Tag(0x0008, 0x0016): .image, Tag(0x0020, 0x0013): .image,
    ]
    static let numberOfPatientRelatedStudies = Tag(0x0020, 0x1200)
    static let numberOfPatientRelatedSeries = Tag(0x0020, 0x1202)
    static let numberOfPatientRelatedInstances = Tag(0x0020, 0x1204)
    static let numberOfStudyRelatedSeries = Tag(0x0020, 0x1206)
    static let numberOfStudyRelatedInstances = Tag(0x0020, 0x1208)
    static let numberOfSeriesRelatedInstances = Tag(0x0020, 0x1209)
    static let modalitiesInStudy = Tag(0x0008, 0x0061)
    static let retrieveAETitle = Tag(0x0008, 0x0054)
}

/// The objects an archive serves, in the order they were added.
public struct ArchiveStore: Sendable {
    public private(set) var instances: [ArchivedInstance] = []

    public init(_ instances: [ArchivedInstance] = []) { self.instances = instances }

    public mutating func add(_ instance: ArchivedInstance) { instances.append(instance) }

    /// The distinct Study Instance UIDs, in order of first appearance.
    public var studyInstanceUIDs: [String] {
        var seen = Set<String>()
        return instances.compactMap { $0.attributes.string(.studyInstanceUID) }.filter { seen.insert($0).inserted }
    }
}
