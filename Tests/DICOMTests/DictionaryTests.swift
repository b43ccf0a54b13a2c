import Foundation
import Testing
@testable import DICOM

@Suite(.timeLimit(.minutes(10))) struct DictionaryTests {
    let dictionary = DataDictionary.standard

    @Test func keywordsAndTagsBothWays() throws {
        #expect(dictionary.entry(forKeyword: "PatientID")?.tag == Tag(0x0010, 0x0020))
        #expect(dictionary.keyword(for: Tag(0x0008, 0x0052)) == "QueryRetrieveLevel")
        let entry = try #require(dictionary.entry(for: Tag(0x0020, 0x000D)))
        #expect(entry.vrs == [.UI] && entry.vm == "1" && entry.name == "Study Instance UID")
        #expect(dictionary.entry(for: Tag(0x0008, 0x1110))?.implicitVR == .SQ)
        #expect(dictionary.entry(forKeyword: "NoSuchKeyword") == nil)
        #expect(dictionary.count > 5000)
    }

    @Test func everyEntryRoundTripsThroughItsKeyword() {
        var checked = 0
        for line in generatedStandardDictionary.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard !fields[0].contains("x"), let value = UInt32(fields[0], radix: 16) else { continue }
            let keyword = String(fields[3])
            #expect(dictionary.entry(forKeyword: keyword)?.tag == Tag(value), "\(keyword)")
            checked += 1
        }
        #expect(checked > 4900)
    }

    @Test func repeatingGroups() {
        #expect(dictionary.keyword(for: Tag(0x6000, 0x3000)) == "OverlayData")
        #expect(dictionary.keyword(for: Tag(0x6002, 0x0010)) == "OverlayRows")
        #expect(dictionary.keyword(for: Tag(0x601E, 0x0011)) == "OverlayColumns")
        #expect(dictionary.keyword(for: Tag(0x6001, 0x3000)) == nil, "odd groups are private, not overlays")
        #expect(dictionary.keyword(for: Tag(0x6001, 0x0010)) == "PrivateCreator")
        #expect(dictionary.keyword(for: Tag(0x5010, 0x0005)) == "CurveDimensions")
        #expect(dictionary.keyword(for: Tag(0x7F02, 0x0010)) == "VariablePixelData")
        #expect(dictionary.keyword(for: Tag(0x0020, 0x3105)) == "SourceImageIDs")
        #expect(dictionary.keyword(for: Tag(0x0028, 0x0410)) == "RowsForNthOrderCoefficients")
        #expect(dictionary.keyword(for: Tag(0x0028, 0x0411)) == "ColumnsForNthOrderCoefficients")
    }

    @Test func ambiguousVRsResolveAsDCMTKDoesForImplicitStreams() {
        #expect(dictionary.implicitVR(for: .pixelData) == .OW)
        #expect(dictionary.implicitVR(for: Tag(0x0028, 0x0106)) == .US)
        #expect(dictionary.implicitVR(for: Tag(0x0028, 0x3006)) == .OW)
    }

    @Test func privateTagsAreData() {
        #expect(dictionary.entry(for: Tag(0x0009, 0x0010))?.keyword == "PrivateCreator")
        #expect(dictionary.entry(for: Tag(0x0009, 0x1001)) == nil)
        #expect(dictionary.implicitVR(for: Tag(0x0009, 0x1001)) == .UN)
        #expect(Tag(0x0009, 0x1001).privateCreatorTag == Tag(0x0009, 0x0010))
        #expect(!Tag(0x0001, 0x0010).isPrivate && !Tag(0xFFFF, 0x0010).isPrivate)
    }

    @Test func dicomDicFilesLoadOverTheStandardDictionary() throws {
        let directory = try temporaryDirectory()
        let site = directory + "/site.dic"
        try """
        # a site dictionary
        (0009,"ACME 1.0",01)\tLO\tAcmeScannerMode\t1\tPrivateTag
        (0011-o-0013,0001)\tUS\tAcmeOddRange\t1\tPrivateTag
        (0010,0020)\tLO\tPatientIdentifierOverridden\t1\tDICOM

        (7776,0002-00ff)\tDS\tAcmeElementRange\t1-n\tDICOM/retired
        """.write(toFile: site, atomically: true, encoding: .utf8)
        let loaded = try DataDictionary.loadingEnvironment(["DCMDICTPATH": site])
        #expect(loaded.entry(for: Tag(0x0009, 0x1001), privateCreator: "ACME 1.0")?.keyword == "AcmeScannerMode")
        #expect(loaded.implicitVR(for: Tag(0x0009, 0x1001), privateCreator: "ACME 1.0") == .LO)
        #expect(loaded.entry(for: Tag(0x0009, 0x1001), privateCreator: "OTHER") == nil)
        #expect(loaded.keyword(for: Tag(0x0010, 0x0020)) == "PatientIdentifierOverridden")
        #expect(loaded.entry(forKeyword: "PatientIdentifierOverridden")?.tag == Tag(0x0010, 0x0020))
        #expect(loaded.entry(for: Tag(0x7776, 0x0042))?.vrs == [.DS])
        #expect(loaded.entry(for: Tag(0x7776, 0x0042))?.isRetired == true)
        #expect(loaded.entry(for: Tag(0x7776, 0x0043)) == nil, "element ranges are even unless -u-")
        #expect(loaded.keyword(for: Tag(0x0008, 0x0052)) == "QueryRetrieveLevel", "the standard entries stay")
    }

    @Test func dcmtksOwnDictionaryLoads() throws {
        // The dictionary Debian's dcmtk installs must load as it is.
        let candidates = ["/usr/share/libdcmtk17/dicom.dic", "/usr/share/libdcmtk16/dicom.dic", "/usr/share/dcmtk/dicom.dic"]
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw PeerMissing(program: "dcmtk's dicom.dic (apt-get install dcmtk)")
        }
        let private_ = path.replacingOccurrences(of: "dicom.dic", with: "private.dic")
        let loaded = try DataDictionary.loadingEnvironment(["DCMDICTPATH": "\(path):\(private_)"])
        #expect(loaded.entry(for: Tag(0x0019, 0x1002), privateCreator: "GEMS_ACQU_01") != nil)
        #expect(loaded.keyword(for: Tag(0x6000, 0x3000)) == "OverlayData")
    }

    @Test(arguments: [
        ("(0010,0020)\tLO\tPatientID", 1, "expected tag, VR, keyword and VM"),
        ("(0010,002)\tLO\tPatientID\t1\tDICOM", 1, "four hex digits"),
        ("# fine\n(0010,0020)\tZZ\tPatientID\t1\tDICOM", 2, "unknown VR 'ZZ'"),
        ("(0010,0020)\tLO\tPatient\u{7F}ID\t1\tDICOM", 1, "is not a name"),
        ("(0010,0020)\tLO\tPatientID\tone\tDICOM", 1, "value multiplicity"),
        ("0010,0020\tLO\tPatientID\t1\tDICOM", 1, "not in parentheses"),
        ("(6000-5000,0010)\tUS\tX\t1\tDICOM", 1, "is empty"),
    ])
    func malformedDictionariesNameFileAndLine(text: String, line: Int, message: String) throws {
        let directory = try temporaryDirectory()
        let path = directory + "/bad.dic"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try DataDictionary.loadingEnvironment(["DCMDICTPATH": path])
            Issue.record("a malformed dictionary loaded")
        } catch let error as DICOMError {
            guard case .dictionary(let file, let errorLine, let reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(file == path && errorLine == line)
            #expect(reason.contains(message), "\(reason)")
        }
    }

    @Test func missingDictionaryFileIsAnError() {
        #expect(throws: DICOMError.dictionary(file: "/nonexistent/x.dic", line: 0, reason: "cannot read the file")) {
            try DataDictionary.loadingEnvironment(["DCMDICTPATH": "/nonexistent/x.dic"])
        }
    }
}

