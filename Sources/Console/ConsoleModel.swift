import DICOM
import DICOMNetwork
import Foundation
import Retrieve

/// A key as the console understands it; the terminal backend translates what it reads.
public enum ConsoleKey: Equatable, Sendable {
    case character(Character)
    /// Ctrl and a letter (lower case).
    case control(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, tab, backTab, backspace, delete
    case function(Int)
}

/// What the console asks its runner to do: work with effects (network, files).
public enum ConsoleCommand: Sendable {
    /// A retrieve with this configuration (its identifiers are the moves).
    case move(RetrieveConfiguration)
    /// A C-FIND with this configuration's peer and model.
    case find(RetrieveConfiguration, identifier: DataSet)
    case cancel
    case abort
    case echo(Peer)
    case savePeers([Peer])
    case saveLog(path: String, text: String)
    case loadQuery(path: String)
    case saveQuery(path: String, identifier: DataSet)
    case quit
}

/// The console's panes, in Tab order.
public enum Pane: Int, CaseIterable, Sendable {
    case peers, titles, query, main
}

/// What the big pane shows.
public enum MainView: Int, CaseIterable, Sendable {
    case log, results, trace
    var title: String {
        switch self {
        case .log: return "Log"
        case .results: return "Find results"
        case .trace: return "Trace"
        }
    }
}

/// The fields of the AE titles pane.
public enum TitleField: Int, CaseIterable, Sendable {
    case calling, called, destination, storagePort
    var label: String {
        switch self {
        case .calling: return "calling"
        case .called: return "called"
        case .destination: return "destination"
        case .storagePort: return "storage"
        }
    }
}

/// What an open prompt's text is for.
public enum PromptPurpose: Equatable, Sendable {
    case addKey
    case editKey(path: String)
    case title(TitleField)
    case saveLog
    case loadQuery
    case saveQuery
}

/// A peer being added or edited.
public struct PeerForm: Equatable, Sendable {
    public static let labels = ["name", "AE title", "host", "port", "notes"]
    public var values: [String]
    public var field = 0
    public var editor: LineEditor
    /// The peer's name before editing; nil when adding.
    public var original: String?
    public var error: String?

    init(peer: Peer?) {
        values = peer.map { [$0.name, $0.aeTitle, $0.host, String($0.port), $0.notes] } ?? ["", "", "", "104", ""]
        original = peer?.name
        editor = LineEditor(label: Self.labels[0], text: values[0])
    }

    mutating func focus(_ index: Int) {
        values[field] = editor.string
        field = (index + Self.labels.count) % Self.labels.count
        editor = LineEditor(label: Self.labels[field], text: values[field])
    }
}

/// Everything the console shows, changed only by events, results and keys. Pure: no
/// terminal, no clock, no I/O; the session runs the commands it returns.
public struct ConsoleModel: Sendable {
    public enum Phase: Equatable, Sendable {
        case ready
        case connecting
        case moving
        case finishing
        case finding
        case finished(outcome: String, role: StyleRole)
    }

    public struct LogLine: Equatable, Sendable {
        public var time: Double
        public var text: String
        public var role: StyleRole
    }

    public enum Overlay: Equatable, Sendable {
        case none
        case help
        case prompt(LineEditor, PromptPurpose)
        case form(PeerForm)
        case confirmDelete(peer: String)
        case confirmQuit
    }

    public var configuration: RetrieveConfiguration
    public var phase: Phase = .ready
    /// The move's pending responses so far.
    public var pendingResponses = 0
    public var remaining: Int?
    public var completed = 0
    public var failed = 0
    public var warning = 0
    public var objects = 0
    public var bytes = 0
    public var failedObjects = 0
    public var openSubAssociations = 0
    public var startedAt: Double?
    public var endedAt: Double?
    public var now: Double = 0
    public private(set) var log: [LogLine] = []
    public private(set) var trace: [LogLine] = []
    /// Lines scrolled back from the newest (0: follow the end), per view.
    public var scrollBack = 0
    public var listening: Int?

    public var focus: Pane = .main
    public var view: MainView = .log
    /// The main pane takes the whole width (z), for long trace lines.
    public var zoomed = false
    public var overlay: Overlay = .none

    public var peers: [Peer] = []
    public var peerIndex = 0
    /// Where peers are kept, for messages.
    public var peersFile: String?
    public var echoResults: [String: (text: String, role: StyleRole)] = [:]
    public var titleIndex = 0
    public var queryIndex = 0

    public var results: [DataSet] = []
    public var resultsLevel = "STUDY"
    /// The model of the find the results came from; their moves use it.
    public var resultsModel: QueryRetrieveModel = .patientRoot
    /// The archive the results came from (host, port, called AE title): their moves go there,
    /// whichever peer is selected by then.
    public var resultsPeer: MoveSource?

