import DICOM
import Foundation
import Retrieve

/// Draws the model into a grid. The layout needs 80x24 and uses whatever more it gets.
public enum ConsoleView {
    public static let minimumWidth = 80
    public static let minimumHeight = 24

    public static func render(_ model: ConsoleModel, width: Int, height: Int) -> Grid {
        var grid = Grid(width: width, height: height)
        guard width >= minimumWidth, height >= minimumHeight else {
            grid.put("The console needs at least \(minimumWidth)x\(minimumHeight);", x: 0, y: 0, role: .warning)
            grid.put("this terminal is \(width)x\(height). Enlarge it, or q to quit.", x: 0, y: 1, role: .warning)
            return grid
        }
        header(model, into: &grid)
        counters(model, into: &grid)
        progress(model, into: &grid)
        let left = model.zoomed ? 0 : min(48, max(34, width * 2 / 5))
        let top = 3, paneHeight = height - 4
        if !model.zoomed { sidePanes(model, x: 0, y: top, width: left, height: paneHeight, into: &grid) }
        mainPane(model, x: left, y: top, width: width - left, height: paneHeight, into: &grid)
        hints(model, y: height - 1, into: &grid)
        switch model.overlay {
        case .none: break
        case .help: help(into: &grid)
        case .prompt(let editor, _): prompt(editor, into: &grid)
        case .form(let form): peerForm(form, into: &grid)
        case .confirmDelete(let name):
            dialog(["Delete peer \(name)?", "", "y deletes it; any other key keeps it"], title: "Delete", into: &grid)
        case .confirmQuit:
            dialog(["A retrieve is running.", "", "q again aborts it and quits; any other key goes back"], title: "Quit", into: &grid)
        }
        return grid
    }

    // MARK: Top rows

    static func phaseText(_ model: ConsoleModel) -> (String, StyleRole) {
        switch model.phase {
        case .ready: return ("ready", .header)
        case .connecting: return ("connecting", .header)
        case .moving: return ("moving", .header)
        case .finishing: return ("receiving the last objects", .header)
        case .finding: return ("finding", .header)
        case .finished(let outcome, let role): return (outcome, role)
        }
    }

    static func header(_ model: ConsoleModel, into grid: inout Grid) {
        grid.fill(x: 0, y: 0, width: grid.width, height: 1, role: .header)
        let c = model.configuration
        let (text, role) = phaseText(model)
        let shown = " \(text) "
        let columns = min(Grid.columns(shown), grid.width / 2)
        grid.put(shown, x: grid.width - columns, y: 0, role: role, limit: columns)
        grid.put(" movescu  \(c.callingAETitle) -> \(c.calledAETitle) @ \(c.peerHost):\(c.peerPort)", x: 0, y: 0, role: .header, limit: grid.width - columns - 1)
    }

    static func counters(_ model: ConsoleModel, into grid: inout Grid) {
        var x = 1
        func item(_ label: String, _ value: String, _ role: StyleRole) {
            x += grid.put(label + " ", x: x, y: 1, role: .dim)
            x += grid.put(value, x: x, y: 1, role: role)
            x += 3
        }
        // Pending: sub-operations the SCP has still to do (its Remaining counter).
        let pending: String
        if let remaining = model.remaining { pending = String(remaining) } else if case .finished = model.phase { pending = "0" } else { pending = "-" }
        item("Pending", pending, .pending)
        item("Completed", String(model.completed), model.completed > 0 ? .success : .normal)
        item("Failed", String(model.failed), model.failed > 0 ? .failure : .normal)
        item("Warning", String(model.warning), model.warning > 0 ? .warning : .normal)
        item("Received", "\(model.objects) (\(ConsoleModel.size(model.bytes)))", .normal)
    }

