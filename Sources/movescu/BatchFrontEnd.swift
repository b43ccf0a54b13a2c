import DICOM
import DICOMNetwork
import Foundation
import Retrieve
import Synchronization

/// Prints the engine's events as DCMTK's movescu prints its log (stderr, `I: ` / `W: ` /
/// `E: ` / `F: ` / `D: ` prefixes, RECV progress on stdout at -v), with the sub-operation
/// counters on every response and a summary line at the end; or, with --json, as JSON Lines
/// on stdout.
final class BatchFrontEnd: Sendable {
    let level: LogLevel
    let json: Bool
    private let lock = Mutex(())

    init(level: LogLevel, json: Bool) {
        self.level = level
        self.json = json
    }

    func log(_ level: LogLevel, _ text: String) {
        guard level >= self.level else { return }
        let prefix: String
        switch level {
        case .trace: prefix = "T: "
        case .debug: prefix = "D: "
        case .info: prefix = "I: "
        case .warn: prefix = "W: "
        case .error: prefix = "E: "
        case .fatal: prefix = "F: "
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { prefix + $0 }.joined(separator: "\n") + "\n"
        lock.withLock { _ in FileHandle.standardError.write(Data(lines.utf8)) }
    }

    private func out(_ text: String) {
        lock.withLock { _ in FileHandle.standardOutput.write(Data(text.utf8)) }
    }

    func handle(_ event: RetrieveEvent) {
        if json {
            let line = JSONLine.encode(event)
            if !line.isEmpty { out(line + "\n") }
            if case .finished(let summary) = event, level <= .info { log(.info, summaryLine(summary)) }
            return
        }
        switch event {
        case .listening(let port):
            log(.debug, "Listening for storage sub-associations on port \(port)")
        case .requestingAssociation:
            log(.info, "Requesting Association")
        case .associationAccepted(let pdv, _):
            log(.info, "Association Accepted (Max Send PDV: \(pdv))")
        case .associationNegotiated(let details):
            // Beyond DCMTK (whose -d prints the whole A-ASSOCIATE-AC): the peer's
            // implementation, at debug level only.
            log(.debug, "Peer implementation: \(details.peerImplementationClassUID ?? "(no class UID)") \(details.peerImplementationVersionName ?? "(no version name)"), max PDU \(details.peerMaximumPDULength.map(String.init) ?? "(not stated)")")
        case .associationRejected(let rj):
            log(.fatal, "Association Rejected:\nResult: \(rj.resultText), Source: \(rj.sourceText)\nReason: \(rj.reasonText)")
        case .associationFailed(let why):
            log(.fatal, "Association Request Failed: \(why)")
        case .moveRequestSent(let id, _, let identifier, _, _):
            log(.info, "Sending Move Request (MsgID \(id))")
            // DCMTK prints the identifier as a dcmdump of a data set built in memory.
            log(.info, "Request Identifiers:\n\n# Dicom-Data-Set\n# Used TransferSyntax: Little Endian Explicit\n"
                + DumpFormatter().lines(identifier).joined(separator: "\n") + "\n")
        case .moveResponse(let number, _, let status, let counts, let isFinal, let comment):
            let text = status.text(for: .move)
            log(.info, isFinal ? "Received Final Move Response (\(text))" : "Received Move Response \(number) (\(text))")
            // Beyond DCMTK, which shows these only inside -d dumps.
            log(.info, "  Sub-operations: \(counts)")
            if isFinal {
                switch status.category {
                case .warning: log(.warn, "Move response with warning status (\(text))")
                case .failure: log(.warn, "Move response with error status (\(text))")
                default: break
                }
                if let comment, status.category != .success { log(.warn, "Error Comment: \(comment)") }
            }
        case .failedInstances(_, let uids):
            // Beyond DCMTK, which does not show them.
            log(.warn, "the archive lists \(uids.count) failed SOP instance(s): " + uids.map { AETitle.printable($0) }.joined(separator: ", "))
        case .cancelSent(let id, let context):
            log(.info, "Sending Cancel Request (MsgID \(id), PresID \(context))")
        case .moveFailed(let why):
            log(.error, "Move Request Failed: \(why)")
        case .peerAborted:
            log(.info, "Peer Aborted Association")
        case .subAssociationReceived:
            log(.info, "Sub-Association Received")
        case .subAssociationAccepted(_, let pdv):
            log(.info, "Sub-Association Acknowledged (Max Send PDV: \(pdv))")
        case .subAssociationRejected(_, let why):
            log(.warn, "Sub-Association Rejected: \(why)")
        case .subAssociationReleased:
            log(.debug, "Sub-Association Release")
        case .subAssociationAborted(_, let why):
            log(.error, "Sub-Association Aborted: \(why)")
        case .echoReceived(_, let id):
            log(.info, "Received Echo Request (MsgID \(id))")
        case .storeRequestReceived(_, let id, let sopClass, _):
            log(.info, "Received Store Request (MsgID \(id), \(UIDTable.filePrefix(forSOPClass: sopClass)))")
        case .storeBegan:
            if level <= .info { out("RECV: ") }
        case .storeProgress:
            if level <= .info { out(".") }
        case .storeEnded:
            if level <= .info { out("\n") }
        case .objectStored(let object):
            log(.debug, "Stored \(object.path ?? "(ignored)") (\(object.bytes) bytes)")
        case .objectFailed(let uid, let status, let why):
            log(.error, "Store of \(uid) failed (\(status.text(for: .store))): \(why)")
        case .fileOverwritten(let path):
            log(.warn, "DICOM file already exists, overwriting: \(path)")
        case .writesMovedToThreadPool(let ms):
            log(.debug, "Writing to the output directory took \(ms) ms for one piece: objects over a MiB are written on a thread pool from now on")
        case .warning(let text):
            log(.warn, text)
        case .error(let text):
            log(.error, text)
        case .releasing:
            log(.info, "Releasing Association")
        case .aborting:
            log(.info, "Aborting Association")
        case .finished(let summary):
            if case .noFinalResponse(let why) = summary.outcome {
                log(.error, "The move ended without a final response (\(why)); the retrieve is incomplete")
            }
            log(.info, summaryLine(summary))
        }
    }

    func summaryLine(_ s: RetrieveSummary) -> String {
        let megabytes = Double(s.bytes) / 1_000_000
        let rate = s.seconds > 0 ? Double(s.objects) / s.seconds : 0
        let throughput = s.seconds > 0 ? megabytes / s.seconds : 0
        return String(format: "Retrieved %d object(s), %.1f MB in %.2f s (%.1f objects/s, %.1f MB/s); %d failed",
                      s.objects, megabytes, s.seconds, rate, throughput, s.failedObjects)
    }
}

/// Events as JSON Lines: one object a line, `event` naming the kind.
enum JSONLine {
    static func encode(_ event: RetrieveEvent) -> String {
        var fields: [(String, Any)] = []
        func add(_ key: String, _ value: Any?) { if let value { fields.append((key, value)) } }
        func counts(_ c: SubOperationCounts) -> [String: Any] {
            var d: [String: Any] = [:]
            if let v = c.remaining { d["remaining"] = Int(v) }
            if let v = c.completed { d["completed"] = Int(v) }
            if let v = c.failed { d["failed"] = Int(v) }
            if let v = c.warning { d["warning"] = Int(v) }
            return d
        }
        let name: String
        switch event {
        case .listening(let port): name = "listening"; add("port", port)
        case .requestingAssociation(let host, let port): name = "associationRequested"; add("host", host); add("port", port)
        case .associationAccepted(let pdv, let contexts):
            name = "associationAccepted"; add("maxSendPDV", pdv)
            add("contexts", contexts.map { ["id": Int($0.id), "abstractSyntax": $0.abstractSyntax, "transferSyntax": $0.transferSyntax] })
        case .associationNegotiated(let d):
            name = "associationNegotiated"
            add("callingAETitle", d.callingAETitle); add("calledAETitle", d.calledAETitle); add("applicationContext", d.applicationContext)
            add("proposed", d.proposed.map { ["id": Int($0.id), "abstractSyntax": $0.abstractSyntax, "transferSyntaxes": $0.transferSyntaxes] as [String: Any] })
            add("answers", d.answers.map { answer -> [String: Any] in
                var item: [String: Any] = ["id": Int(answer.id), "result": Int(answer.result.rawValue), "resultText": answer.result.description,
                                           "usable": answer.isUsable]
                if let abstract = answer.abstractSyntax { item["abstractSyntax"] = abstract }
                if let syntax = answer.transferSyntax { item["transferSyntax"] = syntax }
                return item
            })
            add("ourMaxPDU", Int(d.ourMaximumPDULength)); add("peerMaxPDU", d.peerMaximumPDULength.map { Int($0) }); add("maxSendPDV", d.maximumSendPDV)
            add("ourImplementationClassUID", d.ourImplementationClassUID); add("ourImplementationVersionName", d.ourImplementationVersionName)
            add("peerImplementationClassUID", d.peerImplementationClassUID); add("peerImplementationVersionName", d.peerImplementationVersionName)
        case .associationRejected(let rj):
            name = "associationRejected"; add("result", rj.resultText); add("source", rj.sourceText); add("reason", rj.reasonText)
        case .associationFailed(let why): name = "associationFailed"; add("reason", why)
        case .moveRequestSent(let id, let context, _, let query, let round):
            name = "moveRequest"; add("messageID", Int(id)); add("contextID", Int(context)); add("query", query); add("round", round)
        case .moveResponse(let number, let id, let status, let c, let isFinal, let comment):
            name = "moveResponse"; add("number", number); add("messageID", Int(id)); add("status", status.description)
            add("statusText", status.text(for: .move)); add("final", isFinal); add("counts", counts(c)); add("errorComment", comment)
        case .failedInstances(let id, let uids): name = "failedInstances"; add("messageID", Int(id)); add("sopInstanceUIDs", uids)
        case .cancelSent(let id, let context): name = "cancel"; add("messageID", Int(id)); add("contextID", Int(context))
        case .moveFailed(let why): name = "moveFailed"; add("reason", why)
        case .subAssociationReceived(let id, let ae): name = "subAssociationRequested"; add("id", id); add("callingAETitle", ae)
        case .subAssociationAccepted(let id, let pdv): name = "subAssociationAccepted"; add("id", id); add("maxSendPDV", pdv)
        case .subAssociationRejected(let id, let why): name = "subAssociationRejected"; add("id", id); add("reason", why)
        case .subAssociationReleased(let id): name = "subAssociationReleased"; add("id", id)
        case .subAssociationAborted(let id, let why): name = "subAssociationAborted"; add("id", id); add("reason", why)
        case .echoReceived(let id, let message): name = "echo"; add("id", id); add("messageID", Int(message))
        case .storeRequestReceived(let id, let message, let sopClass, let sopInstance):
            name = "storeRequest"; add("id", id); add("messageID", Int(message)); add("sopClassUID", sopClass); add("sopInstanceUID", sopInstance)
        case .storeBegan, .storeProgress, .storeEnded: return ""
        case .objectStored(let o):
            name = "objectStored"; add("file", o.path); add("sopClassUID", o.sopClassUID); add("sopInstanceUID", o.sopInstanceUID)
            add("transferSyntax", o.transferSyntax); add("bytes", o.bytes); add("seconds", o.seconds)
        case .objectFailed(let uid, let status, let why):
            name = "objectFailed"; add("sopInstanceUID", uid); add("status", status.description); add("reason", why)
        case .fileOverwritten(let path): name = "fileOverwritten"; add("file", path)
        case .writesMovedToThreadPool(let ms): name = "writesMovedToThreadPool"; add("milliseconds", ms)
        case .warning(let text): name = "warning"; add("message", text)
        case .error(let text): name = "error"; add("message", text)
        case .releasing: name = "releasing"
        case .aborting: name = "aborting"
        case .peerAborted: name = "peerAborted"
        case .finished(let s):
            name = "finished"; add("outcome", "\(s.outcome)"); add("moves", s.moves); add("objects", s.objects)
            add("bytes", s.bytes); add("failed", s.failedObjects); add("seconds", s.seconds); add("counts", counts(s.counts))
            add("outputFault", s.outputFault)
        }
        var object: [String: Any] = ["event": name]
        for (key, value) in fields { object[key] = value }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{\"event\":\"\(name)\"}" }
        return String(decoding: data, as: UTF8.self)
    }
}

