import Foundation
import Synchronization
import Testing

/// Turns a hang into a failure that says what hung.
///
/// A program the tests run to its end (`runProcess`) is killed when it runs longer than its
/// limit, and the wait for it throws `ProgramHung` naming it. If the whole test process runs
/// longer than `runLimit` (a full run takes a few minutes), every program still running is
/// listed on standard error, killed, and the process exits with status 124, after flushing
/// what the test library has written: a test stuck on something no limit covers (a peer
/// that stopped answering, a wait that never ends) then ends the run well inside CI's time,
/// and the log shows the tests that started and never finished.
///
/// `MOVESCU_TEST_RUN_LIMIT` (seconds) overrides the run's limit.
public enum Watchdog {
    /// A program started by the tests.
    struct Running: Sendable {
        var pid: pid_t
        /// Its start time in /proc, so that a PID reused by another process is not killed.
        var startTime: String?
        var command: String
        var started: ContinuousClock.Instant
        /// Killed once it has run this long; nil for peers that live as long as their test.
        var limit: Duration?
        var killed = false
    }

    struct State: Sendable {
        var next = 0
        var running: [Int: Running] = [:]
    }

    private static let state = Mutex(State())

    /// How long the whole test process may run.
    public static let runLimit: Duration = {
        let seconds = ProcessInfo.processInfo.environment["MOVESCU_TEST_RUN_LIMIT"].flatMap { Int($0) } ?? 1200
        return .seconds(max(seconds, 10))
    }()

    /// When the test process started (its start time in /proc; the watchdog's first use if
    /// that cannot be read).
    private static let processStart: ContinuousClock.Instant = {
        let now = ContinuousClock.now
        guard let ticks = startTime(of: getpid()).flatMap(Double.init),
              let uptimeText = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
              let uptime = Double(uptimeText.split(separator: " ").first ?? "") else { return now }
        let age = uptime - ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
        return age > 0 ? now - .milliseconds(Int(age * 1000)) : now
    }()

    private static let started: Void = {
        _ = processStart
        let thread = Thread { watch() }
        thread.name = "test watchdog"
        thread.start()
    }()

    /// Starts the watchdog if it is not running yet. It starts with the first free port,
    /// peer or program a test asks for, and with the first fixture file; a run of pure unit
    /// tests that touch none of those has no run limit.
    public static func start() { _ = started }

    /// Registers a started program; the token is for `ended`.
    static func register(pid: pid_t, command: String, limit: Duration?) -> Int {
        start()
        // The test that started it, for the report.
        let test = Test.current.map { " [test \($0.id)]" } ?? ""
        let running = Running(pid: pid, startTime: startTime(of: pid), command: command + test, started: .now, limit: limit)
        return state.withLock { state in
            state.next += 1
            state.running[state.next] = running
            return state.next
        }
    }

    /// Field 22 of /proc/PID/stat (the start time in clock ticks since boot); nil once the
    /// process is gone and reaped.
    static func startTime(of pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // The fields after the command's ")" start with field 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    /// SIGKILL to the program and its process group (Foundation starts each child in a group
    /// of its own, and what the program started holds the descriptor Foundation waits on),
    /// unless its PID now belongs to another process.
    private static func kill(_ program: Running) {
        guard let startTime = program.startTime, Self.startTime(of: program.pid) == startTime else { return }
        if getpgid(program.pid) == program.pid { Glibc.kill(-program.pid, SIGKILL) }
        Glibc.kill(program.pid, SIGKILL)
    }

    /// Registers a daemon a test started and ends itself (a tmux server): no limit of its
    /// own, but killed with the rest when the run overruns, instead of outliving it with what
    /// runs in it. The token is for `daemonEnded`.
    public static func registerDaemon(pid: pid_t, command: String) -> Int {
        register(pid: pid, command: command, limit: nil)
    }

    /// The daemon registered with `token` has been ended by its test.
    public static func daemonEnded(_ token: Int) {
        ended(token)
    }

    /// The program has ended; whether the watchdog killed it for running too long.
    @discardableResult
    static func ended(_ token: Int) -> Bool {
        state.withLock { $0.running.removeValue(forKey: token)?.killed ?? false }
    }

    private static func watch() {
        while true {
            sleep(1)
            let now = ContinuousClock.now
            let overdue = state.withLock { state -> [Running] in
                var overdue: [Running] = []
                for (token, program) in state.running where !program.killed {
                    if let limit = program.limit, now - program.started > limit {
                        state.running[token]?.killed = true
                        overdue.append(program)
                    }
                }
                return overdue
            }
            for program in overdue {
                say("watchdog: \(program.command) (PID \(program.pid)) ran longer than \(program.limit!); killed")
                kill(program)
            }
            if now - processStart > runLimit {
                let left = state.withLock { Array($0.running.values) }.sorted { $0.started < $1.started }
                say("watchdog: the test run has taken longer than \(runLimit) (MOVESCU_TEST_RUN_LIMIT); something hangs.")
                say("watchdog: tests that started and did not pass or fail are in the log above.")
                for program in left {
                    let alive = program.startTime != nil && startTime(of: program.pid) == program.startTime
                    say("watchdog: \(alive ? "still running" : "ended by itself"), started \(now - program.started) ago: \(program.command) (PID \(program.pid))\(alive ? "; killed" : "")")
                    kill(program)
                }
                fflush(nil)
                _exit(124)
            }
        }
    }

    private static func say(_ line: String) {
        fflush(nil)
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// A program run by the tests ran longer than its limit and was killed.
public struct ProgramHung: Error, CustomStringConvertible {
    public var command: String
    public var limit: Duration
    public var output: String
    public var description: String {
        "\(command) ran longer than \(limit) and was killed; its output ended with:\n\(output.suffix(3000))"
    }
}
