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
        let left = 34
        let paneTop = 3, paneHeight = height - 4
        sidePanes(model, x: 0, y: paneTop, width: left, height: paneHeight, into: &grid)
        logPane(model, x: left, y: paneTop, width: width - left, height: paneHeight, into: &grid)
        hints(model, y: height - 1, into: &grid)
        if model.showHelp { help(into: &grid) }
        return grid
    }

    static func phaseText(_ model: ConsoleModel) -> (String, StyleRole) {
        switch model.phase {
        case .ready: return ("ready", .header)
        case .connecting: return ("connecting", .header)
        case .moving: return ("moving", .header)
        case .finishing: return ("receiving the last objects", .header)
        case .finished(let outcome, let role): return (outcome, role)
        }
    }

    static func header(_ model: ConsoleModel, into grid: inout Grid) {
        grid.fill(x: 0, y: 0, width: grid.width, height: 1, role: .header)
        let c = model.configuration
        grid.put(" movescu  \(c.calledAETitle) @ \(c.peerHost):\(c.peerPort)", x: 0, y: 0, role: .header)
        let (text, role) = phaseText(model)
        let shown = " \(text) "
        let columns = min(Grid.columns(shown), grid.width / 2)
        grid.put(shown, x: grid.width - columns, y: 0, role: role == .header ? .header : role, limit: columns)
    }

    static func counters(_ model: ConsoleModel, into grid: inout Grid) {
        var x = 1
        func item(_ label: String, _ value: String, _ role: StyleRole) {
            x += grid.put(label + " ", x: x, y: 1, role: .dim)
            x += grid.put(value, x: x, y: 1, role: role)
            x += 3
        }
        item("Pending", String(model.pendingResponses), .pending)
        item("Completed", String(model.completed), .success)
        item("Failed", String(model.failed), model.failed > 0 ? .failure : .normal)
        item("Warning", String(model.warning), model.warning > 0 ? .warning : .normal)
        item("Remaining", model.remaining.map(String.init) ?? "-", .normal)
        item("Objects", "\(model.objects) (\(ConsoleModel.size(model.bytes)))", .normal)
    }

    static func progress(_ model: ConsoleModel, into grid: inout Grid) {
        let done = model.completed + model.failed + model.warning
        let total = done + (model.remaining ?? 0)
        let fraction: Double
        if case .finished = model.phase { fraction = total > 0 || model.objects > 0 ? 1 : 0 } else {
            fraction = total > 0 ? Double(done) / Double(total) : 0
        }
        let barWidth = 40
        let filled = Int((fraction * Double(barWidth)).rounded(.down))
        grid.put(" ", x: 0, y: 2)
        grid.put(String(repeating: " ", count: filled), x: 1, y: 2, role: .progress)
        grid.put(String(repeating: " ", count: barWidth - filled), x: 1 + filled, y: 2, role: .progressEmpty)
        let percent = String(format: "%3d%%", Int(fraction * 100))
        grid.put(percent, x: 1 + (barWidth - 4) / 2, y: 2, role: filled > barWidth / 2 ? .progress : .progressEmpty)
        let elapsed = model.startedAt.map { max(0, model.now - $0) } ?? 0
        var text = String(format: "%02d:%02d", Int(elapsed) / 60, Int(elapsed) % 60)
        if elapsed > 0 {
            text += String(format: "   %.1f MB/s   %.1f objects/s", Double(model.bytes) / 1e6 / elapsed, Double(model.objects) / elapsed)
        }
        if model.openSubAssociations > 0 { text += "   \(model.openSubAssociations) sub-association(s)" }
        grid.put(text, x: barWidth + 3, y: 2, role: .normal)
    }

    static func sidePanes(_ model: ConsoleModel, x: Int, y: Int, width: Int, height: Int, into grid: inout Grid) {
        let c = model.configuration
        var row = y
        func pane(_ title: String, _ lines: [(String, String)], extra: Int = 0) {
            let h = lines.count + 2 + extra
            grid.box(x: x, y: row, width: width, height: h, title: title)
            for (i, (label, value)) in lines.enumerated() {
                let used = grid.put(label, x: x + 2, y: row + 1 + i, role: .dim, limit: 12)
                _ = used
                grid.put(value, x: x + 14, y: row + 1 + i, role: .normal, limit: width - 16)
            }
            row += h
        }
        pane("Peer", [("AE title", c.calledAETitle), ("host", c.peerHost), ("port", String(c.peerPort))])
        let destination = c.moveDestination == c.callingAETitle || c.listenPort != nil
            ? "\(c.moveDestination) (us)" : "\(c.moveDestination) (third party)"
        pane("AE titles", [("calling", c.callingAETitle), ("destination", destination),
                           ("storage", c.listenPort.map { "port \(model.listening ?? $0)" } ?? "no port")])
        var query: [(String, String)] = [("model", modelName(c.model))]
        if c.identifiers.count > 1 { query.append(("moves", "\(c.identifiers.count) x \(c.repeatCount)")) }
        let keys = c.identifiers.first.map(keyLines) ?? []
        let room = max(0, y + height - row - 3)
        query += keys.prefix(room)
        if keys.count > room, room > 0 { query[query.count - 1] = ("...", "\(keys.count - room + 1) more") }
        let remainingHeight = y + height - row
        let extra = max(0, remainingHeight - query.count - 2)
        pane("Query", query, extra: extra)
    }

    static func modelName(_ model: QueryRetrieveModel) -> String {
        switch model {
        case .patientRoot: return "patient root (-P)"
        case .studyRoot: return "study root (-S)"
        case .patientStudyOnly: return "patient/study (-O)"
        }
    }

    static func keyLines(_ identifier: DataSet) -> [(String, String)] {
        identifier.elements.map { element in
            let name = DataDictionary.active.keyword(for: element.tag, privateCreator: nil) ?? "\(element.tag)"
            let value = identifier.string(element.tag) ?? (element.items.map { "(\($0.count) item)" } ?? "")
            return (name, value)
        }
    }

    static func logPane(_ model: ConsoleModel, x: Int, y: Int, width: Int, height: Int, into grid: inout Grid) {
        let title = model.scrollBack > 0 ? "Log (\(model.scrollBack) line(s) back; End follows)" : "Log"
        grid.box(x: x, y: y, width: width, height: height, title: title)
        let rows = height - 2
        let end = max(0, model.log.count - model.scrollBack)
        let start = max(0, end - rows)
        for (i, line) in model.log[start..<end].enumerated() {
            let elapsed = model.startedAt.map { max(0, line.time - $0) } ?? 0
            let stamp = String(format: "%6.1f ", elapsed)
            let used = grid.put(stamp, x: x + 1, y: y + 1 + i, role: .dim)
            grid.put(line.text, x: x + 1 + used, y: y + 1 + i, role: line.role, limit: width - 2 - used)
        }
    }

    static func hints(_ model: ConsoleModel, y: Int, into grid: inout Grid) {
        var keys: [(String, String)] = [("q", "quit")]
        if model.isRunning {
            keys += [("c", "cancel"), ("a", "abort")]
        } else {
            keys += [("s", "start"), ("r", "repeat")]
        }
        keys += [("↑↓", "scroll"), ("?", "help")]
        var x = 1
        for (key, text) in keys {
            x += grid.put(key, x: x, y: y, role: .key)
            x += grid.put(" " + text + "   ", x: x, y: y, role: .hint)
        }
    }

    static let helpLines = [
        "q           quit (a running retrieve is aborted)",
        "s, Enter    start the retrieve",
        "r           run it again",
        "c           cancel the move in flight (C-CANCEL)",
        "a           abort the association",
        "↑ ↓ PgUp PgDn Home End   scroll the log",
        "?  F1       this help; any key closes it",
    ]

    static func help(into grid: inout Grid) {
        let w = 58, h = helpLines.count + 4
        let x = (grid.width - w) / 2, y = (grid.height - h) / 2
        grid.fill(x: x, y: y, width: w, height: h, role: .normal)
        grid.box(x: x, y: y, width: w, height: h, title: "Keys", role: .focus)
        for (i, line) in helpLines.enumerated() {
            grid.put(line, x: x + 2, y: y + 2 + i, role: .normal, limit: w - 4)
        }
    }
}
