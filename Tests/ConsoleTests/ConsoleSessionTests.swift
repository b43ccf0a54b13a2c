@testable import Console
import DICOM
import DICOMNetwork
import Foundation
import Synchronization
import Retrieve
import Testing
import TestPeers

/// The session loop with a scripted terminal: keys in, grids out, the engine replaced by
/// closures that report as the engine does. Checks what the loop itself owns: coalescing,
/// commands reaching their service, files written and read.
@Suite(.timeLimit(.minutes(10))) struct ConsoleSessionTests {
    /// A terminal whose keys come from a script; each key is read once the previous frame is drawn.
    final class ScriptedTerminal: ConsoleTerminal, @unchecked Sendable {
        var keys: [(afterFrames: Int, input: TerminalInput?, until: ((Grid) -> Bool)?)] = []
        var frames = 0
        var last = Grid(width: 0, height: 0)
        var size: (width: Int, height: Int) = (120, 40)
        func draw(_ grid: Grid) { frames += 1; last = grid }
        /// Set when the screen never showed what a step waited for; the session is then quit.
        var stuck: String?
        var waitingSince: Date?
        func read(timeout milliseconds: Int) -> TerminalInput? {
            guard let next = keys.first else { usleep(UInt32(milliseconds) * 1000); return nil }
            if let until = next.until, !until(last) {
                let since = waitingSince ?? Date()
                waitingSince = since
                // Generous: a first test run on a fresh 2-core machine, with real peers starting
                // in other suites, has starved these loops for over 20 s.
                if Date().timeIntervalSince(since) > 60 {
                    // Quit (twice: the first asks while something runs).
                    stuck = last.text
                    keys = [(0, .key(.character("q")), nil)]
                    return .key(.character("q"))
                }
                usleep(UInt32(max(1, milliseconds)) * 1000)
                return nil
            }
            waitingSince = nil
            keys.removeFirst()
            return next.input
        }
        /// A key once the screen shows `text`.
        func key(_ key: ConsoleKey, when text: String? = nil) {
            keys.append((0, .key(key), text.map { t in { $0.text.contains(t) } }))
        }
        func wait(for text: String) { keys.append((0, nil, { $0.text.contains(text) })) }
    }

    final class Calls: @unchecked Sendable {
        let lock = NSLock()
        var moves: [[DataSet]] = []
        var echoes: [String] = []
        func add(_ identifiers: [DataSet]) -> Int { lock.withLock { moves.append(identifiers); return moves.count } }
        func echo(_ name: String) { lock.withLock { echoes.append(name) } }
    }

    static func services(_ calls: Calls, responses: Int) -> ConsoleServices {
        ConsoleServices(
            move: { configuration, _, emit in
                let number = calls.add(configuration.identifiers)
                emit(.requestingAssociation(host: configuration.peerHost, port: configuration.peerPort))
                emit(.associationAccepted(maximumSendPDV: 16372, contexts: []))
                emit(.moveRequestSent(messageID: 1, contextID: 3, identifier: configuration.identifiers[0], query: 1, round: 1))
                // A flood: every response arrives as fast as the emitter can go.
                for n in 1...responses {
                    emit(.moveResponse(number: n, messageID: 1, status: DIMSEStatus(0xFF00),
                                       counts: SubOperationCounts(remaining: UInt16(clamping: responses - n), completed: UInt16(clamping: n), failed: 0, warning: 0),
                                       isFinal: false, errorComment: nil))
                }
                emit(.moveResponse(number: responses + 1, messageID: 1, status: DIMSEStatus(0x0000),
                                   counts: SubOperationCounts(remaining: nil, completed: UInt16(clamping: responses), failed: 0, warning: 0),
                                   isFinal: true, errorComment: nil))
                var summary = RetrieveSummary()
                summary.moves = 1
                emit(.warning("move \(number) done"))
                emit(.finished(summary))
                return summary
            },
            find: { _, _, _, _ in FindSummary() },
            echo: { peer, _ in
                calls.echo(peer.name)
                return .failure(.refused(host: peer.host, port: peer.port))
            },
            savePeers: { _ in })
    }

    static func model() -> ConsoleModel {
        var c = RetrieveConfiguration()
        c.calledAETitle = "ARCHIVE"
        var identifier = DataSet()
        identifier.setString("STUDY", for: QueryKeys.levelTag, vr: .CS)
        identifier.setString("1.2.3", for: Tag(0x0020, 0x000D), vr: .UI)
        c.identifiers = [identifier]
        return ConsoleModel(configuration: c)
    }

    @Test func aFloodOfResponsesIsAppliedInBatchesAndRepeatRunsTheSameMove() async throws {
        let calls = Calls()
        let session = ConsoleSession(model: Self.model(), services: Self.services(calls, responses: 20_000))
        let terminal = ScriptedTerminal()
        terminal.key(.character("m"))
        terminal.key(.character("r"), when: "move 1 done")
        terminal.key(.character("q"), when: "move 2 done")
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread { session.run(on: terminal, autoStart: false); done.resume() }.start()
        }
        #expect(terminal.stuck == nil, "the screen never showed what the script waited for:\n\(terminal.stuck ?? "")")
        #expect(calls.moves.count == 2, "m, then r repeats")
        #expect(calls.moves.map { $0.map { $0.string(Tag(0x0020, 0x000D)) } } == [["1.2.3"], ["1.2.3"]])
        #expect(session.model.completed == 20_000)
        #expect(session.model.pendingResponses == 20_000)
        // 40,000 responses in all reached the model in far fewer frames than responses.
        #expect(session.frames < 2_000, "frames drawn: \(session.frames)")
        // The log keeps its bound.
        #expect(session.model.log.count <= ConsoleModel.logLimit * 5 / 4)
    }

    /// The terminal goes away (a dropped connection) while a retrieve runs: the retrieve is
    /// aborted and the loop ends instead of reading the dead terminal for ever.
    @Test func aHangUpAbortsTheRetrieveAndEndsTheSession() async throws {
        let aborted = Mutex(false)
        let services = ConsoleServices(
            move: { _, control, emit in
                emit(.requestingAssociation(host: "localhost", port: 104))
                // Runs until aborted (at most 120 s, so that a failure cannot hang the suite).
                let until = ContinuousClock.now + .seconds(120)
                while !control.abortRequested, ContinuousClock.now < until { try? await Task.sleep(for: .milliseconds(10)) }
                aborted.withLock { $0 = control.abortRequested }
                var summary = RetrieveSummary()
                summary.outcome = .noFinalResponse("aborted by the operator")
                emit(.finished(summary))
                return summary
            },
            find: { _, _, _, _ in FindSummary() },
            echo: { peer, _ in .failure(.refused(host: peer.host, port: peer.port)) },
            savePeers: { _ in })
        let session = ConsoleSession(model: Self.model(), services: services)
        let terminal = ScriptedTerminal()
        terminal.key(.character("m"))
        terminal.keys.append((0, .hangup, { $0.text.contains("moving") || $0.text.contains("connecting") }))
        let started = Date()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread { session.run(on: terminal, autoStart: false); done.resume() }.start()
        }
        // Well under the 120 s the fake retrieve would run: loaded test runs have taken 12 s
        // and, on a fresh machine, 21 s.
        #expect(Date().timeIntervalSince(started) < 60, "the session ended soon after the hang-up")
        #expect(aborted.withLock { $0 }, "the retrieve was aborted")
        #expect(terminal.stuck == nil, "\(terminal.stuck ?? "")")
    }

    @Test func queryFilesAreSavedAndLoadedAndTheLogIsSaved() async throws {
        let folder = NSTemporaryDirectory() + "session-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let calls = Calls()
        var model = Self.model()
        model.peers = [Peer(name: "a", aeTitle: "A", host: "localhost", port: 1)]
        let session = ConsoleSession(model: model, services: Self.services(calls, responses: 3))
        let terminal = ScriptedTerminal()
        func type(_ text: String) { for c in text { terminal.key(.character(c)) } }
        // Save as DICOM and as dump text from the query pane.
        terminal.key(.tab); terminal.key(.tab); terminal.key(.tab)
        for (name, shown) in [("q.dcm", "query saved to"), ("q.txt", "query saved to")] {
            terminal.key(.character("S"))
            terminal.key(.control("u"))
            type(folder + "/" + name)
            terminal.key(.enter)
            terminal.wait(for: shown)
        }
        // Change the query, then load the DICOM file back.
        terminal.key(.character("d"))
        terminal.key(.character("L"))
        type(folder + "/q.dcm")
        terminal.key(.enter)
        terminal.wait(for: "query loaded from")
        terminal.key(.character("L"))
        type(folder + "/missing.dcm")
        terminal.key(.enter)
        terminal.wait(for: "cannot load")
        // Echo from the peers pane (query -> main -> peers), then save the log.
        terminal.key(.tab)
        terminal.key(.tab)
        terminal.key(.character("t"))
        terminal.wait(for: "connection refused")
        terminal.key(.character("w"))
        terminal.key(.control("u"))
        type(folder + "/session.log")
        terminal.key(.enter)
        terminal.key(.character("q"), when: "session log saved")
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread { session.run(on: terminal, autoStart: false); done.resume() }.start()
        }
        #expect(terminal.stuck == nil, "the screen never showed what the script waited for:\n\(terminal.stuck ?? "")")
        #expect(calls.echoes == ["a"])
        #expect(session.model.query.string(Tag(0x0020, 0x000D)) == "1.2.3")
        #expect(session.model.query.string(QueryKeys.levelTag) == "STUDY")
        // DCMTK reads both files as the same two attributes.
        for name in ["q.dcm"] {
            let dump = try await runProgram("/usr/bin/dcmdump", [folder + "/" + name])
            #expect(dump.status == 0)
            #expect(dump.output.contains("(0008,0052) CS [STUDY]") && dump.output.contains("(0020,000d) UI [1.2.3]"))
        }
        let text = try String(contentsOfFile: folder + "/q.txt", encoding: .utf8)
        #expect(try QueryFile.load(path: folder + "/q.txt") == QueryFile.load(path: folder + "/q.dcm"))
        #expect(text.contains("(0020,000d) UI [1.2.3]"))
        let log = try String(contentsOfFile: folder + "/session.log", encoding: .utf8)
        #expect(log.contains("C-ECHO a") && log.contains("# trace"))
    }
}
