import Foundation
import Synchronization

/// A real DICOM peer (DCMTK or pynetdicom) run as a process on loopback for one test.
public final class PeerProcess: @unchecked Sendable {
    public let process: Process
    public let port: Int
    /// Where the peer's standard output and error go: a file, so that a talkative peer never
    /// blocks on a full pipe that nobody reads.
    public let logPath = NSTemporaryDirectory() + "peer-\(UUID().uuidString).log"
    private let token: Int

    /// Starts `arguments` (with `{port}` replaced by a free port) and waits until the port is
    /// listening (seen in /proc/net/tcp, so that no probe connection disturbs the peer).
    public init(_ executable: String, _ arguments: [String], directory: String? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else { throw TestPeerMissing(what: executable) }
        // A free port can be taken by someone else before the peer binds it: then the peer
        // exits, and we try another.
        guard FileManager.default.createFile(atPath: logPath, contents: nil) else { throw TestPeerMissing(what: "a log file at \(logPath)") }
        let path = logPath
        var started = false
        defer { if !started { try? FileManager.default.removeItem(atPath: path) } }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? output.close() }
        for _ in 0..<5 {
            let candidate = try freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments.map { $0.replacingOccurrences(of: "{port}", with: String(candidate)) }
            process.environment = peerEnvironment
            if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
            process.standardOutput = output
            process.standardError = output
            try process.run()
            var listening = false
            for _ in 0..<200 where process.isRunning {
                if isListening(candidate) {
                    usleep(100_000)
                    listening = process.isRunning
                    break
                }
                usleep(25_000)
            }
            if listening {
                self.process = process
                self.port = candidate
                self.token = Watchdog.register(pid: process.processIdentifier, command: ([executable] + (process.arguments ?? [])).joined(separator: " "), limit: nil)
                started = true
                return
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        let said = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        throw TestPeerMissing(what: "\(executable) did not start listening; it said: \(said.suffix(2000))")
    }

    /// SIGTERM, then SIGKILL after a second (DCMTK's storescp does not stop on SIGTERM
    /// while it waits for an association).
    public func stop() {
        defer { Watchdog.ended(token) }
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<40 where process.isRunning { usleep(25_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for _ in 0..<200 where process.isRunning { usleep(10_000) }
    }

    /// What the peer has written to its standard output and error so far.
    public var log: String {
        String(decoding: FileManager.default.contents(atPath: logPath) ?? Data(), as: UTF8.self)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: logPath)
    }
}

/// A port nothing listens on, for a peer or for our SCP to listen on later.
///
/// Taken below the kernel's range of ephemeral ports: a port from that range, free when asked
/// for, can become the local end of any outgoing connection before its listener binds it (a
/// full run makes thousands), and DCMTK's movescu then fails with "Address already in use".
/// Each port is handed out once per test process, so two tests never get the same one.
public func freePort() throws -> Int {
    Watchdog.start()
    let ephemeral = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
        .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } ?? 32768
    let range = 10000..<max(ephemeral, 10001)
    for _ in 0..<200 {
        let candidate = Int.random(in: range)
        guard handedOutPorts.withLock({ $0.insert(candidate).inserted }) else { continue }
        if canBind(candidate) { return candidate }
    }
    return try bindPort(0)
}

private let handedOutPorts = Mutex<Set<Int>>([])

private func canBind(_ port: Int) -> Bool {
    (try? bindPort(port)) == port
}

/// Binds a socket to `port` on 127.0.0.1 (0: the kernel's choice) and closes it again; the
/// port bound.
private func bindPort(_ port: Int) throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw TestPeerMissing(what: "a free port (bind: errno \(errno))") }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

public func canConnect(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}


/// The environment of every program the tests start: this one's, with Tests/python on
/// PYTHONPATH, whose sitecustomize.py mends a race in pynetdicom that drops a response coming
/// back very fast (see that file).
public let peerEnvironment: [String: String] = {
    var environment = ProcessInfo.processInfo.environment
    let shim = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("python").path
    environment["PYTHONPATH"] = [shim, environment["PYTHONPATH"]].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":")
    return environment
}()

/// pynetdicom's apps run as `python3 -m pynetdicom <app>`.
/// Found once per test process: the lookup runs python, and tests call this from the
/// cooperative pool.
public func pythonPath() throws -> String {
    try resolvedPython.get()
}

