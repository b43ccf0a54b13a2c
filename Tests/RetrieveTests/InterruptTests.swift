import DICOM
import Foundation
import Retrieve
import Synchronization
import Testing
import TestPeers

/// Ctrl-C in the headless tool: the first SIGINT cancels the move with C-CANCEL and the
/// association is released; what arrived before stays, whole, and nothing half-written does.
@Suite(.timeLimit(.minutes(10))) struct InterruptTests {
    @Test func sigintCancelsTheMoveAndReleases() async throws {
        let storagePort = try freePort()
        let archive = try await CorpusArchive(corpus: ["--ct", "200", "--no-mixed"], destinations: [("MOVESCU", storagePort)])
        defer { archive.stop() }
        let folder = NSTemporaryDirectory() + "sigint-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let study = try #require(archive.entries.first?.studyInstanceUID)

        let log = folder + ".log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: log) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: MovescuSideBySideTests.ours)
        process.arguments = ["-v", "--batch", "-S", "-aec", "ARCHIVE", "+P", String(storagePort), "-od", folder,
                             "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(study)", "localhost", String(archive.peer.port)]
        process.standardOutput = output
        process.standardError = output
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error); return }
            // Interrupt once the first response is in.
            Thread {
                for _ in 0..<600 {
                    let text = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
                    if text.contains("Received Move Response 1 ") { break }
                    usleep(10_000)
                }
                kill(process.processIdentifier, SIGINT)
            }.start()
        }
        try output.close()
        let text = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(text.contains("W: interrupted: cancelling the move (C-CANCEL)"))
        #expect(text.contains("I: Sending Cancel Request"))
        #expect(text.contains("Received Final Move Response (Cancel"), "\(text.suffix(2000))")
        #expect(text.contains("Releasing Association"))
        #expect(status == 0, "a cancelled move exits as DCMTK's does")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(!files.contains { $0.hasSuffix(".part") }, "nothing half-written")
        #expect(files.count < 200, "the cancel stopped the move (\(files.count) files)")
        for file in files.prefix(5) {
            let dump = try await runProgram("/usr/bin/dcmdump", ["-q", folder + "/" + file])
            #expect(dump.status == 0, "\(file) is whole")
        }
    }

    @Test func aCancelAskedWhileConnectingIsSentRightAfterTheRequest() async throws {
        let storagePort = try freePort()
        let archive = try await CorpusArchive(corpus: ["--ct", "100", "--no-mixed"], destinations: [("MOVESCU", storagePort)])
        defer { archive.stop() }
        let folder = NSTemporaryDirectory() + "early-cancel-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var configuration = RetrieveConfiguration()
        configuration.peerPort = archive.peer.port
        configuration.calledAETitle = "ARCHIVE"
        configuration.model = .studyRoot
        configuration.listenPort = storagePort
        configuration.storage.outputDirectory = folder
        var identifier = DataSet()
        identifier.setString("STUDY", for: Tag(0x0008, 0x0052), vr: .CS)
        identifier.setString(try #require(archive.entries.first?.studyInstanceUID), for: Tag(0x0020, 0x000D), vr: .UI)
        configuration.identifiers = [identifier]
        // With a cancel after the first response as well (-cancel 1): one C-CANCEL all the same.
        configuration.cancelAfter = 1
        let control = RetrieveControl()
        control.cancel()
        let order = Mutex<[String]>([])
        let summary = await RetrieveEngine.run(configuration, control: control) { event in
            switch event {
            case .moveRequestSent: order.withLock { $0.append("request") }
            case .cancelSent: order.withLock { $0.append("cancel") }
            case .moveResponse(_, _, let status, _, let isFinal, _) where isFinal:
                order.withLock { $0.append(String(format: "final %04X", status.code)) }
            default: break
            }
        }
        let seen = order.withLock { $0 }
        #expect(seen.first == "request" && seen.dropFirst().first == "cancel", "\(seen)")
        #expect(seen.last == "final FE00", "\(seen)")
        #expect(seen.filter { $0 == "cancel" }.count == 1, "\(seen)")
        #expect(summary.objects < 100)
    }
}
