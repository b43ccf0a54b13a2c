import DICOM
import DICOMNetwork
import Foundation
import Retrieve

/// A key as the console understands it; the terminal backend translates what it reads.
public enum ConsoleKey: Equatable, Sendable {
    case character(Character)
    case up, down, pageUp, pageDown, home, end
    case enter, escape, tab, backspace
    case function(Int)
}

/// What the console asks its runner to do.
public enum ConsoleCommand: Equatable, Sendable {
    case start
    case cancel
    case abort
    case quit
}

/// Everything the console shows, changed only by `apply(_:at:)` (engine events) and
/// `handle(_:)` (keys). Pure: no terminal, no clock, no I/O.
public struct ConsoleModel: Sendable {
    public enum Phase: Equatable, Sendable {
        case ready
        case connecting
        case moving
        case finishing
        case finished(outcome: String, role: StyleRole)
    }

    public struct LogLine: Equatable, Sendable {
        public var time: Double
        public var text: String
        public var role: StyleRole
    }

    public var configuration: RetrieveConfiguration
    public var phase: Phase = .ready
    /// Responses of the move in flight that were Pending.
    public var pendingResponses = 0
    public var responses = 0
    public var remaining: Int?
    public var completed = 0
    public var failed = 0
    public var warning = 0
    public var objects = 0
    public var bytes = 0
    public var failedObjects = 0
    public var openSubAssociations = 0
    public var startedAt: Double?
    public var now: Double = 0
    public private(set) var log: [LogLine] = []
    /// Lines scrolled back from the newest (0: follow the end).
    public var scrollBack = 0
    public var showHelp = false
    public var listening: Int?
    /// The log keeps this many lines; older ones go.
    public static let logLimit = 5_000

    public init(configuration: RetrieveConfiguration) {
        self.configuration = configuration
    }

    public var isRunning: Bool {
        switch phase {
        case .connecting, .moving, .finishing: return true
        default: return false
        }
    }

    // MARK: Update

    mutating func add(_ text: String, _ role: StyleRole = .normal) {
        log.append(LogLine(time: now, text: text, role: role))
        if log.count > Self.logLimit { log.removeFirst(log.count - Self.logLimit) }
    }

    /// An engine event at `time` (seconds, any origin).
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
        case .associationAccepted(let pdv, let contexts):
            phase = .moving
            let names = contexts.map { UIDTable.entry(for: $0.abstractSyntax)?.keyword ?? $0.abstractSyntax }
            add("association accepted (max send PDV \(pdv)): \(names.joined(separator: ", "))", .success)
        case .associationNegotiated:
            // The negotiation details are for a trace view; the log has the accepted line.
            break
        case .associationRejected(let rj):
            add("association rejected: \(rj)", .failure)
        case .associationFailed(let reason):
            add("association failed: \(reason)", .failure)
        case .moveRequestSent(let messageID, _, let identifier, let query, let round):
            pendingResponses = 0
            responses = 0
            let level = identifier.string(Tag(0x0008, 0x0052)) ?? "?"
            add("C-MOVE-RQ \(messageID) (query \(query), round \(round)), level \(level)")
        case .moveResponse(let number, _, let status, let counts, let isFinal, let comment):
            responses = number
            if status.category == .pending { pendingResponses += 1 }
            remaining = counts.remaining.map(Int.init)
            completed = counts.completed.map(Int.init) ?? completed
            failed = counts.failed.map(Int.init) ?? failed
            warning = counts.warning.map(Int.init) ?? warning
            var text = "C-MOVE-RSP \(number) \(isFinal ? "final " : "")\(String(format: "%04X", status.code)) \(status.description)"
            text += "  remaining \(counts.remaining.map(String.init) ?? "-"), completed \(counts.completed.map(String.init) ?? "-"),"
            text += " failed \(counts.failed.map(String.init) ?? "-"), warning \(counts.warning.map(String.init) ?? "-")"
            if let comment { text += " (\(comment))" }
            add(text, Self.role(for: status))
            if isFinal { phase = .finishing }
        case .cancelSent(let messageID, _):
            add("C-CANCEL for message \(messageID) sent", .warning)
        case .moveFailed(let reason):
            add("the move ended without a final response: \(reason)", .failure)
        case .subAssociationReceived(_, let calling):
            add("sub-association from \(calling)", .dim)
        case .subAssociationAccepted:
            openSubAssociations += 1
        case .subAssociationRejected(_, let reason):
            add("sub-association rejected: \(reason)", .failure)
        case .subAssociationReleased:
            openSubAssociations = max(0, openSubAssociations - 1)
        case .subAssociationAborted(_, let reason):
            openSubAssociations = max(0, openSubAssociations - 1)
            add("sub-association aborted: \(reason)", .warning)
        case .echoReceived:
            add("C-ECHO answered on a sub-association", .dim)
        case .storeRequestReceived, .storeBegan, .storeProgress, .storeEnded:
            break
        case .objectStored(let object):
            objects += 1
            bytes += object.bytes
            let name = object.path.map { ($0 as NSString).lastPathComponent } ?? object.sopInstanceUID
            add("stored \(name) (\(Self.size(object.bytes)))", .success)
        case .objectFailed(let uid, let status, let reason):
            failedObjects += 1
            add("refused \(uid): \(String(format: "%04X", status.code)) \(reason)", .failure)
        case .fileOverwritten(let path):
            add("overwrote \((path as NSString).lastPathComponent)", .warning)
        case .warning(let text):
            add(text, .warning)
        case .error(let text):
            add(text, .failure)
        case .releasing:
            add("releasing the association", .dim)
        case .aborting:
            add("aborting the association", .warning)
        case .peerAborted:
            add("the peer aborted the association", .failure)
        case .finished(let summary):
            objects = summary.objects
            bytes = summary.bytes
            let (text, role) = Self.outcome(summary.outcome)
            phase = .finished(outcome: text, role: role)
            add("finished: \(text); \(summary.objects) object(s), \(Self.size(summary.bytes)) in \(String(format: "%.1f", summary.seconds)) s", role)
        }
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
        case .warning: return ("completed with warnings", .warning)
        case .failed(let status): return ("failed, \(String(format: "%04X", status.code)) \(status.description)", .failure)
        case .noFinalResponse(let reason): return ("incomplete, no final response (\(reason))", .failure)
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

    /// A key; the command for the runner, if any.
    public mutating func handle(_ key: ConsoleKey) -> ConsoleCommand? {
        if showHelp {
            showHelp = false
            return nil
        }
        switch key {
        case .character("q"), .character("Q"):
            return .quit
        case .character("?"), .function(1):
            showHelp = true
        case .character("c") where isRunning:
            return .cancel
        case .character("a") where isRunning:
            return .abort
        case .character("r"), .character("s"), .enter:
            if !isRunning { return .start }
        case .up: scrollBack = min(max(0, log.count - 1), scrollBack + 1)
        case .down: scrollBack = max(0, scrollBack - 1)
        case .pageUp: scrollBack = min(max(0, log.count - 1), scrollBack + 10)
        case .pageDown: scrollBack = max(0, scrollBack - 10)
        case .home: scrollBack = max(0, log.count - 1)
        case .end: scrollBack = 0
        default: break
        }
        return nil
    }

    /// A new run of the same retrieve: counters back to zero, the log kept.
    public mutating func resetForStart() {
        phase = .connecting
        pendingResponses = 0
        responses = 0
        remaining = nil
        completed = 0
        failed = 0
        warning = 0
        objects = 0
        bytes = 0
        failedObjects = 0
        startedAt = nil
        scrollBack = 0
    }
}
