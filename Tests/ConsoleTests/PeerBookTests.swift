@testable import Console
import Foundation
import Testing

/// A small deterministic generator, so that a failing random input can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A fresh folder under the temporary directory, removed by `remove()`.
struct ScratchFolder {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("peerbook-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

@Suite(.timeLimit(.minutes(10))) struct PeerBookTests {
    static let example = """
        # The console's peers
        [settings]
        calling-ae = MOVESCU
        move-destination = STORE1
        port = 11112
        output-directory = /data/incoming
        theme = high-contrast

        [peer archive]
        ae-title = ARCHIVE
        host = pacs.example.org
        port = 104
        notes = main archive, 2nd floor # room 12

          # an indented comment
        [Peer  Modality 3 ]
        AE-Title =   CT_03\t
        Host=10.0.0.3
        PORT = 11112
        """

    static let exampleBook = PeerBook(
        settings: .init(callingAE: "MOVESCU", moveDestination: "STORE1", port: 11112,
                        outputDirectory: "/data/incoming", theme: "high-contrast"),
        peers: [
            Peer(name: "archive", aeTitle: "ARCHIVE", host: "pacs.example.org", port: 104,
                 notes: "main archive, 2nd floor # room 12"),
            Peer(name: "Modality 3", aeTitle: "CT_03", host: "10.0.0.3", port: 11112),
        ])

    /// The error `text` gives, failing the test if it parses.
    func parseError(_ text: String, file: String = "movescu.conf") -> PeerBookError? {
        do {
            let book = try PeerBook.parse(text, file: file)
            Issue.record("parsed, expected an error: \(book)")
            return nil
        } catch {
            return error
        }
    }

    @Test func parsesAFullExample() throws {
        #expect(try PeerBook.parse(Self.example, file: "movescu.conf") == Self.exampleBook)
    }

    @Test func emptyAndCommentOnlyTextsAreEmptyBooks() throws {
        #expect(try PeerBook.parse("", file: "x") == PeerBook())
        #expect(try PeerBook.parse("\n\n  \n# nothing\n", file: "x") == PeerBook())
        #expect(try PeerBook.parse("[settings]\n", file: "x") == PeerBook())
    }

    @Test func settingsAreOptional() throws {
        let book = try PeerBook.parse("[settings]\nport = 4242\n", file: "x")
        #expect(book.settings == .init(port: 4242))
        #expect(book.peers.isEmpty)
    }

    @Test func acceptsCRLFAndAByteOrderMarkAndNoFinalLineEnd() throws {
        let crlf = Self.example.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try PeerBook.parse(crlf, file: "x") == Self.exampleBook)
        #expect(try PeerBook.parse(crlf + "\r\n", file: "x") == Self.exampleBook)
        #expect(try PeerBook.parse(bytes: [0xEF, 0xBB, 0xBF] + Array(crlf.utf8), file: "x") == Self.exampleBook)
    }

    /// Each kind of error, with the line it must name and the whole message.
    @Test(arguments: [
        ("port = 104", 1,
         "'port' comes before any section; settings go under [settings], peers under [peer NAME]"),
        ("[settings]\njust words", 2,
         "expected 'key = value', a section header such as '[peer NAME]', or a '#' comment; found 'just words'"),
        ("[settings]\n = 3", 2, "there is no key before '='; expected 'key = value'"),
        ("[settings]\ncolour = red", 2,
         "unknown key 'colour' in [settings]; expected calling-ae, move-destination, port, output-directory or theme"),
        ("[peer a]\nae-title = A\nhost = h\nport = 1\ncalling-ae = X", 5,
         "unknown key 'calling-ae' in [peer a]; expected ae-title, host, port or notes"),
        ("[settings]\n\n[printers]", 3, "unknown section '[printers]'; expected [settings] or [peer NAME]"),
        ("[settings]\n[peer a] # the archive", 2,
         "a section header is '[settings]' or '[peer NAME]' alone on its line; found '[peer a] # the archive'"),
        ("[peer ]", 1, "a peer section needs a name, as in '[peer archive]'"),
        ("[settings]\n[settings]", 2, "a second [settings] section (the first is on line 1)"),
        ("[peer Archive]\nae-title = A\nhost = h\nport = 1\n\n[peer ARCHIVE]\nae-title = B\nhost = h\nport = 2", 6,
         "a second peer named 'ARCHIVE' (see line 1); peer names must differ, ignoring case"),
        ("[peer a]\nae-title = A\nhost = h\nport = 1\nPort = 2", 5, "'port' is given twice in [peer a] (first on line 4)"),
        ("[settings]\n\n[peer a]\nhost = h\n\n[peer b]", 3,
         "peer 'a' has no ae-title or port; a peer needs ae-title, host and port"),
        ("[peer a]\nae-title = A\nport = 1", 1, "peer 'a' has no host; a peer needs ae-title, host and port"),
        ("[settings]\n# ports\n\n\n\n\nport = abc", 7, "port must be a number from 1 to 65535, found 'abc'"),
        ("[settings]\nport = 0", 2, "port must be a number from 1 to 65535, found '0'"),
        ("[settings]\nport = 65536", 2, "port must be a number from 1 to 65535, found '65536'"),
        ("[settings]\nport = -1", 2, "port must be a number from 1 to 65535, found '-1'"),
        ("[settings]\nport = 99999999999999999999999", 2,
         "port must be a number from 1 to 65535, found '99999999999999999999999'"),
        ("[peer a]\nport =", 2, "port must be a number from 1 to 65535, found ''"),
        ("[settings]\ncalling-ae = A\\B", 2,
         "calling-ae is not a valid AE title: \"A\\B\" contains a backslash, which an AE title must not"),
        ("[settings]\nmove-destination = ABCDEFGHIJKLMNOPQ", 2,
         "move-destination must be an AE title of at most 16 characters, found 'ABCDEFGHIJKLMNOPQ' (17)"),
        ("[peer a]\nae-title =", 2, "ae-title is empty; expected an AE title of 1 to 16 characters"),
        ("[peer a]\nae-title = ARCHÏVE", 2,
         "ae-title is not a valid AE title: \"ARCH?VE\" contains the character U+CF, which an AE title must not (printable ASCII only)"),
        ("[peer a]\nhost = pacs example org", 2,
         "host must be a host name or IP address without blanks, found 'pacs example org'"),
        ("[peer a]\nhost =  ", 2, "host is empty; expected a host name or IP address"),
        ("[peer a]\nnotes = bell\u{07}here", 2,
         "notes contains the control character U+0007; only printable text is allowed"),
        ("[peer a\u{1B}[2J]", 1, "the peer name contains the control character U+001B; only printable text is allowed"),
        ("[settings]\noutput-directory =", 2, "output-directory has no value; give one, or leave the line out for the default"),
        ("[settings]\ntheme = dark\r\r", 2, "theme contains the control character U+000D; only printable text is allowed"),
    ] as [(String, Int, String)])
    func errorsNameTheLineAndTheProblem(text: String, line: Int, reason: String) throws {
        let error = try #require(parseError(text))
        #expect(error == PeerBookError(file: "movescu.conf", line: line, reason: reason))
        #expect(error.description == "movescu.conf, line \(line): \(reason)")
    }

    @Test func theExampleMessageReadsAsDocumented() throws {
        let error = try #require(parseError("[settings]\ncalling-ae = A\n\n# the port\n\n\nport = abc\n"))
        #expect(error.description == "movescu.conf, line 7: port must be a number from 1 to 65535, found 'abc'")
    }

    @Test func invalidUTF8NamesItsLine() throws {
        do {
            _ = try PeerBook.parse(bytes: Array("[settings]\r\ntheme = a\r\n".utf8) + [0x6E, 0xFF, 0x0A], file: "f")
            Issue.record("parsed invalid UTF-8")
        } catch {
            #expect(error == PeerBookError(file: "f", line: 3, reason: "is not UTF-8 text; a peers file is UTF-8"))
        }
    }

    @Test func aHugeLineIsAnErrorWithAShortMessage() throws {
        let huge = "[settings]\nport = " + String(repeating: "9", count: 1_000_000)
        let error = try #require(parseError(huge))
        #expect(error.line == 2)
        #expect(error.description.count < 200)
        let junk = String(repeating: "x", count: 500_000)
        #expect(try #require(parseError(junk)).description.count < 300)
    }

    // MARK: - Files

    @Test func aMissingFileIsAnEmptyBook() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        #expect(try PeerBook.load(from: scratch.path + "/movescu.conf") == PeerBook())
        #expect(try PeerBook.load(from: scratch.path + "/no/such/folder/movescu.conf") == PeerBook())
    }

