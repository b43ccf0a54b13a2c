import DICOM
import DICOMNetwork
import Foundation
import Retrieve

extension ConsoleModel {
    /// The dictionary's keywords, for completion (sorted once).
    static let keywords: [String] = DataDictionary.active.allKeywords

    /// A key; the command for the runner, if any.
    public mutating func handle(_ key: ConsoleKey) -> ConsoleCommand? {
        // Ctrl-C cancels what runs, whatever is open.
        if key == .control("c") && isRunning { return .cancel }
        switch overlay {
        case .help:
            overlay = .none
            return nil
        case .prompt(var editor, let purpose):
            switch editor.handle(key, keywords: { Self.keywords }) {
            case .editing:
                overlay = .prompt(editor, purpose)
                return nil
            case .cancelled:
                overlay = .none
                return nil
            case .accepted(let text):
                overlay = .none
                return accept(text, for: purpose)
            }
        case .form(var form):
            return handleForm(key, &form)
        case .confirmQuit:
            overlay = .none
            return key == .character("q") || key == .character("Q") || key == .character("y") ? .quit : nil
        case .confirmDelete(let name):
            overlay = .none
            if key == .character("y") || key == .character("Y") {
                peers.removeAll { $0.name == name }
                peerIndex = min(peerIndex, max(0, peers.count - 1))
                note("deleted peer \(name)")
                return .savePeers(peers)
            }
            return nil
        case .none:
            break
        }

        // Keys that mean the same everywhere.
        switch key {
        case .character("q"), .character("Q"):
            if isRunning {
                overlay = .confirmQuit
                return nil
            }
            return .quit
        case .control("c"):
            return isRunning ? .cancel : .quit
        case .character("?"), .function(1):
            overlay = .help
            return nil
        case .tab:
            zoomed = false
            focus = Pane(rawValue: (focus.rawValue + 1) % Pane.allCases.count)!
            return nil
        case .backTab:
            zoomed = false
            focus = Pane(rawValue: (focus.rawValue + Pane.allCases.count - 1) % Pane.allCases.count)!
            return nil
        case .character("c") where isRunning:
            return .cancel
        case .character("a") where isRunning:
            return .abort
        case .character("f"), .function(5):
            return startFind()
        case .character("m"), .function(6):
            return startMove(query: configuration.identifiers)
        case .character("r"):
            guard let last = lastMove else {
                note("nothing to repeat yet: start a move first", .warning)
                return nil
            }
            // From the archive and with the model the last move used.
            return startMove(query: last, from: lastMoveSource, model: lastMoveModel)
        case .character("1"): view = .log; scrollBack = 0; return nil
        case .character("2"): view = .results; return nil
        case .character("3"): view = .trace; scrollBack = 0; return nil
        case .character("v"):
            view = MainView(rawValue: (view.rawValue + 1) % MainView.allCases.count)!
            scrollBack = 0
            return nil
        case .character("z"):
            zoomed.toggle()
            if zoomed { focus = .main }
            return nil
        case .character("w"):
            overlay = .prompt(LineEditor(label: "save the session log to", text: "movescu-console.log"), .saveLog)
            return nil
        default:
            break
        }

        switch focus {
        case .peers: return handlePeers(key)
        case .titles: return handleTitles(key)
        case .query: return handleQuery(key)
        case .main: return handleMain(key)
        }
    }

    // MARK: Starting work

    mutating func startMove(query identifiers: [DataSet]) -> ConsoleCommand? {
        guard !isRunning else {
            note("a \(phase == .finding ? "find" : "move") is running: wait, cancel (c) or abort (a) first", .warning)
            return nil
        }
        guard !identifiers.isEmpty else { return nil }
        for (i, identifier) in identifiers.enumerated() {
            let extra = QueryKeys.extraMoveKeys(identifier, model: configuration.model)
            if !extra.isEmpty {
                // Sent as asked: some SCPs accept them, the standard says only unique keys.
                note("move \(i + 1) carries keys beyond the unique keys of its level (\(extra.joined(separator: ", "))); some SCPs refuse such a move", .warning)
            }
        }
        var move = configuration
        move.identifiers = identifiers
        lastMove = identifiers
        lastMoveSource = MoveSource(of: configuration)
        lastMoveModel = configuration.model
        resetForStart()
        view = view == .trace ? .trace : .log
        return .move(move)
    }