    static func progress(_ model: ConsoleModel, into grid: inout Grid) {
        let done = model.completed + model.failed + model.warning
        let total = done + (model.remaining ?? 0)
        var fraction = total > 0 ? Double(done) / Double(total) : 0
        if case .finished = model.phase, total > 0 || model.objects > 0 { fraction = 1 }
        let barWidth = 30
        let filled = Int((fraction * Double(barWidth)).rounded(.down))
        grid.put(String(repeating: " ", count: filled), x: 1, y: 2, role: .progress)
        grid.put(String(repeating: " ", count: barWidth - filled), x: 1 + filled, y: 2, role: .progressEmpty)
        let percent = String(format: "%3d%%", Int(fraction * 100))
        let percentX = 1 + (barWidth - 4) / 2
        for (i, character) in percent.enumerated() {
            grid.put(String(character), x: percentX + i, y: 2, role: percentX + i - 1 < filled ? .progress : .progressEmpty)
        }
        let end = model.endedAt ?? model.now
        let elapsed = model.startedAt.map { max(0, end - $0) } ?? 0
        var text = String(format: "%02d:%02d", Int(elapsed) / 60, Int(elapsed) % 60)
        if elapsed > 0.05 {
            text += String(format: "  %.1f MB/s  %.1f obj/s", Double(model.bytes) / 1e6 / elapsed, Double(model.objects) / elapsed)
        }
        if model.openSubAssociations > 0 { text += "  \(model.openSubAssociations) sub-assoc" }
        grid.put(text, x: barWidth + 3, y: 2, role: .normal)
    }

    // MARK: Side panes

    static func border(_ model: ConsoleModel, _ pane: Pane) -> StyleRole {
        model.focus == pane && model.overlay == .none ? .focus : .border
    }