    @Test func aDirectoryOrAnUnreadablePathIsAnError() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        #expect(throws: PeerBookError(file: scratch.path, line: 0, reason: "is a directory; expected a peers file")) {
            try PeerBook.load(from: scratch.path)
        }
        // A path through a regular file cannot be opened (ENOTDIR), even by root.
        let file = scratch.path + "/plain"
        try "x".write(toFile: file, atomically: false, encoding: .utf8)
        do {
            _ = try PeerBook.load(from: file + "/movescu.conf")
            Issue.record("loaded a path through a file")
        } catch {
            #expect(error.line == 0)
            #expect(error.description.hasPrefix(file + "/movescu.conf: cannot be opened ("))
        }
        // A FIFO is refused without blocking on the open.
        let fifo = scratch.path + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: PeerBookError(file: fifo, line: 0, reason: "is not a regular file; expected a peers file")) {
            try PeerBook.load(from: fifo)
        }
        // Without permission (meaningless as root, who reads anything).
        if getuid() != 0 {
            let locked = scratch.path + "/locked.conf"
            try "[settings]\n".write(toFile: locked, atomically: false, encoding: .utf8)
            chmod(locked, 0)
            #expect(throws: PeerBookError.self) { try PeerBook.load(from: locked) }
        }
    }

    @Test func aFileErrorNamesThePathAndLine() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let path = scratch.path + "/movescu.conf"
        try "[settings]\r\nport = 80\r\nport = 81".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: PeerBookError(file: path, line: 3, reason: "'port' is given twice in [settings] (first on line 2)")) {
            try PeerBook.load(from: path)
        }
    }

    @Test func anOversizedFileIsRefused() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let path = scratch.path + "/big.conf"
        try Data(repeating: 0x23, count: PeerBook.maximumFileSize + 1).write(to: URL(fileURLWithPath: path))
        #expect(throws: PeerBookError.self) { try PeerBook.load(from: path) }
    }

    @Test func roundTripsTheExample() throws {
        let text = Self.exampleBook.serialize()
        #expect(text.hasPrefix("# movescu console configuration"))
        #expect(try PeerBook.parse(text, file: "x") == Self.exampleBook)
        #expect(try PeerBook.parse(PeerBook().serialize(), file: "x") == PeerBook())
    }

    /// Random valid books (odd names, '#', '=', brackets and non-ASCII in values) read back equal.
    @Test func roundTripsRandomBooks() throws {
        var random = SplitMix64(state: 42)
        let pieces = ["a", "Z", "0", " ", "#", "=", "[", "]", "é", "日本", "-", "_", "/", ".", "peer", "😀", "\\"]
        func text(_ count: ClosedRange<Int>, from: [String]) -> String {
            String((0..<Int.random(in: count, using: &random)).map { _ in from.randomElement(using: &random)! }.joined())
        }
        func someText() -> String {
            var value = ""
            while value.unicodeScalars.first.map({ $0 == " " }) ?? true || value.hasSuffix(" ") {
                value = text(1...12, from: pieces)
            }
            return value
        }
        func aeTitle() -> String {
            var title = ""
            while title.isEmpty || title.hasPrefix(" ") || title.hasSuffix(" ") {
                title = text(1...16, from: ["A", "B", "9", "_", " ", "#", "="])
            }
            return title
        }
        var peers = 0
        for _ in 0..<300 {
            var book = PeerBook()
            if Bool.random(using: &random) { book.settings.callingAE = aeTitle() }
            if Bool.random(using: &random) { book.settings.moveDestination = aeTitle() }
            if Bool.random(using: &random) { book.settings.port = Int.random(in: 1...65535, using: &random) }
            if Bool.random(using: &random) { book.settings.outputDirectory = someText() }
            if Bool.random(using: &random) { book.settings.theme = someText() }
            for _ in 0..<Int.random(in: 0...5, using: &random) {
                let peer = Peer(name: someText(), aeTitle: aeTitle(), host: text(1...10, from: ["h", "1", ".", ":", "[", "]"]),
                                port: Int.random(in: 1...65535, using: &random),
                                notes: Bool.random(using: &random) ? "" : someText())
                try? book.add(peer)
            }
            #expect(book.problem == nil)
            peers += book.peers.count
            let text = book.serialize()
            #expect(try PeerBook.parse(text, file: "x") == book, "\(text)")
        }
        #expect(peers > 500)
    }

    @Test func savesAtomicallyAndReadsBack() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let folder = scratch.path + "/config/movescu"
        let path = folder + "/movescu.conf"
        try Self.exampleBook.save(to: path)

        var info = stat()
        #expect(stat(folder, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["movescu.conf"])
        #expect(try PeerBook.load(from: path) == Self.exampleBook)

        // Saving again replaces the file (a new inode, by rename) and keeps its permissions.
        chmod(path, 0o644)
        #expect(stat(path, &info) == 0)
        let oldInode = info.st_ino
        var book = Self.exampleBook
        try book.delete("ARCHIVE")
        try book.save(to: path)
        #expect(stat(path, &info) == 0)
        #expect(info.st_ino != oldInode)
        #expect(info.st_mode & 0o777 == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["movescu.conf"])
        #expect(try PeerBook.load(from: path) == book)

        // An invalid book is refused and the file is left as it was.
        var bad = book
        bad.peers.append(Peer(name: "x", aeTitle: "BAD\\AE", host: "h", port: 1))
        #expect(throws: PeerBookError.self) { try bad.save(to: path) }
        #expect(try PeerBook.load(from: path) == book)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["movescu.conf"])
    }

    @Test func savingThroughASymbolicLinkReplacesItsTarget() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let real = scratch.path + "/dotfiles/movescu.conf"
        try FileManager.default.createDirectory(atPath: scratch.path + "/dotfiles", withIntermediateDirectories: true)
        try "[settings]\n".write(toFile: real, atomically: false, encoding: .utf8)
        let link = scratch.path + "/movescu.conf"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        try Self.exampleBook.save(to: link)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == real)
        #expect(try PeerBook.load(from: real) == Self.exampleBook)
    }

    @Test func aSaveThatCannotHappenSaysWhy() throws {
        let scratch = try ScratchFolder()
        defer { scratch.remove() }
        let file = scratch.path + "/plain"
        try "x".write(toFile: file, atomically: false, encoding: .utf8)
        do {
            try Self.exampleBook.save(to: file + "/movescu.conf")
            Issue.record("saved under a regular file")
        } catch {
            #expect(error.file == file + "/movescu.conf")
            #expect(error.line == 0)
        }
    }

    @Test func theDefaultPathFollowsXDG() {
        #expect(PeerBook.defaultPath(environment: ["XDG_CONFIG_HOME": "/xdg", "HOME": "/home/u"]) == "/xdg/movescu/movescu.conf")
        #expect(PeerBook.defaultPath(environment: ["XDG_CONFIG_HOME": "", "HOME": "/home/u"]) == "/home/u/.config/movescu/movescu.conf")
        #expect(PeerBook.defaultPath(environment: ["HOME": "/home/u"]) == "/home/u/.config/movescu/movescu.conf")
    }

    // MARK: - Changes

    @Test func addRefusesDuplicateNamesAndInvalidPeers() throws {
        var book = Self.exampleBook
        #expect(throws: PeerBookError(file: "", line: 0,
                                      reason: "a peer named 'archive' already exists; peer names must differ, ignoring case")) {
            try book.add(Peer(name: "Archive", aeTitle: "X", host: "h", port: 1))
        }
        #expect(throws: PeerBookError(file: "", line: 0,
                                      reason: "peer 'new': port must be a number from 1 to 65535, found 70000")) {
            try book.add(Peer(name: "new", aeTitle: "X", host: "h", port: 70000))
        }
        #expect(throws: PeerBookError(file: "", line: 0, reason: "the peer name must not be empty")) {
            try book.add(Peer(name: "  ", aeTitle: "X", host: "h", port: 1))
        }
        #expect(throws: PeerBookError.self) { try book.add(Peer(name: "n", aeTitle: "     ", host: "h", port: 1)) }
        #expect(throws: PeerBookError.self) { try book.add(Peer(name: "n", aeTitle: "X", host: "a b", port: 1)) }
        #expect(throws: PeerBookError.self) { try book.add(Peer(name: "n", aeTitle: "X", host: "h", port: 1, notes: "a\nb")) }
        #expect(book == Self.exampleBook)

        // What the form typed is trimmed, as the file reader would.
        try book.add(Peer(name: " router ", aeTitle: " QR ", host: " 10.1.1.1 ", port: 4006, notes: " via VPN "))
        #expect(book.peers.last == Peer(name: "router", aeTitle: "QR", host: "10.1.1.1", port: 4006, notes: "via VPN"))
        #expect(book.peer(named: "ROUTER") == book.peers.last)
    }

    @Test func updateRenamesOnlyToFreeNames() throws {
        var book = Self.exampleBook
        let renamed = Peer(name: "old archive", aeTitle: "ARCHIVE", host: "pacs.example.org", port: 104)
        try book.update("ARCHIVE", to: renamed)
        #expect(book.peers[0] == renamed)
        // The same name in another case is the same peer.
        try book.update("old archive", to: Peer(name: "Old Archive", aeTitle: "A2", host: "h", port: 105))
        #expect(book.peers[0].name == "Old Archive")
        #expect(throws: PeerBookError(file: "", line: 0,
                                      reason: "a peer named 'Modality 3' already exists; peer names must differ, ignoring case")) {
            try book.update("old archive", to: Peer(name: "modality 3", aeTitle: "A", host: "h", port: 1))
        }
        #expect(throws: PeerBookError(file: "", line: 0, reason: "there is no peer named 'nobody'")) {
            try book.update("nobody", to: renamed)
        }
        #expect(book.peers.count == 2)
    }

    @Test func deleteByName() throws {
        var book = Self.exampleBook
        #expect(try book.delete("modality 3").aeTitle == "CT_03")
        #expect(book.peers.map(\.name) == ["archive"])
        #expect(throws: PeerBookError(file: "", line: 0, reason: "there is no peer named 'modality 3'")) {
            try book.delete("modality 3")
        }
    }

    @Test func aBookWithDuplicateNamesHasAProblem() {
        var book = Self.exampleBook
        book.peers.append(Peer(name: "ARCHIVE", aeTitle: "A", host: "h", port: 1))
        #expect(book.problem == "two peers are named 'ARCHIVE'; peer names must differ, ignoring case")
    }

    // MARK: - Robustness

    /// Random bytes, some built from pieces of the format, never crash the reader: each input
    /// gives a book (which then round-trips) or an error naming a line of the input.
    @Test func randomInputsNeverCrash() throws {
        var random = SplitMix64(state: 0x5EED)
        let pieces: [[UInt8]] = ["[settings]", "[peer ", "]", "[peer a]", "ae-title", "host", "port", "notes", "calling-ae",
                                 "move-destination", "output-directory", "theme", " = ", "=", "#", "\n", "\r\n", "\r", " ", "\t",
                                 "104", "65535", "0", "A", "\\", "é", "\u{FEFF}"].map { Array($0.utf8) }
        let example = Array(Self.example.utf8)
        var books = 0
        var booksWithPeers = 0
        for round in 0..<2_000 {
            var bytes: [UInt8] = []
            if round % 3 == 2 {
                // The example with a few bytes changed, inserted or removed.
                bytes = example
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    let at = Int.random(in: 0..<bytes.count, using: &random)
                    let byte = Bool.random(using: &random) ? UInt8.random(in: 0...255, using: &random)
                                                           : pieces.randomElement(using: &random)![0]
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: bytes[at] = byte
                    case 1: bytes.insert(byte, at: at)
                    default: bytes.remove(at: at)
                    }
                }
            } else {
                for _ in 0..<Int.random(in: 0...40, using: &random) {
                    if round % 3 == 0 || Int.random(in: 0..<5, using: &random) == 0 {
                        bytes += (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                    } else {
                        bytes += pieces.randomElement(using: &random)!
                    }
                }
            }
            let lines = bytes.filter { $0 == 0x0A }.count + 1
            do {
                let book = try PeerBook.parse(bytes: bytes, file: "fuzz")
                books += 1
                if !book.peers.isEmpty { booksWithPeers += 1 }
                #expect(book.problem == nil)
                #expect(try PeerBook.parse(book.serialize(), file: "again") == book)
            } catch {
                #expect(error.file == "fuzz")
                #expect((1...lines).contains(error.line), "\(error) for \(bytes)")
                #expect(!error.reason.isEmpty)
            }
        }
        // The inputs reach both outcomes.
        #expect(books > 0)
        #expect(booksWithPeers > 0)
        #expect(books < 2_000)
        print("random inputs: \(books) books (\(booksWithPeers) with peers), \(2_000 - books) errors")
    }
}

