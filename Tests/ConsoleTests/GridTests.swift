@testable import Console
import DICOM
import DICOMNetwork
import Foundation
import Retrieve
import Testing

/// Update and render tests: events and keys into the model, the model into a grid, and
/// the grid read as text, as a person reads the screen.
@Suite(.timeLimit(.minutes(10))) struct ConsoleRenderTests {
    static func configuration() -> RetrieveConfiguration {
        var c = RetrieveConfiguration()
        c.peerHost = "pacs.example"
        c.peerPort = 11113
        c.calledAETitle = "ARCHIVE"
        c.listenPort = 11112
        c.model = .studyRoot
        var identifier = DataSet()
        identifier.setString("STUDY", for: QueryKeys.levelTag, vr: .CS)
        identifier.setString("1.2.3.4", for: Tag(0x0020, 0x000D), vr: .UI)
        c.identifiers = [identifier]
        return c
    }

    static func screen(_ model: ConsoleModel, _ width: Int = 80, _ height: Int = 24) -> String {
        ConsoleView.render(model, width: width, height: height).text
    }

    static func response(_ n: Int, status: UInt16, remaining: UInt16?, completed: UInt16, failed: UInt16 = 0, warning: UInt16 = 0, final: Bool = false) -> RetrieveEvent {
        .moveResponse(number: n, messageID: 1, status: DIMSEStatus(status),
                      counts: SubOperationCounts(remaining: remaining, completed: completed, failed: failed, warning: warning),
                      isFinal: final, errorComment: nil)
    }

    @Test func opensReadyWithPanesAndHints() {
        let model = ConsoleModel(configuration: Self.configuration())
        let text = Self.screen(model)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 24)
        #expect(lines[0].contains("MOVESCU -> ARCHIVE @ pacs.example:11113"))
        #expect(lines[0].hasSuffix("ready"))
        #expect(text.contains("─ Peers ─") && text.contains("─ AE titles ─") && text.contains("─ Query ─"))
        #expect(text.contains("[1 Log] 2 Find results 3 Trace"))
        #expect(text.contains("StudyInstanceUID"))
        #expect(text.contains("1.2.3.4"))
        #expect(text.contains("MOVESCU (us)"))
        #expect(lines[23].contains("f find") && lines[23].contains("q quit") && lines[23].contains("? help"))
    }

    @Test func countersFollowTheResponsesToTheFinalState() {
        var model = ConsoleModel(configuration: Self.configuration())
        guard case .move = model.handle(.character("m")) else { Issue.record("m did not start a move"); return }
        model.apply(RetrieveEvent.requestingAssociation(host: "pacs.example", port: 11113), at: 1)
        model.apply(RetrieveEvent.associationAccepted(maximumSendPDV: 16372, contexts: []), at: 1.1)
        model.apply(.moveRequestSent(messageID: 1, contextID: 3, identifier: model.query, query: 1, round: 1), at: 1.1)
        model.apply(Self.response(1, status: 0xFF00, remaining: 3, completed: 1), at: 1.2)
        var text = Self.screen(model)
        #expect(text.contains("Pending 3   Completed 1   Failed 0   Warning 0"))
        #expect(text.contains(" 25%"))
        #expect(text.contains("moving"))
        model.apply(Self.response(2, status: 0xFF00, remaining: 2, completed: 1, failed: 1), at: 1.3)
        model.apply(Self.response(3, status: 0xFF00, remaining: 1, completed: 1, failed: 1, warning: 1), at: 1.4)
        model.apply(Self.response(4, status: 0xB000, remaining: nil, completed: 2, failed: 1, warning: 1, final: true), at: 1.5)
        var summary = RetrieveSummary()
        summary.outcome = .warning
        summary.objects = 3
        summary.bytes = 3_000_000
        model.apply(.finished(summary), at: 1.6)
        text = Self.screen(model, 120, 30)
        #expect(text.contains("Pending 0   Completed 2   Failed 1   Warning 1   Received 3 (3.0 MB)"))
        #expect(text.contains("100%"))
        #expect(text.split(separator: "\n")[0].hasSuffix("completed with failures"))
        #expect(text.contains("final B000 Warning: SubOperationsCompleteOneOrMoreFailures"))
        // The clock stops when the move ends.
        model.now = 100
        #expect(Self.screen(model).contains("00:00"))
    }

    @Test func smallTerminalsGetAMessageAndAnyLargerSizeIsFilled() {
        let model = ConsoleModel(configuration: Self.configuration())
        #expect(Self.screen(model, 60, 20).contains("needs at least 80x24"))
        for (w, h) in [(80, 24), (81, 25), (132, 43), (200, 60)] {
            let grid = ConsoleView.render(model, width: w, height: h)
            #expect(grid.text.split(separator: "\n", omittingEmptySubsequences: false).count == h)
            #expect(grid.row(h - 1).contains("q quit"))
            // The right border of the main pane sits on the last column.
            #expect(grid[w - 1, 3].text == "┐")
        }
    }

    @Test func wideCharactersTakeTwoColumnsAndNeverOverflow() {
        var grid = Grid(width: 10, height: 1)
        let used = grid.put("山田太郎様です", x: 0, y: 0)
        #expect(used == 10)
        #expect(grid.row(0) == "山田太郎様")
        var odd = Grid(width: 9, height: 1)
        odd.put("山田太郎様", x: 0, y: 0)
        #expect(odd.row(0) == "山田太郎 ")
        var control = Grid(width: 10, height: 1)
        control.put("a\u{1B}[2Jb\n", x: 0, y: 0)
        #expect(control.row(0).hasPrefix("a.[2Jb."))
    }

    /// Graphemes of several scalars: what each takes must be what it is drawn as, or a row of
    /// wire text pushes the border out of place.
    @Test func joinedAndZeroWidthCharactersKeepRowsAligned() {
        let cases: [(String, String, Int)] = [
            ("e\u{301}ve", "e\u{301}ve", 3),                      // a combining accent joins its letter
            ("\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}ab", "\u{1F468}ab", 4),  // a ZWJ family: its first emoji
            ("\u{1F1EB}\u{1F1F7}x", "\u{1F1EB}x", 2),              // a flag: its first regional indicator
            ("\u{915}\u{93F}x", "\u{915}\u{93F}x", 3),              // Devanagari: a spacing vowel sign stays
            ("\u{1F321}t", "\u{1F321}t", 2),                        // an emoji drawn as text takes one column
            ("\u{1F44D}\u{1F3FD}", "\u{1F44D}", 2),                // a skin tone modifier
            ("a\u{200B}b", "ab", 2),                                // a zero-width space shows nothing
            ("\u{2764}\u{FE0F}!", "\u{2764}\u{FE0F}!", 2),         // a variation selector takes no column
            ("\u{1100}\u{1161}\u{11A8}", "\u{1100}\u{1161}\u{11A8}", 2),  // a Hangul syllable in jamo
            ("\u{1F600}", "\u{1F600}", 2),
            ("a\r\nb", "a.b", 3),
        ]
        for (text, shown, columns) in cases {
            var grid = Grid(width: 12, height: 1)
            grid.box(x: 0, y: 0, width: 12, height: 1, title: "")
            let used = grid.put(text, x: 1, y: 0, limit: 10)
            #expect(used == columns, "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
            #expect(Grid.columns(text) == columns)
            let row = grid.row(0)
            #expect(row.hasPrefix(String(row.first!) + shown), "\(row)")
            // Whatever was drawn, the cells add up to the grid's width.
            let drawn = (0..<12).filter { !grid[$0, 0].isContinuation }.map { grid[$0, 0].text }
            #expect(drawn.reduce(0) { $0 + Grid.columns($1) } == 12, "\(drawn)")
        }
    }

    /// Results found on one archive are moved from that archive, even with another peer
    /// selected since; the selection is left as it was.
    @Test func resultsAreMovedFromTheArchiveTheyCameFrom() throws {
        var model = ConsoleModel(configuration: Self.configuration())
        guard case .find = model.handle(.character("f")) else { Issue.record("f did not start a find"); return }
        var result = DataSet()
        result.setString("STUDY", for: QueryKeys.levelTag, vr: .CS)
        result.setString("1.2.9.7", for: Tag(0x0020, 0x000D), vr: .UI)
        model.apply(FindEvent.result(number: 1, identifier: result, status: DIMSEStatus(0xFF00)), at: 2)
        model.apply(FindEvent.finished(FindSummary()), at: 3)
        // Another peer is selected.
        model.configuration.peerHost = "other.example"
        model.configuration.peerPort = 104
        model.configuration.calledAETitle = "OTHER"
        guard case .move(let move) = model.handle(.enter) else { Issue.record("Enter did not move"); return }
        #expect(move.peerHost == "pacs.example" && move.peerPort == 11113 && move.calledAETitle == "ARCHIVE")
        #expect(move.identifiers.map { $0.string(Tag(0x0020, 0x000D)) } == ["1.2.9.7"])
        #expect(model.log.contains { $0.text.contains("came from ARCHIVE at pacs.example:11113") }, "\(model.log.map(\.text))")
        #expect(model.configuration.peerHost == "other.example" && model.configuration.calledAETitle == "OTHER")
        // r repeats it from the same archive.
        model.apply(.finished(RetrieveSummary()), at: 4)
        guard case .move(let again) = model.handle(.character("r")) else { Issue.record("r did not repeat"); return }
        #expect(again.peerHost == "pacs.example" && again.calledAETitle == "ARCHIVE")
        #expect(again.identifiers.map { $0.string(Tag(0x0020, 0x000D)) } == ["1.2.9.7"])
        #expect(model.configuration.peerHost == "other.example")
    }

    @Test func findResultsWithUTF8NamesArePickedAndMoved() throws {
        var model = ConsoleModel(configuration: Self.configuration())
        guard case .find(_, let identifier) = model.handle(.character("f")) else { Issue.record("f did not start a find"); return }
        // The find asks for the columns it shows.
        #expect(identifier.contains(Tag(0x0010, 0x0010)) && identifier.contains(Tag(0x0008, 0x0020)))
        for (i, name) in ["Yamada^Tarou=山田^太郎", "Müller^Jürgen", "Doe^Jane"].enumerated() {
            var result = DataSet()
            result.setString("ISO_IR 192", for: QueryKeys.characterSetTag, vr: .CS)
            result.setString("STUDY", for: QueryKeys.levelTag, vr: .CS)
            result.setString(name, for: Tag(0x0010, 0x0010), vr: .PN)
            result.setString("P\(i)", for: Tag(0x0010, 0x0020), vr: .LO)
            result.setString("1.2.9.\(i)", for: Tag(0x0020, 0x000D), vr: .UI)
            result.setString("CT angio, 2 phases", for: Tag(0x0008, 0x1030), vr: .LO)
            model.apply(FindEvent.result(number: i + 1, identifier: result, status: DIMSEStatus(0xFF00)), at: 2)
        }
        model.apply(FindEvent.finished(FindSummary()), at: 3)
        let text = Self.screen(model, 120, 30)
        #expect(text.contains("Yamada Tarou=山田 太郎"))
        #expect(text.contains("Müller Jürgen"))
        #expect(text.contains("3 found; success"))
        for line in text.split(separator: "\n") { #expect(Grid.columns(String(line)) <= 120) }
        model.focus = .main
        _ = model.handle(.character(" "))  // picks row 1, moves to row 2
        _ = model.handle(.down)            // row 3
        _ = model.handle(.character(" "))
        guard case .move(let move) = model.handle(.enter) else { Issue.record("Enter did not move the picked rows"); return }
        #expect(move.identifiers.count == 2)
        #expect(move.identifiers.map { $0.string(Tag(0x0020, 0x000D)) } == ["1.2.9.0", "1.2.9.2"])
        // A study-root move carries the level and the unique key only.
        #expect(move.identifiers[0].elements.map(\.tag) == [QueryKeys.characterSetTag, QueryKeys.levelTag, Tag(0x0020, 0x000D)])
        #expect(QueryKeys.extraMoveKeys(move.identifiers[0], model: .studyRoot).isEmpty)
    }

    @Test func queryKeyEditorCompletesEditsAndWarnsAboutNonUniqueMoveKeys() {
        var model = ConsoleModel(configuration: Self.configuration())
        model.focus = .query
        _ = model.handle(.character("n"))
        for c in "PatientNa" { _ = model.handle(.character(c)) }
        _ = model.handle(.tab)
        guard case .prompt(let editor, .addKey) = model.overlay else { Issue.record("no prompt"); return }
        #expect(editor.string == "PatientName")
        for c in "=Doe^J*" { _ = model.handle(.character(c)) }
        _ = model.handle(.enter)
        #expect(model.query.string(Tag(0x0010, 0x0010)) == "Doe^J*")
        // Several matches complete to what they share and are listed.
        _ = model.handle(.character("n"))
        for c in "StudyD" { _ = model.handle(.character(c)) }
        _ = model.handle(.tab)
        guard case .prompt(let second, _) = model.overlay else { Issue.record("no prompt"); return }
        #expect(second.string == "StudyDate" || second.candidates.contains("StudyDate"))
        #expect(Self.screen(model).contains("keywords match"))
        _ = model.handle(.escape)
        // A sequence path.
        _ = model.handle(.character("n"))
        for c in "ReferencedStudySequence[0].ReferencedSOPInstanceUID=1.2.3" { _ = model.handle(.character(c)) }
        _ = model.handle(.enter)
        #expect(QueryKeys.rows(model.query).contains { $0.path == "ReferencedStudySequence[0].ReferencedSOPInstanceUID" && $0.value == "1.2.3" })
        let text = Self.screen(model, 140, 30)
        #expect(text.contains("! move: not unique keys: ReferencedStudySequ"))
        // Starting the move warns and still sends it.
        guard case .move(let move) = model.handle(.character("m")) else { Issue.record("the move was refused"); return }
        #expect(move.identifiers[0].contains(Tag(0x0010, 0x0010)))
        #expect(model.log.contains { $0.text.contains("beyond the unique keys") && $0.role == .warning })
        // Edit in place, delete, level.
        model.phase = .ready
        let rows = QueryKeys.rows(model.query)
        model.queryIndex = rows.firstIndex { $0.path == "PatientName" }!
        _ = model.handle(.enter)
        _ = model.handle(.control("u"))
        for c in "Smith" { _ = model.handle(.character(c)) }
        _ = model.handle(.enter)
        #expect(model.query.string(Tag(0x0010, 0x0010)) == "Smith")
        _ = model.handle(.character("d"))
        #expect(!model.query.contains(Tag(0x0010, 0x0010)))
        _ = model.handle(.character("l"))
        #expect(QueryKeys.level(of: model.query) == "SERIES")
        _ = model.handle(.character("o"))
        #expect(model.configuration.model == .patientStudyOnly)
        // A bad key is a message, not a crash.
        _ = model.handle(.character("n"))
        for c in "NoSuchKeyword=1" { _ = model.handle(.character(c)) }
        _ = model.handle(.enter)
        #expect(model.log.last?.role == .failure)
    }

    @Test func peersAreAddedEditedValidatedAndDeleted() {
        var model = ConsoleModel(configuration: Self.configuration())
        model.peersFile = "/tmp/x.conf"
        model.focus = .peers
        #expect(Self.screen(model).contains("(none yet: n adds one)"))
        _ = model.handle(.character("n"))
        func type(_ text: String) { for c in text { _ = model.handle(.character(c)) } }
        type("archive"); _ = model.handle(.tab)
        type("A-VERY-LONG-AE-TITLE"); _ = model.handle(.tab)
        type("localhost"); _ = model.handle(.tab)
        _ = model.handle(.control("u")); type("11113")
        #expect(model.handle(.enter) == nil)
        guard case .form(let form) = model.overlay else { Issue.record("the form closed on a bad AE title"); return }
        #expect(form.error?.contains("AE title") == true)
        #expect(Self.screen(model).contains("AE title"))
        _ = model.handle(.up); _ = model.handle(.up)
        _ = model.handle(.control("u")); type("ARCHIVE")
        guard case .savePeers(let peers) = model.handle(.enter) else { Issue.record("no save"); return }
        #expect(peers == [Peer(name: "archive", aeTitle: "ARCHIVE", host: "localhost", port: 11113)])
        #expect(Self.screen(model).contains("archive"))
        #expect(Self.screen(model).contains("(no notes)"))
        // Echo, then use, then delete.
        guard case .echo(let peer) = model.handle(.character("t")) else { Issue.record("no echo"); return }
        model.echoed(peer, result: .failure(.refused(host: "localhost", port: 11113)))
        #expect(Self.screen(model).contains("failed"))
        #expect(model.log.last?.text.contains("connection refused") == true)
        _ = model.handle(.enter)
        #expect(model.configuration.peerPort == 11113 && model.configuration.peerHost == "localhost")
        _ = model.handle(.character("d"))
        #expect(Self.screen(model).contains("Delete peer archive?"))
        guard case .savePeers(let left) = model.handle(.character("y")) else { Issue.record("no save after delete"); return }
        #expect(left.isEmpty)
    }

    @Test func titlesAreValidatedAsAETitles() {
        var model = ConsoleModel(configuration: Self.configuration())
        model.focus = .titles
        _ = model.handle(.enter)
        _ = model.handle(.control("u"))
        for c in "BAD\\TITLE" { _ = model.handle(.character(c)) }
        _ = model.handle(.enter)
        #expect(model.configuration.callingAETitle == "MOVESCU")
        #expect(model.log.last?.role == .failure)
        _ = model.handle(.down); _ = model.handle(.down)
        _ = model.handle(.enter)
        _ = model.handle(.control("u"))
        for c in "STORESCP" { _ = model.handle(.character(c)) }
        _ = model.handle(.enter)
        #expect(Self.screen(model, 120, 30).contains("STORESCP (third party)"))
    }

    @Test func helpOverlayAndTraceView() {
        var model = ConsoleModel(configuration: Self.configuration())
        _ = model.handle(.character("?"))
        #expect(Self.screen(model).contains("─ Keys ─"))
        _ = model.handle(.character("x"))
        #expect(!Self.screen(model).contains("─ Keys ─"))
        model.apply(RetrieveEvent.requestingAssociation(host: "pacs.example", port: 11113), at: 0.5)
        model.apply(.moveRequestSent(messageID: 1, contextID: 3, identifier: model.query, query: 1, round: 1), at: 1.0)
        model.apply(Self.response(1, status: 0xFF00, remaining: 1, completed: 1), at: 1.25)
        _ = model.handle(.character("3"))
        let text = Self.screen(model, 200, 40)
        #expect(text.contains("-> A-ASSOCIATE-RQ to pacs.example:11113, calling MOVESCU, called ARCHIVE"))
        #expect(text.contains("-> C-MOVE-RQ message 1"))
        #expect(text.contains("(0020,000d) UI [1.2.3.4]  StudyInstanceUID"))
        #expect(text.contains("<- C-MOVE-RSP message 1 #1: FF00 Pending, 250 ms after the request"))
        #expect(model.sessionText().contains("# trace"))
    }
}