    static func sidePanes(_ model: ConsoleModel, x: Int, y: Int, width: Int, height: Int, into grid: inout Grid) {
        let c = model.configuration
        let peerRows = max(1, min(model.peers.count, 5))
        let selectedPeer = model.peers.indices.contains(model.peerIndex) ? model.peers[model.peerIndex] : nil
        // The selected peer's notes under the list, while the pane has the focus.
        let notes = model.focus == .peers ? selectedPeer.map { $0.notes.isEmpty ? "(no notes)" : $0.notes } : nil
        var row = y
        // Peers.
        grid.box(x: x, y: row, width: width, height: peerRows + 2 + (notes == nil ? 0 : 1), title: "Peers", role: border(model, .peers))
        if let notes { grid.put(notes, x: x + 2, y: row + peerRows + 1, role: .dim, limit: width - 4) }
        if model.peers.isEmpty {
            grid.put(model.peersFile == nil ? "(none)" : "(none yet: n adds one)", x: x + 2, y: row + 1, role: .dim, limit: width - 4)
        } else {
            let first = min(max(0, model.peerIndex - peerRows + 1), max(0, model.peers.count - peerRows))
            for (i, peer) in model.peers.enumerated().dropFirst(first).prefix(peerRows) {
                let line = row + 1 + i - first
                let inUse = peer.aeTitle == c.calledAETitle && peer.host == c.peerHost && peer.port == c.peerPort
                let selected = model.focus == .peers && i == model.peerIndex
                if selected { grid.fill(x: x + 1, y: line, width: width - 2, height: 1, role: .selected) }
                let role: StyleRole = selected ? .selected : .normal
                var used = grid.put(inUse ? "* " : "  ", x: x + 1, y: line, role: selected ? .selected : .key)
                used += grid.put(peer.name, x: x + 1 + used, y: line, role: role, limit: 12)
                used = max(used, 13)
                let echo = model.echoResults[peer.name]
                let echoWidth = echo.map { min(Grid.columns($0.text) + 1, 14) } ?? 0
                grid.put("\(peer.aeTitle)@\(peer.host):\(peer.port)", x: x + 1 + used, y: line, role: selected ? .selected : .dim, limit: width - 3 - used - echoWidth)
                if let echo {
                    grid.put(echo.text, x: x + width - 1 - echoWidth, y: line, role: selected ? .selected : echo.role, limit: echoWidth)
                }
            }
        }
        row += peerRows + 2 + (notes == nil ? 0 : 1)

        // AE titles.
        let destination = c.listenPort != nil && c.moveDestination == c.callingAETitle ? "\(c.moveDestination) (us)" : "\(c.moveDestination) (third party)"
        let titles: [(TitleField, String)] = [
            (.calling, c.callingAETitle), (.called, c.calledAETitle), (.destination, destination),
            (.storagePort, c.listenPort.map { "port \(model.listening ?? $0), \(c.storage.ignore ? "--ignore" : c.storage.outputDirectory)" } ?? "none"),
        ]
        grid.box(x: x, y: row, width: width, height: titles.count + 2, title: "AE titles", role: border(model, .titles))
        for (i, (field, value)) in titles.enumerated() {
            let line = row + 1 + i
            let selected = model.focus == .titles && i == model.titleIndex
            if selected { grid.fill(x: x + 1, y: line, width: width - 2, height: 1, role: .selected) }
            grid.put(field.label, x: x + 2, y: line, role: selected ? .selected : .dim, limit: 12)
            grid.put(value, x: x + 14, y: line, role: selected ? .selected : .normal, limit: width - 16)
        }
        row += titles.count + 2

        // Query.
        let queryHeight = y + height - row
        guard queryHeight >= 4 else { return }
        grid.box(x: x, y: row, width: width, height: queryHeight, title: "Query", role: border(model, .query))
        grid.put("model", x: x + 2, y: row + 1, role: .dim)
        grid.put(modelName(c.model), x: x + 14, y: row + 1, role: .normal, limit: width - 16)
        let rows = QueryKeys.rows(model.query)
        let extra = QueryKeys.extraMoveKeys(model.query, model: c.model)
        let room = queryHeight - 3 - (extra.isEmpty ? 0 : 1) - (c.identifiers.count > 1 ? 1 : 0)
        let labelWidth = min(20, max(10, rows.map { Grid.columns($0.path) + 2 * $0.depth }.max() ?? 10) + 1)
        let first = min(max(0, model.queryIndex - room + 1), max(0, rows.count - room))
        var line = row + 2
        for (i, key) in rows.enumerated().dropFirst(first).prefix(max(0, room)) {
            let selected = model.focus == .query && i == model.queryIndex
            if selected { grid.fill(x: x + 1, y: line, width: width - 2, height: 1, role: .selected) }
            let name = key.depth > 0 ? String(key.path.split(separator: ".").last ?? "") : key.path
            let label = String(repeating: " ", count: 2 * key.depth) + name
            grid.put(label, x: x + 2, y: line, role: selected ? .selected : .dim, limit: labelWidth - 1)
            grid.put(key.value.isEmpty ? "·" : key.value, x: x + 2 + labelWidth, y: line,
                     role: selected ? .selected : (key.value.isEmpty ? .dim : .normal), limit: width - 4 - labelWidth)
            line += 1
        }
        if rows.isEmpty { grid.put("(no keys: n adds one)", x: x + 2, y: line, role: .dim) }
        if c.identifiers.count > 1 {
            grid.put("+ \(c.identifiers.count - 1) more query file(s)", x: x + 2, y: row + queryHeight - 2 - (extra.isEmpty ? 0 : 1), role: .dim, limit: width - 4)
        }
        if !extra.isEmpty {
            grid.put("! move: not unique keys: " + extra.joined(separator: ", "), x: x + 2, y: row + queryHeight - 2, role: .warning, limit: width - 4)
        }
    }

    static func modelName(_ model: QueryRetrieveModel) -> String {
        switch model {
        case .patientRoot: return "patient root (-P)"
        case .studyRoot: return "study root (-S)"
        case .patientStudyOnly: return "patient/study only (-O)"
        }
    }

    // MARK: Main pane

    static func mainPane(_ model: ConsoleModel, x: Int, y: Int, width: Int, height: Int, into grid: inout Grid) {
        var title = MainView.allCases.map { view in view == model.view ? "[\(view.rawValue + 1) \(view.title)]" : "\(view.rawValue + 1) \(view.title)" }.joined(separator: " ")
        if model.view != .results && model.scrollBack > 0 { title += "  (\(model.scrollBack) back)" }
        grid.box(x: x, y: y, width: width, height: height, title: title, role: border(model, .main))
        switch model.view {
        case .log: lines(model.log, model: model, precise: false, x: x, y: y, width: width, height: height, into: &grid)
        case .trace: lines(model.trace, model: model, precise: true, x: x, y: y, width: width, height: height, into: &grid)
        case .results: resultsTable(model, x: x, y: y, width: width, height: height, into: &grid)
        }
    }