    mutating func startFind() -> ConsoleCommand? {
        guard !isRunning else {
            note("a \(phase == .finding ? "find" : "move") is running: wait, cancel (c) or abort (a) first", .warning)
            return nil
        }
        let identifier = QueryKeys.findIdentifier(query, model: configuration.model)
        resultsModel = configuration.model
        resultsPeer = MoveSource(of: configuration)
        resultsLevel = QueryKeys.level(of: identifier) ?? "STUDY"
        results = []
        picked = []
        resultIndex = 0
        findStatus = "searching"
        resetForStart()
        phase = .finding
        view = .results
        add("C-FIND at \(resultsLevel) level")
        return .find(configuration, identifier: identifier)
    }

    // MARK: Panes

    mutating func handlePeers(_ key: ConsoleKey) -> ConsoleCommand? {
        switch key {
        case .up: peerIndex = max(0, peerIndex - 1)
        case .down: peerIndex = min(max(0, peers.count - 1), peerIndex + 1)
        case .enter:
            guard peerIndex < peers.count else { return nil }
            use(peers[peerIndex])
        case .character("n"):
            overlay = .form(PeerForm(peer: nil))
        case .character("e"):
            guard peerIndex < peers.count else { return nil }
            overlay = .form(PeerForm(peer: peers[peerIndex]))
        case .character("d"), .delete:
            guard peerIndex < peers.count else { return nil }
            overlay = .confirmDelete(peer: peers[peerIndex].name)
        case .character("t"):
            guard peerIndex < peers.count else { return nil }
            let peer = peers[peerIndex]
            echoResults[peer.name] = ("echo...", .pending)
            return .echo(peer)
        default: break
        }
        return nil
    }

    /// Makes a peer the one the console talks to.
    public mutating func use(_ peer: Peer) {
        configuration.calledAETitle = peer.aeTitle
        configuration.peerHost = peer.host
        configuration.peerPort = peer.port
        note("peer \(peer.name): \(peer.aeTitle) at \(peer.host):\(peer.port)")
    }

    mutating func handleForm(_ key: ConsoleKey, _ form: inout PeerForm) -> ConsoleCommand? {
        defer { if case .form = overlay { overlay = .form(form) } }
        switch key {
        case .escape:
            overlay = .none
            return nil
        case .tab, .down:
            form.focus(form.field + 1)
        case .backTab, .up:
            form.focus(form.field - 1)
        case .enter:
            form.values[form.field] = form.editor.string
            do {
                let peer = try validatedPeer(form)
                if let original = form.original, let index = peers.firstIndex(where: { $0.name == original }) {
                    peers[index] = peer
                    peerIndex = index
                    note("peer \(peer.name) changed")
                } else {
                    peers.append(peer)
                    peerIndex = peers.count - 1
                    note("peer \(peer.name) added")
                }
                overlay = .none
                return .savePeers(peers)
            } catch {
                form.error = error.text
            }
        default:
            _ = form.editor.handle(key)
            form.error = nil
        }
        return nil
    }

    func validatedPeer(_ form: PeerForm) throws(ConsoleMessage) -> Peer {
        let v = form.values.map { $0.trimmingCharacters(in: .whitespaces) }
        guard !v[0].isEmpty else { throw ConsoleMessage("a peer needs a name") }
        if peers.contains(where: { $0.name.lowercased() == v[0].lowercased() && $0.name != form.original }) {
            throw ConsoleMessage("there is already a peer called \(v[0])")
        }
        if let problem = AETitle.problem(with: v[1]) { throw ConsoleMessage("AE title: \(problem)") }
        guard !v[2].isEmpty, !v[2].contains(where: { $0 == " " || $0.isNewline }) else { throw ConsoleMessage("host: a host name or address, without spaces") }
        guard let port = Int(v[3]), (1...65535).contains(port) else { throw ConsoleMessage("port: a number from 1 to 65535") }
        let peer = Peer(name: v[0], aeTitle: v[1], host: v[2], port: port, notes: v[4])
        if let problem = peer.problem { throw ConsoleMessage(problem) }
        return peer
    }

    mutating func handleTitles(_ key: ConsoleKey) -> ConsoleCommand? {
        switch key {
        case .up: titleIndex = max(0, titleIndex - 1)
        case .down: titleIndex = min(TitleField.allCases.count - 1, titleIndex + 1)
        case .enter:
            let field = TitleField(rawValue: titleIndex)!
            let value: String
            switch field {
            case .calling: value = configuration.callingAETitle
            case .called: value = configuration.calledAETitle
            case .destination: value = configuration.moveDestination
            case .storagePort: value = configuration.listenPort.map(String.init) ?? "none"
            }
            overlay = .prompt(LineEditor(label: field == .storagePort ? "storage port (none: a third-party move)" : "\(field.label) AE title", text: value), .title(field))
        default: break
        }
        return nil
    }

