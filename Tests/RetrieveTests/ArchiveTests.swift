@testable import Archive
import DICOM
import DICOMNetwork
import Foundation
import Testing
import TestPeers

/// The demo archive: its matching rules on their own, then DCMTK's findscu and movescu and
/// pynetdicom's movescu against it (foreign requestors and storage SCPs), then
/// `movescu --demo` end to end.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ArchiveTests {
    static let store = DemoStudies.store()

    func identifier(_ keys: [(DICOM.Tag, String, VR)]) -> DataSet {
        var d = DataSet()
        for (tag, value, vr) in keys { d.setString(value, for: tag, vr: vr) }
        return d
    }

    // MARK: Matching

    @Test func wildcardsRangesListsAndCase() {
        #expect(QueryMatcher.wildcard(Array("DEMO*"), Array("DEMO^ANNA")))
        #expect(QueryMatcher.wildcard(Array("*^A?NA"), Array("DEMO^ANNA")))
        #expect(!QueryMatcher.wildcard(Array("DEMO?"), Array("DEMO^ANNA")))
        #expect(QueryMatcher.wildcard(Array("*"), Array("")))
        #expect(QueryMatcher.match("demo^anna", value: "DEMO^ANNA", vr: .PN), "person names ignore case")
        #expect(!QueryMatcher.match("demo001", value: "DEMO001", vr: .LO), "other text does not")
        #expect(QueryMatcher.match("20250101-20251231", value: "20250114", vr: .DA))
        #expect(QueryMatcher.match("-20241231", value: "20240602", vr: .DA))
        #expect(!QueryMatcher.match("20250101-", value: "20240602", vr: .DA))
        #expect(QueryMatcher.match("1.2\\1.3", value: "1.3", vr: .UI))
        #expect(!QueryMatcher.match("1.2\\1.3", value: "1.2.3", vr: .UI), "UIDs match whole")
    }

    @Test func findAtEachLevelWithCountsAndCharacterSet() throws {
        let matcher = QueryMatcher(store: Self.store, model: .studyRoot)
        let studies = try matcher.find(identifier([(.queryRetrieveLevel, "STUDY", .CS), (.patientName, "", .PN),
                                                   (.studyInstanceUID, "", .UI), (DICOM.Tag(0x0020, 0x1208), "", .IS),
                                                   (DICOM.Tag(0x0008, 0x0061), "", .CS)]))
        #expect(studies.count == 4)
        #expect(studies.map { $0.string(DICOM.Tag(0x0020, 0x1208)) } == ["25", "2", "24", "1"])
        #expect(studies[2].string(.patientName) == "MÜLLER^JÖRG")
        #expect(studies[2].string(.specificCharacterSet) == "ISO_IR 192", "a UTF-8 answer declares it")
        #expect(studies[0].string(.specificCharacterSet) == nil)
        #expect(studies[0].strings(DICOM.Tag(0x0008, 0x0061)) == ["CT"])
        let anna = try matcher.find(identifier([(.queryRetrieveLevel, "STUDY", .CS), (.patientName, "*anna", .PN),
                                                (DICOM.Tag(0x0008, 0x0020), "20250101-", .DA)]))
        #expect(anna.count == 1 && anna[0].string(DICOM.Tag(0x0008, 0x0020)) == "20250114")
        // Multi-valued keys match when any value does; a key of a lower level is not
        // matched at study level, only returned empty.
        let ctOrMR = try matcher.find(identifier([(.queryRetrieveLevel, "STUDY", .CS), (DICOM.Tag(0x0008, 0x0061), "CT\\MR", .CS)]))
        #expect(ctOrMR.count == 2, "\(ctOrMR.count)")
        let withSeriesKey = try matcher.find(identifier([(.queryRetrieveLevel, "STUDY", .CS), (.modality, "CT", .CS)]))
        #expect(withSeriesKey.count == 4 && withSeriesKey.allSatisfy { $0.string(.modality) == "" || $0[.modality]?.valueLength == 0 })
        let series = try matcher.find(identifier([(.queryRetrieveLevel, "SERIES", .CS), (.studyInstanceUID, DemoStudies.studyUID(3), .UI),
                                                  (DICOM.Tag(0x0020, 0x1209), "", .IS), (DICOM.Tag(0x0008, 0x103E), "", .LO)]))
        #expect(series.map { $0.string(DICOM.Tag(0x0008, 0x103E)) } == ["T1 axial", "T2 axial"])
        #expect(series.map { $0.string(DICOM.Tag(0x0020, 0x1209)) } == ["12", "12"])
        let patients = try QueryMatcher(store: Self.store, model: .patientRoot)
            .find(identifier([(.queryRetrieveLevel, "PATIENT", .CS), (.patientID, "", .LO), (DICOM.Tag(0x0020, 0x1200), "", .IS)]))
        #expect(patients.map { $0.string(.patientID) } == ["DEMO001", "DEMO002", "DEMO003"])
        #expect(patients[0].string(DICOM.Tag(0x0020, 0x1200)) == "2")
    }

    @Test func refusalsSayWhy() {
        let studyRoot = QueryMatcher(store: Self.store, model: .studyRoot)
        #expect(throws: QueryError.self) { try studyRoot.find(identifier([(.queryRetrieveLevel, "PATIENT", .CS)])) }
        #expect(throws: QueryError.self) { try studyRoot.find(identifier([(.patientName, "", .PN)])) }
        #expect(throws: QueryError.self) {
            try QueryMatcher(store: Self.store, model: .patientStudyOnly).find(identifier([(.queryRetrieveLevel, "SERIES", .CS)]))
        }
        do {
            _ = try studyRoot.instancesToMove(identifier([(.queryRetrieveLevel, "STUDY", .CS)]))
            Issue.record("a move without its unique key was accepted")
        } catch {
            #expect(error.status == 0xA900 && error.description.contains("unique key"), "\(error)")
        }
        #expect((try? studyRoot.instancesToMove(identifier([(.queryRetrieveLevel, "SERIES", .CS),
                                                            (.seriesInstanceUID, DemoStudies.studyUID(1) + ".2", .UI)])))?.count == 24)
    }

    // MARK: Foreign requestors

    @Test func dcmtkFindscuListsTheDemoStudies() async throws {
        let archive = try await QueryRetrieveArchive.start(store: Self.store)
        defer { Task { await archive.stop() } }
        let folder = NSTemporaryDirectory() + "findscu-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try await runProgram("/usr/bin/findscu", [
            "-S", "-aec", "DEMO", "-X", "-od", folder, "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientName=DEMO*",
            "-k", "StudyInstanceUID", "-k", "StudyDescription", "-k", "NumberOfStudyRelatedInstances", "localhost", String(archive.port)])
        #expect(result.status == 0, "\(result.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files.count == 3, "\(files) \(result.output)")
        let answers = try files.map { try DICOMFile.read(path: folder + "/" + $0).dataSet }
        #expect(answers.map { $0.string(DICOM.Tag(0x0008, 0x1030)) } == ["CT CHEST", "CHEST PA", "REPORT SCREENSHOT"])
        #expect(answers.map { $0.string(DICOM.Tag(0x0020, 0x1208)) } == ["25", "2", "1"])
        // A bad level is a failure response with its reason, not a dropped association.
        let bad = try await runProgram("/usr/bin/findscu", ["-v", "-S", "-aec", "DEMO", "-k", "QueryRetrieveLevel=WARD", "localhost", String(archive.port)])
        #expect(bad.output.contains("Received Final Find Response (Failed: UnableToProcess)"), "\(bad.output)")
    }

    @Test func dcmtkEchoscuIsAnswered() async throws {
        let archive = try await QueryRetrieveArchive.start(store: Self.store)
        defer { Task { await archive.stop() } }
        let result = try await runProgram("/usr/bin/echoscu", ["-v", "-aec", "DEMO", "localhost", String(archive.port)])
        #expect(result.status == 0 && result.output.contains("Received Echo Response (Success)"), "\(result.output)")
    }

    @Test func dcmtkMovescuReceivesTheDemoStudyIntact() async throws {
        let archive = try await QueryRetrieveArchive.start(store: Self.store)
        defer { Task { await archive.stop() } }
        let port = try freePort()
        archive.route("THEIRS", to: ArchiveDestination(host: "127.0.0.1", port: port))
        let folder = NSTemporaryDirectory() + "dcmtk-move-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try await runProgram("/usr/bin/movescu", [
            "-v", "-S", "-aet", "THEIRS", "-aem", "THEIRS", "-aec", "DEMO", "+P", String(port), "-od", folder,
            "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(DemoStudies.studyUID(3))", "localhost", String(archive.port)])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("I: Received Final Move Response (Success)"), "\(result.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files.count == 24 && files.allSatisfy { $0.hasPrefix("MR.") }, "\(files)")
        // dcmdump's reading of what DCMTK stored equals its reading of the object we hold.
        let mine = folder + "/expected.dcm"
        for instance in Self.store.instances where instance.attributes.string(.studyInstanceUID) == DemoStudies.studyUID(3) {
            let object = try DataSetReader.read(instance.dataSet, transferSyntax: .explicitVRLittleEndian)
            try DICOMFile(dataSet: object, transferSyntax: .explicitVRLittleEndian).write(to: mine)
            #expect(try await dataSetLines(folder + "/MR." + instance.sopInstanceUID) == (try await dataSetLines(mine)), "\(instance.sopInstanceUID)")
        }
    }

    @Test func pynetdicomMovescuReceivesAStudy() async throws {
        let archive = try await QueryRetrieveArchive.start(store: Self.store)
        defer { Task { await archive.stop() } }
        let port = try freePort()
        archive.route("PYNETDICOM", to: ArchiveDestination(host: "127.0.0.1", port: port))
        let folder = NSTemporaryDirectory() + "pynetdicom-move-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try await runProgram("/usr/bin/env", [
            "python3", "-m", "pynetdicom", "movescu", "localhost", String(archive.port), "-S", "-aet", "PYNETDICOM", "-aem", "PYNETDICOM", "-aec", "DEMO",
            "--store", "--store-port", String(port), "--store-aet", "PYNETDICOM", "-od", folder,
            "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(DemoStudies.studyUID(2))"])
        #expect(result.status == 0, "\(result.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files.count == 2, "\(files) \(result.output)")
        for file in files {
            let object = try DICOMFile.read(path: folder + "/" + file).dataSet
            #expect(object.string(.modality) == "CR" && object.string(.patientID) == "DEMO001")
        }
    }

    // MARK: movescu --demo

    @Test func batchDemoRetrievesEveryDemoStudyIntoItsOwnFolder() async throws {
        let folder = NSTemporaryDirectory() + "demo-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: MovescuSideBySideTests.ours)
        process.arguments = ["--batch", "--demo"]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let reader = pipe.fileHandleForReading
        let output = await offPool { () -> String in
            let text = String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return text
        }
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("Retrieved 52 object(s)") && output.contains("movescu-demo"), "\(output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder + "/movescu-demo")
        #expect(files.count == 52)
        #expect(Set(files.map { $0.prefix(3) }) == ["CT.", "CR.", "MR.", "SC."])
        let dump = try await runProgram("/usr/bin/dcmdump", ["-q", folder + "/movescu-demo/" + files.sorted()[0]])
        #expect(dump.status == 0, "\(dump.output)")

        // Keys narrow it, as against any archive; DCMTK's log lines with -v.
        let narrowed = try await runProgram(MovescuSideBySideTests.ours, [
            "--batch", "--demo", "-v", "-od", folder, "-k", "QueryRetrieveLevel=SERIES",
            "-k", "SeriesInstanceUID=\(DemoStudies.studyUID(1)).1"])
        #expect(narrowed.status == 0, "\(narrowed.output)")
        #expect(narrowed.output.contains("I: Received Final Move Response (Success)"), "\(narrowed.output)")
        #expect(narrowed.output.contains("Retrieved 1 object(s)"), "\(narrowed.output)")
    }
}
