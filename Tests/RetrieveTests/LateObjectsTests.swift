import Foundation
import Testing
import TestPeers

/// Archives that send the final C-MOVE response before the objects (a scripted Move SCP of
/// our network layer): we keep receiving within a bound, and say so when objects the
/// archive counted as sent never come.
@Suite(.serialized, .timeLimit(.minutes(10))) struct LateObjectsTests {
    static func run(_ program: String, ae: String, archivePort: Int, listenPort: Int) async throws -> (status: Int32, output: String, files: [String]) {
        let od = NSTemporaryDirectory() + "late-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: od, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: od) }
        let result = try await runProgram(program, ["-v", "-aet", ae, "-aem", ae, "-aec", "ARCHIVE", "+P", String(listenPort), "-od", od, "-S",
                                                    "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=1.2.826.0.1.3680043.8.498.8000",
                                                    "localhost", String(archivePort)])
        return (result.status, result.output, try FileManager.default.contentsOfDirectory(atPath: od))
    }

    @Test func objectsAfterTheFinalResponseStillArrive() async throws {
        let port = try freePort()
        let archive = try await ScriptedMoveSCP(script: .init(announced: 3, stored: 3, delay: .seconds(1)), destinationPort: port)
        let ours = try await Self.run(MovescuSideBySideTests.ours, ae: "OURS", archivePort: archive.port, listenPort: port)
        #expect(ours.status == 0, "\(ours.output)")
        #expect(ours.files.sorted() == (0..<3).map { "CT." + ScriptedMoveSCP.instanceUID($0) }, "\(ours.output)")
        #expect(ours.output.contains("Retrieved 3 object(s)"), "\(ours.output)")
        #expect(!ours.output.contains("W: "), "\(ours.output)")
        // DCMTK's movescu releases and stops listening at the final response: the objects
        // that come after it are lost, and it exits 0 all the same.
        let theirs = try await Self.run("/usr/bin/movescu", ae: "THEIRS", archivePort: archive.port, listenPort: try freePort())
        #expect(theirs.status == 0 && theirs.files.isEmpty, "DCMTK: \(theirs.status) \(theirs.files) \(theirs.output)")
        await archive.stop()
    }

    @Test func objectsThatNeverComeAreAWarning() async throws {
        let port = try freePort()
        let archive = try await ScriptedMoveSCP(script: .init(announced: 3, stored: 1, delay: .zero), destinationPort: port)
        let ours = try await Self.run(MovescuSideBySideTests.ours, ae: "OURS", archivePort: archive.port, listenPort: port)
        #expect(ours.status == 68, "\(ours.output)")
        #expect(ours.files == ["CT." + ScriptedMoveSCP.instanceUID(0)])
        #expect(ours.output.contains("W: the archive reports 3 object(s) sent, but only 1 arrived here within 10 s"), "\(ours.output)")
        await archive.stop()
    }
}
