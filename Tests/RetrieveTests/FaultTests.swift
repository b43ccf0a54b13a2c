@testable import Archive
import DICOM
import DICOMNetwork
import Foundation
import Logging
import Synchronization
import Testing
import TestPeers

/// Our movescu against the demo archive misbehaving on purpose, one fault at a time. Each
/// test checks what the user is told (message, exit code) and what is on disk: no partial
/// file under a final name, every stored object whole and equal to what the archive holds.
@Suite(.serialized, .timeLimit(.minutes(10))) struct FaultTests {
    /// 25 CT images in two series.
    static let ctStudy = DemoStudies.studyUID(1)
    static let store = DemoStudies.store()
    /// The archive's own complaints are expected here.
    static let quiet = Logger(label: "archive") { _ in SwiftLogNoOpLogHandler() }

    final class Recorder: Sendable {
        private let events = Mutex<[ArchiveEvent]>([])
        func record(_ event: ArchiveEvent) { events.withLock { $0.append(event) } }
        var all: [ArchiveEvent] { events.withLock { $0 } }
        /// The most store sub-associations open at one time.
        var mostSubAssociationsAtOnce: Int {
            var open = 0, most = 0
            for event in all {
                if case .subAssociationOpened = event { open += 1; most = max(most, open) }
                if case .subAssociationClosed = event { open -= 1 }
            }
            return most
        }
        var moveEnd: (status: DIMSEStatus, counts: SubOperationCounts)? {
            for event in all.reversed() { if case .moveEnded(let status, let counts) = event { return (status, counts) } }
            return nil
        }
    }

    struct Outcome {
        var status: Int32
        var output: String
        var files: [String]
        var recorder: Recorder
        var seconds: Double
    }

    /// Runs our movescu (headless, -v) for `study` against an archive with `faults`, then
    /// checks the folder: no hidden part files, nothing outside it, every file readable and
    /// equal to the archive's object of the same SOP Instance UID.
    static func retrieve(_ faults: ArchiveFaults, studies: [String] = [ctStudy], extra: [String] = []) async throws -> Outcome {
        var configuration = ArchiveConfiguration()
        configuration.faults = faults
        let recorder = Recorder()
        let archive = try await QueryRetrieveArchive.start(store: store, configuration: configuration, logger: quiet, observer: recorder.record)
        let port = try freePort()
        archive.route("MOVESCU", to: ArchiveDestination(host: "127.0.0.1", port: port))
        let parent = NSTemporaryDirectory() + "fault-\(UUID().uuidString.prefix(8))"
        let folder = parent + "/od"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let started = Date()
        let result = try await runProgram(MovescuSideBySideTests.ours, [
            "--batch", "-v", "-S", "-aec", "DEMO", "+P", String(port), "-od", folder] + extra + [
            "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(studies.joined(separator: "\\"))", "localhost", String(archive.port)])
        let seconds = Date().timeIntervalSince(started)
        // movescu has gone; so have its associations, on the archive's side too.
        for _ in 0..<500 where archive.activeConnections > 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(archive.activeConnections == 0, "the archive still holds \(archive.activeConnections) association(s)")
        await archive.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == ["od"], "nothing written beside the output folder")
        #expect(!files.contains { $0.hasPrefix(".") }, "no partial file left: \(files)")
        let originals = Dictionary(store.instances.map { ($0.sopInstanceUID, $0) }, uniquingKeysWith: { a, _ in a })
        for file in files {
            let uid = String(file.drop { $0 != "." }.dropFirst())
            let original = try #require(originals[uid], "\(file) is an object the archive holds")
            let stored = try DICOMFile.read(path: folder + "/" + file).dataSet
            #expect(stored == (try DataSetReader.read(original.dataSet, transferSyntax: .explicitVRLittleEndian)), "\(file) is whole")
        }
        return Outcome(status: result.status, output: result.output, files: files, recorder: recorder, seconds: seconds)
    }

    @Test func aSlowArchiveIsWaitedFor() async throws {
        var faults = ArchiveFaults()
        faults.responseDelay = .milliseconds(40)
        faults.storeDelay = .milliseconds(40)
        // No -td: like DCMTK's movescu, we wait as long as the archive takes.
        let run = try await Self.retrieve(faults)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.files.count == 25)
        #expect(run.seconds > 1, "the delays happened (\(run.seconds) s)")
        #expect(!run.output.contains("W: ") && !run.output.contains("E: "), "\(run.output)")
    }

    @Test func failedAndWarningSubOperationsAreCountedAndExitNonZero() async throws {
        var faults = ArchiveFaults()
        faults.failedSubOperations = [3, 7]
        faults.warningSubOperations = [10]
        let run = try await Self.retrieve(faults)
        #expect(run.status == 68, "B000 is a warning outcome: \(run.output)")
        #expect(run.files.count == 23, "the 23 sent arrived, failed ones were never sent")
        #expect(run.output.contains("Received Final Move Response (Warning: SubOperationsCompleteOneOrMoreFailures)"), "\(run.output)")
        #expect(run.output.contains("failed 2, warning 1"), "the counts are shown: \(run.output)")
        let failedUIDs = [3, 7].map { Self.store.instances[$0].sopInstanceUID }
        #expect(run.output.contains("W: the archive lists 2 failed SOP instance(s): " + failedUIDs.joined(separator: ", ")),
                "the failed SOP instances are named: \(run.output)")
    }

    @Test func pendingResponsesWithADataSetAreRead() async throws {
        var faults = ArchiveFaults()
        faults.pendingResponsesWithDataSet = true
        let run = try await Self.retrieve(faults)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.files.count == 25)
        #expect(run.output.contains("Received Final Move Response (Success)"), "\(run.output)")
    }

    @Test func objectsAfterTheFinalResponseAreKept() async throws {
        var faults = ArchiveFaults()
        faults.finalResponseBeforeStores = true
        faults.storeDelay = .milliseconds(20)
        let run = try await Self.retrieve(faults)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.files.count == 25, "\(run.output)")
    }

    @Test func anAbortInTheMiddleOfAStoreLeavesNothingHalfWritten() async throws {
        var faults = ArchiveFaults()
        faults.abortDuringStore = 5
        let run = try await Self.retrieve(faults)
        #expect(run.files.count == 5, "objects 0-4 arrived, 5 was cut off, the rest never came: \(run.files)")
        #expect(run.status == 68, "\(run.output)")
        let cutOff = Self.store.instances[5].sopInstanceUID
        #expect(run.output.contains("W: \(cutOff) was cut off after "), "the object in progress is named: \(run.output)")
        #expect(run.output.contains("E: Sub-Association Aborted"), "the abort is reported: \(run.output)")
        #expect(run.output.contains("failed 20"), "\(run.output)")
    }

    @Test func aMalformedPDUEndsTheMoveWithAProtocolError() async throws {
        var faults = ArchiveFaults()
        faults.malformedPDUInsteadOfResponse = 3
        faults.storeDelay = .milliseconds(10)
        let run = try await Self.retrieve(faults)
        #expect(run.status == 69, "no final response: \(run.output)")
        #expect(run.output.contains("E: Move Request Failed: association aborted: the peer sent a bad PDU: malformed PDU"), "\(run.output)")
        #expect(run.output.contains("the retrieve is incomplete"), "\(run.output)")
        #expect(run.files.count >= 3 && run.files.count < 25, "\(run.files.count)")
    }

    @Test func aPDULengthOf4GBOnTheStoreAssociationIsRefused() async throws {
        var faults = ArchiveFaults()
        faults.hugePDULengthBeforeStore = 4
        let run = try await Self.retrieve(faults)
        #expect(run.files.count == 4, "\(run.files)")
        #expect(run.status == 68, "\(run.output)")
        #expect(run.output.contains("E: Sub-Association Aborted: association aborted: the peer sent a bad PDU: PDU of 4294967295 bytes exceeds the maximum of 16384"),
                "the length is named: \(run.output)")
    }

    @Test func aDataSetWhoseInstanceUIDDiffersFromTheRequestIsRefused() async throws {
        var faults = ArchiveFaults()
        faults.mismatchedInstanceUIDs = [1]
        let run = try await Self.retrieve(faults)
        #expect(run.files.count == 24)
        #expect(!run.files.contains { $0.hasSuffix(".999") })
        #expect(run.status == 68, "\(run.output)")
        let uid = Self.store.instances[1].sopInstanceUID
        #expect(run.output.contains("E: Store of \(uid) failed (Error: DataSetDoesNotMatchSOPClass): the data set's SOP Class/Instance UID"),
                "\(run.output)")
    }

    @Test func instanceUIDsThatLookLikePathsAreRefused() async throws {
        var faults = ArchiveFaults()
        faults.hostileInstanceUIDs = [0: "../../x", 1: "1.2/3", 2: "/etc/passwd"]
        let run = try await Self.retrieve(faults)
        #expect(run.files.count == 22, "\(run.files)")
        #expect(run.status == 68, "\(run.output)")
        #expect(run.output.contains("E: Store of ../../x failed (Error: CannotUnderstand): the SOP Instance UID \"../../x\" is not a valid UID"),
                "the bad UID is shown as data: \(run.output)")
        #expect(run.recorder.moveEnd?.counts.failed == 3)
    }

    @Test func fiftyStoreAssociationsAtOnce() async throws {
        var faults = ArchiveFaults()
        faults.parallelSubAssociations = 50
        faults.storeDelay = .milliseconds(200)
        let run = try await Self.retrieve(faults, studies: (1...4).map(DemoStudies.studyUID))
        #expect(run.status == 0, "\(run.output)")
        #expect(run.files.count == 52)
        #expect(run.recorder.mostSubAssociationsAtOnce >= 40, "\(run.recorder.mostSubAssociationsAtOnce) at once")
    }

    @Test func anArchiveThatNeverAnswersTimesOut() async throws {
        var faults = ArchiveFaults()
        faults.neverAnswerMoves = true
        let run = try await Self.retrieve(faults, extra: ["-td", "2"])
        #expect(run.status == 69, "\(run.output)")
        #expect(run.output.contains("E: Move Request Failed: timed out waiting for a DIMSE message"), "\(run.output)")
        #expect(run.seconds < 60, "\(run.seconds) s")
        #expect(run.files.isEmpty)
    }

    /// One movescu process through 40 moves, each with failed, warning, mismatched and
    /// path-like sub-operations, a pending response with a data set, an abort in the middle
    /// of a store and a 4 GB PDU length on two of five store associations: its descriptors
    /// and memory after the last move are what they were after the fifth.
    @Test func repeatedFaultsLeaveNoDescriptorsOrMemoryBehind() async throws {
        var faults = ArchiveFaults()
        faults.failedSubOperations = [3]
        faults.warningSubOperations = [4]
        faults.mismatchedInstanceUIDs = [6]
        faults.hostileInstanceUIDs = [7: "../../x"]
        faults.pendingResponsesWithDataSet = true
        faults.parallelSubAssociations = 5
        faults.abortDuringStore = 10
        faults.hugePDULengthBeforeStore = 21
        var configuration = ArchiveConfiguration()
        configuration.faults = faults
        let archive = try await QueryRetrieveArchive.start(store: Self.store, configuration: configuration, logger: Self.quiet)
        let port = try freePort()
        archive.route("MOVESCU", to: ArchiveDestination(host: "127.0.0.1", port: port))
        let folder = NSTemporaryDirectory() + "fault-repeat-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let log = folder + ".log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: log) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: MovescuSideBySideTests.ours)
        process.arguments = ["--batch", "-v", "-S", "-aec", "DEMO", "+P", String(port), "-od", folder, "--repeat", "40",
                             "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(Self.ctStudy)", "localhost", String(archive.port)]
        process.standardOutput = output
        process.standardError = output
        try process.run()
        func finals() -> Int {
            let text = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
            return text.components(separatedBy: "Received Final Move Response").count - 1
        }
        func sample() -> (fds: Int, rss: Int) {
            let pid = process.processIdentifier
            // Sockets, files and pipes; not the runtime's lazily made event and timer descriptors
            // (Dispatch makes a timerfd per clock the first time a timer of that clock runs).
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").filter {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)"))?.hasPrefix("anon_inode:") == false
            }.count) ?? -1
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
                .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? -1
            return (fds, rss)
        }
        // The next move starts as soon as one ends, so no single moment is "between moves":
        // the least seen over moves 3-8 and over moves 32-39 are the resting levels.
        var early: (fds: Int, rss: Int)?
        var late: (fds: Int, rss: Int)?
        func lower(_ a: (fds: Int, rss: Int)?, _ b: (fds: Int, rss: Int)) -> (fds: Int, rss: Int) {
            guard let a else { return b }
            return (min(a.fds, b.fds), min(a.rss, b.rss))
        }
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline {
            let done = finals()
            let now = sample()
            if now.fds < 0 || now.rss < 0 { break }
            if (3...8).contains(done) { early = lower(early, now) }
            if (32...39).contains(done) { late = lower(late, now) }
            try await Task.sleep(for: .milliseconds(2))
        }
        if process.isRunning && Date() >= deadline {
            Issue.record("movescu did not finish 40 moves in 120 s")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        try output.close()
        await archive.stop()
        let text = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(finals() == 40, "\(text.suffix(3000))")
        #expect(process.terminationStatus == 68, "\(text.suffix(2000))")
        let (first, last) = (try #require(early), try #require(late))
        #expect(last.fds <= first.fds, "descriptors: \(first.fds) over moves 3-8, \(last.fds) over moves 32-39")
        #expect(last.rss - first.rss < 8 * 1024, "resident memory: \(first.rss) kB over moves 3-8, \(last.rss) kB over moves 32-39")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(!files.contains { $0.hasPrefix(".") }, "no partial file left")
    }
}