    mutating func handleQuery(_ key: ConsoleKey) -> ConsoleCommand? {
        let rows = QueryKeys.rows(query)
        switch key {
        case .up: queryIndex = max(0, queryIndex - 1)
        case .down: queryIndex = min(max(0, rows.count - 1), queryIndex + 1)
        case .character("n"), .character("+"):
            overlay = .prompt(LineEditor(label: "key (Keyword, gggg,eeee or Seq[0].Keyword, =value)", completesKeywords: true), .addKey)
        case .enter, .character("e"):
            guard queryIndex < rows.count, !rows[queryIndex].isSequence else { return nil }
            overlay = .prompt(LineEditor(label: "value of \(rows[queryIndex].path)", text: rows[queryIndex].value), .editKey(path: rows[queryIndex].path))
        case .character("d"), .delete:
            guard queryIndex < rows.count else { return nil }
            do {
                try QueryKeys.remove(path: rows[queryIndex].path, from: &query)
            } catch {
                note(error.text, .failure)
            }
            queryIndex = min(queryIndex, max(0, QueryKeys.rows(query).count - 1))
        case .character("l"):
            let current = QueryKeys.level(of: query) ?? "STUDY"
            let levels = QueryKeys.levels(for: configuration.model)
            let next = levels[((levels.firstIndex(of: current) ?? -1) + 1) % levels.count]
            query.setString(next, for: QueryKeys.levelTag, vr: .CS)
        case .character("o"):
            let all = QueryRetrieveModel.allCases
            configuration.model = all[((all.firstIndex(of: configuration.model) ?? 0) + 1) % all.count]
            // A level the new model lacks becomes its nearest one.
            let levels = QueryKeys.levels(for: configuration.model)
            if let current = QueryKeys.level(of: query), !levels.contains(current) {
                query.setString(current == "PATIENT" ? "STUDY" : levels.last!, for: QueryKeys.levelTag, vr: .CS)
            }
        case .character("L"):
            overlay = .prompt(LineEditor(label: "load a query file (DICOM or dump text)"), .loadQuery)
        case .character("S"):
            overlay = .prompt(LineEditor(label: "save the query to (.dcm: DICOM, else dump text)", text: "query.txt"), .saveQuery)
        default: break
        }
        return nil
    }

    mutating func handleMain(_ key: ConsoleKey) -> ConsoleCommand? {
        if view == .results {
            switch key {
            case .up: resultIndex = max(0, resultIndex - 1)
            case .down: resultIndex = min(max(0, results.count - 1), resultIndex + 1)
            case .pageUp: resultIndex = max(0, resultIndex - 10)
            case .pageDown: resultIndex = min(max(0, results.count - 1), resultIndex + 10)
            case .character(" "):
                guard resultIndex < results.count else { return nil }
                if picked.contains(resultIndex) { picked.remove(resultIndex) } else { picked.insert(resultIndex) }
                resultIndex = min(max(0, results.count - 1), resultIndex + 1)
            case .character("*"):
                picked = picked.count == results.count ? [] : Set(results.indices)
            case .enter:
                return movePicked()
            default: break
            }
            return nil
        }
        let count = view == .log ? log.count : trace.count
        switch key {
        case .up: scrollBack = min(max(0, count - 1), scrollBack + 1)
        case .down: scrollBack = max(0, scrollBack - 1)
        case .pageUp: scrollBack = min(max(0, count - 1), scrollBack + 10)
        case .pageDown: scrollBack = max(0, scrollBack - 10)
        case .home: scrollBack = max(0, count - 1)
        case .end: scrollBack = 0
        default: break
        }
        return nil
    }

    /// A move per picked result (the selected one when none is picked).
    mutating func movePicked() -> ConsoleCommand? {
        let rows = picked.isEmpty ? (results.indices.contains(resultIndex) ? [resultIndex] : []) : picked.sorted()
        guard !rows.isEmpty else {
            note("no results to move: find first (f)", .warning)
            return nil
        }
        var identifiers: [DataSet] = []
        for row in rows {
            do {
                identifiers.append(try QueryKeys.moveIdentifier(for: results[row], level: resultsLevel, model: resultsModel))
            } catch {
                note("result \(row + 1): \(error.text)", .failure)
            }
        }
        guard !identifiers.isEmpty else { return nil }
        if resultsModel != configuration.model {
            note("the results came from a \(Self.modelName(resultsModel)) find; moving them with that model", .dim)
        }
        return startMove(query: identifiers, from: resultsPeer, model: resultsModel, what: "the results came")
    }