    static func stamp(_ time: Double, precise: Bool) -> String {
        let minutes = Int(time) / 60
        let seconds = time - Double(minutes * 60)
        return precise ? String(format: "%02d:%06.3f ", minutes, seconds) : String(format: "%02d:%04.1f ", minutes, seconds)
    }

    /// Splits text into pieces of at most `columns` columns (wide characters kept whole).
    static func wrap(_ text: String, columns: Int) -> [String] {
        guard columns > 0 else { return [text] }
        var pieces: [String] = []
        var current = ""
        var used = 0
        for character in text {
            let w = Grid.columns(character)
            if used + w > columns {
                pieces.append(current)
                current = ""
                used = 0
            }
            current.append(character)
            used += w
        }
        pieces.append(current)
        return pieces
    }

    /// The newest lines that fit, long ones wrapped under their text, scrolled back by
    /// `scrollBack` lines.
    static func lines(_ lines: [ConsoleModel.LogLine], model: ConsoleModel, precise: Bool, x: Int, y: Int, width: Int, height: Int, into grid: inout Grid) {
        let rows = height - 2
        guard rows > 0 else { return }
        let stampWidth = Grid.columns(stamp(0, precise: precise))
        let textWidth = width - 2 - stampWidth
        var screen: [(stamp: String?, text: String, role: StyleRole)] = []
        var index = max(0, lines.count - model.scrollBack) - 1
        while index >= 0 && screen.count < rows {
            let line = lines[index]
            let pieces = wrap(line.text, columns: textWidth)
            var block: [(String?, String, StyleRole)] = []
            for (i, piece) in pieces.enumerated() { block.append((i == 0 ? stamp(line.time, precise: precise) : nil, piece, line.role)) }
            screen.insert(contentsOf: block, at: 0)
            index -= 1
        }
        if screen.count > rows { screen.removeFirst(screen.count - rows) }
        for (i, row) in screen.enumerated() {
            if let stamp = row.stamp { grid.put(stamp, x: x + 1, y: y + 1 + i, role: .dim) }
            grid.put(row.text, x: x + 1 + stampWidth, y: y + 1 + i, role: row.role, limit: textWidth)
        }
    }

    struct Column {
        var title: String
        var tag: Tag
        var width: Int
    }

    static func columns(level: String) -> [Column] {
        switch level {
        case "PATIENT":
            return [Column(title: "Patient", tag: Tag(0x0010, 0x0010), width: 22), Column(title: "ID", tag: Tag(0x0010, 0x0020), width: 12),
                    Column(title: "Birth", tag: Tag(0x0010, 0x0030), width: 9), Column(title: "Sex", tag: Tag(0x0010, 0x0040), width: 4),
                    Column(title: "Studies", tag: Tag(0x0020, 0x1200), width: 7)]
        case "SERIES":
            return [Column(title: "No", tag: Tag(0x0020, 0x0011), width: 4), Column(title: "Mod", tag: Tag(0x0008, 0x0060), width: 4),
                    Column(title: "Images", tag: Tag(0x0020, 0x1209), width: 6), Column(title: "Description", tag: Tag(0x0008, 0x103E), width: 22),
                    Column(title: "Series UID", tag: Tag(0x0020, 0x000E), width: 64)]
        case "IMAGE":
            return [Column(title: "No", tag: Tag(0x0020, 0x0013), width: 5), Column(title: "SOP class", tag: Tag(0x0008, 0x0016), width: 28),
                    Column(title: "SOP instance UID", tag: Tag(0x0008, 0x0018), width: 64)]
        default:
            return [Column(title: "Patient", tag: Tag(0x0010, 0x0010), width: 24), Column(title: "ID", tag: Tag(0x0010, 0x0020), width: 10),
                    Column(title: "Date", tag: Tag(0x0008, 0x0020), width: 8), Column(title: "Mod", tag: Tag(0x0008, 0x0061), width: 6),
                    Column(title: "Images", tag: Tag(0x0020, 0x1208), width: 6), Column(title: "Description", tag: Tag(0x0008, 0x1030), width: 40)]
        }
    }

