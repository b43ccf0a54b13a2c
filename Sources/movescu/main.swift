import DICOM
import DICOMNetwork
import Archive
import Foundation
import Logging
import Retrieve

// movescu: DCMTK 3.6.7's command line over the retrieve engine. Without a terminal, or with
// --batch, it runs headless and prints its log as DCMTK does.

let helpText = """
movescu: retrieve DICOM objects with C-MOVE (swift-movescu)
usage: movescu [options] peer port [query-file...]

Each query file (DICOM file or dcmdump text) is one C-MOVE, sent in order on one
association; -k keys change or add matching keys. With +P our own storage SCP receives
the objects and writes them to -od as <modality prefix>.<SOP Instance UID>.

general:      -h --help  --version  --arguments  -q --quiet  -v --verbose  -d --debug
              -ll --log-level <fatal|error|warn|info|debug|trace>  -lc --log-config <file>
              --batch (run without the console)  --json (events as JSON Lines on stdout)
              --demo (retrieve from a built-in demo archive on loopback; no peer,
              port or archive needed; objects go to ./movescu-demo unless -od)
query:        -k --key <gggg,eeee=value | Keyword=value | Seq[0].Keyword=value>
              -P --patient (default)  -S --study  -O --psonly
AE titles:    -aet --aetitle <ours, MOVESCU>  -aec --call <peer's, ANY-SCP>
              -aem --move <destination, MOVESCU>
accepting:    +x= +xe +xb +xs +xy +xx +xv +xw +xt +xu +xm +xh +xn +xl +x2 +x3 +xo +x4 +x5
              +xr +xd +xi +xa  (transfer syntax preference of our storage SCP)
proposing:    -x= -xe -xb -xd -xi  (transfer syntaxes proposed to the peer)
network:      --no-port (default) | +P --port <n>   -ac | +ac   -pi | -pr
              -to --timeout <s>  -ta --acse-timeout <s, 30>  -td --dimse-timeout <s>
              -pdu --max-pdu <4096..131072, 16384>  -dhl  --repeat <n>  --abort
              --ignore  --cancel <n>  -up --uid-padding
output:       -od --output-directory <dir, .>  -B | +B  +F | -F  +t= +te +tb +ti +td
              +u | -u  +g= | +g | -g  +e | -e  -p | +p <file-pad> <item-pad>
              +cl --compression-level <0..9, 6>

Exit codes are DCMTK's (0 success, 1 syntax, 2 privileges, 40/45 output directory,
60 network, 61 association, 66 no presentation context, 68 warning, 69 move failed),
except that a move ending without a final response exits 69, not 0, and that objects
refused because -od could not take them (disk full, read-only) exit 40.
"""

let arguments = Array(CommandLine.arguments.dropFirst())
// The console opens on a terminal unless --batch or --json asks for the headless tool.
// A terminal curses cannot drive (TERM unset or dumb) gets the headless tool too.
let terminalType = ProcessInfo.processInfo.environment["TERM"] ?? ""
let wantsConsole = !arguments.contains("--batch") && !arguments.contains("--json") && isatty(0) == 1 && isatty(1) == 1
    && !terminalType.isEmpty && terminalType != "dumb"
let invocation: Invocation
do {
    invocation = try CommandLineParser.parse(arguments, interactive: wantsConsole)
} catch let error as UsageError {
    FileHandle.standardError.write(Data("movescu: \(error.message)\n(movescu --help lists the options)\n".utf8))
    exit(error.exitCode)
}
if invocation.printArguments {
    print("expanded command line to \(arguments.count) arguments:")
    for argument in arguments { print(argument) }
}
if invocation.showHelp {
    print(helpText)
    exit(0)
}
if invocation.showVersion {
    print("movescu (swift-movescu) \(Implementation.versionName), implementation class UID \(Implementation.classUID)")
    exit(0)
}

let frontEnd = BatchFrontEnd(level: invocation.level, json: invocation.json)
// A file size limit (ulimit -f) shows as EFBIG write errors, which refuse the object,
// instead of SIGXFSZ ending the whole run.
signal(SIGXFSZ, SIG_IGN)
AllocatorTuning.forLargeBlocks()
var configuration = invocation.configuration

// The data dictionary (DCMDICTPATH) before anything reads a query.
do {
    DataDictionary.active = try DataDictionary.loadingEnvironment()
} catch {
    frontEnd.log(.fatal, "\(error)")
    exit(1)
}

// Queries.
do {
    if invocation.queryFiles.isEmpty {
        configuration.identifiers = [try QueryFile.identifier(file: nil, keys: invocation.keys)]
    } else {
        configuration.identifiers = try invocation.queryFiles.map { try QueryFile.identifier(file: $0, keys: invocation.keys) }
    }
} catch {
    frontEnd.log(.fatal, "bad query: \(error)")
    exit(1)
}

