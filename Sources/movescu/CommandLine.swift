import DICOM
import DICOMNetwork
import Foundation
import Retrieve

/// Log levels, as DCMTK names them.
enum LogLevel: Int, Comparable {
    case trace, debug, info, warn, error, fatal
    static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
    init?(name: String) {
        switch name {
        case "trace": self = .trace
        case "debug": self = .debug
        case "info": self = .info
        case "warn": self = .warn
        case "error": self = .error
        case "fatal": self = .fatal
        default: return nil
        }
    }
}

/// A command line error: said, then exit 1 (or the code given).
struct UsageError: Error {
    var message: String
    var exitCode: Int32 = 1
}

/// What the command line asks for.
struct Invocation {
    var configuration = RetrieveConfiguration()
    var queryFiles: [String] = []
    var keys: [KeyOverride] = []
    var level: LogLevel = .warn
    var json = false
    var batch = false
    /// --demo: serve the built-in demo archive on loopback and retrieve from it.
    var demo = false
    /// --theme NAME|PATH for the console.
    var theme: String?
    /// --peers FILE: the console's peers and settings, instead of the default place.
    var peersFile: String?
    /// The options given, for settings from the peers file to fill only what was not.
    var given: Set<String> = []
    /// A peer was named on the command line.
    var peerGiven = false
    /// The console is to open (a terminal, no --batch, no --json).
    var interactive = false
    /// Peer, port and a query were all given: a retrieve can start at once.
    var complete = false
    var showHelp = false
    var showVersion = false
    var printArguments = false
    var logConfig: String?
    var accessControl = false
    var noHostLookup = false
    var pendingRead = false
}

/// DCMTK 3.6.7 movescu's command line: every option, the same spellings and defaults.
enum CommandLineParser {
    /// With `interactive`, peer, port and query may be missing: the console opens to edit them.
    static func parse(_ arguments: [String], interactive: Bool = false) throws -> Invocation {
        var invocation = Invocation()
        invocation.interactive = interactive
        var parameters: [String] = []
        var index = 0
        var c = RetrieveConfiguration()

        func value(_ option: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw UsageError(message: "missing parameter for option \(option)") }
            return arguments[index]
        }
        func integer(_ option: String, _ range: ClosedRange<Int>? = nil) throws -> Int {
            let text = try value(option)
            guard let n = Int(text) else { throw UsageError(message: "invalid parameter value for \(option): \"\(text)\" is not an integer") }
            if let range, !range.contains(n) {
                throw UsageError(message: "invalid parameter value for \(option): \(n) is not in \(range.lowerBound)..\(range.upperBound)")
            }
            return n
        }
        func aeTitle(_ option: String) throws -> String {
            let text = try value(option)
            if let problem = AETitle.problem(with: text) { throw UsageError(message: "invalid AE title for \(option): \(problem)") }
            return text
        }