/// A hand-edited file keeps its comments through a save from the console.
@Suite(.timeLimit(.minutes(10))) struct PeerBookCommentTests {
    /// The comments without our own header's lines (a save writes this version's header).
    static func userComments(_ book: PeerBook) -> PeerBook.Comments {
        var comments = book.comments
        comments.opening.removeAll { PeerBook.headerLines.contains($0) }
        return comments
    }

    static let text = """
        # movescu console configuration: settings and the DICOM peers of the Peers pane.
        # edited in the console, and comments are not kept.
        # Ward 7 machines, ask Kim before changing

        [settings]
        # our storage port is opened in the firewall
        port = 11112

        # the main archive
        [peer archive]
        ae-title = ARCHIVE
        # moved to the new rack in May
        host = pacs.example.org
        port = 104

        # research copy, read only
        # (no moves at night)
        [peer research]
        ae-title = RESEARCH
        host = 10.0.0.9
        port = 11113
        # end of file
        """

    @Test func commentsStayWithTheirSections() throws {
        var book = try PeerBook.parse(Self.text, file: "x")
        #expect(book.comments.opening == ["# movescu console configuration: settings and the DICOM peers of the Peers pane.",
                                          "# edited in the console, and comments are not kept.",
                                          "# Ward 7 machines, ask Kim before changing"])
        #expect(book.comments.sections["settings"]?.inside == ["# our storage port is opened in the firewall"])
        #expect(book.comments.sections["peer archive"]?.before == ["# the main archive"])
        #expect(book.comments.sections["peer archive"]?.inside == ["# moved to the new rack in May"])
        #expect(book.comments.sections["peer research"]?.before == ["# research copy, read only", "# (no moves at night)"])
        #expect(book.comments.closing == ["# end of file"])

        // A rename keeps the peer's comments; a delete drops them; an added peer has none.
        let archive = try #require(book.peer(named: "archive"))
        var renamed = archive
        renamed.name = "Main"
        try book.update("archive", to: renamed)
        _ = try book.delete("research")
        try book.add(Peer(name: "new", aeTitle: "NEW", host: "h", port: 1))
        let saved = book.serialize()
        let lines = saved.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // The old header's lines are replaced by this version's; the user's line follows.
        #expect(saved.hasPrefix(PeerBook.header + "# Ward 7 machines, ask Kim before changing\n\n[settings]\n# our storage port"))
        #expect(!saved.contains("comments are not kept"))
        let main = try #require(lines.firstIndex(of: "[peer Main]"))
        #expect(lines[main - 1] == "# the main archive" && lines[main + 1] == "# moved to the new rack in May")
        #expect(!saved.contains("research"))
        #expect(lines.suffix(2) == ["# end of file", ""])

        // What was saved reads back with the same comments, and saves the same again.
        let again = try PeerBook.parse(saved, file: "y")
        #expect(again == book)
        #expect(Self.userComments(again) == Self.userComments(book))
        #expect(again.serialize() == saved)
    }

    @Test func aCommentThatWouldNotReadBackIsRefused() throws {
        var book = PeerBook()
        book.comments.closing = ["# fine", "not a comment"]
        #expect(book.problem?.contains("comment") == true)
        book.comments.closing = ["# two\nlines"]
        #expect(book.problem?.contains("comment") == true)
        book.comments.closing = ["# fine"]
        #expect(book.problem == nil)
    }

    /// Comments right above [settings] stay there when it is not the first section, and the
    /// opening block (before a blank line) stays the file's.
    @Test func settingsCommentsStayAboveSettings() throws {
        let text = """
            # my opening

            [peer a]
            ae-title = A
            host = h
            port = 1

            # about the settings
            [settings]
            port = 104
            """
        let book = try PeerBook.parse(text, file: "x")
        #expect(book.comments.opening == ["# my opening"])
        #expect(book.comments.sections["settings"]?.before == ["# about the settings"])
        let saved = book.serialize()
        #expect(saved.contains("\n# about the settings\n[settings]\n"))
        let again = try PeerBook.parse(saved, file: "y")
        #expect(Self.userComments(again) == Self.userComments(book))
        #expect(again.serialize() == saved)
    }
}