@Suite(.timeLimit(.minutes(10))) struct ConsoleEditingTests {
    @Test func combiningMarksMergeWithoutLosingTheCursor() {
        var editor = LineEditor(label: "x", completesKeywords: true)
        for c in ["c", "a", "f", "e", "\u{301}", "/", "P", "a", "t"] { _ = editor.handle(.character(Character(c))) }
        #expect(editor.string == "café/Pat")
        #expect(editor.cursor == editor.text.count)
        var grid = Grid(width: 30, height: 1)
        ConsoleView.editLine(editor, x: 0, y: 0, width: 30, into: &grid)
        #expect(grid.row(0).hasPrefix("café/Pat"))
        _ = editor.handle(.left)
        _ = editor.handle(.character("\u{301}"))
        #expect(editor.string == "café/Pát")
        // Completion after a merged character replaces the right word.
        var key = LineEditor(label: "k", completesKeywords: true)
        for c in "Ref[0].PatientNa" { _ = key.handle(.character(c)) }
        _ = key.handle(.tab, keywords: { ["PatientName", "PatientID"] })
        #expect(key.string == "Ref[0].PatientName")
    }

    @Test func levelsAndFindKeysFollowTheModel() {
        #expect(QueryKeys.levels(for: .studyRoot) == ["STUDY", "SERIES", "IMAGE"])
        #expect(QueryKeys.levels(for: .patientStudyOnly) == ["PATIENT", "STUDY"])
        var query = DataSet()
        query.setString("STUDY", for: QueryKeys.levelTag, vr: .CS)
        // Patient root, study level: no patient attributes but the Patient ID.
        let patientRoot = QueryKeys.findIdentifier(query, model: .patientRoot)
        #expect(!patientRoot.contains(Tag(0x0010, 0x0010)) && patientRoot.contains(Tag(0x0010, 0x0020)))
        #expect(QueryKeys.findIdentifier(query, model: .studyRoot).contains(Tag(0x0010, 0x0010)))
        query.setString("SERIES", for: QueryKeys.levelTag, vr: .CS)
        let series = QueryKeys.findIdentifier(query, model: .patientRoot)
        #expect([Tag(0x0010, 0x0020), Tag(0x0020, 0x000D), Tag(0x0020, 0x000E)].allSatisfy { series.contains($0) })
        // A UTF-8 value declares its character set.
        query.setString("Müller*", for: Tag(0x0010, 0x0010), vr: .PN)
        #expect(QueryKeys.findIdentifier(query, model: .studyRoot).string(QueryKeys.characterSetTag) == "ISO_IR 192")
        // Cycling the level stays within the model; changing the model moves the level.
        var model = ConsoleModel(configuration: ConsoleRenderTests.configuration())
        model.focus = .query
        var seen: [String] = []
        for _ in 0..<4 { _ = model.handle(.character("l")); seen.append(QueryKeys.level(of: model.query) ?? "") }
        #expect(seen == ["SERIES", "IMAGE", "STUDY", "SERIES"])
        _ = model.handle(.character("o"))
        #expect(model.configuration.model == .patientStudyOnly)
        #expect(QueryKeys.level(of: model.query) == "STUDY")
    }

    @Test func quittingWhileARetrieveRunsAsksFirstAndCtrlCCancelsFromADialog() {
        var model = ConsoleModel(configuration: ConsoleRenderTests.configuration())
        guard case .move = model.handle(.character("m")) else { Issue.record("no move"); return }
        #expect(model.handle(.character("q")) == nil)
        #expect(ConsoleView.render(model, width: 100, height: 30).text.contains("A retrieve is running."))
        _ = model.handle(.escape)
        _ = model.handle(.character("?"))
        guard case .cancel = model.handle(.control("c")) else { Issue.record("Ctrl-C did not cancel"); return }
        _ = model.handle(.escape)
        _ = model.handle(.character("q"))
        guard case .quit = model.handle(.character("q")) else { Issue.record("q q did not quit"); return }
    }
}

