import Foundation
import Retrieve
import Testing
import TestPeers

/// A generated corpus (Scripts/make-corpus.py: CT with UTF-8 names, private tags and nested
/// sequences, big endian and implicit VR MR, SR, RT plan, a multi-frame object of a few
/// hundred MB) served by DCMTK's dcmqrscp and by pynetdicom's qrscp, retrieved by our
/// movescu at every level and model, to ourselves and to a third party (DCMTK's storescp).
/// Every received file is compared with its original element by element.
extension CorpusEntry {
    /// The name our movescu (and DCMTK's) gives the object.
    var receivedName: String { ObjectNaming.fileName(sopClassUID: sopClassUID, sopInstanceUID: sopInstanceUID) ?? "?" }
}

@Suite(.serialized, .timeLimit(.minutes(10))) struct CorpusRetrieveTests {
    typealias Entry = CorpusEntry
    typealias DCMTKArchive = CorpusArchive

    static var ours: String { MovescuSideBySideTests.ours }

    static func makeCorpus(_ folder: String, _ options: [String] = []) async throws -> [Entry] {
        try await CorpusEntry.make(folder, options)
    }

    static func freshFolder(_ name: String) throws -> String {
        let folder = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Every file in `folder` named as expected and equal to its original, element by element.
    static func expectReceived(_ expected: [Entry], in folder: String, originals: String, _ context: String) async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files == expected.map(\.receivedName).sorted(), "\(context): files")
        for entry in expected where files.contains(entry.receivedName) {
            let received = try await dataSetLines(folder + "/" + entry.receivedName)
            let original = try await dataSetLines(originals + "/" + entry.file)
            #expect(!received.isEmpty && received == original,
                    "\(context): \(entry.file): only received: \(received.filter { !original.contains($0) }.prefix(5)), only original: \(original.filter { !received.contains($0) }.prefix(5))")
        }
    }

    @Test func everyLevelAndModelFromDCMTK() async throws {
        let port = try freePort()
        let archive = try await DCMTKArchive(destinations: [("OURS", port)])
        defer { archive.stop() }
        let all = archive.entries
        let ct = all.filter { $0.file.hasPrefix("ct") }
        let bigEndian = all.first { $0.file == "MR_small_bigendian.dcm" }!
        let sr = all.first { $0.file == "test-SR.dcm" }!
        let patient = ["-k", "PatientID=CORPUS1"]
        let study = ["-k", "StudyInstanceUID=\(bigEndian.studyInstanceUID)"]
        let cases: [(model: String, level: String, keys: [String], expected: [Entry])] = [
            ("-P", "PATIENT", patient, all),
            ("-P", "STUDY", patient + study, all),
            ("-P", "SERIES", patient + study + ["-k", "SeriesInstanceUID=\(ct[0].seriesInstanceUID)"], ct),
            ("-P", "IMAGE", patient + study + ["-k", "SeriesInstanceUID=\(bigEndian.seriesInstanceUID)",
                                                "-k", "SOPInstanceUID=\(bigEndian.sopInstanceUID)"], [bigEndian]),
            ("-S", "STUDY", study, all),
            ("-S", "SERIES", study + ["-k", "SeriesInstanceUID=\(sr.seriesInstanceUID)"], [sr]),
            ("-S", "IMAGE", study + ["-k", "SeriesInstanceUID=\(ct[0].seriesInstanceUID)", "-k", "SOPInstanceUID=\(ct[1].sopInstanceUID)"], [ct[1]]),
            ("-O", "PATIENT", patient, all),
            ("-O", "STUDY", patient + study, all),
        ]
        for (index, c) in cases.enumerated() {
            let od = try Self.freshFolder("received")
            defer { try? FileManager.default.removeItem(atPath: od) }
            let run = try await runProgram(Self.ours, ["-v", "-aet", "OURS", "-aem", "OURS", "-aec", "ARCHIVE", "+P", String(port), "-od", od, c.model,
                                                       "-k", "QueryRetrieveLevel=\(c.level)"] + c.keys + ["localhost", String(archive.peer.port)])
            let context = "\(c.model) \(c.level)"
            #expect(run.status == 0, "\(context): \(run.output)")
            #expect(run.output.contains("Retrieved \(c.expected.count) object(s)"), "\(context): \(run.output)")
            // The whole content once (the first, widest case); names for the rest.
            if index == 0 {
                try await Self.expectReceived(c.expected, in: od, originals: archive.folder + "/db", context)
            } else {
                let files = try FileManager.default.contentsOfDirectory(atPath: od).sorted()
                #expect(files == c.expected.map(\.receivedName).sorted(), "\(context)")
            }
        }
    }

    /// A third-party move: our movescu runs no storage SCP (no +P), DCMTK's storescp receives.
    @Test func thirdPartyMoveToStorescp() async throws {
        let received = try Self.freshFolder("storescp")
        defer { try? FileManager.default.removeItem(atPath: received) }
        let storescp = try await PeerProcess.start("/usr/bin/storescp", ["-aet", "STORESCP", "-od", received, "{port}"])
        defer { storescp.stop() }
        let archive = try await DCMTKArchive(destinations: [("STORESCP", storescp.port)])
        defer { archive.stop() }
        let run = try await runProgram(Self.ours, ["-v", "-aet", "OURS", "-aec", "ARCHIVE", "-aem", "STORESCP", "-S",
                                                   "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(archive.entries[0].studyInstanceUID)",
                                                   "localhost", String(archive.peer.port)])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("completed \(archive.entries.count), failed 0"), "\(run.output)")
        // storescp names files by modality and UID; compare by SOP Instance UID.
        let files = try FileManager.default.contentsOfDirectory(atPath: received)
        #expect(files.count == archive.entries.count, "\(files)")
        for entry in archive.entries {
            guard let name = files.first(where: { $0.hasSuffix("." + entry.sopInstanceUID) || $0.hasSuffix(entry.sopInstanceUID + ".dcm") }) else {
                Issue.record("storescp has no file for \(entry.file) (\(files))")
                continue
            }
            let a = try await dataSetLines(received + "/" + name), b = try await dataSetLines(archive.folder + "/db/" + entry.file)
            #expect(!a.isEmpty && a == b, "\(entry.file)")
        }
    }

    /// pynetdicom's qrscp (its own database, filled through C-STORE by DCMTK's storescu) as
    /// the archive: every level of the models it has, content compared.
    @Test func retrieveFromPynetdicomQRSCP() async throws {
        let port = try freePort()
        let folder = try Self.freshFolder("qrscp")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let entries = try await Self.makeCorpus(folder + "/corpus")
        try """
        [DEFAULT]
            ae_title: QRSCP
            port: 11112
            max_pdu: 16382
            acse_timeout: 30
            dimse_timeout: 30
            network_timeout: 30
            bind_address: 127.0.0.1
            instance_location: \(folder)/instances
            database_location: \(folder)/instances.sqlite
            log_identifier: False

        [OURS]
            address: 127.0.0.1
            port: \(port)
        """.write(toFile: folder + "/qrscp.ini", atomically: true, encoding: .utf8)
        let qrscp = try await PeerProcess.start(try pythonPath(), ["-m", "pynetdicom", "qrscp", "-q", "-c", folder + "/qrscp.ini", "--port", "{port}"], directory: folder)
        defer { qrscp.stop() }
        let stored = try await runProgram("/usr/bin/storescu", ["-aec", "QRSCP", "localhost", String(qrscp.port)] + entries.map { folder + "/corpus/" + $0.file })
        #expect(stored.status == 0, "storescu into qrscp: \(stored.output)")
        let study = ["-k", "StudyInstanceUID=\(entries[0].studyInstanceUID)"], patient = ["-k", "PatientID=CORPUS1"]
        let ct = entries.filter { $0.file.hasPrefix("ct") }
        let implicitMR = entries.first { $0.file == "MR_small_implicit.dcm" }!
        let cases: [(model: String, level: String, keys: [String], expected: [Entry])] = [
            ("-S", "STUDY", study, entries),
            ("-P", "PATIENT", patient, entries),
            ("-P", "SERIES", patient + study + ["-k", "SeriesInstanceUID=\(ct[0].seriesInstanceUID)"], ct),
            ("-S", "IMAGE", study + ["-k", "SeriesInstanceUID=\(implicitMR.seriesInstanceUID)", "-k", "SOPInstanceUID=\(implicitMR.sopInstanceUID)"], [implicitMR]),
        ]
        for (index, c) in cases.enumerated() {
            let od = try Self.freshFolder("received")
            defer { try? FileManager.default.removeItem(atPath: od) }
            let run = try await runProgram(Self.ours, ["-v", "-aet", "OURS", "-aem", "OURS", "-aec", "QRSCP", "+P", String(port), "-od", od, c.model,
                                                       "-k", "QueryRetrieveLevel=\(c.level)"] + c.keys + ["localhost", String(qrscp.port)])
            let context = "pynetdicom qrscp \(c.model) \(c.level)"
            #expect(run.status == 0, "\(context): \(run.output)")
            #expect(run.output.contains("Retrieved \(c.expected.count) object(s)"), "\(context): \(run.output)")
            if index < 2 {
                try await Self.expectReceived(c.expected, in: od, originals: folder + "/corpus", context)
            } else {
                let files = try FileManager.default.contentsOfDirectory(atPath: od).sorted()
                #expect(files == c.expected.map(\.receivedName).sorted(), "\(context)")
            }
        }
        // qrscp has no Patient/Study Only model: no presentation context, 66 for both tools.
        for program in [Self.ours, "/usr/bin/movescu"] {
            let run = try await runProgram(program, ["-aec", "QRSCP", "-O", "-k", "QueryRetrieveLevel=STUDY"] + patient + study + ["localhost", String(qrscp.port)])
            #expect(run.status == 66, "\(program) -O: \(run.output)")
        }
    }

    /// A multi-frame object of 256 MB passes through in bounded memory: our movescu's peak
    /// resident set (from the kernel, via getrusage of the child) stays far below the object.
    @Test func aLargeMultiFrameObjectInBoundedMemory() async throws {
        let port = try freePort()
        let archive = try await DCMTKArchive(corpus: ["--no-mixed", "--multiframe-mb", "256"], destinations: [("OURS", port)])
        defer { archive.stop() }
        let od = try Self.freshFolder("received")
        defer { try? FileManager.default.removeItem(atPath: od) }
        let entry = archive.entries[0]
        #expect(entry.bytes > 256 << 20)
        // Python runs movescu and reports the child's peak RSS in KiB.
        let wrapper = """
        import resource, subprocess, sys
        r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        sys.stdout.write(r.stdout.decode(errors="replace"))
        print("MAXRSS_KIB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        sys.exit(r.returncode)
        """
        let run = try await runProgram(try pythonPath(), ["-c", wrapper, Self.ours, "-aet", "OURS", "-aem", "OURS", "-aec", "ARCHIVE", "+P", String(port), "-od", od, "-S",
                                                          "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(entry.studyInstanceUID)",
                                                          "localhost", String(archive.peer.port)])
        #expect(run.status == 0, "\(run.output)")
        let kib = run.output.split(separator: "\n").first { $0.hasPrefix("MAXRSS_KIB") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? Int.max
        #expect(kib < 64 << 10, "peak RSS \(kib / 1024) MiB for a \(entry.bytes >> 20) MiB object")
        // Same elements, same pixel bytes (pydicom compares every element, pixel data included).
        let compare = """
        import sys, pydicom
        a, b = pydicom.dcmread(sys.argv[1]), pydicom.dcmread(sys.argv[2])
        sys.exit(0 if a == b and a.PixelData == b.PixelData else 1)
        """
        let same = try await runProgram(try pythonPath(), ["-c", compare, od + "/" + entry.receivedName, archive.folder + "/db/" + entry.file])
        #expect(same.status == 0, "the received multi-frame object differs from its original: \(same.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: od) == [entry.receivedName], "nothing else is left in -od")
    }
}