    /// The archive a find or move went to: the part of the configuration a later move of its
    /// results (or its repeat) must use again.
    public struct MoveSource: Equatable, Sendable {
        public var host: String
        public var port: Int
        public var calledAETitle: String

        public init(of configuration: RetrieveConfiguration) {
            host = configuration.peerHost
            port = configuration.peerPort
            calledAETitle = configuration.calledAETitle
        }

        public func apply(to configuration: inout RetrieveConfiguration) {
            configuration.peerHost = host
            configuration.peerPort = port
            configuration.calledAETitle = calledAETitle
        }
    }
    public var resultIndex = 0
    public var picked: Set<Int> = []
    /// The identifiers of the last move, for repeat, and where and how it was made.
    public var lastMove: [DataSet]?
    public var lastMoveSource: MoveSource?
    public var lastMoveModel: QueryRetrieveModel?
    public var findStatus: String?

    /// Times of the requests in flight by message ID, for latencies in the trace.
    var requestTimes: [UInt16: Double] = [:]
    var lastResponseTime: Double?
    var storeTimes: [Int: Double] = [:]

    /// The log and trace keep at least this many lines each (a quarter more at most); older ones go.
    public static let logLimit = 5_000

    public init(configuration: RetrieveConfiguration) {
        self.configuration = configuration
        // A query needs a level; without one the console starts at STUDY.
        if configuration.identifiers.isEmpty { self.configuration.identifiers = [DataSet()] }
        if !self.configuration.identifiers[0].contains(QueryKeys.levelTag) {
            self.configuration.identifiers[0].setString("STUDY", for: QueryKeys.levelTag, vr: .CS)
        }
    }

    public var isRunning: Bool {
        switch phase {
        case .connecting, .moving, .finishing, .finding: return true
        default: return false
        }
    }

    /// The query being edited: the first identifier.
    public var query: DataSet {
        get { configuration.identifiers.first ?? DataSet() }
        set {
            if configuration.identifiers.isEmpty { configuration.identifiers = [newValue] } else { configuration.identifiers[0] = newValue }
        }
    }

    // MARK: Lines

    /// A line of the console's own (a message to the operator) in the log.
    public mutating func note(_ text: String, _ role: StyleRole = .normal) { add(text, role) }

    mutating func add(_ text: String, _ role: StyleRole = .normal) {
        log.append(LogLine(time: now, text: text, role: role))
        // Trimmed in batches: removing one line per line added would shift the whole array each time.
        if log.count > Self.logLimit + Self.logLimit / 4 { log.removeFirst(log.count - Self.logLimit) }
    }

    mutating func traced(_ text: String, _ role: StyleRole = .normal) {
        trace.append(LogLine(time: now, text: text, role: role))
        if trace.count > Self.logLimit + Self.logLimit / 4 { trace.removeFirst(trace.count - Self.logLimit) }
    }

