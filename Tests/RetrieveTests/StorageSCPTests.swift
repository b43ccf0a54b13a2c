import Foundation
import Logging
import NIOPosix
import Synchronization
import Testing
import TestPeers
@testable import Retrieve
@testable import movescu
@testable import DICOM
import DICOMNetwork

/// Our storage SCP on its own, fed by pynetdicom (which sends a file's data set exactly as
/// it is on disk, with the SOP UIDs of its meta information in the command): what each
/// refusal answers, that nothing is left under a final name or outside -od, and C-ECHO.
@Suite(.serialized, .timeLimit(.minutes(10))) struct StorageSCPTests {
    static let makeFiles = """
    import os, sys, warnings, pydicom
    warnings.simplefilter("ignore")
    data = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
    out = sys.argv[1]
    def ct(uid):
        ds = pydicom.dcmread(os.path.join(data, "CT_small.dcm"))
        ds.SOPInstanceUID = uid
        ds.file_meta.MediaStorageSOPInstanceUID = uid
        return ds
    ct("1.2.826.0.1.3680043.8.498.7001.1").save_as(os.path.join(out, "good.dcm"), enforce_file_format=True)
    # The command will say .7001.3 (from the meta information, patched after pydicom wrote
    # it, since pydicom keeps the two equal), the data set says .7001.2.
    path = os.path.join(out, "mismatch.dcm")
    ct("1.2.826.0.1.3680043.8.498.7001.2").save_as(path, enforce_file_format=True)
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw.replace(b"1.2.826.0.1.3680043.8.498.7001.2", b"1.2.826.0.1.3680043.8.498.7001.3", 1))
    ct("../../escape").save_as(os.path.join(out, "baduid.dcm"), enforce_file_format=True)
    ct("1.2.826.0.1.3680043.8.498.7001.4/x").save_as(os.path.join(out, "slash.dcm"), enforce_file_format=True)
    ct("1.2.826.0.1.3680043.8.498.7001.5").save_as(os.path.join(out, "truncated.dcm"), enforce_file_format=True)
    path = os.path.join(out, "truncated.dcm")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 5001)
    """

    static let send = """
    import sys, logging
    from pynetdicom import AE, _config
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    logging.disable(logging.CRITICAL)
    # Send each file's data set bytes as they are, UIDs from its meta information.
    _config.STORE_SEND_CHUNKED_DATASET = True
    ae = AE(ae_title="SENDER")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate("127.0.0.1", int(sys.argv[1]), ae_title=sys.argv[2])
    if not assoc.is_established:
        print("not established"); sys.exit(2)
    print("echo %04X" % assoc.send_c_echo().Status)
    for path in sys.argv[3:]:
        rsp = assoc.send_c_store(path)
        print(path.split("/")[-1], ("%04X" % rsp.Status) if "Status" in rsp else "none")
    assoc.release()
    """

    final class Events: Sendable {
        let all = Mutex<[RetrieveEvent]>([])
        func add(_ event: RetrieveEvent) { all.withLock { $0.append(event) } }
        var failures: [String] {
            all.withLock { $0.compactMap { if case .objectFailed(_, let status, let reason) = $0 { String(format: "%04X ", status.code) + reason } else { nil } } }
        }
        var echoes: Int { all.withLock { $0.filter { if case .echoReceived = $0 { true } else { false } }.count } }
    }

    /// A new empty folder under the temporary directory.
    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "scp-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Our storage SCP with `configuration`, listening on a free port.
    static func startSCP(_ configuration: RetrieveConfiguration,
                         emit: @escaping @Sendable (RetrieveEvent) -> Void) async throws -> (StorageSCP, AssociationAcceptor) {
        let scp = StorageSCP(options: configuration.storage, pool: .singleton, emit: emit)
        let acceptor = try await RetrieveEngine.startStorageSCP(scp, port: 0, configuration: configuration,
                                                                logger: Logger(label: "test"), emit: emit)
        return (scp, acceptor)
    }

    /// Our own requestor as SENDER to OURS on `port`, with CT Image Storage in explicit VR
    /// little endian as context 1 (and a DIMSE timeout, so that a missing answer fails).
    static func sendingCT<T: Sendable>(to port: Int, _ body: @escaping @Sendable (AssociationRequestor) async throws -> T) async throws -> T {
        var requestor = RequestorConfiguration()
        requestor.callingAETitle = "SENDER"
        requestor.calledAETitle = "OURS"
        requestor.dimseTimeout = .seconds(10)
        return try await AssociationRequestor.withAssociation(
            host: "127.0.0.1", port: port,
            contexts: [ProposedPresentationContext(id: 1, abstractSyntax: ScriptedMoveSCP.ctClass, transferSyntaxes: [TransferSyntax.explicitVRLittleEndian.uid])],
            configuration: requestor, group: MultiThreadedEventLoopGroup.singleton, body)
    }

    /// Sends the files to a storage SCP writing into `output`; pynetdicom's lines back.
    static func sendToOurSCP(output: String, files: [String], events: Events) async throws -> [String: String] {
        let configuration = configuration(output: output)
        let (_, acceptor) = try await Self.startSCP(configuration, emit: events.add)
        let result = try await runProgram(try pythonPath(), ["-c", send, String(acceptor.port), "OURS"] + files)
        await acceptor.stop()
        #expect(result.status == 0, "\(result.output)")
        var lines: [String: String] = [:]
        for line in result.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { lines[String(parts[0])] = String(parts[1]) }
        }
        return lines
    }

    @Test func refusalsAnswerTheirStatusAndLeaveNothingBehind() async throws {
        let root = NSTemporaryDirectory() + "scp-\(UUID().uuidString.prefix(8))"
        let sources = root + "/sources", output = root + "/out/od"
        try FileManager.default.createDirectory(atPath: sources, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let made = try await runProgram(try pythonPath(), ["-c", Self.makeFiles, sources])
        guard made.status == 0 else { throw TestPeerMissing(what: "pydicom: \(made.output)") }
        let names = ["good.dcm", "mismatch.dcm", "baduid.dcm", "slash.dcm", "truncated.dcm"]
        let events = Events()
        let answers = try await Self.sendToOurSCP(output: output, files: names.map { sources + "/" + $0 }, events: events)
        #expect(answers["echo"] == "0000", "C-ECHO on a sub-association")
        #expect(events.echoes == 1)
        #expect(answers["good.dcm"] == "0000")
        #expect(answers["mismatch.dcm"] == "A900", "SOP Instance UID of the data set differs from the command's")
        #expect(answers["baduid.dcm"] == "C000", "a UID with '/' and '..' is refused")
        #expect(answers["slash.dcm"] == "C000")
        #expect(answers["truncated.dcm"] == "C000", "a data set cut short cannot be understood")
        let failures = events.failures
        #expect(failures.contains { $0.hasPrefix("A900") && $0.contains("differ from the command") }, "\(failures)")
        #expect(failures.contains { $0.hasPrefix("C000") && $0.contains("is never used as a file name") }, "\(failures)")
        #expect(failures.contains { $0.hasPrefix("C000") && $0.contains("cannot be read") }, "\(failures)")
        // Only the good object, under its final name; no temporary or spool file, nothing
        // written beside or above the output folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: output) == ["CT.1.2.826.0.1.3680043.8.498.7001.1"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/out") == ["od"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["out", "sources"])
        // An ordinary file, readable as the umask allows (not the 0600 of a temporary file).
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let umaskLine = try #require(status.split(separator: "\n").first { $0.hasPrefix("Umask:") })
        let mask = try #require(Int(umaskLine.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8))
        let attributes = try FileManager.default.attributesOfItem(atPath: output + "/CT.1.2.826.0.1.3680043.8.498.7001.1")
        #expect((attributes[.posixPermissions] as? Int) == 0o666 & ~mask)
        let received = try await dataSetLines(output + "/CT.1.2.826.0.1.3680043.8.498.7001.1")
        let original = try await dataSetLines(sources + "/good.dcm")
        #expect(!received.isEmpty && received == original)
    }

    /// `send` for a multi-frame secondary capture (the class the sender proposes).
    static let sendSecondaryCapture = send.replacingOccurrences(of: "\"1.2.840.10008.5.1.4.1.1.2\"", with: "\"1.2.840.10008.5.1.4.1.1.7.3\"")

    /// A fresh folder with an empty output folder `od` in it and a generated multi-frame
    /// object of about `megabytes` MB at `big/multiframe.dcm`; the caller removes the folder.
    static func largeObject(megabytes: Int) async throws -> (root: String, output: String) {
        let root = NSTemporaryDirectory() + "scp-\(UUID().uuidString.prefix(8))"
        let output = root + "/od"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/Scripts"
        let made = try await runProgram(try pythonPath(), [scripts + "/make-corpus.py", root + "/big", "--no-mixed", "--multiframe-mb", String(megabytes)])
        guard made.status == 0 else {
            try? FileManager.default.removeItem(atPath: root)
            throw TestPeerMissing(what: "pydicom: \(made.output)")
        }
        return (root, output)
    }

    /// Our storage SCP's settings for these tests, writing into `output`.
    static func configuration(output: String) -> RetrieveConfiguration {
        var configuration = RetrieveConfiguration()
        configuration.moveDestination = "OURS"
        configuration.listenHost = "127.0.0.1"
        configuration.storage.outputDirectory = output
        return configuration
    }

    /// The SCP stopped (as at the end of a retrieve, abortOpen) while a large object is
    /// half received: the association is aborted and its temporary file removed, whether the
    /// file work is done on the event loop or on the thread pool.
    @Test(arguments: [false, true])
    func anObjectCutOffMidwayLeavesNothing(onPool: Bool) async throws {
        let (root, output) = try await Self.largeObject(megabytes: 64)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var configuration = Self.configuration(output: output)
        configuration.storage.slowWrite = onPool ? .zero : .seconds(3600)
        let events = Events()
        // The sender is killed from inside our SCP's own event callback once 8 MiB are in: a
        // cut-off in the middle of the object however fast the transfer and however busy the
        // test's other threads.
        let sender = Mutex<(pid: pid_t?, received: Int, killed: Bool)>((nil, 0, false))
        let emit: @Sendable (RetrieveEvent) -> Void = { event in
            events.add(event)
            guard case .storeProgress(_, let n) = event else { return }
            sender.withLock { s in
                s.received += n
                if s.received >= 8 << 20, !s.killed, let pid = s.pid {
                    kill(pid, SIGKILL)
                    s.killed = true
                }
            }
        }
        let (_, acceptor) = try await Self.startSCP(configuration, emit: emit)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try pythonPath())
        process.arguments = ["-c", Self.sendSecondaryCapture, String(acceptor.port), "OURS", root + "/big/multiframe.dcm"]
        process.environment = peerEnvironment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let ended: Void = await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            process.terminationHandler = { _ in done.resume() }
            do {
                try process.run()
                sender.withLock { $0.pid = process.processIdentifier }
            } catch {
                done.resume()
            }
        }
        _ = ended
        let (received, killed) = sender.withLock { ($0.received, $0.killed) }
        #expect(killed && received >= 8 << 20 && received < 60 << 20, "stopped midway: \(received) bytes in")
        await acceptor.stop(abortOpen: true)
        // Give the serving task a moment to unwind, then nothing may be left.
        for _ in 0..<100 where !(try FileManager.default.contentsOfDirectory(atPath: output)).isEmpty {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: output).isEmpty)
        #expect(!events.all.withLock { $0.contains { if case .objectStored = $0 { true } else { false } } })
    }

    /// An object of several MiB arrives whole wherever its file work is done: on the event
    /// loop (the output folder quick), on the thread pool (the folder slow from the first
    /// write on), moved from the one to the other after its first write, or on the thread pool
    /// because its last job encodes it whole (+g: group lengths made, not written through).
    @Test(arguments: ["event loop", "thread pool", "moved midway", "encoded at the end"])
    func aLargeObjectArrivesWholeWhereverItIsWritten(_ mode: String) async throws {
        let (root, output) = try await Self.largeObject(megabytes: 8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var configuration = Self.configuration(output: output)
        configuration.storage.slowWrite = ["thread pool": .zero, "moved midway": .nanoseconds(1)][mode] ?? .seconds(3600)
        if mode == "encoded at the end" { configuration.storage.write.encoding.groupLength = .create }
        let events = Events()
        let (scp, acceptor) = try await Self.startSCP(configuration, emit: events.add)
        #expect(scp.writingOnPool == (mode == "thread pool"))
        let result = try await runProgram(try pythonPath(), ["-c", Self.sendSecondaryCapture, String(acceptor.port), "OURS", root + "/big/multiframe.dcm"])
        await acceptor.stop()
        await scp.idle()
        #expect(result.output.contains("multiframe.dcm 0000"), "\(result.output)")
        #expect(scp.writingOnPool == (mode == "thread pool" || mode == "moved midway"))
        #expect((scp.jobsSentToPool > 0) == (mode != "event loop"), "\(scp.jobsSentToPool) write jobs on the pool")
        // Said once when the writes move, not when they were there from the start.
        let moved = events.all.withLock { $0.filter { if case .writesMovedToThreadPool = $0 { true } else { false } }.count }
        #expect(moved == (mode == "moved midway" ? 1 : 0))
        let files = try FileManager.default.contentsOfDirectory(atPath: output)
        #expect(files.count == 1, "only the object, under its final name: \(files)")
        // Every element the same, the pixel data byte for byte (pydicom compares).
        let compare = """
        import sys, pydicom
        a, b = pydicom.dcmread(sys.argv[1]), pydicom.dcmread(sys.argv[2])
        for ds in (a, b):
            for tag in [e.tag for e in ds if e.tag.element == 0]:
                del ds[tag]
        print("same" if a == b and a.PixelData == b.PixelData and len(a.PixelData) > 8000000 else "different")
        """
        let same = try await runProgram(try pythonPath(), ["-c", compare, root + "/big/multiframe.dcm", output + "/" + (files.first ?? "")])
        #expect(same.output.hasPrefix("same"), "\(same.output)")
    }

    /// An object of 2 MB (the generator's "1 MB" multi-frame) is being written well before
    /// its last fragment comes: while an object is small it is written in quarter-MiB jobs,
    /// so that its C-STORE response is not held back by a write of all of it at its end (the
    /// sender waits for the response before its next object). Looked at from the SCP's own
    /// progress callback, which runs between fragments on the association's event loop, so
    /// the check holds however fast the transfer; the object then arrives whole.
    @Test func aSmallObjectIsMostlyOnDiskBeforeItsLastFragment() async throws {
        let (root, output) = try await Self.largeObject(megabytes: 1)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var configuration = Self.configuration(output: output)
        // The writes stay on the event loop even if the machine is slow now and then.
        configuration.storage.slowWrite = .seconds(3600)
        let seen = Mutex<(received: Int, onDisk: Int?)>((0, nil))
        let emit: @Sendable (RetrieveEvent) -> Void = { event in
            guard case .storeProgress(_, let n) = event else { return }
            seen.withLock { s in
                s.received += n
                guard s.onDisk == nil, s.received >= 700_000 else { return }
                // The part file's size: what has been written of the object so far (not
                // `partFiles(in:)`, whose #expect would run outside the test's task here).
                let parts = (try? FileManager.default.contentsOfDirectory(atPath: output))?.filter { $0.hasSuffix(".part") } ?? []
                var info = stat()
                s.onDisk = parts.count == 1 && stat(output + "/" + parts[0], &info) == 0 ? Int(info.st_size) : -parts.count
            }
        }
        let (scp, acceptor) = try await Self.startSCP(configuration, emit: emit)
        let result = try await runProgram(try pythonPath(), ["-c", Self.sendSecondaryCapture, String(acceptor.port), "OURS", root + "/big/multiframe.dcm"])
        await acceptor.stop()
        await scp.idle()
        #expect(result.output.contains("multiframe.dcm 0000"), "\(result.output)")
        let (received, onDisk) = seen.withLock { ($0.received, $0.onDisk) }
        let original = try #require(FileManager.default.attributesOfItem(atPath: root + "/big/multiframe.dcm")[.size] as? Int)
        #expect(received > 700_000 && received < original, "the object's data set: \(received) bytes")
        #expect((onDisk ?? 0) >= 1 << 18, "written when 700,000 bytes had come: \(onDisk.map(String.init) ?? "not looked at") (negative: no part file or several)")
        let files = try FileManager.default.contentsOfDirectory(atPath: output)
        #expect(files.count == 1, "only the object, under its final name: \(files)")
        let stored = try #require(FileManager.default.attributesOfItem(atPath: output + "/" + (files.first ?? ""))[.size] as? Int)
        #expect(stored >= received, "the whole data set is in the file: \(stored) bytes for \(received)")
    }

    /// A CT image is written on the event loop, in no hop to the thread pool: written through
    /// in its early quarter-MiB jobs, and encoded whole at its end (+g: group lengths made,
    /// nothing of it reaches the file before) in one job, as before early jobs: they would not
    /// put anything on disk sooner there, and its jobs before the last would go to the pool.
    /// (The +g case fails if early jobs are used there; the plain one guards that the early
    /// jobs of a written-through object stay on the event loop.)
    @Test(arguments: [[], ["+g"]])
    func aCTImageIsWrittenOnTheEventLoop(_ flags: [String]) async throws {
        let root = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/Scripts"
        let made = try await runProgram(try pythonPath(), [scripts + "/make-corpus.py", root + "/corpus", "--no-mixed", "--ct", "1"])
        #expect(made.status == 0, "\(made.output)")
        var configuration = try CommandLineParser.parse(flags + ["-k", "PatientID=x", "localhost", "104"]).configuration
        configuration.moveDestination = "OURS"
        configuration.listenHost = "127.0.0.1"
        configuration.storage.outputDirectory = root + "/od"
        configuration.storage.slowWrite = .seconds(3600)
        try FileManager.default.createDirectory(atPath: root + "/od", withIntermediateDirectories: true)
        let (scp, acceptor) = try await Self.startSCP(configuration, emit: { _ in })
        let result = try await runProgram(try pythonPath(), ["-c", Self.send, String(acceptor.port), "OURS", root + "/corpus/bench0000.dcm"])
        await acceptor.stop()
        await scp.idle()
        #expect(result.output.contains("bench0000.dcm 0000"), "\(result.output)")
        #expect(scp.jobsSentToPool == 0, "\(scp.jobsSentToPool) write jobs on the pool (\(flags))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/od").count == 1)
    }

    /// A command whose SOP Instance UID is padded with spaces (some old senders do) matches
    /// its data set and names the file without the padding, with -up and without: we always
    /// read UIDs without trailing spaces and NULs, which is what DCMTK does only with -up.
    /// Sent by our own requestor, which sends the UID exactly as given.
    @Test(arguments: [true, false])
    func spacePaddedUIDsWithAndWithoutUp(_ correct: Bool) async throws {
        let output = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: output) }
        var configuration = Self.configuration(output: output)
        configuration.storage.correctUIDPadding = correct
        let events = Events()
        let (_, acceptor) = try await Self.startSCP(configuration, emit: events.add)
        let uid = ScriptedMoveSCP.instanceUID(0)  // 32 characters: one space makes it odd, so two
        let status = try await Self.sendingCT(to: acceptor.port) { association in
            let status = try await association.store(sopClassUID: ScriptedMoveSCP.ctClass, sopInstanceUID: uid + "  ",
                                                     dataSet: try ScriptedMoveSCP.dataSet(0), contextID: 1)
            try await association.release()
            return status
        }
        await acceptor.stop()
        #expect(status.code == 0x0000, "-up \(correct): \(events.failures)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: output) == ["CT." + uid])
    }

    /// A C-STORE request whose command says that no data set follows is answered with a
    /// failure at once (not waited on until the next command breaks the association), and the
    /// association goes on: the next object is stored.
    @Test func aStoreRequestWithoutDataSetIsAnsweredAtOnce() async throws {
        let output = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: output) }
        let configuration = Self.configuration(output: output)
        let events = Events()
        let (_, acceptor) = try await Self.startSCP(configuration, emit: events.add)
        let (first, second) = try await Self.sendingCT(to: acceptor.port) { association in
            var rq = CStoreRQ(messageID: 7, affectedSOPClassUID: ScriptedMoveSCP.ctClass, affectedSOPInstanceUID: ScriptedMoveSCP.instanceUID(1))
            rq.hasDataSet = false
            try await association.send(.storeRQ(rq), contextID: 1)
            let (answer, _, _) = try await association.receive()
            let second = try await association.store(sopClassUID: ScriptedMoveSCP.ctClass, sopInstanceUID: ScriptedMoveSCP.instanceUID(0),
                                                     dataSet: try ScriptedMoveSCP.dataSet(0), contextID: 1)
            try await association.release()
            return (answer, second)
        }
        await acceptor.stop()
        guard case .storeRSP(let rsp) = first else { Issue.record("not a C-STORE-RSP: \(first.name)"); return }
        #expect(rsp.messageIDBeingRespondedTo == 7 && rsp.status == .cannotUnderstand)
        #expect(events.failures.contains { $0.hasPrefix("C000") && $0.contains("no data set follows") }, "\(events.failures)")
        #expect(second.code == 0x0000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: output) == ["CT." + ScriptedMoveSCP.instanceUID(0)])
    }

    @Test func aFailedWriteAnswersA700() async throws {
        let root = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let made = try await runProgram(try pythonPath(), ["-c", Self.makeFiles, root])
        guard made.status == 0 else { throw TestPeerMissing(what: "pydicom: \(made.output)") }
        // An output folder that is gone (the VM runs as root, so permissions cannot stop a write).
        let events = Events()
        let answers = try await Self.sendToOurSCP(output: root + "/gone", files: [root + "/good.dcm"], events: events)
        #expect(answers["good.dcm"] == "A700")
        #expect(events.failures.contains { $0.hasPrefix("A700") && $0.contains(root + "/gone") }, "\(events.failures)")
        #expect(!FileManager.default.fileExists(atPath: root + "/gone"))
    }

    /// Large values written straight into the file as they arrive give the same bytes as the
    /// same object written whole at the end, for pydicom's files with large native pixel data
    /// (explicit and implicit VR) and a generated CT, fed in PDV-sized pieces, with the
    /// default options and with ones that turn writing through off (+te from implicit,
    /// +tb, +g, padding) or change what is written around it (-g, -e). The pieces are arrays,
    /// or views of a receive buffer as the PDU decoder makes them (written through).
    @Test(arguments: [[], ["+te"], ["+tb"], ["+g"], ["-g"], ["-e"], ["+p", "1024", "64"]])
    func writingThroughGivesTheSameFile(_ flags: [String]) async throws {
        let data = try await runProgram(try pythonPath(), ["-c", "import pydicom, os; print(os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files'))"])
        let pydicomFiles = data.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let root = NSTemporaryDirectory() + "through-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/Scripts"
        let made = try await runProgram(try pythonPath(), [scripts + "/make-corpus.py", root + "/corpus", "--no-mixed", "--ct", "1"])
        #expect(made.status == 0, "\(made.output)")
        let paths = ["SC_rgb_jpeg_dcmd.dcm", "examples_overlay.dcm", "examples_palette.dcm", "examples_rgb_color.dcm"]
            .map { pydicomFiles + "/" + $0 } + [root + "/corpus/bench0000.dcm"]
        let invocation = try CommandLineParser.parse(flags + ["-k", "PatientID=x", "localhost", "104"])
        for (variant, through, views) in [("spooled", false, false), ("through", true, false), ("views", true, true)] {
            try FileManager.default.createDirectory(atPath: root + "/" + variant, withIntermediateDirectories: true)
            var options = invocation.configuration.storage
            options.outputDirectory = root + "/" + variant
            for path in paths {
                let file = try DICOMFile.read(path: path)
                let bytes = try #require(try MovescuSideBySideTests.dataSetBytes(path), "\(path)")
                let rq = CStoreRQ(messageID: 1, affectedSOPClassUID: file.dataSet.string(.sopClassUID) ?? "",
                                  affectedSOPInstanceUID: file.dataSet.string(.sopInstanceUID) ?? "")
                let sink = try ObjectSink(request: rq, transferSyntax: file.transferSyntax, options: options, writingThrough: through)
                var at = 0
                while at < bytes.count {
                    let piece = Array(bytes[at..<min(bytes.count, at + 16372)])
                    try sink.consume(views ? ByteChunk.view(copying: piece) : ByteChunk(piece))
                    at += 16372
                }
                if case .failure(let failure) = sink.finish() { Issue.record("\(path) \(variant): \(failure.reason)") }
                // With the defaults every one of these has its pixel data written through.
                if through && flags.isEmpty { #expect(sink.valuesWrittenThrough == 1, "\(path)") }
                if !through { #expect(sink.valuesWrittenThrough == 0) }
                // Fed views, the pixel data goes to the file as views of them, not as copies.
                if views && flags.isEmpty { #expect(sink.viewsWrittenThrough > 0, "\(path)") }
                if !views { #expect(sink.viewsWrittenThrough == 0) }
            }
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/spooled").sorted()
        for other in ["through", "views"] {
            let otherNames = try FileManager.default.contentsOfDirectory(atPath: root + "/" + other).sorted()
            #expect(names.count == paths.count && names == otherNames)
            for name in names {
                let a = FileManager.default.contents(atPath: root + "/spooled/" + name)
                let b = FileManager.default.contents(atPath: root + "/" + other + "/" + name)
                #expect(a != nil && a == b, "\(name) \(other) with \(flags): \(a?.count ?? 0) and \(b?.count ?? 0) bytes")
            }
        }
    }

    /// An explicit VR little endian data set of a secondary capture object whose pixel data
    /// (OW) declares `pixelLength` bytes: the bytes up to and with the pixel data's header.
    static func dataSetStart(instance: String, pixelLength: UInt32) -> [UInt8] {
        func element(_ group: UInt16, _ number: UInt16, _ vr: String, _ value: [UInt8]) -> [UInt8] {
            var value = value
            if value.count % 2 == 1 { value.append(vr == "UI" ? 0 : 0x20) }
            let length = UInt16(value.count)
            return [UInt8(group & 0xFF), UInt8(group >> 8), UInt8(number & 0xFF), UInt8(number >> 8)]
                + Array(vr.utf8) + [UInt8(length & 0xFF), UInt8(length >> 8)] + value
        }
        var bytes = element(0x0008, 0x0016, "UI", Array("1.2.840.10008.5.1.4.1.1.7".utf8))
        bytes += element(0x0008, 0x0018, "UI", Array(instance.utf8))
        bytes += element(0x0010, 0x0020, "LO", Array("RESERVE".utf8))
        bytes += [0xE0, 0x7F, 0x10, 0x00] + Array("OW".utf8) + [0, 0]
        bytes += withUnsafeBytes(of: pixelLength.littleEndian, Array.init)
        return bytes
    }

    /// The part files in `folder`, with the bytes of disk each has allocated.
    static func partFiles(in folder: String) throws -> [(name: String, allocated: Int, size: Int)] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".part") }.map { name in
            var info = stat()
            #expect(stat(folder + "/" + name, &info) == 0)
            return (name, Int(info.st_blocks) * 512, Int(info.st_size))
        }
    }

    /// Pixel data written through has its blocks allocated when its length arrives, on
    /// ext4: in the middle of the value the part file holds the whole of it (12 MiB, under a
    /// window) though a MiB of it has come. The finished file has every byte. Elsewhere
    /// nothing is allocated ahead, and the test says which it saw.
    @Test func pixelDataWrittenThroughIsAllocatedWhenItsLengthArrives() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let type = try mountType(folder)
        var options = try CommandLineParser.parse(["-k", "PatientID=x", "localhost", "104"]).configuration.storage
        options.outputDirectory = folder
        let instance = "1.2.826.0.1.3680043.8.498.7002.1"
        let length = 12 << 20
        let start = Self.dataSetStart(instance: instance, pixelLength: UInt32(length))
        let rq = CStoreRQ(messageID: 1, affectedSOPClassUID: "1.2.840.10008.5.1.4.1.1.7", affectedSOPInstanceUID: instance)
        let sink = try ObjectSink(request: rq, transferSyntax: .explicitVRLittleEndian, options: options)
        let pixels = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
        try sink.consume(ByteChunk(start))
        try sink.consume(ByteChunk(Array(pixels[..<(1 << 20)])))
        let parts = try Self.partFiles(in: folder)
        #expect(parts.count == 1)
        let allocated = parts.first?.allocated ?? 0
        print("StorageSCPTests.allocatedAhead: \(folder) is \(type): \(allocated) bytes allocated a MiB into \(length)")
        if type == "ext4" {
            #expect(allocated >= length, "the whole value allocated at its header: \(allocated) bytes")
        } else {
            #expect(allocated < length / 2, "nothing allocated ahead on \(type): \(allocated) bytes")
        }
        try sink.consume(ByteChunk(Array(pixels[(1 << 20)...])))
        guard case .success(let (path, _)) = sink.finish() else {
            Issue.record("not stored")
            return
        }
        #expect(sink.valuesWrittenThrough == 1)
        let written = try #require(FileManager.default.contents(atPath: path))
        #expect(written.count > length && Array(written.suffix(length)) == pixels, "the file ends with every pixel byte")
        #expect(try Self.partFiles(in: folder).isEmpty)
    }
}
