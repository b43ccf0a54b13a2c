import DICOM

/// The demo archive's contents: three patients, four studies (CT, CR, MR, secondary
/// capture), 52 small images drawn here, with UIDs under this implementation's own root so
/// that they are the same on every machine.
public enum DemoStudies {
    public static let uidRoot = Implementation.classUID + ".1"

    struct Series {
        var number: Int
        var description: String
        var modality: String
        var sopClass: String
        var images: Int
        var size: Int
    }

    struct Study {
        var patient: (id: String, name: String, birthDate: String, sex: String)
        var number: Int
        var date: String
        var time: String
        var accession: String
        var description: String
        var bodyPart: String
        var series: [Series]
    }

    static let ct = "1.2.840.10008.5.1.4.1.1.2"
    static let cr = "1.2.840.10008.5.1.4.1.1.1"
    static let mr = "1.2.840.10008.5.1.4.1.1.4"
    static let sc = "1.2.840.10008.5.1.4.1.1.7"

    static let studies: [Study] = {
        let anna = (id: "DEMO001", name: "DEMO^ANNA", birthDate: "19700312", sex: "F")
        let jorg = (id: "DEMO002", name: "MÜLLER^JÖRG", birthDate: "19581130", sex: "M")
        let bob = (id: "DEMO003", name: "DEMO^BOB", birthDate: "19890721", sex: "M")
        return [
            Study(patient: anna, number: 1, date: "20250114", time: "093012", accession: "DA1001", description: "CT CHEST",
                  bodyPart: "CHEST", series: [
                    Series(number: 1, description: "Scout", modality: "CT", sopClass: ct, images: 1, size: 128),
                    Series(number: 2, description: "Axial 5mm", modality: "CT", sopClass: ct, images: 24, size: 128),
                  ]),
            Study(patient: anna, number: 2, date: "20240602", time: "141500", accession: "DA1002", description: "CHEST PA",
                  bodyPart: "CHEST", series: [
                    Series(number: 1, description: "PA and lateral", modality: "CR", sopClass: cr, images: 2, size: 192),
                  ]),
            Study(patient: jorg, number: 3, date: "20251020", time: "080145", accession: "DA2001", description: "MR BRAIN",
                  bodyPart: "HEAD", series: [
                    Series(number: 1, description: "T1 axial", modality: "MR", sopClass: mr, images: 12, size: 96),
                    Series(number: 2, description: "T2 axial", modality: "MR", sopClass: mr, images: 12, size: 96),
                  ]),
            Study(patient: bob, number: 4, date: "20260301", time: "170000", accession: "DA3001", description: "REPORT SCREENSHOT",
                  bodyPart: "", series: [
                    Series(number: 1, description: "Screen capture", modality: "OT", sopClass: sc, images: 1, size: 128),
                  ]),
        ]
    }()

    /// The generated archive.
    public static func store() -> ArchiveStore {
        var store = ArchiveStore()
        for study in studies {
            for series in study.series {
                for index in 0..<series.images {
                    // Drawn from the fixed description above: cannot fail to encode.
                    store.add(try! ArchivedInstance(dataSet: object(study, series, index)))
                }
            }
        }
        return store
    }

    public static func studyUID(_ number: Int) -> String { "\(uidRoot).\(number)" }