private let resolvedPython: Result<String, TestPeerMissing> = {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
    guard let python = path.map({ "\($0)/python3" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        return .failure(TestPeerMissing(what: "python3"))
    }
    // pyenv's shim re-executes; resolve to the real interpreter so terminate() reaches it.
    let resolved = try? String(decoding: {
        let p = Process(); p.executableURL = URL(fileURLWithPath: python); p.arguments = ["-c", "import sys; print(sys.executable)"]
        let pipe = Pipe(); p.standardOutput = pipe; try p.run(); p.waitUntilExit()
        return pipe.fileHandleForReading.readDataToEndOfFile()
    }(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return .success(resolved.flatMap { $0.isEmpty ? nil : $0 } ?? python)
}()

/// Whether something listens on the port on this machine (IPv4 or IPv6).
public func isListening(_ port: Int) -> Bool {
    let hex = String(format: ":%04X ", port)
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            if fields.count > 3, fields[1].hasSuffix(hex.dropLast()), fields[3] == "0A" { return true }
        }
    }
    return false
}

/// A peer program that is missing or failed: .ci/run installs them, so this fails the test.
public struct TestPeerMissing: Error, CustomStringConvertible {
    public var what: String
    public init(what: String) { self.what = what }
    public var description: String { "\(what) is missing or failed; .ci/run installs the test peers" }
}

/// Runs a program to its end and returns its exit status, standard output and standard
/// error (or both together in `stdout` when `mergingOutput`). Waits without holding a thread
/// of the cooperative pool (an acceptor under test in the same process needs those).
/// Killed after `limit` (the watchdog's), which throws `ProgramHung`.
public func runProcess(_ executable: URL, _ arguments: [String], mergingOutput: Bool = false,
                       environment: [String: String] = peerEnvironment,
                       limit: Duration = .seconds(300)) async throws
    -> (status: Int32, stdout: String, stderr: String) {
    let base = NSTemporaryDirectory() + "program-\(UUID().uuidString)"
    let paths = [base + ".out", base + ".err"]
    for path in paths { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    defer { for path in paths { try? FileManager.default.removeItem(atPath: path) } }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: paths[0]))
    let err = mergingOutput ? out : try FileHandle(forWritingTo: URL(fileURLWithPath: paths[1]))
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = environment
    process.standardOutput = out
    process.standardError = err
    let command = ([executable.path] + arguments).joined(separator: " ")
    let token = Mutex<Int?>(nil)
    let (status, hung): (Int32, Bool) = try await withCheckedThrowingContinuation { continuation in
        let ended = Mutex(false)
        process.terminationHandler = { process in
            // The handler can run before the registration below: the lock orders them.
            let killed = token.withLock { token -> Bool in
                ended.withLock { $0 = true }
                return token.map { Watchdog.ended($0) } ?? false
            }
            continuation.resume(returning: (process.terminationStatus, killed))
        }
        do { try process.run() } catch { continuation.resume(throwing: error); return }
        token.withLock { token in
            if !ended.withLock({ $0 }) { token = Watchdog.register(pid: process.processIdentifier, command: command, limit: limit) }
        }
    }
    try out.close()
    if !mergingOutput { try err.close() }
    func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
    if hung {
        throw ProgramHung(command: command, limit: limit,
                          output: text(paths[0]) + text(paths[1]))
    }
    return (status, text(paths[0]), text(paths[1]))
}

/// Runs a program to its end; output and error together.
@discardableResult
public func runProgram(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    guard FileManager.default.isExecutableFile(atPath: executable) else { throw TestPeerMissing(what: executable) }
    let result = try await runProcess(URL(fileURLWithPath: executable), arguments, mergingOutput: true)
    return (result.status, result.stdout)
}

/// dcmdump's view of a file's data set: element lines without the length comments, group
/// lengths, delimiters, data set trailing padding and the syntax line, so that the same content in another encoding
/// compares equal.
public func dataSetLines(_ path: String) async throws -> [String] {
    let result = try await runProgram("/usr/bin/dcmdump", ["-q", "+L", path])
    guard result.status == 0 else { throw TestPeerMissing(what: "dcmdump of \(path): \(result.output)") }
    let lines = result.output.split(separator: "\n").map(String.init)
    guard let start = lines.firstIndex(of: "# Dicom-Data-Set") else { return [] }
    return lines[(start + 1)...].compactMap { line in
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("#") || trimmed.isEmpty { return nil }
        if trimmed.contains(",0000) ") || trimmed.hasPrefix("(fffe,e00d)") || trimmed.hasPrefix("(fffe,e0dd)") { return nil }
        // DCMTK's storescu drops trailing padding (fffc,fffc) when it sends.
        if trimmed.hasPrefix("(fffc,fffc)") { return nil }
        // A sequence or item may be re-encoded with the other kind of length.
        let line = trimmed.components(separatedBy: " #").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        let normalized = line.replacingOccurrences(of: " with explicit length", with: "").replacingOccurrences(of: " with undefined length", with: "")
        // Native pixel data read as OW (implicit VR) shows as little endian words; the bytes
        // are the same as OB's.
        if normalized.hasPrefix("(7fe0,0010) OW ") {
            let words = normalized.dropFirst(15).split(separator: "\\")
            if words.allSatisfy({ $0.count == 4 }) {
                return "(7fe0,0010) OB " + words.map { "\($0.suffix(2))\\\($0.prefix(2))" }.joined(separator: "\\")
            }
        }
        return normalized
    }
}

/// Runs blocking work (a wait for a process, a blocking read, a peer's start-up) on a thread
/// of its own. Blocking in an async test holds one of the cooperative pool's threads, of which
/// a 2-core machine has two, and the code under test needs them: two such tests at once used
/// to stall every other test of the run for seconds.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

public func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

extension PeerProcess {
    /// `init`, off the cooperative pool (it waits up to seconds for the port to listen).
    public static func start(_ executable: String, _ arguments: [String], directory: String? = nil) async throws -> PeerProcess {
        try await offPool { try PeerProcess(executable, arguments, directory: directory) }
    }

    /// `stop`, off the cooperative pool.
    public func stopped() async {
        await offPool { self.stop() }
    }
}

/// The type of the file system holding `folder` as the mount table names it ("ext4",
/// "ext3", "tmpfs"): unlike statfs's magic number, it tells ext4 from ext2 and ext3,
/// which have no unwritten extents and cannot allocate ahead.
public func mountType(_ folder: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/findmnt")
    process.arguments = ["-n", "-o", "FSTYPE", "--target", folder]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    // One line per mount on the folder's mount point, the one in use (the last) last.
    return String(decoding: out, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
}
