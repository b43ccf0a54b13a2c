import DICOM
import DICOMNetwork
import Foundation
import Synchronization
import Testing
import Archive
import TestPeers
@testable import Retrieve

/// Swift Testing has a `Tag` of its own.
private typealias Tag = DICOM.Tag

/// The C-FIND engine, C-ECHO with its timing, and the negotiation details event, against
/// DCMTK's dcmqrscp serving the generated corpus (results compared with DCMTK's findscu
/// and with the corpus manifest), and against a scripted Find SCP of our network layer
/// for the misbehaviours an archive does not show on demand.
@Suite(.serialized, .timeLimit(.minutes(10))) struct FindTests {
    typealias Entry = CorpusRetrieveTests.Entry

    /// Every event of a run, in order.
    final class Recorder<Event: Sendable>: Sendable {
        let all = Mutex<[Event]>([])
        func add(_ event: Event) { all.withLock { $0.append(event) } }
        var events: [Event] { all.withLock { $0 } }
    }

    static func kind(_ event: FindEvent) -> String {
        switch event {
        case .requestingAssociation: return "requesting"
        case .associationAccepted: return "accepted"
        case .associationNegotiated: return "negotiated"
        case .associationRejected: return "rejected"
        case .associationFailed: return "failed"
        case .requestSent: return "request"
        case .result: return "result"
        case .unreadableResult: return "unreadable"
        case .cancelSent: return "cancel"
        case .finalResponse: return "final"
        case .findFailed: return "findFailed"
        case .warning: return "warning"
        case .error: return "error"
        case .releasing: return "releasing"
        case .aborting: return "aborting"
        case .peerAborted: return "peerAborted"
        case .finished: return "finished"
        }
    }

    static func results(_ events: [FindEvent]) -> [DataSet] {
        events.compactMap { if case .result(_, let identifier, _) = $0 { identifier } else { nil } }
    }

    static func identifier(_ keys: [String]) throws -> DataSet {
        try QueryFile.identifier(file: nil, keys: keys.map { try KeyOverride(parsing: $0) })
    }

    static func configuration(port: Int, model: QueryRetrieveModel, calledAETitle: String = "ARCHIVE") -> RetrieveConfiguration {
        var configuration = RetrieveConfiguration()
        configuration.peerHost = "localhost"
        configuration.peerPort = port
        configuration.callingAETitle = "FINDSCU"
        configuration.calledAETitle = calledAETitle
        configuration.model = model
        configuration.acseTimeout = 10
        configuration.dimseTimeout = 30
        return configuration
    }

    /// Runs our find; the summary and every event.
    static func find(_ configuration: RetrieveConfiguration, _ keys: [String], control: RetrieveControl? = nil,
                     onResult: (@Sendable (Int) -> Void)? = nil) async throws -> (summary: FindSummary, events: [FindEvent]) {
        let recorder = Recorder<FindEvent>()
        let summary = await FindEngine.run(configuration, identifier: try identifier(keys), control: control) { event in
            recorder.add(event)
            if case .result(let number, _, _) = event { onResult?(number) }
        }
        return (summary, recorder.events)
    }

    /// DCMTK's findscu with the same keys: its responses, as the files -X writes.
    static func findscu(port: Int, model: String, _ keys: [String]) async throws -> [DataSet] {
        let od = try CorpusRetrieveTests.freshFolder("findscu")
        defer { try? FileManager.default.removeItem(atPath: od) }
        let run = try await runProgram("/usr/bin/findscu", ["-q", "-X", "-od", od, model, "-aet", "FINDSCU", "-aec", "ARCHIVE"]
                                                        + keys.flatMap { ["-k", $0] } + ["localhost", String(port)])
        guard run.status == 0 else { throw TestPeerMissing(what: "findscu: \(run.output)") }
        return try FileManager.default.contentsOfDirectory(atPath: od).sorted().map { try DICOMFile.read(path: od + "/" + $0).dataSet }
    }

    /// A data set as comparable text: each element's tag, VR and values (trailing padding
    /// left out, so that the same value padded either way compares equal).
    static func text(_ dataSet: DataSet) -> [String] {
        dataSet.elements.map { element in
            let values = dataSet.strings(element.tag)?.joined(separator: "\\") ?? element.bytes.map { "\($0)" } ?? "(sequence)"
            return "\(element.tag) \(element.vr) \(values)"
        }
    }

    // MARK: - C-FIND against dcmqrscp

    @Test func everyLevelAndModelMatchesFindscuAndTheCorpus() async throws {
        let archive = try await CorpusRetrieveTests.DCMTKArchive(destinations: [])
        defer { archive.stop() }
        let all = archive.entries
        let study = all[0].studyInstanceUID
        let ctSeries = all.first { $0.file.hasPrefix("ct") }!.seriesInstanceUID
        let ct = all.filter { $0.seriesInstanceUID == ctSeries }
        let series = Set(all.map(\.seriesInstanceUID))
        // Per case: the model, the keys, how many matches the corpus has, and the values one
        // return key must take across the matches.
        struct Case {
            var model: QueryRetrieveModel
            var option: String
            var keys: [String]
            var count: Int
            var key: Tag
            var values: Set<String>
        }
        let patientName = "Müller^Jürgen=ミュラー^ユルゲン"
        let cases: [Case] = [
            Case(model: .patientRoot, option: "-P", keys: ["QueryRetrieveLevel=PATIENT", "PatientID=CORPUS1", "PatientName"],
                 count: 1, key: Tag(0x0010, 0x0010), values: [patientName]),
            Case(model: .patientRoot, option: "-P",
                 keys: ["QueryRetrieveLevel=STUDY", "PatientID=CORPUS1", "StudyInstanceUID", "StudyID", "AccessionNumber"],
                 count: 1, key: Tag(0x0020, 0x000D), values: [study]),
            Case(model: .patientRoot, option: "-P",
                 keys: ["QueryRetrieveLevel=SERIES", "PatientID=CORPUS1", "StudyInstanceUID=\(study)", "SeriesInstanceUID", "Modality"],
                 count: series.count, key: Tag(0x0020, 0x000E), values: series),
            Case(model: .patientRoot, option: "-P",
                 keys: ["QueryRetrieveLevel=IMAGE", "PatientID=CORPUS1", "StudyInstanceUID=\(study)", "SeriesInstanceUID=\(ctSeries)",
                        "SOPInstanceUID", "InstanceNumber"],
                 count: ct.count, key: Tag(0x0008, 0x0018), values: Set(ct.map(\.sopInstanceUID))),
            Case(model: .studyRoot, option: "-S",
                 keys: ["QueryRetrieveLevel=STUDY", "StudyInstanceUID", "PatientID", "PatientName", "AccessionNumber"],
                 count: 1, key: Tag(0x0008, 0x0050), values: ["ACC5001"]),
            Case(model: .studyRoot, option: "-S", keys: ["QueryRetrieveLevel=SERIES", "StudyInstanceUID=\(study)", "SeriesInstanceUID", "Modality"],
                 count: series.count, key: Tag(0x0020, 0x000E), values: series),
            Case(model: .studyRoot, option: "-S", keys: ["QueryRetrieveLevel=IMAGE", "StudyInstanceUID=\(study)", "SeriesInstanceUID", "SOPInstanceUID"],
                 count: all.count, key: Tag(0x0008, 0x0018), values: Set(all.map(\.sopInstanceUID))),
        ]
        for c in cases {
            let context = "\(c.model) \(c.keys[0])"
            let (summary, events) = try await Self.find(Self.configuration(port: archive.peer.port, model: c.model), c.keys)
            #expect(summary.outcome == FindSummary.Outcome.success, "\(context): \(summary)")
            #expect(summary.finalStatus == DIMSEStatus.success, "\(context): \(summary)")
            #expect(summary.results == c.count && summary.unreadableResults == 0, "\(context): \(summary)")
            let ours = Self.results(events)
            #expect(ours.count == c.count, "\(context)")
            #expect(Set(ours.compactMap { $0.string(c.key) }) == c.values, "\(context): \(ours.map { $0.string(c.key) ?? "-" })")
            // The same matches, in the same order, with the same values as DCMTK gets.
            let theirs = try await Self.findscu(port: archive.peer.port, model: c.option, c.keys)
            #expect(ours.map(Self.text) == theirs.map(Self.text), "\(context): ours \(ours.map(Self.text)), findscu's \(theirs.map(Self.text))")
            // Events in order: association, request, one result per match numbered from 1, final, release.
            let kinds = events.map(Self.kind)
            #expect(kinds == ["requesting", "accepted", "negotiated", "request"] + Array(repeating: "result", count: c.count)
                    + ["final", "releasing", "finished"], "\(context): \(kinds)")
            let numbers = events.compactMap { if case .result(let n, _, let status) = $0, status.isPending { n } else { nil } }
            #expect(numbers == Array(1..<(c.count + 1)), "\(context)")
        }
    }

    @Test func aFindWithNoMatchesSucceedsEmpty() async throws {
        let archive = try await CorpusRetrieveTests.DCMTKArchive(destinations: [])
        defer { archive.stop() }
        let keys = ["QueryRetrieveLevel=PATIENT", "PatientID=NOBODY", "PatientName"]
        let (summary, events) = try await Self.find(Self.configuration(port: archive.peer.port, model: .patientRoot), keys)
        #expect(summary.outcome == .success && summary.finalStatus == .success && summary.results == 0, "\(summary)")
        #expect(Self.results(events).isEmpty)
        #expect(try await Self.findscu(port: archive.peer.port, model: "-P", keys).isEmpty)
        #expect(events.map(Self.kind) == ["requesting", "accepted", "negotiated", "request", "final", "releasing", "finished"])
    }

    /// dcmqrscp (3.6.7) in practice sends every match and Success even after a C-CANCEL
    /// (DCMTK's own `findscu --cancel 1` gets all 200 matches of a 200-image study), so the
    /// final status may be Cancel or Success; either way the cancel went out once, after the
    /// first result, and the find ended with its final response, not as a failure. The
    /// scripted peer below checks that a Cancel status is read as such.
    @Test func cancelAfterTheFirstResultFromDcmqrscp() async throws {
        let archive = try await CorpusRetrieveTests.DCMTKArchive(destinations: [])
        defer { archive.stop() }
        let control = RetrieveControl()
        let study = archive.entries[0].studyInstanceUID
        let (summary, events) = try await Self.find(Self.configuration(port: archive.peer.port, model: .studyRoot),
                                                    ["QueryRetrieveLevel=IMAGE", "StudyInstanceUID=\(study)", "SeriesInstanceUID", "SOPInstanceUID"],
                                                    control: control, onResult: { if $0 == 1 { control.cancel() } })
        #expect(summary.outcome == .cancelled || summary.outcome == .success, "\(summary)")
        #expect(summary.finalStatus == .cancel || summary.finalStatus == .success, "\(summary)")
        #expect(summary.results >= 1 && summary.results <= archive.entries.count)
        let kinds = events.map(Self.kind)
        #expect(kinds.filter { $0 == "cancel" }.count <= 1, "\(kinds)")
        #expect(kinds.contains("final") && !kinds.contains("findFailed"), "\(kinds)")
        #expect(kinds.firstIndex(of: "cancel").map { $0 > kinds.firstIndex(of: "result")! } ?? true, "\(kinds)")
        #expect(summary.cancelSent == kinds.contains("cancel"))
    }

    // MARK: - C-FIND against a scripted peer

    @Test func cancelIsSentOnceAndTheResponsesAreReadToTheFinalOne() async throws {
        let peer = try await ScriptedFindSCP(script: .waitForCancel(afterCancel: 2))
        let control = RetrieveControl()
        // Asked twice: one C-CANCEL all the same.
        let (summary, events) = try await Self.find(Self.configuration(port: peer.port, model: .studyRoot, calledAETitle: "SCRIPTED"),
                                                    ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"], control: control,
                                                    onResult: { if $0 == 1 { control.cancel(); control.cancel() } })
        await peer.stop()
        #expect(summary.outcome == .cancelled && summary.finalStatus == .cancel && summary.cancelSent, "\(summary)")
        #expect(summary.results == 3, "the matches sent after the cancel are reported too")
        #expect(Self.results(events).map { $0.string(Tag(0x0020, 0x000D)) } == (0..<3).map(ScriptedFindSCP.studyUID))
        let kinds = events.map(Self.kind)
        #expect(kinds == ["requesting", "accepted", "negotiated", "request", "result", "cancel", "result", "result", "final", "releasing", "finished"],
                "\(kinds)")
    }

    @Test func garbledAndMissingIdentifiersAreReportedNotCounted() async throws {
        let peer = try await ScriptedFindSCP(script: .garbledIdentifiers)
        let (summary, events) = try await Self.find(Self.configuration(port: peer.port, model: .patientRoot, calledAETitle: "SCRIPTED"),
                                                    ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"])
        await peer.stop()
        #expect(summary.outcome == .success && summary.results == 1 && summary.unreadableResults == 2, "\(summary)")
        let reasons = events.compactMap { if case .unreadableResult(let n, let why) = $0 { "\(n): \(why)" } else { nil } }
        #expect(reasons.count == 2 && reasons[0].hasPrefix("1: the identifier (12 bytes") && reasons[1] == "2: the pending response carries no identifier",
                "\(reasons)")
        #expect(Self.results(events).first?.string(Tag(0x0010, 0x0010)) == "SCRIPTED^PEER")
    }

    @Test func aResponseToAnotherMessageEndsTheFindWithoutFinalResponse() async throws {
        let peer = try await ScriptedFindSCP(script: .wrongMessageID)
        let (summary, events) = try await Self.find(Self.configuration(port: peer.port, model: .studyRoot, calledAETitle: "SCRIPTED"),
                                                    ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"])
        await peer.stop()
        guard case .noFinalResponse(let why) = summary.outcome else {
            Issue.record("\(summary)")
            return
        }
        #expect(why.contains("a C-FIND-RSP to message 101, not 1"), "\(why)")
        #expect(summary.finalStatus == nil && !summary.gotFinalResponse && summary.results == 1)
        #expect(events.map(Self.kind).suffix(2) == ["findFailed", "finished"])
    }

    @Test func aPeerAbortIsNoFinalResponse() async throws {
        let peer = try await ScriptedFindSCP(script: .abortAfterFirst)
        let (summary, events) = try await Self.find(Self.configuration(port: peer.port, model: .studyRoot, calledAETitle: "SCRIPTED"),
                                                    ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"])
        await peer.stop()
        guard case .noFinalResponse = summary.outcome else {
            Issue.record("\(summary)")
            return
        }
        #expect(summary.results == 1 && summary.finalStatus == nil)
        let kinds = events.map(Self.kind)
        #expect(kinds.contains("findFailed") && kinds.contains("peerAborted") && !kinds.contains("final"), "\(kinds)")
    }

    @Test func theOperatorAbortsWhileTheFindWaits() async throws {
        let peer = try await ScriptedFindSCP(script: .silentAfterFirst)
        let control = RetrieveControl()
        let started = ContinuousClock.now
        let (summary, events) = try await Self.find(Self.configuration(port: peer.port, model: .studyRoot, calledAETitle: "SCRIPTED"),
                                                    ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"], control: control,
                                                    onResult: { _ in control.abort() })
        await peer.stop()
        #expect(summary.outcome == .noFinalResponse("aborted by the operator"), "\(summary)")
        #expect(ContinuousClock.now - started < .seconds(10), "the abort did not wait for the DIMSE timeout")
        let kinds = events.map(Self.kind)
        #expect(kinds.suffix(3) == ["aborting", "findFailed", "finished"] && !kinds.contains("peerAborted"), "\(kinds)")
    }

    @Test func aSilentPeerTimesOut() async throws {
        let peer = try await ScriptedFindSCP(script: .silentAfterFirst)
        var configuration = Self.configuration(port: peer.port, model: .studyRoot, calledAETitle: "SCRIPTED")
        configuration.dimseTimeout = 1
        let (summary, _) = try await Self.find(configuration, ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"])
        await peer.stop()
        #expect(summary.outcome == .noFinalResponse("timed out waiting for a DIMSE message"), "\(summary)")
        #expect(summary.results == 1)
    }

    @Test func findFailuresBeforeTheRequest() async throws {
        // Nothing listening.
        var (summary, events) = try await Self.find(Self.configuration(port: try freePort(), model: .studyRoot), ["QueryRetrieveLevel=STUDY"])
        guard case .connectFailed = summary.outcome else {
            Issue.record("\(summary)")
            return
        }
        #expect(events.map(Self.kind) == ["requesting", "failed", "finished"])
        // A called AE title dcmqrscp does not know: rejected.
        let archive = try await CorpusRetrieveTests.DCMTKArchive(destinations: [])
        defer { archive.stop() }
        (summary, events) = try await Self.find(Self.configuration(port: archive.peer.port, model: .studyRoot, calledAETitle: "WRONG"),
                                                ["QueryRetrieveLevel=STUDY"])
        guard case .associationRejected(let rj) = summary.outcome else {
            Issue.record("\(summary)")
            return
        }
        #expect(rj.reasonText == "Called AE Title Not Recognized")
        #expect(events.map(Self.kind) == ["requesting", "rejected", "finished"])
    }

    // MARK: - C-ECHO

    @Test func echoToDcmqrscpMeasuresTheRoundTrip() async throws {
        let archive = try await CorpusRetrieveTests.DCMTKArchive(destinations: [])
        defer { archive.stop() }
        let result = await RetrieveEngine.echo(host: "localhost", port: archive.peer.port, callingAETitle: "ECHOSCU", calledAETitle: "ARCHIVE", timeout: 5)
        guard case .success(let reply) = result else {
            Issue.record("\(result)")
            return
        }
        #expect(reply.status == .success)
        #expect(reply.roundTrip > .zero && reply.roundTrip < .seconds(5), "\(reply.roundTrip)")
        #expect(reply.associationTime > .zero && reply.associationTime < .seconds(5), "\(reply.associationTime)")
        #expect(reply.details.peerImplementationClassUID?.hasPrefix("1.2.276.0.7230010.3") == true, "\(reply.details)")
        #expect(reply.details.answers.map(\.result) == [.acceptance])
    }

    @Test func echoToAClosedPortIsRefused() async throws {
        let port = try freePort()
        let result = await RetrieveEngine.echo(host: "127.0.0.1", port: port, timeout: 5)
        #expect(result == .failure(.refused(host: "127.0.0.1", port: port)), "\(result)")
        if case .failure(let failure) = result {
            #expect(failure.description == "connection refused: nothing listens on 127.0.0.1 port \(port)")
        }
    }

    @Test func echoWithAWrongCalledAETitleIsRejected() async throws {
        let archive = try await CorpusRetrieveTests.DCMTKArchive(destinations: [])
        defer { archive.stop() }
        let result = await RetrieveEngine.echo(host: "localhost", port: archive.peer.port, calledAETitle: "NOT-ARCHIVE", timeout: 5)
        guard case .failure(.rejected(let rj)) = result else {
            Issue.record("\(result)")
            return
        }
        #expect(rj.reasonText == "Called AE Title Not Recognized")
        #expect(EchoFailure.rejected(rj).description.hasPrefix("association rejected: Called AE Title Not Recognized"))
    }

    /// A peer that accepts the TCP connection and then says nothing.
    @Test func echoToASilentPeerTimesOut() async throws {
        let silent = try await PeerProcess.start(try pythonPath(), ["-c", """
            import socket, sys, time
            s = socket.socket()
            s.bind(("127.0.0.1", int(sys.argv[1])))
            s.listen()
            c, _ = s.accept()
            time.sleep(30)
            """, "{port}"])
        defer { silent.stop() }
        let started = ContinuousClock.now
        let result = await RetrieveEngine.echo(host: "127.0.0.1", port: silent.port, timeout: 1)
        #expect(result == .failure(.timedOut("A-ASSOCIATE response")), "\(result)")
        // The timeout, then the A-ABORT's wait for the peer to close (ARTIM, the same time).
        #expect(ContinuousClock.now - started < .seconds(4))
    }

    // MARK: - Negotiation details

    @Test func negotiationDetailsComeRightAfterTheAcceptance() async throws {
        let archive = try await CorpusRetrieveTests.DCMTKArchive(destinations: [])
        defer { archive.stop() }
        // The find's.
        let (_, findEvents) = try await Self.find(Self.configuration(port: archive.peer.port, model: .studyRoot), ["QueryRetrieveLevel=STUDY"])
        guard let index = findEvents.firstIndex(where: { Self.kind($0) == "negotiated" }),
              case .associationNegotiated(let details) = findEvents[index] else {
            Issue.record("no negotiation details: \(findEvents.map(Self.kind))")
            return
        }
        #expect(Self.kind(findEvents[index - 1]) == "accepted")
        #expect(details.peerImplementationClassUID?.hasPrefix("1.2.276.0.7230010.3") == true, "\(details)")
        #expect(details.peerImplementationVersionName?.hasPrefix("OFFIS_DCMTK") == true, "\(details)")
        #expect(details.peerMaximumPDULength == 16384 && details.ourMaximumPDULength == 16384)
        #expect(details.proposed.map(\.abstractSyntax) == [QueryRetrieveModel.studyRoot.findSOPClass])
        #expect(details.answers.count == 1 && details.answers[0].result == .acceptance && details.answers[0].isUsable)
        #expect(details.answers[0].transferSyntax == TransferSyntax.explicitVRLittleEndian.uid, "\(details)")
        #expect(details.calledAETitle == "ARCHIVE" && details.callingAETitle == "FINDSCU")
        #expect(!details.lines.isEmpty)

        // The retrieve's: a move to a destination dcmqrscp does not know (A801) is enough.
        var configuration = Self.configuration(port: archive.peer.port, model: .studyRoot)
        configuration.moveDestination = "NOWHERE"
        configuration.identifiers = [try Self.identifier(["QueryRetrieveLevel=STUDY", "StudyInstanceUID=\(archive.entries[0].studyInstanceUID)"])]
        let recorder = Recorder<RetrieveEvent>()
        _ = await RetrieveEngine.run(configuration, emit: recorder.add)
        let events = recorder.events
        guard let accepted = events.firstIndex(where: { if case .associationAccepted = $0 { true } else { false } }),
              case .associationNegotiated(let moveDetails) = events[accepted + 1] else {
            Issue.record("no negotiation details right after the acceptance: \(events)")
            return
        }
        #expect(moveDetails.peerImplementationClassUID?.hasPrefix("1.2.276.0.7230010.3") == true)
        #expect(moveDetails.proposed.map(\.id) == [1, 3])
        #expect(moveDetails.answers.map(\.abstractSyntax) == [QueryRetrieveModel.studyRoot.findSOPClass, QueryRetrieveModel.studyRoot.moveSOPClass])
    }

    /// movescu's --json has a line for the details; its -v log has none.
    @Test func movescuWritesTheDetailsAsJSONOnly() async throws {
        let archive = try await CorpusRetrieveTests.DCMTKArchive(destinations: [])
        defer { archive.stop() }
        let query = ["-S", "-aet", "OURS", "-aec", "ARCHIVE", "-aem", "NOWHERE", "-k", "QueryRetrieveLevel=STUDY",
                     "-k", "StudyInstanceUID=\(archive.entries[0].studyInstanceUID)", "localhost", String(archive.peer.port)]
        let json = try await runProcess(URL(fileURLWithPath: MovescuSideBySideTests.ours), ["--json"] + query)
        let lines = json.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        let names = lines.compactMap { $0["event"] as? String }
        #expect(names.prefix(3) == ["associationRequested", "associationAccepted", "associationNegotiated"], "\(names)")
        let details = lines.first { $0["event"] as? String == "associationNegotiated" }
        #expect((details?["peerImplementationClassUID"] as? String)?.hasPrefix("1.2.276.0.7230010.3") == true, "\(json.stdout)")
        #expect(details?["peerMaxPDU"] as? Int == 16384)
        let answers = details?["answers"] as? [[String: Any]]
        #expect(answers?.count == 2 && answers?.allSatisfy { $0["resultText"] as? String == "acceptance" } == true, "\(String(describing: answers))")
        let verbose = try await runProgram(MovescuSideBySideTests.ours, ["-v"] + query)
        #expect(!verbose.output.contains("Peer implementation"), "\(verbose.output)")
        let debug = try await runProgram(MovescuSideBySideTests.ours, ["-d"] + query)
        #expect(debug.output.contains("D: Peer implementation: 1.2.276.0.7230010.3"), "\(debug.output)")
    }

    /// A cancel asked for before the association is up goes out right after the request
    /// (the demo archive, slowed down, still has answers to send): request, cancel, FE00.
    @Test func aCancelAskedBeforeTheRequestIsSentAfterIt() async throws {
        var settings = ArchiveConfiguration()
        settings.faults.responseDelay = .milliseconds(100)
        let archive = try await QueryRetrieveArchive.start(store: DemoStudies.store(), configuration: settings)
        let control = RetrieveControl()
        control.cancel()
        let recorder = Recorder<FindEvent>()
        _ = await FindEngine.run(Self.configuration(port: archive.port, model: .studyRoot, calledAETitle: "DEMO"),
                                 identifier: try Self.identifier(["QueryRetrieveLevel=STUDY", "StudyInstanceUID"]),
                                 control: control, emit: recorder.add)
        await archive.stop()
        let order = recorder.events.map(Self.kind).filter { ["request", "cancel", "result", "final"].contains($0) }
        #expect(order.prefix(2) == ["request", "cancel"], "\(order)")
        #expect(order.last == "final" && order.filter { $0 == "result" }.count < 4, "\(order)")
        let final = recorder.events.compactMap { if case .finalResponse(_, let status, _) = $0 { status } else { nil } }
        #expect(final == [.cancel], "\(final)")
    }
}