    /// A data set as dcmdump lines without the length column: "(0008,0052) CS [STUDY]  QueryRetrieveLevel".
    static func dumpLines(_ dataSet: DataSet) -> [String] {
        DumpFormatter().lines(dataSet).map { $0.replacing(/\s+#\s*\d+,\s*\S+\s+/, with: "  ") }
    }

    static func hex(_ code: UInt16) -> String { String(format: "%04X", code) }

    static func syntaxName(_ uid: String) -> String { UIDTable.entry(for: uid)?.name ?? uid }

    // MARK: Engine events

    /// An engine event at `time` (seconds since the console started).
    public mutating func apply(_ event: RetrieveEvent, at time: Double) {
        now = time
        switch event {
        case .listening(let port):
            listening = port
            add("storage SCP listening on port \(port)", .dim)
        case .requestingAssociation(let host, let port):
            phase = .connecting
            startedAt = startedAt ?? time
            add("requesting association with \(host):\(port)")
            traceAssociationRequest(host: host, port: port)
        case .associationAccepted(let pdv, let contexts):
            phase = .moving
            add("association accepted", .success)
            traced("<- A-ASSOCIATE-AC, max send PDV \(pdv)", .success)
            for context in contexts {
                traced("     context \(context.id): \(Self.syntaxName(context.abstractSyntax)), accepted with \(Self.syntaxName(context.transferSyntax))")
            }
        case .associationNegotiated(let details):
            traceNegotiation(details)
        case .associationRejected(let rj):
            show(.rejected(rj))
        case .associationFailed(let reason):
            show(.failed(reason))
        case .moveRequestSent(let messageID, let contextID, let identifier, let query, let round):
            pendingResponses = 0
            remaining = nil
            requestTimes[messageID] = time
            lastResponseTime = nil
            let level = QueryKeys.level(of: identifier) ?? "?"
            let moves = lastMove?.count ?? configuration.identifiers.count
            add("C-MOVE \(moves > 1 ? "\(query) of \(moves) " : "")\(round > 1 ? "(round \(round)) " : "")at \(level) level, message \(messageID)")
            traced("-> C-MOVE-RQ message \(messageID), context \(contextID), priority medium, destination \(configuration.moveDestination)")
            for line in Self.dumpLines(identifier) { traced("     " + line, .dim) }
        case .moveResponse(let number, let messageID, let status, let counts, let isFinal, let comment):
            if status.category == .pending { pendingResponses += 1 }
            remaining = counts.remaining.map(Int.init)
            completed = counts.completed.map(Int.init) ?? completed
            failed = counts.failed.map(Int.init) ?? failed
            warning = counts.warning.map(Int.init) ?? warning
            func count(_ value: UInt16?) -> String { value.map(String.init) ?? "-" }
            let statusText = status.text(for: .move)
            var text = isFinal ? "final " : "#\(number) "
            text += "\(Self.hex(status.code)) \(statusText)  R \(count(counts.remaining)) C \(count(counts.completed)) F \(count(counts.failed)) W \(count(counts.warning))"
            if let comment { text += " (\(comment))" }
            add(text, Self.role(for: status))
            var latency = ""
            if let sent = requestTimes[messageID] { latency = String(format: ", %.0f ms after the request", (time - sent) * 1000) }
            if let last = lastResponseTime { latency += String(format: ", %.0f ms after the last response", (time - last) * 1000) }
            lastResponseTime = time
            traced("<- C-MOVE-RSP message \(messageID) \(isFinal ? "final" : "#\(number)"): \(Self.hex(status.code)) \(statusText)\(latency)", Self.role(for: status))
            traced("     remaining \(count(counts.remaining)), completed \(count(counts.completed)), failed \(count(counts.failed)), warning \(count(counts.warning))\(comment.map { ", error comment \"\($0)\"" } ?? "")", .dim)
            if isFinal {
                phase = .finishing
                requestTimes[messageID] = nil
            }
        case .failedInstances(let messageID, let uids):
            add("the archive lists \(uids.count) failed SOP instance(s):", .failure)
            for uid in uids { add("  " + AETitle.printable(uid), .failure) }
            traced("   failed SOP instances of message \(messageID): " + uids.map { AETitle.printable($0) }.joined(separator: "\\"), .failure)
        case .cancelSent(let messageID, let contextID):
            add("C-CANCEL sent for message \(messageID)", .warning)
            traced("-> C-CANCEL-RQ for message \(messageID), context \(contextID)", .warning)
        case .moveFailed(let reason):
            add("the move ended without a final response: \(reason)", .failure)
            traced("the move ended without a final response: \(reason)", .failure)
        case .subAssociationReceived(let id, let calling):
            add("sub-association \(id) from \(calling)", .dim)
            traced("<- A-ASSOCIATE-RQ (sub-association \(id)) from \(calling)")
        case .subAssociationAccepted(let id, let pdv):
            openSubAssociations += 1
            traced("-> A-ASSOCIATE-AC (sub-association \(id)), max send PDV \(pdv)")
        case .subAssociationRejected(let id, let reason):
            add("sub-association \(id) rejected: \(reason)", .failure)
            traced("-> A-ASSOCIATE-RJ (sub-association \(id)): \(reason)", .failure)
        case .subAssociationReleased(let id):
            openSubAssociations = max(0, openSubAssociations - 1)
            traced("<- A-RELEASE-RQ (sub-association \(id))", .dim)
        case .subAssociationAborted(let id, let reason):
            openSubAssociations = max(0, openSubAssociations - 1)
            add("sub-association \(id) aborted: \(reason)", .warning)
            traced("sub-association \(id) aborted: \(reason)", .warning)
        case .echoReceived(let id, let messageID):
            traced("<- C-ECHO-RQ (sub-association \(id)) message \(messageID), answered", .dim)
        case .storeRequestReceived(let id, let messageID, let sopClass, let sopInstance):
            storeTimes[id] = time
            traced("<- C-STORE-RQ (sub-association \(id)) message \(messageID): \(Self.syntaxName(sopClass)) \(sopInstance)")
        case .storeBegan, .storeProgress, .storeEnded:
            break
        case .objectStored(let object):
            objects += 1
            bytes += object.bytes
            let name = object.path.map { ($0 as NSString).lastPathComponent } ?? object.sopInstanceUID
            add("stored \(Self.size(object.bytes)): \(name)", .success)
            traced(String(format: "-> C-STORE-RSP 0000 Success, %@ in %.0f ms", Self.size(object.bytes), object.seconds * 1000), .success)
        case .objectFailed(let uid, let status, let reason):
            failedObjects += 1
            add("refused \(uid): \(Self.hex(status.code)) \(reason)", .failure)
            traced("-> C-STORE-RSP \(Self.hex(status.code)) \(status.text(for: .store)): \(reason)", .failure)
        case .fileOverwritten(let path):
            add("overwrote \((path as NSString).lastPathComponent)", .warning)
        case .writesMovedToThreadPool(let ms):
            add("the output folder was slow (\(ms) ms for one write): objects over a MiB are written on a thread pool from now on")
        case .warning(let text): show(.warning(text))
        case .error(let text): show(.error(text))
        case .releasing: show(.releasing)
        case .aborting:
            add("aborting the association", .warning)
            traced("-> A-ABORT", .warning)
        case .peerAborted: show(.peerAborted)
        case .finished(let summary):
            objects = summary.objects
            bytes = summary.bytes
            endedAt = time
            let (text, role) = Self.outcome(summary.outcome)
            phase = .finished(outcome: text, role: role)
            add("finished: \(text); \(summary.objects) object\(summary.objects == 1 ? "" : "s"), \(Self.size(summary.bytes)) in \(String(format: "%.1f", summary.seconds)) s", role)
        }
    }

    /// What the move and the find engines both report, shown the same way.
    enum SharedEvent {
        case rejected(AssociateRJ), failed(String), warning(String), error(String), releasing, peerAborted
    }

    mutating func show(_ event: SharedEvent) {
        switch event {
        case .rejected(let rj):
            add("association rejected: \(rj.resultText), \(rj.sourceText), \(rj.reasonText)", .failure)
            traced("<- A-ASSOCIATE-RJ: \(rj.resultText), source \(rj.sourceText), reason \(rj.reasonText)", .failure)
        case .failed(let reason):
            add("association failed: \(reason)", .failure)
            traced("association failed: \(reason)", .failure)
        case .warning(let text):
            add(text, .warning)
            traced(text, .warning)
        case .error(let text):
            add(text, .failure)
            traced(text, .failure)
        case .releasing:
            traced("-> A-RELEASE-RQ", .dim)
        case .peerAborted:
            add("the peer aborted the association", .failure)
            traced("<- A-ABORT", .failure)
        }
    }

    mutating func traceAssociationRequest(host: String, port: Int) {
        let c = configuration
        traced("-> A-ASSOCIATE-RQ to \(host):\(port), calling \(c.callingAETitle), called \(c.calledAETitle), max PDU \(c.maximumPDULength)")
        let syntaxes = c.proposal.transferSyntaxes.map(Self.syntaxName).joined(separator: ", ")
        traced("     context 1: \(Self.syntaxName(c.model.findSOPClass)) [\(syntaxes)]", .dim)
        traced("     context 3: \(Self.syntaxName(c.model.moveSOPClass)) [\(syntaxes)]", .dim)
    }

    static func role(for status: DIMSEStatus) -> StyleRole {
        switch status.category {
        case .success: return .success
        case .pending: return .pending
        case .warning, .cancel: return .warning
        default: return .failure
        }
    }

    static func outcome(_ outcome: RetrieveSummary.Outcome) -> (String, StyleRole) {
        switch outcome {
        case .success: return ("success", .success)
        case .warning: return ("completed with failures", .warning)
        case .failed(let status): return ("failed: \(hex(status.code)) \(status.text(for: .move))", .failure)
        case .noFinalResponse(let reason): return ("no final response (\(reason))", .failure)
        case .associationRejected: return ("association rejected", .failure)
        case .connectFailed: return ("cannot connect", .failure)
        case .noPresentationContext: return ("no presentation context", .failure)
        case .networkInitFailed(let reason): return ("cannot listen: \(reason)", .failure)
        }
    }

    static func size(_ bytes: Int) -> String {
        if bytes >= 1 << 30 { return String(format: "%.1f GB", Double(bytes) / 1e9) }
        if bytes >= 1 << 20 { return String(format: "%.1f MB", Double(bytes) / 1e6) }
        if bytes >= 1 << 10 { return String(format: "%.1f kB", Double(bytes) / 1e3) }
        return "\(bytes) B"
    }

    /// Counters back to zero for a new move or find; the log is kept.
    public mutating func resetForStart() {
        phase = .connecting
        pendingResponses = 0
        remaining = nil
        completed = 0
        failed = 0
        warning = 0
        objects = 0
        bytes = 0
        failedObjects = 0
        startedAt = nil
        endedAt = nil
        scrollBack = 0
    }
}
