import Foundation

/// One object of the generated corpus (Scripts/make-corpus.py prints these as JSON).
public struct CorpusEntry: Decodable, Sendable {
    public var file: String
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var seriesInstanceUID: String
    public var studyInstanceUID: String
    public var patientID: String
    public var transferSyntax: String
    public var bytes: Int

    public static var scripts: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts").path
    }

    /// Writes the corpus into `folder` and returns its manifest.
    public static func make(_ folder: String, _ options: [String] = []) async throws -> [CorpusEntry] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let made = try await runProcess(URL(fileURLWithPath: try pythonPath()), [scripts + "/make-corpus.py", folder] + options)
        guard made.status == 0 else { throw TestPeerMissing(what: "pydicom to make the corpus: \(made.stderr)") }
        return try JSONDecoder().decode([CorpusEntry].self, from: Data(made.stdout.utf8))
    }
}

/// DCMTK's dcmqrscp over a generated corpus, called ARCHIVE, with move destinations by AE title.
public final class CorpusArchive: @unchecked Sendable {
    public let folder: String
    public let entries: [CorpusEntry]
    public let peer: PeerProcess

    public init(corpus options: [String] = [], destinations: [(ae: String, port: Int)]) async throws {
        let folder = NSTemporaryDirectory() + "corpus-\(UUID().uuidString.prefix(8))"
        self.folder = folder
        let entries = try await CorpusEntry.make(folder + "/db", options)
        self.entries = entries
        let files = entries.map { folder + "/db/" + $0.file }
        let indexed = try await runProgram("/usr/bin/dcmqridx", [folder + "/db"] + files)
        guard indexed.status == 0 else { throw TestPeerMissing(what: "dcmqridx: \(indexed.output)") }
        let hosts = destinations.enumerated().map { "dest\($0.offset) = (\($0.element.ae), localhost, \($0.element.port))" }
        try """
        NetworkTCPPort = 104
        MaxPDUSize = 16384
        MaxAssociations = 16
        HostTable BEGIN
        \(hosts.joined(separator: "\n"))
        HostTable END
        VendorTable BEGIN
        VendorTable END
        AETable BEGIN
        ARCHIVE \(folder)/db RW (100, 2048mb) ANY
        AETable END
        """.write(toFile: folder + "/dcmqrscp.cfg", atomically: true, encoding: .utf8)
        peer = try await PeerProcess.start("/usr/bin/dcmqrscp", ["-c", folder + "/dcmqrscp.cfg", "{port}"])
    }

    public func stop() {
        peer.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}