@Suite(.timeLimit(.minutes(10))) struct ThemeTests {
    static let themesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/themes"

    @Test func embeddedThemesAreTheFilesInThemes() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.themesFolder).filter { $0.hasSuffix(".theme") }
        #expect(Set(files.map { String($0.dropLast(6)) }) == Set(BuiltInThemes.texts.keys))
        #expect(Set(["default", "light", "high-contrast", "monochrome"]).isSubset(of: Set(BuiltInThemes.texts.keys)))
        for file in files {
            let text = try String(contentsOfFile: Self.themesFolder + "/" + file, encoding: .utf8)
            #expect(BuiltInThemes.texts[String(file.dropLast(6))] == text.trimmingCharacters(in: .newlines), "run Scripts/embed-themes.py after changing \(file)")
            _ = try Theme.parse(text, source: file)
        }
        // Monochrome uses no colour at all.
        let mono = Theme.builtIn["monochrome"]!
        #expect(StyleRole.allCases.allSatisfy { mono[$0].foreground == .terminalDefault && mono[$0].background == .terminalDefault })
    }

    @Test func brokenThemesSayWhichLineAndWhy() {
        let cases: [(String, Int, String)] = [
            ("name = x\nheader = purple", 2, "unknown colour 'purple'"),
            ("header = red on", 1, "expected 'colour' or 'colour on colour'"),
            ("\n\nbogus = red", 3, "unknown role 'bogus'"),
            ("failure = red, blinking", 1, "unknown attribute 'blinking'"),
            ("just words", 1, "expected 'role = style'"),
            ("title = 300", 1, "unknown colour '300'"),
        ]
        for (text, line, reason) in cases {
            do {
                _ = try Theme.parse(text, source: "t.theme")
                Issue.record("accepted: \(text)")
            } catch let error as ThemeError {
                #expect(error.line == line)
                #expect(error.description.contains("t.theme, line \(line): \(reason)"))
            } catch {
                Issue.record("\(error)")
            }
        }
        #expect(throws: ThemeError.self) { try Theme.load("/nonexistent/x.theme") }
        #expect(throws: ThemeError.self) { try Theme.load("no-such-theme", environment: ["HOME": "/nonexistent"]) }
    }

    @Test func userThemesComeFromTheXDGFolderFirst() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("themes-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/movescu/themes", withIntermediateDirectories: true)
        try "name = Mine\nheader = red on black".write(toFile: root + "/movescu/themes/light.theme", atomically: true, encoding: .utf8)
        let theme = try Theme.load("light", environment: ["XDG_CONFIG_HOME": root])
        #expect(theme.name == "Mine")
        #expect(theme[.header].foreground == .index(1))
        // Roles it does not name keep the default theme's style.
        #expect(theme[.failure] == Theme.standard[.failure])
    }
}