    /// A move from `source` with `model` (the UIDs are that archive's: another may not know
    /// them), whichever peer and model are selected now; the selection is left as it is.
    mutating func startMove(query identifiers: [DataSet], from source: MoveSource?, model: QueryRetrieveModel?,
                            what: String = "the last move came") -> ConsoleCommand? {
        let chosen = configuration
        if let model { configuration.model = model }
        if let source, source != MoveSource(of: configuration) {
            note("\(what) from \(source.calledAETitle) at \(source.host):\(source.port); moving from there", .dim)
            source.apply(to: &configuration)
        }
        defer {
            configuration.model = chosen.model
            MoveSource(of: chosen).apply(to: &configuration)
        }
        return startMove(query: identifiers)
    }

    // MARK: Prompts

    mutating func accept(_ text: String, for purpose: PromptPurpose) -> ConsoleCommand? {
        switch purpose {
        case .addKey, .editKey:
            let keyText: String
            if case .editKey(let path) = purpose { keyText = "\(path)=\(text)" } else { keyText = text }
            do {
                let key = try KeyOverride(parsing: keyText)
                var identifier = query
                key.apply(to: &identifier)
                query = identifier
                if case .addKey = purpose {
                    let path = keyText.split(separator: "=", maxSplits: 1).first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
                    let rows = QueryKeys.rows(query)
                    queryIndex = rows.firstIndex { $0.path.lowercased() == path.lowercased() } ?? max(0, rows.count - 1)
                }
            } catch {
                note("\(error)", .failure)
            }
        case .title(let field):
            let value = text.trimmingCharacters(in: .whitespaces)
            if field == .storagePort {
                if value.isEmpty || value.lowercased() == "none" {
                    configuration.listenPort = nil
                } else if let port = Int(value), (1...65535).contains(port) {
                    configuration.listenPort = port
                } else {
                    note("storage port: a number from 1 to 65535, or none", .failure)
                }
                return nil
            }
            if let problem = AETitle.problem(with: value) {
                note("\(field.label) AE title: \(problem)", .failure)
                return nil
            }
            switch field {
            case .calling: configuration.callingAETitle = value
            case .called: configuration.calledAETitle = value
            case .destination: configuration.moveDestination = value
            case .storagePort: break
            }
        case .saveLog:
            return .saveLog(path: text, text: sessionText())
        case .loadQuery:
            return .loadQuery(path: text)
        case .saveQuery:
            return .saveQuery(path: text, identifier: query)
        }
        return nil
    }

    /// A loaded query file replaces the query.
    public mutating func queryLoaded(_ identifier: DataSet, from path: String) {
        query = identifier
        queryIndex = 0
        note("query loaded from \(path)")
    }

    /// The log and the trace as text, for a file.
    public func sessionText() -> String {
        var out = "# movescu console session: log\n"
        for line in log { out += String(format: "%9.3f ", line.time) + line.text + "\n" }
        out += "\n# trace\n"
        for line in trace { out += String(format: "%9.3f ", line.time) + line.text + "\n" }
        return out
    }
}

