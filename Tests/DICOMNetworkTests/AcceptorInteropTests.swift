import DICOM
import Foundation
import NIOCore
import Testing
@testable import DICOMNetwork

/// pydicom's test files with distinct SOP instance UIDs, in a spread of syntaxes: explicit
/// and implicit little endian, big endian, deflated, JPEG baseline/extended/lossless,
/// JPEG 2000, RLE-free multi-frame, SR, RT, waveform.
let mixedStorageFiles = [
    "CT_small.dcm", "ExplVR_BigEnd.dcm", "GDCMJ2K_TextGBR.dcm", "JPEG-lossy.dcm", "MR_small.dcm",
    "SC_rgb_jpeg_gdcm.dcm", "SC_rgb_small_odd.dcm", "examples_palette.dcm", "image_dfl.dcm",
    "liver_1frame.dcm", "reportsi.dcm", "test-SR.dcm", "rtplan.dcm", "waveform_ecg.dcm", "rtdose.dcm",
    "examples_ybr_color.dcm",
]

/// A folder holding copies of `mixedStorageFiles`.
func mixedStorageFolder() async throws -> String {
    let result = try await runProgram(try pythonPath(), ["-c", "import pydicom, os; print(os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files'))"])
    let source = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    guard result.status == 0, FileManager.default.fileExists(atPath: source) else { throw TestPeerMissing(what: "pydicom's test files") }
    let folder = NSTemporaryDirectory() + "mixed-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    for name in mixedStorageFiles {
        try FileManager.default.copyItem(atPath: source + "/" + name, toPath: folder + "/" + name)
    }
    return folder
}