    static func cell(_ result: DataSet, _ tag: Tag) -> String {
        guard let values = result.strings(tag) else { return "" }
        var text = values.joined(separator: "\\")
        if tag == Tag(0x0008, 0x0016) { text = UIDTable.entry(for: text)?.name ?? text }
        if result[tag]?.vr == .PN { text = text.replacingOccurrences(of: "^", with: " ").trimmingCharacters(in: .whitespaces) }
        return text
    }

    static func resultsTable(_ model: ConsoleModel, x: Int, y: Int, width: Int, height: Int, into grid: inout Grid) {
        let columns = columns(level: model.resultsLevel)
        var column = x + 5
        for c in columns where column < x + width - 1 {
            column += grid.put(c.title, x: column, y: y + 1, role: .title, limit: min(c.width, x + width - 1 - column)) == 0 ? 0 : 0
            column += c.width + 1
        }
        let rows = height - 4
        let first = min(max(0, model.resultIndex - rows + 1), max(0, model.results.count - rows))
        for (i, result) in model.results.enumerated().dropFirst(first).prefix(max(0, rows)) {
            let line = y + 2 + i - first
            let selected = model.focus == .main && i == model.resultIndex
            if selected { grid.fill(x: x + 1, y: line, width: width - 2, height: 1, role: .selected) }
            grid.put(model.picked.contains(i) ? "[x]" : "[ ]", x: x + 1, y: line, role: selected ? .selected : .key)
            var column = x + 5
            for c in columns where column < x + width - 1 {
                grid.put(cell(result, c.tag), x: column, y: line, role: selected ? .selected : .normal, limit: min(c.width, x + width - 1 - column))
                column += c.width + 1
            }
        }
        if model.results.isEmpty {
            grid.put(model.findStatus == nil ? "No find yet: f finds with the query's keys." : "No results.", x: x + 2, y: y + 2, role: .dim, limit: width - 4)
        }
        let status = "\(model.findStatus ?? "")\(model.picked.isEmpty ? "" : "; \(model.picked.count) picked")"
        grid.put(status, x: x + 2, y: y + height - 2, role: .dim, limit: width - 4)
    }

    // MARK: Bottom row and overlays

    static func hints(_ model: ConsoleModel, y: Int, into grid: inout Grid) {
        var keys: [(String, String)] = []
        switch model.overlay {
        case .prompt(let editor, _):
            keys = [("Enter", "accept"), ("Esc", "cancel")]
            if editor.completesKeywords { keys.append(("Tab", "complete")) }
        case .form: keys = [("Enter", "save"), ("Tab ↑↓", "field"), ("Esc", "cancel")]
        case .help, .confirmDelete, .confirmQuit: keys = [("any key", "close")]
        case .none:
            if model.isRunning { keys = [("c", "cancel"), ("a", "abort")] } else { keys = [("f", "find"), ("m", "move"), ("r", "repeat")] }
            switch model.focus {
            case .peers: keys += [("Enter", "use"), ("n/e/d", "new/edit/del"), ("t", "echo")]
            case .titles: keys += [("Enter", "edit")]
            case .query: keys += [("n", "new"), ("Enter", "edit"), ("d", "del"), ("l", "level"), ("o", "model"), ("L/S", "load/save")]
            case .main where model.view == .results: keys += [("Space", "pick"), ("Enter", "move picked")]
            case .main: keys += [("↑↓", "scroll"), ("v", "view"), ("z", model.zoomed ? "unzoom" : "zoom")]
            }
            keys += [("Tab", "pane"), ("?", "help"), ("q", "quit")]
        }
        var x = 1
        for (key, text) in keys where x < grid.width - 4 {
            x += grid.put(key, x: x, y: y, role: .key)
            x += grid.put(" " + text + "  ", x: x, y: y, role: .hint)
        }
    }