@Suite(.timeLimit(.minutes(10))) struct UIDTableTests {
    @Test func storageSOPClassesWithDCMTKPrefixes() {
        #expect(UIDTable.storageSOPClasses.count >= 200)
        #expect(UIDTable.filePrefix(forSOPClass: "1.2.840.10008.5.1.4.1.1.2") == "CT")
        #expect(UIDTable.filePrefix(forSOPClass: "1.2.840.10008.5.1.4.1.1.4") == "MR")
        #expect(UIDTable.filePrefix(forSOPClass: "1.2.840.10008.5.1.4.1.1.128") == "PI")
        #expect(UIDTable.filePrefix(forSOPClass: "1.2.840.10008.5.1.4.1.1.2.1") == "CTe")
        #expect(UIDTable.filePrefix(forSOPClass: "1.2.840.10008.5.1.4.1.1.88.11") == "SRt")
        #expect(UIDTable.filePrefix(forSOPClass: "1.2.840.10008.5.1.4.1.1.11.1") == "PSg")
        #expect(UIDTable.filePrefix(forSOPClass: "1.2.3.4.5.6") == "OT")
        // Every class DCMTK 3.6.7 accepts is present and flagged.
        #expect(UIDTable.storageSOPClasses.filter(\.acceptedByDCMTK367).count == 186)
        #expect(UIDTable.storageSOPClasses.allSatisfy { $0.filePrefix != nil })
    }

    @Test func prefixesMatchDCMTKsTable() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Scripts/data/dcmtk-3.6.7-file-prefixes.tsv")
        let rows = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { $0.split(separator: "\t") }
        #expect(rows.count == 194)
        for row in rows {
            #expect(UIDTable.filePrefix(forSOPClass: String(row[0])) == String(row[2]), "\(row[1])")
        }
    }

    @Test func transferSyntaxes() throws {
        #expect(TransferSyntax(uid: "1.2.840.10008.1.2") == .implicitVRLittleEndian)
        #expect(TransferSyntax(uid: "1.2.840.10008.1.2.2\0") == .explicitVRBigEndian)
        let jpeg = try #require(TransferSyntax(uid: "1.2.840.10008.1.2.4.50"))
        #expect(jpeg.isEncapsulated && jpeg.isExplicitVR && !jpeg.isBigEndian && jpeg.isKnown)
        #expect(TransferSyntax(uid: "not a uid") == nil)
        for uid in TransferSyntax.dcmtkAcceptAll {
            #expect(UIDTable.entry(for: uid)?.kind == .transferSyntax, "\(uid)")
        }
    }

    @Test func queryRetrieveModels() {
        for model in QueryRetrieveModel.allCases {
            #expect(UIDTable.entry(for: model.moveSOPClass)?.kind == .queryRetrieveSOPClass)
            #expect(UIDTable.entry(for: model.findSOPClass)?.kind == .queryRetrieveSOPClass)
            #expect(UIDTable.entry(for: model.getSOPClass)?.kind == .queryRetrieveSOPClass)
        }
    }

    @Test func uidValidity() {
        #expect(isValidUID("1.2.840.10008.1.2"))
        #expect(!isValidUID("1.02.3") && !isValidUID("1..2") && !isValidUID("../../x") && !isValidUID("1.2/3"))
        #expect(!isValidUID("") && !isValidUID(String(repeating: "1", count: 65)) && !isValidUID("1.2."))
    }
}