extension ConsoleModel {
    /// What a running find reports.
    public mutating func apply(_ event: FindEvent, at time: Double) {
        now = time
        switch event {
        case .requestingAssociation(let host, let port):
            startedAt = startedAt ?? time
            add("requesting association with \(host):\(port) for C-FIND")
            traced("-> A-ASSOCIATE-RQ to \(host):\(port), calling \(configuration.callingAETitle), called \(configuration.calledAETitle), max PDU \(configuration.maximumPDULength)")
        case .associationAccepted(let pdv, _):
            traced("<- A-ASSOCIATE-AC, max send PDV \(pdv)", .success)
        case .associationNegotiated(let details):
            traceNegotiation(details)
        case .associationRejected(let rj):
            show(.rejected(rj))
        case .associationFailed(let reason):
            show(.failed(reason))
        case .requestSent(let messageID, let contextID, let identifier):
            requestTimes[messageID] = time
            lastResponseTime = nil
            traced("-> C-FIND-RQ message \(messageID), context \(contextID), priority medium")
            for line in Self.dumpLines(identifier) { traced("     " + line, .dim) }
        case .result(let number, let identifier, let status):
            results.append(identifier)
            findStatus = "\(results.count) found so far"
            var latency = ""
            if let last = lastResponseTime { latency = String(format: ", %.0f ms after the last response", (time - last) * 1000) }
            else if let sent = requestTimes.values.first { latency = String(format: ", %.0f ms after the request", (time - sent) * 1000) }
            lastResponseTime = time
            traced("<- C-FIND-RSP #\(number): \(Self.hex(status.code)) \(status.text(for: .find))\(latency)", .pending)
            for line in Self.dumpLines(identifier) { traced("     " + line, .dim) }
        case .unreadableResult(let response, let reason):
            add("find response \(response) could not be read: \(reason)", .warning)
            traced("<- C-FIND-RSP (response \(response)) unreadable: \(reason)", .warning)
        case .cancelSent(let messageID, let contextID):
            add("C-CANCEL sent for the find", .warning)
            traced("-> C-CANCEL-RQ for message \(messageID), context \(contextID)", .warning)
        case .finalResponse(let messageID, let status, let comment):
            var latency = ""
            if let sent = requestTimes[messageID] { latency = String(format: ", %.0f ms after the request", (time - sent) * 1000) }
            requestTimes[messageID] = nil
            traced("<- C-FIND-RSP final: \(Self.hex(status.code)) \(status.text(for: .find))\(comment.map { " (\($0))" } ?? "")\(latency)", Self.role(for: status))
        case .findFailed(let reason):
            add("the find ended without a final response: \(reason)", .failure)
            traced("the find ended without a final response: \(reason)", .failure)
        case .warning(let text): show(.warning(text))
        case .error(let text): show(.error(text))
        case .releasing: show(.releasing)
        case .aborting:
            traced("-> A-ABORT", .warning)
        case .peerAborted: show(.peerAborted)
        case .finished(let summary):
            endedAt = time
            let (text, success): (String, Bool)
            switch summary.outcome {
            case .success: (text, success) = ("success", true)
            case .cancelled: (text, success) = ("cancelled", true)
            case .warning(let status): (text, success) = ("warning \(Self.hex(status.code)) \(status.text(for: .find))", true)
            case .failed(let status): (text, success) = ("failed: \(Self.hex(status.code)) \(status.text(for: .find))", false)
            case .noFinalResponse(let why): (text, success) = ("no final response (\(why))", false)
            case .associationRejected: (text, success) = ("association rejected", false)
            case .connectFailed(let why): (text, success) = ("cannot connect (\(why))", false)
            case .noPresentationContext: (text, success) = ("no presentation context for \(Self.modelName(configuration.model)) FIND", false)
            }
            findStatus = "\(results.count) found; \(text)"
            phase = .finished(outcome: "find: \(text)", role: success ? .success : .failure)
            add("C-FIND ended: \(text); \(results.count) result\(results.count == 1 ? "" : "s")", success ? .success : .failure)
        }
    }

    static func modelName(_ model: QueryRetrieveModel) -> String {
        switch model {
        case .patientRoot: return "patient root"
        case .studyRoot: return "study root"
        case .patientStudyOnly: return "patient/study only"
        }
    }

    /// The whole negotiation in the trace: contexts proposed and answered, PDU sizes, the
    /// peer's implementation.
    mutating func traceNegotiation(_ details: AssociationDetails) {
        for line in details.lines { traced("     " + line, .dim) }
    }

    /// The result of a C-ECHO the session ran.
    public mutating func echoed(_ peer: Peer, result: EchoResult) {
        switch result {
        case .success(let reply):
            let ms = Double(reply.roundTrip.components.attoseconds) / 1e15 + Double(reply.roundTrip.components.seconds) * 1000
            let text = String(format: "OK %.1f ms", ms)
            echoResults[peer.name] = (text, .success)
            note("C-ECHO \(peer.name) (\(peer.aeTitle)@\(peer.host):\(peer.port)): \(Self.hex(reply.status.code)) \(reply.status.text(for: .echo)), round trip \(String(format: "%.1f", ms)) ms", .success)
            if let uid = reply.details.peerImplementationClassUID {
                traced("C-ECHO \(peer.name): peer implementation \(uid) \(reply.details.peerImplementationVersionName ?? "")", .dim)
            }
        case .failure(let failure):
            echoResults[peer.name] = ("failed", .failure)
            note("C-ECHO \(peer.name) (\(peer.aeTitle)@\(peer.host):\(peer.port)) failed: \(failure)", .failure)
        }
    }
}
