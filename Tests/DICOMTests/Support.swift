import Foundation
import Testing
@testable import DICOM

/// Runs a program of a real peer (DCMTK, python) and returns its standard output.
/// A missing program fails the test: .ci/run installs them.
@discardableResult
func run(_ program: String, _ arguments: [String], allowFailure: Bool = false) throws -> (status: Int32, stdout: String, stderr: String) {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    guard let executable = path.map({ URL(fileURLWithPath: "\($0)/\(program)") })
        .first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw PeerMissing(program: program)
    }
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes fully before waiting, so a chatty program cannot block.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    let result = (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    if !allowFailure && process.terminationStatus != 0 {
        throw PeerFailed(program: program, arguments: arguments, status: process.terminationStatus, stderr: result.2)
    }
    return result
}

struct PeerMissing: Error, CustomStringConvertible {
    var program: String
    var description: String { "\(program) is not installed; .ci/run installs the test peers (apt-get install dcmtk, pip install pydicom)" }
}

struct PeerFailed: Error, CustomStringConvertible {
    var program: String
    var arguments: [String]
    var status: Int32
    var stderr: String
    var description: String { "\(program) \(arguments.joined(separator: " ")) exited \(status): \(stderr)" }
}

/// A fresh temporary directory for one test.
func temporaryDirectory(_ name: String = #function) throws -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "swift-movescu-tests/\(safe)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// pydicom's test files: DICOM written by many implementations (pip install pydicom).
enum PydicomData {
    static let directory: String? = {
        guard let result = try? run("python3", ["-c", "import pydicom, os; print(os.path.join(os.path.dirname(pydicom.__file__), 'data'))"]) else {
            return nil
        }
        let path = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.fileExists(atPath: path + "/test_files") ? path : nil
    }()

    static func files(_ subdirectory: String) throws -> [String] {
        guard let directory else { throw PeerMissing(program: "pydicom (python3 -m pip install pydicom)") }
        let folder = directory + "/" + subdirectory
        return try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasSuffix(".dcm") }
            .sorted()
            .map { folder + "/" + $0 }
    }
}

func fixture(_ name: String) -> String {
    Bundle.module.path(forResource: "Fixtures/\(name)", ofType: nil) ?? "missing-fixture-\(name)"
}

func readBytes(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw DICOMError.io(path: path, reason: "cannot read") }
    return [UInt8](data)
}

func writeBytes(_ bytes: [UInt8], _ path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