@Suite(.serialized, .timeLimit(.minutes(10))) struct AcceptorInteropTests {
    @Test func dcmtkEchoscuIsAnsweredAndRejectedWithReasons() async throws {
        let record = AcceptorRecord()
        let acceptor = try await startTestAcceptor({ $0.acceptedCallingAETitles = ["ECHOER"] }, record: record)
        let ok = try await runProgram("/usr/bin/echoscu", ["-aet", "ECHOER", "-aec", "SWIFTSCP", "127.0.0.1", String(acceptor.port)])
        #expect(ok.status == 0, "\(ok.output)")
        let refused = try await runProgram("/usr/bin/echoscu", ["-aet", "STRANGER", "-aec", "SWIFTSCP", "127.0.0.1", String(acceptor.port)])
        #expect(refused.status != 0)
        #expect(refused.output.contains("Calling AE Title Not Recognized"), "\(refused.output)")
        #expect(await eventually { record.closedCount == 2 })
        await acceptor.stop()
        #expect(record.acceptedCount == 1)
        #expect(record.events.contains { if case .released = $0 { return true } else { return false } })
        #expect(record.rejections.map(\.0) == [AssociateRJ(result: 1, source: 1, reason: 3)])
        #expect(record.abortReasons.isEmpty, "\(record.abortReasons)")
    }

    /// Seven DCMTK storescu processes at once: three send the folder of uncompressed files
    /// (little and big endian, implicit, deflated; images, SR, RT, waveforms), four send one
    /// compressed file each with the proposal option it needs (DCMTK's storescu proposes one
    /// compressed syntax per run). Every object arrives with the content dcmdump sees in the
    /// original.
    @Test func dcmtkStorescuSendsAFolderOnSeveralAssociationsAtOnce() async throws {
        let folder = try await mixedStorageFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let compressed = ["GDCMJ2K_TextGBR.dcm": "-xv", "JPEG-lossy.dcm": "-xx", "SC_rgb_jpeg_gdcm.dcm": "-xs",
                          "examples_ybr_color.dcm": "-xy"]
        let uncompressedFolder = folder + "/uncompressed"
        try FileManager.default.createDirectory(atPath: uncompressedFolder, withIntermediateDirectories: true)
        for name in mixedStorageFiles where compressed[name] == nil {
            try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: uncompressedFolder + "/" + name)
        }
        let record = AcceptorRecord()
        let acceptor = try await startTestAcceptor(record: record)
        var runs: [(sender: String, options: [String], files: [String])] = ["SENDER1", "SENDER2", "SENDER3"].map {
            ($0, ["-R", "+sd", uncompressedFolder], mixedStorageFiles.filter { compressed[$0] == nil })
        }
        for (index, (name, option)) in compressed.sorted(by: { $0.key < $1.key }).enumerated() {
            runs.append(("JPEG\(index)", [option, folder + "/" + name], [name]))
        }
        let results = try await withThrowingTaskGroup(of: (String, Int32, String).self) { group in
            for run in runs {
                group.addTask {
                    let r = try await runProgram("/usr/bin/storescu", ["-aet", run.sender, "-aec", "SWIFTSCP", "127.0.0.1", String(acceptor.port)]
                        .dropLast(2) + run.options.prefix(run.options.count - 1) + ["127.0.0.1", String(acceptor.port), run.options.last!])
                    return (run.sender, r.status, r.output)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (sender, status, output) in results {
            #expect(status == 0, "\(sender): \(output)")
        }
        #expect(await eventually { record.closedCount == runs.count })
        await acceptor.stop()
        #expect(record.abortReasons.isEmpty, "\(record.abortReasons)")
        #expect(Set(record.stored.map(\.association)).count == runs.count)
        for run in runs {
            try await compareStored(record, senders: [run.sender], folder: folder, files: run.files)
        }
    }

    /// pynetdicom's storescu against the same acceptor.
    @Test func pynetdicomStorescuSendsAFolder() async throws {
        let folder = try await mixedStorageFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let record = AcceptorRecord()
        let acceptor = try await startTestAcceptor(record: record)
        // With -cx pynetdicom proposes each file's own syntax.
        let files = mixedStorageFiles.map { folder + "/" + $0 }
        let r = try await runProgram(try pythonPath(), ["-m", "pynetdicom", "storescu", "-cx", "-aet", "PYSENDER", "-aec", "SWIFTSCP",
                                                        "127.0.0.1", String(acceptor.port)] + files)
        // pynetdicom's storescu exits 0 even when a store fails: its log says so.
        #expect(r.status == 0 && !r.output.contains("E: "), "\(r.output)")
        #expect(await eventually { record.closedCount == 1 })
        await acceptor.stop()
        #expect(record.abortReasons.isEmpty, "\(record.abortReasons)")
        try await compareStored(record, senders: ["PYSENDER"], folder: folder, files: files.map { ($0 as NSString).lastPathComponent })
    }

    func compareStored(_ record: AcceptorRecord, senders: [String], folder: String, files: [String] = mixedStorageFiles) async throws {
        var originals: [String: String] = [:]  // SOP instance UID -> file
        for name in files {
            let file = try DICOMFile.read(path: folder + "/" + name)
            originals[file.dataSet.string(.sopInstanceUID) ?? name] = name
        }
        var originalLines: [String: [String]] = [:]
        for sender in senders {
            let stored = record.stored.filter { $0.callingAETitle == sender }
            #expect(stored.count == files.count, "\(sender) stored \(stored.count) of \(files.count)")
            for object in stored {
                guard let name = originals[object.request.affectedSOPInstanceUID] else {
                    Issue.record("\(sender) sent an unknown instance \(object.request.affectedSOPInstanceUID)")
                    continue
                }
                let path = NSTemporaryDirectory() + "received-\(UUID().uuidString.prefix(8)).dcm"
                defer { try? FileManager.default.removeItem(atPath: path) }
                let bytes = try DICOMFile.encodeBitPreserving(
                    dataSetBytes: object.dataSet, transferSyntax: TransferSyntax(uid: object.transferSyntax)!,
                    sopClassUID: object.request.affectedSOPClassUID, sopInstanceUID: object.request.affectedSOPInstanceUID)
                try AtomicFile.write(bytes, to: path)
                let received = try await dataSetLines(path)
                if originalLines[name] == nil { originalLines[name] = try await dataSetLines(folder + "/" + name) }
                let original = originalLines[name] ?? []
                #expect(!received.isEmpty && received == original,
                        "\(name) from \(sender) in \(object.transferSyntax): only received: \(received.filter { !original.contains($0) }), only original: \(original.filter { !received.contains($0) })")
            }
        }
    }
}