    static func object(_ study: Study, _ series: Series, _ index: Int) -> DataSet {
        var d = DataSet()
        func text(_ tag: Tag, _ value: String, _ vr: VR) { d.setString(value, for: tag, vr: vr) }
        func us(_ tag: Tag, _ value: Int) {
            d.set(DataElement(tag: tag, vr: .US, bytes: [UInt8(value & 0xFF), UInt8(value >> 8)]))
        }
        let studyUID = studyUID(study.number)
        let seriesUID = "\(studyUID).\(series.number)"
        let instanceUID = "\(seriesUID).\(index + 1)"
        if study.patient.name.utf8.contains(where: { $0 >= 0x80 }) { text(.specificCharacterSet, "ISO_IR 192", .CS) }
        text(Tag(0x0008, 0x0008), index == 0 && series.description == "Scout" ? "ORIGINAL\\PRIMARY\\LOCALIZER" : "ORIGINAL\\PRIMARY\\AXIAL", .CS)
        text(.sopClassUID, series.sopClass, .UI)
        text(.sopInstanceUID, instanceUID, .UI)
        text(Tag(0x0008, 0x0020), study.date, .DA)
        text(Tag(0x0008, 0x0030), study.time, .TM)
        text(Tag(0x0008, 0x0050), study.accession, .SH)
        text(.modality, series.modality, .CS)
        if series.sopClass == sc { text(Tag(0x0008, 0x0064), "WSD", .CS) }
        text(Tag(0x0008, 0x0070), "swift-movescu demo", .LO)
        text(Tag(0x0008, 0x0090), "DEMO^REFERRER", .PN)
        text(Tag(0x0008, 0x1030), study.description, .LO)
        text(Tag(0x0008, 0x103E), series.description, .LO)
        text(.patientName, study.patient.name, .PN)
        text(.patientID, study.patient.id, .LO)
        text(Tag(0x0010, 0x0030), study.patient.birthDate, .DA)
        text(Tag(0x0010, 0x0040), study.patient.sex, .CS)
        if !study.bodyPart.isEmpty { text(Tag(0x0018, 0x0015), study.bodyPart, .CS) }
        text(.studyInstanceUID, studyUID, .UI)
        text(.seriesInstanceUID, seriesUID, .UI)
        text(Tag(0x0020, 0x0010), String(study.number), .SH)
        text(Tag(0x0020, 0x0011), String(series.number), .IS)
        text(Tag(0x0020, 0x0013), String(index + 1), .IS)
        us(Tag(0x0028, 0x0002), 1)
        text(Tag(0x0028, 0x0004), "MONOCHROME2", .CS)
        us(Tag(0x0028, 0x0010), series.size)
        us(Tag(0x0028, 0x0011), series.size)
        text(Tag(0x0028, 0x0030), "1\\1", .DS)
        us(Tag(0x0028, 0x0100), 16)
        us(Tag(0x0028, 0x0101), 12)
        us(Tag(0x0028, 0x0102), 11)
        us(Tag(0x0028, 0x0103), 0)
        text(Tag(0x0028, 0x1050), "1024", .DS)
        text(Tag(0x0028, 0x1051), "2048", .DS)
        if series.modality == "CT" {
            text(Tag(0x0028, 0x1052), "-1024", .DS)
            text(Tag(0x0028, 0x1053), "1", .DS)
        }
        d.set(DataElement(tag: .pixelData, vr: .OW, bytes: pixels(size: series.size, slice: index, of: series.images, modality: series.modality)))
        return d
    }

    /// A phantom: an ellipse of "tissue" with two darker lobes and a bright spot that moves
    /// through the slices; 12-bit values, little endian.
    static func pixels(size: Int, slice: Int, of slices: Int, modality: String) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size * size * 2)
        let c = Double(size) / 2
        let t = slices > 1 ? Double(slice) / Double(slices - 1) : 0.5
        for y in 0..<size {
            for x in 0..<size {
                let dx = (Double(x) - c) / c, dy = (Double(y) - c) / c
                var v = 0.0
                if dx * dx / 0.81 + dy * dy / 0.56 <= 1 { v = 1040 }
                let lobe = 0.28 + 0.08 * (1 - abs(2 * t - 1))
                if (dx + 0.38) * (dx + 0.38) + dy * dy * 0.7 <= lobe * lobe || (dx - 0.38) * (dx - 0.38) + dy * dy * 0.7 <= lobe * lobe {
                    v = modality == "CT" ? 200 : 600
                }
                let sx = -0.3 + 0.6 * t
                if (dx - sx) * (dx - sx) + (dy + 0.1) * (dy + 0.1) <= 0.01 { v = 2400 }
                v += Double((x * 7 + y * 13 + slice * 5) % 17)
                let value = min(4095, Int(v))
                out[(y * size + x) * 2] = UInt8(value & 0xFF)
                out[(y * size + x) * 2 + 1] = UInt8(value >> 8)
            }
        }
        return out
    }
}
