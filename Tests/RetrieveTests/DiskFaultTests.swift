import DICOM
import Foundation
import Synchronization
import Retrieve
import Testing
import TestPeers

/// Disk and process faults (issue 6, part 3): the output directory fills up, is read-only
/// from the start or turns read-only while objects arrive, and movescu is SIGKILLed in the
/// middle of a retrieve and run again. Our movescu binary against DCMTK's dcmqrscp serving a
/// generated corpus; what is kept is compared with the originals element by element.
///
/// The faults need a file system of their own: a small tmpfs mounted for the test (we run as
/// root). Where mounting is not allowed, a substitute that reaches the same code paths is
/// used and the test says which: a file size limit (RLIMIT_FSIZE, EFBIG) for a full disk, a
/// folder without write permission for a read-only one, with movescu run as root without
/// the capabilities that pass over permission bits.
@Suite(.serialized, .timeLimit(.minutes(10))) struct DiskFaultTests {
    static var ours: String { MovescuSideBySideTests.ours }

    // MARK: Unit: which part files a starting storage SCP removes

    @Test func abandonedPartFilesAreThoseOfProcessesThatAreGone() async throws {
        let folder = try CorpusRetrieveTests.freshFolder("abandoned")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let gone = try Self.pidOfAFinishedProcess()
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        let alive = sleeper.processIdentifier
        let names = [
            ".movescu-\(gone)-aB3xYz.part",          // a killed writer's part file: removed
            ".movescu-spool-\(gone)-Qw12er",         // its spool file, caught before its unlink: removed
            ".movescu-\(alive)-abcdef.part",         // a running writer's: kept
            ".movescu-\(getpid())-ghijkl.part",      // our own: kept
            ".movescu-abcdef.part",                  // an older name without a PID: kept
            ".movescu-12x-abcdef.part", ".movescu-\(gone)-abc.part", ".movescu-\(gone)-abcdef.dcm",
            "CT.1.2.3", ".movescu-\(gone)-abcdef.part.keep",
        ]
        for name in names { #expect(FileManager.default.createFile(atPath: folder + "/" + name, contents: Data([1, 2, 3]))) }

        #expect(PartFile.writerPID(ofFileNamed: names[0]) == gone)
        #expect(PartFile.writerPID(ofFileNamed: names[1]) == gone)
        #expect(PartFile.writerPID(ofFileNamed: names[2]) == alive)
        for name in names[4...] { #expect(PartFile.writerPID(ofFileNamed: name) == nil, "\(name)") }
        #expect(PartFile.isRunning(alive) && PartFile.isRunning(getpid()) && !PartFile.isRunning(gone))

        // A writer whose PID means nothing here (another PID namespace or host sharing the
        // folder) still holds its file's lock: kept.
        let locked = ".movescu-\(gone)-lockd1.part"
        #expect(FileManager.default.createFile(atPath: folder + "/" + locked, contents: Data([1])))
        let holder = open(folder + "/" + locked, O_RDONLY)
        #expect(holder >= 0 && flock(holder, LOCK_EX | LOCK_NB) == 0)

        // With every writer said to be running, nothing goes.
        #expect(PartFile.removeAbandoned(in: folder, isRunning: { _ in true }).isEmpty)
        let removed = PartFile.removeAbandoned(in: folder)
        #expect(removed == [names[0], names[1]].sorted())
        let left = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(left == (Array(names.dropFirst(2)) + [locked]).sorted())
        // Its writer gone (the lock with it), it goes too.
        close(holder)
        #expect(PartFile.removeAbandoned(in: folder) == [locked])

        // A part file made now carries this process's PID, so a later run can tell it.
        let part = try PartFile(directory: folder)
        #expect(PartFile.writerPID(ofFileNamed: (part.temporaryPath as NSString).lastPathComponent) == getpid())
        part.discard()
    }

    // MARK: A full output directory

    /// More than fits: a 3 MB tmpfs (or a 300 KB file size limit) for 7 small objects and
    /// 12 CT images of 525 KB. Those that fit are kept whole; the rest are refused with
    /// A700, which the archive counts as failed; exit 40 with a line naming the folder and
    /// the cause.
    @Test func aFullOutputDirectoryRefusesWhatDoesNotFit() async throws {
        let setup = try await Setup(corpus: ["--ct", "12"], folder: "full")
        defer { setup.stop() }
        let (archive, folder) = (setup.archive, setup.folder)
        let mount = await Self.mountTmpfs(on: folder, options: "size=3m")
        defer { mount?.unmount() }
        // Without a mount: each file may grow to 300 KB, so the CT images do not fit.
        let method = mount != nil ? "tmpfs of 3 MB" : "RLIMIT_FSIZE of 300 KB (mounting is not allowed here)"
        print("DiskFaultTests.full: method \(method)")
        let wrapper = mount != nil ? [] : ["/usr/bin/prlimit", "--fsize=307200", "--"]
        let cause = mount != nil ? "No space left on device" : "File too large"

        let run = try await Self.retrieveEverything(setup, wrapper: wrapper)
        #expect(!run.hung && !run.signalled, "movescu ended by itself (\(method)): \(run.log.suffix(2000))")
        #expect(run.status == 40, "exit 40 (\(method)): \(run.log.suffix(3000))")
        #expect(run.log.contains("E: cannot write to output directory \(folder): \(cause)"), "\(run.log.suffix(3000))")

        let kept = try Self.finalNames(in: folder)
        #expect(try Self.partNames(in: folder).isEmpty, "no part or spool file is left")
        let counts = try #require(Self.finalCounts(run.log), "\(run.log.suffix(2000))")
        #expect(counts.completed == kept.count && counts.completed > 0, "\(counts), kept \(kept.count)")
        #expect(counts.failed > 0 && counts.completed + counts.failed == archive.entries.count, "\(counts)")
        #expect(Self.refusedStores(run.log) == counts.failed, "each failed sub-operation was refused by our C-STORE-RSP")
        try await Self.expectWhole(kept, archive: archive, folder: folder, "full (\(method))")
    }

    /// A large object that cannot fit is refused when its pixel data's length arrives: an
    /// 8 MB multi-frame object and two CT images for a 3 MB tmpfs. The CT images are kept
    /// whole, the multi-frame one is refused with A700 (counted as failed, exit 40) and
    /// leaves no part file; what was said is the room left, not a failed write part-way.
    /// Under the substitute (a file size limit, which the room on the disk does not show)
    /// the writes fail instead, with the same answer.
    @Test func aLargeObjectThatCannotFitIsRefusedAtItsStart() async throws {
        let setup = try await Setup(corpus: ["--multiframe-mb", "8", "--ct", "2", "--no-mixed"], folder: "toolarge")
        defer { setup.stop() }
        let (archive, folder) = (setup.archive, setup.folder)
        let mount = await Self.mountTmpfs(on: folder, options: "size=3m")
        defer { mount?.unmount() }
        let method = mount != nil ? "tmpfs of 3 MB" : "RLIMIT_FSIZE of 3 MB (mounting is not allowed here)"
        print("DiskFaultTests.tooLarge: method \(method)")
        let wrapper = mount != nil ? [] : ["/usr/bin/prlimit", "--fsize=3145728", "--"]
        let cause = mount != nil ? "No space left on device" : "File too large"

        let run = try await Self.retrieveEverything(setup, wrapper: wrapper)
        #expect(!run.hung && !run.signalled, "movescu ended by itself (\(method)): \(run.log.suffix(2000))")
        #expect(run.status == 40, "exit 40 (\(method)): \(run.log.suffix(3000))")
        #expect(run.log.contains("E: cannot write to output directory \(folder): \(cause)"), "\(run.log.suffix(3000))")
        if mount != nil {
            #expect(run.log.contains("cannot write a value of"), "refused for the room left: \(run.log.suffix(3000))")
        }
        let kept = try Self.finalNames(in: folder)
        #expect(try Self.partNames(in: folder).isEmpty, "no part or spool file is left")
        let counts = try #require(Self.finalCounts(run.log), "\(run.log.suffix(2000))")
        #expect(counts.completed == 2 && counts.failed == 1 && kept.count == 2, "\(counts), kept \(kept)")
        #expect(Self.refusedStores(run.log) == 1, "the multi-frame object was refused by our C-STORE-RSP")
        try await Self.expectWhole(kept, archive: archive, folder: folder, "too large (\(method))")
    }

    // MARK: A read-only output directory

    /// Read-only from the start: the check before anything else gives exit 40 naming the
    /// folder, and nothing is asked of the archive. access(2) tells root about a read-only
    /// mount (EROFS), unlike permission bits.
    @Test func aReadOnlyOutputDirectoryIsRefusedAtStart() async throws {
        let folder = try CorpusRetrieveTests.freshFolder("readonly")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let mount = await Self.mountTmpfs(on: folder, options: "ro,size=1m")
        defer { mount?.unmount() }
        let bitsOnly = mount == nil
        print("DiskFaultTests.readOnlyAtStart: method \(bitsOnly ? "mode 0555, movescu without CAP_DAC_OVERRIDE (mounting is not allowed here)" : "read-only tmpfs")")
        if bitsOnly {
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: folder)
        } else {
            let answer = access(folder, W_OK), code = errno
            #expect(answer == -1 && code == EROFS, "access(2) reports EROFS to root")
            #expect(!FileManager.default.isWritableFile(atPath: folder))
        }
        let arguments = ["-v", "--batch", "+P", String(try freePort()), "-od", folder, "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=X",
                         "localhost", String(try freePort())]
        let run = try await runProgram(bitsOnly ? Self.withoutOverride[0] : Self.ours,
                                       (bitsOnly ? Array(Self.withoutOverride.dropFirst()) + [Self.ours] : []) + arguments)
        #expect(run.status == 40, "\(run.output)")
        let cause = bitsOnly ? "Permission denied" : "Read-only file system"
        #expect(run.output.contains("F: cannot write to output directory: \(folder) (\(cause))"), "\(run.output)")
        #expect(!run.output.contains("Requesting Association"), "nothing is asked of the archive")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    /// The folder turns read-only while objects arrive (a read-only bind mount laid over it,
    /// as a remount of the whole file system is refused while files are open for writing):
    /// the stores from then on are refused, what came before stays whole, nothing partial
    /// gets a final name; exit 40 naming the folder and the cause. The one object in flight
    /// cannot even remove its part file there; that is left for the next run to clear.
    @Test func anOutputDirectoryTurningReadOnlyRefusesTheRest() async throws {
        // 200 objects: a few hundred milliseconds of transfer even on a fast machine, time
        // enough to turn the folder read-only in the middle.
        let setup = try await Setup(corpus: ["--ct", "200", "--no-mixed"], folder: "turning-readonly")
        defer { setup.stop() }
        let (archive, folder) = (setup.archive, setup.folder)
        let mount = await Self.mountTmpfs(on: folder, options: "size=256m")
        defer { mount?.unmount() }
        let bitsOnly = mount == nil
        print("DiskFaultTests.turningReadOnly: method \(bitsOnly ? "chmod 0555 while movescu runs without CAP_DAC_OVERRIDE (mounting is not allowed here)" : "read-only bind mount over a tmpfs")")

        let run = try await Self.retrieveEverything(setup, wrapper: bitsOnly ? Self.withoutOverride : [],
                                                    pauseAfterFiles: 3) { _ in
            // Once a few objects are in, the folder stops taking more.
            guard (try? Self.finalNames(in: folder).count) ?? 0 >= 3 else { return false }
            if let mount {
                let complaints = await mount.overlayReadOnly()
                #expect(complaints.isEmpty, "\(complaints)")
            } else {
                try? FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: folder)
            }
            return true
        }
        #expect(!run.hung && !run.signalled, "\(run.log.suffix(2000))")
        #expect(run.status == 40, "\(run.log.suffix(3000))")
        let cause = bitsOnly ? "Permission denied" : "Read-only file system"
        #expect(run.log.contains("E: cannot write to output directory \(folder): \(cause)"), "\(run.log.suffix(3000))")
        let kept = try Self.finalNames(in: folder)
        let counts = try #require(Self.finalCounts(run.log), "\(run.log.suffix(2000))")
        #expect(counts.completed == kept.count && counts.completed >= 3, "\(counts), kept \(kept.count)")
        #expect(counts.failed > 0 && counts.completed + counts.failed == archive.entries.count, "\(counts)")
        #expect(Self.refusedStores(run.log) == counts.failed)
        // At most the object in flight when the folder turned, under its writer's PID.
        let parts = try Self.partNames(in: folder)
        print("DiskFaultTests.turningReadOnly: \(kept.count) kept, \(counts.failed) refused, part files left: \(parts)")
        #expect(parts.count <= 1 && parts.allSatisfy { PartFile.writerPID(ofFileNamed: $0) == run.pid }, "\(parts)")
        try await Self.expectWhole(kept, archive: archive, folder: folder, "turning read-only")
    }

    // MARK: SIGKILL, then again

    /// Killed in the middle of 200 CT images: every file under a final name is whole, the
    /// object being written is only under its part name. Run again: everything arrives,
    /// exit 0, and the killed run's part files are gone.
    @Test func aKilledRetrieveLeavesOnlyWholeFilesAndTheNextRunClearsItsParts() async throws {
        let setup = try await Setup(corpus: ["--ct", "200", "--no-mixed"], folder: "killed")
        defer { setup.stop() }
        let (archive, folder) = (setup.archive, setup.folder)

        // Once some are kept, kill while an object is being written: stopped first, so that
        // what is listed is what the kill leaves; let go again when nothing is. All on a
        // thread of its own, so that a loaded machine's busy task pool cannot let the whole
        // retrieve slip by between two looks.
        let killer = Mutex<pid_t?>(nil)
        let killed = try await Self.retrieveEverything(setup) { pid in
            guard killer.withLock({ $0 }) == nil else { return true }
            killer.withLock { $0 = pid }
            Thread {
                while kill(pid, 0) == 0 {
                    guard ((try? Self.finalNames(in: folder).count) ?? 0) >= 20 else { usleep(200); continue }
                    kill(pid, SIGSTOP)
                    Self.waitUntilStopped(pid)
                    if let names = try? Self.partNames(in: folder), !names.isEmpty {
                        kill(pid, SIGKILL)
                        return
                    }
                    kill(pid, SIGCONT)
                    usleep(300)
                }
            }.start()
            return true
        }
        #expect(killed.signalled, "killed: \(killed.log.suffix(1000))")
        let survivors = try Self.finalNames(in: folder)
        let leftovers = try Self.partNames(in: folder)
        print("DiskFaultTests.killed: \(survivors.count) file(s) kept, part files left: \(leftovers)")
        #expect(survivors.count >= 20 && survivors.count < archive.entries.count)
        #expect(!leftovers.isEmpty && leftovers.allSatisfy { PartFile.writerPID(ofFileNamed: $0) == killed.pid }, "\(leftovers)")
        try await Self.expectWhole(survivors, archive: archive, folder: folder, "after SIGKILL")

        let again = try await Self.retrieveEverything(setup)
        #expect(again.status == 0 && !again.hung, "\(again.log.suffix(3000))")
        #expect(again.log.contains("W: removed \(leftovers.count) unfinished file(s) from \(folder)"), "\(again.log.prefix(3000))")
        #expect(try Self.partNames(in: folder).isEmpty, "the killed run's part files are cleared")
        let all = try Self.finalNames(in: folder)
        #expect(all == archive.entries.map(\.receivedName).sorted())
        try await Self.expectWhole(all, archive: archive, folder: folder, "second run")
    }

    // MARK: Helpers

    /// How a background movescu ended.
    struct Ended {
        var pid: pid_t
        var status: Int32
        var signalled: Bool
        /// Still running at the deadline, and killed for it.
        var hung: Bool
        var log: String
    }

    /// A dcmqrscp over a generated corpus, our movescu (MOVESCU) its one move destination,
    /// and a fresh output folder.
    final class Setup: Sendable {
        let storagePort: Int
        let archive: CorpusArchive
        let folder: String

        init(corpus: [String], folder name: String) async throws {
            storagePort = try freePort()
            archive = try await CorpusArchive(corpus: corpus, destinations: [("MOVESCU", storagePort)])
            folder = try CorpusRetrieveTests.freshFolder(name)
        }

        func stop() {
            archive.stop()
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    /// Runs our movescu (behind `wrapper`, e.g. prlimit, which execs it) retrieving the
    /// corpus patient into the setup's folder; `during` is asked every 10 ms with the PID
    /// until it says it acted. Killed after `deadline` seconds, which counts as a hang.
    /// With `pauseAfterFiles`, movescu is stopped (SIGSTOP) by a thread of its own as soon as
    /// that many files are in, `during` runs, and movescu goes on (SIGCONT): the switch lands
    /// in the middle of the retrieve however fast it is and however loaded the machine.
    static func retrieveEverything(_ setup: Setup, wrapper: [String] = [], deadline: Double = 120, pauseAfterFiles: Int? = nil,
                                   during: ((pid_t) async -> Bool)? = nil) async throws -> Ended {
        let (archive, folder) = (setup.archive, setup.folder)
        let arguments = ["-v", "--batch", "-P", "-aec", "ARCHIVE", "+P", String(setup.storagePort), "-od", folder,
                         "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=\(archive.entries[0].patientID)",
                         "localhost", String(archive.peer.port)]
        let log = folder + "-movescu.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: log) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrapper.first ?? ours)
        process.arguments = Array(wrapper.dropFirst()) + (wrapper.isEmpty ? [] : [ours]) + arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        // prlimit and setpriv exec movescu: the PID is movescu's.
        let pid = process.processIdentifier
        let started = ContinuousClock.now
        var pending = during
        var hung = false
        let paused = Mutex(false)
        if let threshold = pauseAfterFiles {
            Thread {
                while process.isRunning {
                    if ((try? Self.finalNames(in: folder).count) ?? 0) >= threshold {
                        kill(pid, SIGSTOP)
                        paused.withLock { $0 = true }
                        return
                    }
                    usleep(500)
                }
            }.start()
        }
        while process.isRunning {
            if let check = pending, pauseAfterFiles == nil || paused.withLock({ $0 }) {
                if await check(pid) { pending = nil }
                if pauseAfterFiles != nil { kill(pid, SIGCONT) }
            }
            if ContinuousClock.now - started > .seconds(deadline) {
                hung = true
                kill(pid, SIGKILL)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.waitUntilExit()
        try handle.close()
        let text = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        return Ended(pid: pid, status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                     hung: hung, log: text)
    }

    /// Files under a final name (everything not hidden).
    static func finalNames(in folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Our part and spool files.
    static func partNames(in folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".movescu-") }.sorted()
    }

    /// Each kept file is one of the corpus and equal to its original, element by element.
    static func expectWhole(_ names: [String], archive: CorpusArchive, folder: String, _ context: String) async throws {
        var sameBytes = 0
        defer { print("DiskFaultTests.\(context): \(names.count) file(s) checked, \(sameBytes) byte-identical to the original") }
        let byName = Dictionary(archive.entries.map { ($0.receivedName, $0) }, uniquingKeysWith: { a, _ in a })
        let expected = names.compactMap { byName[$0] }
        #expect(expected.count == names.count, "\(context): names not in the corpus: \(names.filter { byName[$0] == nil })")
        for entry in expected {
            let path = folder + "/" + entry.receivedName, originalPath = archive.folder + "/db/" + entry.file
            let read = try await runProgram("/usr/bin/dcmdump", ["-q", path])
            #expect(read.status == 0, "\(context): dcmdump cannot read \(entry.receivedName): \(read.output.prefix(500))")
            // The same data set bytes behind the meta information settle it at once; else
            // dcmdump's elements, one by one (slow on half a megabyte of pixel data).
            if let bytes = try MovescuSideBySideTests.dataSetBytes(path), bytes == (try MovescuSideBySideTests.dataSetBytes(originalPath)) {
                sameBytes += 1
                continue
            }
            let received = try await dataSetLines(path)
            let original = try await dataSetLines(originalPath)
            #expect(!received.isEmpty && received == original, "\(context): \(entry.receivedName) differs from \(entry.file)")
        }
    }

    /// The counters of the final C-MOVE response, from the -v log.
    static func finalCounts(_ log: String) -> (completed: Int, failed: Int)? {
        let lines = log.split(separator: "\n")
        guard let final = lines.lastIndex(where: { $0.contains("Received Final Move Response") }), final + 1 < lines.count else { return nil }
        let fields = lines[final + 1].split(whereSeparator: { $0 == " " || $0 == "," })
        func value(_ key: String) -> Int? { fields.firstIndex(of: Substring(key)).flatMap { $0 + 1 < fields.count ? Int(fields[$0 + 1]) : nil } }
        guard let completed = value("completed"), let failed = value("failed") else { return nil }
        return (completed, failed)
    }

    /// Our C-STORE-RSPs with Refused: Out of Resources (A700), one log line each.
    static func refusedStores(_ log: String) -> Int {
        log.split(separator: "\n").filter { $0.contains("E: Store of ") && $0.contains("failed (Refused: OutOfResources") }.count
    }

    /// Waits (a second at most) until a process sent SIGSTOP shows as stopped, then a little
    /// longer for all its threads.
    /// Waits (blocking, on the caller's own thread) until the process shows as stopped.
    static func waitUntilStopped(_ pid: pid_t) {
        for _ in 0..<2000 {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            if let close = stat.lastIndex(of: ")"), stat[close...].dropFirst(2).first == "T" { return }
            usleep(500)
        }
    }

    static func pidOfAFinishedProcess() throws -> pid_t {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    // MARK: Mounts and their substitutes

    /// A tmpfs mounted on a folder for one test.
    final class Tmpfs: Sendable {
        let path: String
        init(path: String) { self.path = path }

        /// Where the read-only bind is made before it is laid over the folder.
        var staging: String { path + "-ro" }

        /// Lays a read-only bind of the folder over it: new opens, creates and renames under
        /// the path fail with EROFS; files already open stay writable below. The bind is
        /// made read-only on a staging folder nobody writes through (a mount with files open
        /// for writing refuses to turn read-only) and then bound over the folder, read-only
        /// from its first moment. The mount commands' complaints, empty when all worked.
        func overlayReadOnly() async -> String {
            var complaints = ""
            try? FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
            for arguments in [["--bind", path, staging], ["-o", "remount,bind,ro", staging], ["--bind", staging, path]] {
                let result = try? await runProgram("/usr/bin/mount", arguments)
                if result?.status != 0 { complaints += "mount \(arguments.joined(separator: " ")): \(result?.output ?? "did not run")\n" }
            }
            return complaints
        }

        /// Unmounts everything mounted on the folder (the overlay too) and the staging folder.
        func unmount() {
            for target in [path, path, path, staging] {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/umount")
                process.arguments = [target]
                process.standardError = FileHandle.nullDevice
                guard (try? process.run()) != nil else { return }
                process.waitUntilExit()
            }
            try? FileManager.default.removeItem(atPath: staging)
        }
    }

    /// nil when this machine does not let us mount (a container without CAP_SYS_ADMIN), or
    /// when DISK_FAULTS_NO_MOUNT is set, to run the substitutes where mounting works.
    static func mountTmpfs(on folder: String, options: String) async -> Tmpfs? {
        if ProcessInfo.processInfo.environment["DISK_FAULTS_NO_MOUNT"] != nil {
            print("DiskFaultTests: DISK_FAULTS_NO_MOUNT is set; using the substitute")
            return nil
        }
        guard getuid() == 0, let result = try? await runProgram("/usr/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", folder]) else { return nil }
        if result.status != 0 {
            print("DiskFaultTests: mount -t tmpfs failed (\(result.output.trimmingCharacters(in: .whitespacesAndNewlines))); using the substitute")
            return nil
        }
        return Tmpfs(path: folder)
    }

    /// Runs a program as root that permission bits bind all the same (a folder of mode 0555
    /// is then unwritable to it, as to anyone else), for where a read-only mount cannot be had.
    static let withoutOverride = ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
}
