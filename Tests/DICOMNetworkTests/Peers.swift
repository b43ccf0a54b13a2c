import Foundation
import NIOCore
import NIOPosix

/// A real DICOM peer (DCMTK or pynetdicom) run as a process on loopback for one test.
final class PeerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let output = Pipe()

    /// Starts `arguments` (with `{port}` replaced by a free port) and waits until the port accepts.
    init(_ executable: String, _ arguments: [String], directory: String? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else { throw TestPeerMissing(what: executable) }
        port = try freePort()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments.map { $0.replacingOccurrences(of: "{port}", with: String(port)) }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = output
        process.standardError = output
        try process.run()
        for _ in 0..<200 {
            if canConnect(port) { return }
            if !process.isRunning { break }
            usleep(25_000)
        }
        stop()
        throw TestPeerMissing(what: "\(executable) did not start listening on port \(port)")
    }

    /// SIGTERM, then SIGKILL after a second (DCMTK's storescp does not stop on SIGTERM
    /// while it waits for an association).
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<40 where process.isRunning { usleep(25_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for _ in 0..<200 where process.isRunning { usleep(10_000) }
    }

    deinit { stop() }
}

func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

func canConnect(_ port: Int) -> Bool {
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

let testGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

/// pynetdicom's apps run as `python3 -m pynetdicom <app>`.
func pythonPath() throws -> String {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
    guard let python = path.map({ "\($0)/python3" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw TestPeerMissing(what: "python3")
    }
    // pyenv's shim re-executes; resolve to the real interpreter so terminate() reaches it.
    let resolved = try? String(decoding: {
        let p = Process(); p.executableURL = URL(fileURLWithPath: python); p.arguments = ["-c", "import sys; print(sys.executable)"]
        let pipe = Pipe(); p.standardOutput = pipe; try p.run(); p.waitUntilExit()
        return pipe.fileHandleForReading.readDataToEndOfFile()
    }(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return resolved.flatMap { $0.isEmpty ? nil : $0 } ?? python
}