// The demo archive: started on loopback, the peer of this run.
var demoArchive: QueryRetrieveArchive?
if invocation.demo {
    let given = invocation.given
    if given.isDisjoint(with: ["-od", "--output-directory"]) {
        configuration.storage.outputDirectory = "movescu-demo"
        try? FileManager.default.createDirectory(atPath: "movescu-demo", withIntermediateDirectories: true)
    }
    if configuration.listenPort == nil {
        guard let port = freeLoopbackPort() else {
            frontEnd.log(.fatal, "--demo: no free port for our storage SCP")
            exit(60)
        }
        configuration.listenPort = port
    }
    if invocation.queryFiles.isEmpty && invocation.keys.isEmpty && !invocation.interactive {
        // Everything the demo archive holds, study by study in one C-MOVE.
        var identifier = DataSet()
        identifier.setString("STUDY", for: .queryRetrieveLevel, vr: .CS)
        identifier.setString(DemoStudies.store().studyInstanceUIDs.joined(separator: "\\"), for: .studyInstanceUID, vr: .UI)
        configuration.identifiers = [identifier]
    }
    do {
        var settings = ArchiveConfiguration()
        settings.aeTitle = configuration.calledAETitle
        let archive = try await QueryRetrieveArchive.start(store: DemoStudies.store(), configuration: settings,
                                                           logger: Logger(label: "demo") { _ in SwiftLogNoOpLogHandler() })
        archive.routeUnknownTitles(to: ArchiveDestination(host: "127.0.0.1", port: configuration.listenPort!))
        configuration.peerPort = archive.port
        demoArchive = archive
        frontEnd.log(.info, "demo archive \(settings.aeTitle) listening on 127.0.0.1:\(archive.port); moves go to 127.0.0.1:\(configuration.listenPort!)")
    } catch {
        frontEnd.log(.fatal, "--demo: cannot start the demo archive: \(error)")
        exit(60)
    }
}

// Our storage SCP's port and output directory.
if configuration.listenPort != nil && !configuration.storage.ignore {
    var isDirectory: ObjCBool = false
    let directory = configuration.storage.outputDirectory
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        frontEnd.log(.fatal, "invalid output directory: \(directory) does not exist or is not a directory")
        exit(45)
    }
    // access(2), which root passes on permission bits but not on a read-only mount (EROFS).
    guard access(directory, W_OK) == 0 else {
        frontEnd.log(.fatal, "cannot write to output directory: \(directory) (\(DICOMError.systemMessage(errno)))")
        exit(40)
    }
}
// After the folder checks, as DCMTK orders them.
if let port = configuration.listenPort, port < 1024, geteuid() != 0 {
    frontEnd.log(.fatal, "cannot listen on port \(port): ports below 1024 need root privileges")
    exit(2)
}
if invocation.accessControl {
    frontEnd.log(.warn, "+ac: host access control (TCP wrappers) is not supported; all hosts are accepted")
}

func exitCode(_ summary: RetrieveSummary) -> Int32 {
    switch summary.outcome {
    case .success, .warning, .failed:
        // The move ran to its final response but objects were refused because the output
        // directory could not take them: an output error (40), as in the check at startup,
        // not the archive's warning or failure that follows from it.
        if summary.outputFault != nil { return 40 }
    default:
        break
    }
    switch summary.outcome {
    case .success: return 0
    case .warning: return 68
    case .failed: return 69
    case .noFinalResponse: return 69
    case .associationRejected, .connectFailed: return 61
    case .noPresentationContext: return 66
    case .networkInitFailed: return 60
    }
}

let finalConfiguration = configuration
if invocation.interactive {
    let summary: RetrieveSummary?
    do {
        summary = try await ConsoleRunner.run(invocation: invocation, configuration: finalConfiguration, demo: demoArchive)
    } catch {
        frontEnd.log(.fatal, error.message)
        exit(1)
    }
    // write(2), not FileHandle: after a hang-up the terminal refuses it, and that is no error.
    if let summary { _ = (frontEnd.summaryLine(summary) + "\n").utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) } }
    exit(summary.map { exitCode($0) } ?? 0)
}
let control = RetrieveControl()
let interrupts = Interrupts.install(control: control, frontEnd: frontEnd)
let summary = await RetrieveEngine.run(finalConfiguration, control: control) { frontEnd.handle($0) }
if let demoArchive {
    await demoArchive.stop()
    // DCMTK's movescu says nothing on success; a demo says what it did.
    if !invocation.json && invocation.level == .warn { FileHandle.standardError.write(Data((frontEnd.summaryLine(summary) + " (into \(finalConfiguration.storage.outputDirectory))\n").utf8)) }
}
exit(exitCode(summary))

/// A loopback port nobody listens on now (the system's choice), for the demo's storage SCP.
func freeLoopbackPort() -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
}
