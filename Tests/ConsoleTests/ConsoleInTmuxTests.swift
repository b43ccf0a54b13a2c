import Foundation
import Testing
import TestPeers

/// The console in a real terminal: tmux runs the built movescu against DCMTK's dcmqrscp,
/// the test types keys and reads the screen with capture-pane.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ConsoleInTmuxTests {
    static var movescu: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("movescu").path
    }

    /// A tmux server of the test's own (its own socket), one window of a fixed size.
    final class Screen: @unchecked Sendable {
        let socket = "movescu-test-\(UUID().uuidString.prefix(8))"
        let tmux = "/usr/bin/tmux"

        init(command: String, width: Int = 120, height: Int = 40) async throws {
            guard FileManager.default.isExecutableFile(atPath: tmux) else { throw TestPeerMissing(what: "tmux (.ci/run installs it)") }
            // The tmux server stays behind as a daemon holding whatever descriptors it got,
            // which keeps Foundation's Process from ever seeing the client exit: spawn it
            // directly and reap it with waitpid.
            let arguments = [tmux, "-u", "-L", socket, "new-session", "-d", "-s", "console", "-x", String(width), "-y", String(height), command]
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
            var pid: pid_t = 0
            guard posix_spawn(&pid, tmux, &actions, nil, &argv, environ) == 0 else { throw TestPeerMissing(what: "tmux could not be started") }
            var status: Int32 = 0
            while waitpid(pid, &status, WNOHANG) == 0 { try await Task.sleep(for: .milliseconds(20)) }
            guard status == 0 else { throw TestPeerMissing(what: "tmux new-session failed (status \(status))") }
            // The server outlives the client: the watchdog kills it if the run overruns.
            if let server = serverPID() {
                watchToken = Watchdog.registerDaemon(pid: server, command: "tmux server -L \(socket)")
            }
        }

        /// The watchdog's token for the tmux server.
        private var watchToken: Int?

        /// The tmux server's PID, asked of the server itself.
        private func serverPID() -> pid_t? {
            pid_t(tmuxOutput(["display-message", "-p", "#{pid}"]).trimmingCharacters(in: .whitespacesAndNewlines))
        }

        /// What a tmux command prints, run to its end (without Foundation's async wait, so
        /// that `stop` can run from a `defer`).
        private func tmuxOutput(_ arguments: [String]) -> String {
            let process = Process()
            let pipe = Pipe()
            process.executableURL = URL(fileURLWithPath: tmux)
            process.arguments = ["-L", socket] + arguments
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return "" }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }

        func text() async throws -> String {
            try await runProgram(tmux, ["-L", socket, "capture-pane", "-p", "-t", "console"]).output
        }

        func keys(_ keys: String...) async throws {
            _ = try await runProgram(tmux, ["-L", socket, "send-keys", "-t", "console"] + keys)
        }

        /// Types text literally.
        func type(_ text: String) async throws {
            _ = try await runProgram(tmux, ["-L", socket, "send-keys", "-t", "console", "-l", text])
        }

        /// Polls the screen until `predicate` holds; fails with the last screen after `seconds`.
        @discardableResult
        func waitFor(_ what: String, seconds: Double = 30, _ predicate: (String) -> Bool) async throws -> String {
            let deadline = Date().addingTimeInterval(seconds)
            var last = ""
            while Date() < deadline {
                last = try await text()
                if predicate(last) { return last }
                try await Task.sleep(for: .milliseconds(100))
            }
            Issue.record("timed out waiting for \(what); the screen was:\n\(last)")
            throw CancellationError()
        }

        /// Ends the tmux server and what runs in it. kill-server alone once left servers (and
        /// the movescu in them) running after a test, so the server is then killed by PID.
        func stop() {
            let server = serverPID()
            _ = tmuxOutput(["kill-server"])
            if let server, server > 1 {
                for _ in 0..<50 where kill(server, 0) == 0 { usleep(10_000) }
                if kill(server, 0) == 0 { kill(-server, SIGKILL); kill(server, SIGKILL) }
            }
            if let watchToken { Watchdog.daemonEnded(watchToken) }
            try? FileManager.default.removeItem(atPath: "/tmp/tmux-\(getuid())/\(socket)")
        }
    }

    @Test func findThenMoveThenCancelASecondMove() async throws {
        let storagePort = try freePort()
        let archive = try await CorpusArchive(corpus: ["--ct", "200"], destinations: [("MOVESCU", storagePort)])
        defer { archive.stop() }
        let root = NSTemporaryDirectory() + "console-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/out", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let mixed = archive.entries.filter { $0.studyInstanceUID.hasSuffix(".5001") }
        let ctStudy = try #require(archive.entries.first { $0.studyInstanceUID.hasSuffix(".5002") }?.studyInstanceUID)

        // Peer and port but no query: the console opens ready to edit, nothing starts.
        let command = "cd \(root) && env LANG=C.UTF-8 XDG_CONFIG_HOME=\(root)/config \(Self.movescu) -S -aec ARCHIVE +P \(storagePort) -od \(root)/out localhost \(archive.peer.port); echo EXIT=$?; sleep 60"
        let screen = try await Screen(command: command)
        defer { screen.stop() }
        try await screen.waitFor("the console to open") { $0.contains("─ Query ─") && $0.contains("ready") }

        // Find at study level.
        try await screen.keys("f")
        var text = try await screen.waitFor("the find to end") { $0.contains("found; success") }
        #expect(text.contains("2 found"))
        #expect(text.contains("Müller Jürgen=ミュラー"), "the UTF-8 patient name in the results")

        // Pick the mixed study's row and move it.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let firstRow = try #require(lines.firstIndex { $0.contains("[ ]") })
        // Both studies have the same patient; the mixed one has a study date.
        let mixedRow = try #require(lines.firstIndex { $0.contains("[ ]") && $0.contains("2004") })
        for _ in 0..<(mixedRow - firstRow) { try await screen.keys("Down") }
        try await screen.keys("Space")
        text = try await screen.waitFor("the pick") { $0.contains("[x]") }
        try await screen.keys("Enter")
        text = try await screen.waitFor("the move to finish", seconds: 60) { $0.contains("finished: success") }
        #expect(text.contains("Pending 0   Completed \(mixed.count)   Failed 0   Warning 0"))
        #expect(text.contains("100%"))
        let received = try FileManager.default.contentsOfDirectory(atPath: root + "/out").filter { !$0.hasPrefix(".") }
        #expect(received.count == mixed.count)

        // A second move, typed into the query editor: Tab to the query pane, a new key.
        for _ in 0..<3 { try await screen.keys("Tab") }
        try await screen.keys("n")
        try await screen.waitFor("the key prompt") { $0.contains("key (Keyword") }
        try await screen.type("StudyInstanceUI")
        try await screen.keys("Tab")
        try await screen.waitFor("completion") { $0.contains("StudyInstanceUID") }
        try await screen.type("=\(ctStudy)")
        try await screen.keys("Enter")
        try await screen.waitFor("the key in the query pane") { $0.contains(String(ctStudy.prefix(12))) }
        // m and c together: the cancel, asked for while the association is set up, goes out
        // right after the request (a loaded machine's screen polling could miss a 200-object
        // move on loopback altogether), and dcmqrscp stops between sub-operations.
        try await screen.keys("m", "c")
        text = try await screen.waitFor("the cancelled move to end", seconds: 60) { screen in
            let header = screen.split(separator: "\n").first ?? ""
            return screen.contains("C-CANCEL sent") && !header.hasSuffix("moving") && !header.hasSuffix("receiving the last objects")
        }
        #expect(text.contains("final FE00 Cancel"), "the final response says Cancel")
        let after = try FileManager.default.contentsOfDirectory(atPath: root + "/out").filter { $0.hasPrefix("CT.") && $0.contains(".5002.") }
        #expect(after.count < 200, "the cancel stopped the move early")

        // The trace shows the negotiation and the DIMSE messages with latencies.
        try await screen.keys("3")
        text = try await screen.waitFor("the trace") { $0.contains("[3 Trace]") }
        #expect(text.contains("<- C-MOVE-RSP") && text.contains("ms after"))

        try await screen.keys("q")
        text = try await screen.waitFor("movescu to exit") { $0.contains("EXIT=") }
        #expect(text.contains("Retrieved"), "the summary line after the console closes")
    }

    @Test func aBadPeersFileStopsWithItsLineAndABrokenThemeFallsBackToTheDefault() async throws {
        let root = NSTemporaryDirectory() + "console-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try "[settings]\ncalling-ae = MOVESCU\nport = abc\n".write(toFile: root + "/bad.conf", atomically: true, encoding: .utf8)
        try "[peer a]\nae-title = A\nhost = localhost\nport = 104\n".write(toFile: root + "/good.conf", atomically: true, encoding: .utf8)
        try "name = Broken\nheader = purple on black\n".write(toFile: root + "/broken.theme", atomically: true, encoding: .utf8)
        let command = "cd \(root) && env LANG=C.UTF-8 \(Self.movescu) --peers \(root)/bad.conf; echo EXIT=$?; env LANG=C.UTF-8 NO_COLOR=1 \(Self.movescu) --peers \(root)/good.conf --theme \(root)/broken.theme; echo EXIT2=$?; sleep 60"
        let screen = try await Screen(command: command, width: 220, height: 30)
        defer { screen.stop() }
        var text = try await screen.waitFor("the console with the good file") { $0.contains("─ Peers ─") }
        #expect(text.contains("broken.theme, line 2: unknown colour 'purple'; using the default theme"))
        #expect(text.contains("A@localhost:104"))
        // Resized to the smallest supported size, then below it: redrawn each time.
        _ = try await runProgram(screen.tmux, ["-L", screen.socket, "resize-window", "-t", "console", "-x", "80", "-y", "24"])
        text = try await screen.waitFor("the 80x24 redraw") { $0.split(separator: "\n").first?.count ?? 0 <= 80 && $0.contains("q quit") && $0.contains("─ Query ─") }
        _ = try await runProgram(screen.tmux, ["-L", screen.socket, "resize-window", "-t", "console", "-x", "60", "-y", "20"])
        try await screen.waitFor("the too-small message") { $0.contains("needs at least 80x24") }
        _ = try await runProgram(screen.tmux, ["-L", screen.socket, "resize-window", "-t", "console", "-x", "220", "-y", "30"])
        try await screen.waitFor("the full size again") { $0.contains("─ Peers ─") }
        try await screen.keys("q")
        text = try await screen.waitFor("both runs to end") { $0.contains("EXIT2=") }
        #expect(text.contains("F: \(root)/bad.conf, line 3: port must be a number from 1 to 65535, found 'abc'"))
        #expect(text.contains("EXIT=1"))
        #expect(text.contains("EXIT2=0"))
    }

    /// `movescu --demo` on a terminal: the console opens with the demo archive as its peer;
    /// a find lists its four studies (names in UTF-8), two picked rows are moved and arrive.
    @Test func theDemoOpensWithItsArchiveAsThePeer() async throws {
        let root = NSTemporaryDirectory() + "console-demo-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/config/movescu", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let peersFile = root + "/config/movescu/movescu.conf"
        try "[peer old]\nae-title = OLD\nhost = localhost\nport = 104\n".write(toFile: peersFile, atomically: true, encoding: .utf8)
        let command = "cd \(root) && env LANG=C.UTF-8 XDG_CONFIG_HOME=\(root)/config \(Self.movescu) --demo; echo EXIT=$?; sleep 60"
        let screen = try await Screen(command: command, width: 140, height: 36)
        defer { screen.stop() }
        var text = try await screen.waitFor("the console to open") { $0.contains("─ Query ─") && $0.contains("demo") }
        #expect(text.contains("MOVESCU -> DEMO @ 127.0.0.1:"), "\(text)")
        #expect(text.contains("study root (-S)"))
        try await screen.keys("f")
        text = try await screen.waitFor("the find to end") { $0.contains("4 found; success") }
        #expect(text.contains("MÜLLER JÖRG"), "\(text)")
        #expect(text.contains("CT CHEST") && text.contains("MR BRAIN"))
        // The first two rows (Space picks and steps down): the CT study (25 images) and the CR study (2).
        try await screen.keys("Space", "Space")
        try await screen.waitFor("two picks") { $0.components(separatedBy: "[x]").count == 3 }
        try await screen.keys("Enter")
        text = try await screen.waitFor("the moves to finish", seconds: 60) { $0.contains("finished: success") && $0.contains("Received 27") }
        let received = try FileManager.default.contentsOfDirectory(atPath: root + "/movescu-demo")
        #expect(received.count == 27 && received.filter { $0.hasPrefix("CT.") }.count == 25, "\(received)")
        // Deleting the saved peer rewrites the peers file: without the demo peer.
        try await screen.keys("Tab", "Down", "d")
        try await screen.waitFor("the delete question") { $0.contains("old") && $0.contains("y") }
        try await screen.keys("y")
        try await screen.waitFor("the deletion") { $0.contains("deleted peer old") }
        let saved = try String(contentsOfFile: peersFile, encoding: .utf8)
        #expect(!saved.contains("[peer old]") && !saved.contains("demo") && !saved.contains("DEMO"), "\(saved)")
        try await screen.keys("q")
        text = try await screen.waitFor("movescu to exit") { $0.contains("EXIT=") }
        #expect(text.contains("EXIT=0"), "\(text)")
    }

    /// The terminal goes away under a running console (a dropped ssh connection, a killed
    /// tmux): movescu ends within seconds instead of spinning on the dead terminal (one was
    /// found at 92% CPU half an hour after a test had killed its tmux).
    @Test func theConsoleEndsWhenItsTerminalGoesAway() async throws {
        let root = NSTemporaryDirectory() + "console-hangup-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let command = "cd \(root) && env LANG=C.UTF-8 XDG_CONFIG_HOME=\(root)/config \(Self.movescu) --demo; sleep 60"
        let screen = try await Screen(command: command)
        defer { screen.stop() }
        try await screen.waitFor("the console to open") { $0.contains("─ Query ─") && $0.contains("demo") }
        let shell = try await runProgram(screen.tmux, ["-L", screen.socket, "display-message", "-p", "-t", "console", "#{pane_pid}"])
        let shellPID = try #require(Int32(shell.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        let children = (try? String(contentsOfFile: "/proc/\(shellPID)/task/\(shellPID)/children", encoding: .utf8)) ?? ""
        let movescu = try #require(children.split(separator: " ").compactMap { Int32($0) }.first, "movescu under the pane's shell")
        // The pane's terminal disappears with the server.
        let server = try await runProgram(screen.tmux, ["-L", screen.socket, "display-message", "-p", "#{pid}"])
        let serverPID = try #require(Int32(server.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(serverPID, SIGKILL)
        var gone = false
        for _ in 0..<200 {
            if kill(movescu, 0) != 0 { gone = true; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        if !gone { kill(movescu, SIGKILL) }
        kill(shellPID, SIGKILL)
        #expect(gone, "movescu still ran 10 s after its terminal went away")
    }
}