        while index < arguments.count {
            let argument = arguments[index]
            defer { index += 1 }
            guard argument.count > 1, argument.hasPrefix("-") || argument.hasPrefix("+") else {
                parameters.append(argument)
                continue
            }
            invocation.given.insert(argument)
            switch argument {
            case "-h", "--help": invocation.showHelp = true
            case "--version": invocation.showVersion = true
            case "--arguments": invocation.printArguments = true
            case "-q", "--quiet": invocation.level = .fatal
            case "-v", "--verbose": invocation.level = .info
            case "-d", "--debug": invocation.level = .debug
            case "-ll", "--log-level":
                let name = try value(argument)
                guard let level = LogLevel(name: name) else {
                    throw UsageError(message: "invalid parameter value for \(argument): \"\(name)\" (fatal, error, warn, info, debug or trace)")
                }
                invocation.level = level
            case "-lc", "--log-config":
                let path = try value(argument)
                guard FileManager.default.isReadableFile(atPath: path) else { throw UsageError(message: "cannot read log configuration file \(path)") }
                invocation.logConfig = path
            case "-k", "--key":
                let text = try value(argument)
                do { invocation.keys.append(try KeyOverride(parsing: text)) } catch {
                    throw UsageError(message: "bad key \"\(text)\": \(error)")
                }
            case "-P", "--patient": c.model = .patientRoot
            case "-S", "--study": c.model = .studyRoot
            case "-O", "--psonly": c.model = .patientStudyOnly
            case "-aet", "--aetitle": c.callingAETitle = try aeTitle(argument)
            case "-aec", "--call": c.calledAETitle = try aeTitle(argument)
            case "-aem", "--move": c.moveDestination = try aeTitle(argument)
            case "-ac", "--access-full": invocation.accessControl = false
            case "+ac", "--access-control": invocation.accessControl = true
            case "--no-port": c.listenPort = nil
            case "+P", "--port": c.listenPort = try integer(argument, 1...65535)
            case "-pi", "--pending-ignore": invocation.pendingRead = false
            case "-pr", "--pending-read": invocation.pendingRead = true
            case "-to", "--timeout": c.connectTimeout = Double(try integer(argument, 1...Int(Int32.max)))
            case "-ta", "--acse-timeout": c.acseTimeout = Double(try integer(argument, 1...Int(Int32.max)))
            case "-td", "--dimse-timeout": c.dimseTimeout = Double(try integer(argument, 1...Int(Int32.max)))
            case "-pdu", "--max-pdu": c.maximumPDULength = UInt32(try integer(argument, 4096...131072))
            case "-dhl", "--disable-host-lookup": invocation.noHostLookup = true
            case "--repeat": c.repeatCount = try integer(argument, 1...Int(Int32.max))
            case "--abort": c.abortAtEnd = true
            case "--ignore": c.storage.ignore = true
            case "--cancel": c.cancelAfter = try integer(argument, 0...Int(Int32.max))
            case "-up", "--uid-padding": c.storage.correctUIDPadding = true
            case "-od", "--output-directory": c.storage.outputDirectory = try value(argument)
            case "-B", "--normal": c.storage.bitPreserving = false
            case "+B", "--bit-preserving": c.storage.bitPreserving = true
            case "+F", "--write-file": c.storage.write.fileFormat = true
            case "-F", "--write-dataset": c.storage.write.fileFormat = false
            case "+t=", "--write-xfer-same": c.storage.write.transferSyntax = nil
            case "+te", "--write-xfer-little": c.storage.write.transferSyntax = .explicitVRLittleEndian
            case "+tb", "--write-xfer-big": c.storage.write.transferSyntax = .explicitVRBigEndian
            case "+ti", "--write-xfer-implicit": c.storage.write.transferSyntax = .implicitVRLittleEndian
            case "+td", "--write-xfer-deflated": c.storage.write.transferSyntax = .deflatedExplicitVRLittleEndian
            case "+u", "--enable-new-vr": c.storage.write.encoding.enableNewVRs = true
            case "-u", "--disable-new-vr": c.storage.write.encoding.enableNewVRs = false
            case "+g=", "--group-length-recalc": c.storage.write.encoding.groupLength = .recalculate
            case "+g", "--group-length-create": c.storage.write.encoding.groupLength = .create
            case "-g", "--group-length-remove": c.storage.write.encoding.groupLength = .remove
            case "+e", "--length-explicit": c.storage.write.encoding.sequenceLength = .explicit
            case "-e", "--length-undefined": c.storage.write.encoding.sequenceLength = .undefined
            case "-p", "--padding-off": c.storage.write.encoding.padding = nil
            case "+p", "--padding-create":
                let file = try integer(argument, 0...Int(UInt32.max))
                let item = try integer(argument, 0...Int(UInt32.max))
                c.storage.write.encoding.padding = .init(file: file, item: item)
            case "+cl", "--compression-level": c.storage.write.encoding.compressionLevel = try integer(argument, 0...9)
            case "--json": invocation.json = true
            case "--batch": invocation.batch = true
            case "--demo": invocation.demo = true
            case "--theme": invocation.theme = try value(argument)
            case "--peers": invocation.peersFile = try value(argument)
            default:
                if let preference = PresentationNegotiation.Preference(rawValue: argument) ?? longPreference[argument] {
                    c.preference = preference
                } else if let proposal = PresentationNegotiation.Proposal(rawValue: argument) ?? longProposal[argument] {
                    c.proposal = proposal
                } else {
                    throw UsageError(message: "unknown option \(argument)")
                }
            }
        }
        if invocation.showHelp || invocation.showVersion { invocation.configuration = c; return invocation }
        invocation.peerGiven = !parameters.isEmpty
        if c.storage.bitPreserving && c.storage.write.transferSyntax != nil {
            throw UsageError(message: "+B (bit preserving) cannot be combined with an output transfer syntax (+te +tb +ti +td)")
        }
        if invocation.demo {
            // The demo archive is the peer; what follows the options are query files.
            invocation.queryFiles = parameters
            invocation.peerGiven = true
            invocation.complete = !interactive || !parameters.isEmpty || !invocation.keys.isEmpty
            c.peerHost = "127.0.0.1"
            if invocation.given.isDisjoint(with: ["-aec", "--call"]) { c.calledAETitle = "DEMO" }
            // Study root, so that a study-level find lists patient names too.
            if invocation.given.isDisjoint(with: ["-P", "--patient", "-S", "--study", "-O", "--psonly"]) { c.model = .studyRoot }
            invocation.configuration = c
            return invocation
        }
        if interactive && (parameters.count < 2 || (parameters.count == 2 && invocation.keys.isEmpty)) {
            // The console opens with what was given, ready to edit.
            if let host = parameters.first { c.peerHost = host }
            if parameters.count > 1 {
                guard let port = Int(parameters[1]), (1...65535).contains(port) else {
                    throw UsageError(message: "invalid parameter port: \"\(parameters[1])\" is not a port number (1..65535)")
                }
                c.peerPort = port
            }
            invocation.configuration = c
            return invocation
        }
        guard parameters.count >= 2 else {
            throw UsageError(message: parameters.isEmpty ? "missing parameter peer" : "missing parameter port")
        }
        c.peerHost = parameters[0]
        guard let port = Int(parameters[1]), (1...65535).contains(port) else {
            throw UsageError(message: "invalid parameter port: \"\(parameters[1])\" is not a port number (1..65535)")
        }
        c.peerPort = port
        invocation.queryFiles = Array(parameters.dropFirst(2))
        if invocation.queryFiles.isEmpty && invocation.keys.isEmpty {
            throw UsageError(message: "no query: give query files or -k keys")
        }
        invocation.complete = true
        invocation.configuration = c
        return invocation
    }

    static let longPreference: [String: PresentationNegotiation.Preference] = [
        "--prefer-uncompr": .uncompressed, "--prefer-little": .littleEndian, "--prefer-big": .bigEndian,
        "--prefer-lossless": .jpegLossless, "--prefer-jpeg8": .jpeg8, "--prefer-jpeg12": .jpeg12,
        "--prefer-j2k-lossless": .j2kLossless, "--prefer-j2k-lossy": .j2kLossy, "--prefer-jls-lossless": .jlsLossless,
        "--prefer-jls-lossy": .jlsLossy, "--prefer-mpeg2": .mpeg2, "--prefer-mpeg2-high": .mpeg2High,
        "--prefer-mpeg4": .mpeg4, "--prefer-mpeg4-bd": .mpeg4BD, "--prefer-mpeg4-2-2d": .mpeg4_2_2D,
        "--prefer-mpeg4-2-3d": .mpeg4_2_3D, "--prefer-mpeg4-2-st": .mpeg4Stereo, "--prefer-hevc": .hevc,
        "--prefer-hevc10": .hevc10, "--prefer-rle": .rle, "--prefer-deflated": .deflated, "--implicit": .implicitOnly,
        "--accept-all": .acceptAll,
    ]
    static let longProposal: [String: PresentationNegotiation.Proposal] = [
        "--propose-uncompr": .uncompressed, "--propose-little": .littleEndianFirst, "--propose-big": .bigEndianFirst,
        "--propose-deflated": .deflated, "--propose-implicit": .implicitOnly,
    ]
}