    static let helpLines = [
        "Tab, Shift-Tab   move between panes (peers, AE titles, query, main)",
        "f  F5            find (C-FIND) with the query's keys at its level",
        "m  F6            move (C-MOVE) the query as it is",
        "Space, Enter     in find results: pick rows, move the picked ones",
        "r                repeat the last move",
        "c  Ctrl-C        cancel the find or move in flight (C-CANCEL)",
        "a                abort the association",
        "1 2 3  v         log, find results, trace (negotiation, DIMSE, latency)",
        "z                the log, results or trace over the whole width",
        "w                save the log and trace to a file",
        "peers:  Enter use, n new, e edit, d delete, t C-ECHO",
        "query:  n new key (Tab completes), Enter edit, d delete,",
        "        l level, o model, L load file, S save file",
        "q                quit (asks first while a retrieve runs, then aborts it)",
        "?  F1            this help; any key closes it",
    ]

    static func help(into grid: inout Grid) {
        dialog(helpLines, title: "Keys", into: &grid)
    }

    static func dialog(_ lines: [String], title: String, into grid: inout Grid) {
        let w = min(grid.width - 2, (lines.map(Grid.columns).max() ?? 20) + 6)
        let h = min(grid.height - 2, lines.count + 4)
        let x = (grid.width - w) / 2, y = (grid.height - h) / 2
        grid.fill(x: x, y: y, width: w, height: h, role: .normal)
        grid.box(x: x, y: y, width: w, height: h, title: title, role: .focus)
        for (i, line) in lines.prefix(h - 4).enumerated() {
            grid.put(line, x: x + 3, y: y + 2 + i, role: .normal, limit: w - 6)
        }
    }

    /// A line editor: the text with the cursor as a selected cell, scrolled to keep it seen.
    static func editLine(_ editor: LineEditor, x: Int, y: Int, width: Int, into grid: inout Grid) {
        let text = editor.text
        let start = max(0, min(editor.cursor, text.count) - width + 1)
        grid.fill(x: x, y: y, width: width, height: 1, role: .selected)
        grid.put(String(text[start...]), x: x, y: y, role: .selected, limit: width)
        var cursorX = x
        for character in text[start..<min(editor.cursor, text.count)] { cursorX += Grid.columns(character) }
        if cursorX < x + width {
            let under = editor.cursor < text.count ? String(text[editor.cursor]) : " "
            grid.put(under, x: cursorX, y: y, role: .focus)
        }
    }

    static func prompt(_ editor: LineEditor, into grid: inout Grid) {
        let candidates = editor.candidates
        let shown = min(candidates.count, 6)
        let h = 4 + (shown > 0 ? shown + 1 : 0)
        let w = grid.width - 4
        let x = 2, y = grid.height - 1 - h
        grid.fill(x: x, y: y, width: w, height: h, role: .normal)
        grid.box(x: x, y: y, width: w, height: h, title: editor.label, role: .focus)
        editLine(editor, x: x + 2, y: y + 1, width: w - 4, into: &grid)
        if shown > 0 {
            let more = candidates.count > shown ? " (+\(candidates.count - shown) more)" : ""
            grid.put("\(candidates.count) keywords match\(more):", x: x + 2, y: y + 2, role: .dim, limit: w - 4)
            for (i, candidate) in candidates.prefix(shown).enumerated() {
                grid.put(candidate, x: x + 4, y: y + 3 + i, role: .normal, limit: w - 6)
            }
        }
    }

    static func peerForm(_ form: PeerForm, into grid: inout Grid) {
        let w = min(grid.width - 4, 64), h = PeerForm.labels.count + 5
        let x = (grid.width - w) / 2, y = (grid.height - h) / 2
        grid.fill(x: x, y: y, width: w, height: h, role: .normal)
        grid.box(x: x, y: y, width: w, height: h, title: form.original == nil ? "New peer" : "Edit peer \(form.original!)", role: .focus)
        for (i, label) in PeerForm.labels.enumerated() {
            let line = y + 2 + i
            grid.put(label, x: x + 2, y: line, role: i == form.field ? .focus : .dim, limit: 10)
            if i == form.field {
                editLine(form.editor, x: x + 13, y: line, width: w - 15, into: &grid)
            } else {
                grid.put(form.values[i], x: x + 13, y: line, role: .normal, limit: w - 15)
            }
        }
        if let error = form.error { grid.put(error, x: x + 2, y: y + h - 2, role: .failure, limit: w - 4) }
    }
}
