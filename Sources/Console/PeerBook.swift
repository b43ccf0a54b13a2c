import DICOMNetwork
import Foundation

/// One DICOM node the console knows: what the Peers pane lists, edits and C-ECHOes.
public struct Peer: Equatable, Sendable {
    /// What the user calls it; unique within a book, ignoring case.
    public var name: String
    /// The peer's (called) AE title.
    public var aeTitle: String
    /// Host name or IP address.
    public var host: String
    /// TCP port, 1-65535.
    public var port: Int
    /// Free text; empty when there are none.
    public var notes: String

    public init(name: String, aeTitle: String, host: String, port: Int, notes: String = "") {
        self.name = name
        self.aeTitle = aeTitle
        self.host = host
        self.port = port
        self.notes = notes
    }

    /// The same peer with leading and trailing blanks removed from every text, as the file
    /// reader does; the console's edit form can pass what was typed through this.
    public var trimmed: Peer {
        Peer(name: PeerBook.trim(name), aeTitle: PeerBook.trim(aeTitle), host: PeerBook.trim(host), port: port,
             notes: PeerBook.trim(notes))
    }

    /// What is wrong with this peer (the first thing found), or nil when it can be written
    /// to the file and read back unchanged.
    public var problem: String? {
        if let problem = PeerBook.textProblem(name, what: "the peer name", required: true) { return problem }
        let label = "peer '\(PeerBook.shown(name))'"
        if let problem = PeerBook.aeTitleProblem(aeTitle, key: "ae-title") { return "\(label): \(problem)" }
        if let problem = PeerBook.hostProblem(host) { return "\(label): \(problem)" }
        if let problem = PeerBook.portProblem(port, key: "port") { return "\(label): \(problem)" }
        if let problem = PeerBook.textProblem(notes, what: "notes", required: false) { return "\(label): \(problem)" }
        return nil
    }
}

/// Something wrong with a peers file, or a refused change to a book. `line` is 1-based;
/// 0 when the problem is with the file as a whole (or with a change, not a file), and
/// `file` is empty for a change made through the API.
public struct PeerBookError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var reason: String

    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if file.isEmpty { return reason }
        return line > 0 ? "\(file), line \(line): \(reason)" : "\(file): \(reason)"
    }
}

/// The console's configuration file: its settings and the peers it knows.
///
/// Where it lives: `$XDG_CONFIG_HOME/movescu/movescu.conf`, or
/// `$HOME/.config/movescu/movescu.conf` when XDG_CONFIG_HOME is unset or empty (see
/// `defaultPath(environment:)`); `--peers FILE` names another one.
///
/// The format is plain text, one thing a line, in sections:
///
///     # a comment: '#' as the first thing on a line (blanks before it are fine)
///     [settings]
///     calling-ae = MOVESCU
///     move-destination = MOVESCU
///     port = 11112
///     output-directory = /data/incoming
///     theme = default
///
///     [peer archive]
///     ae-title = ARCHIVE
///     host = pacs.example.org
///     port = 104
///     notes = main archive, 2nd floor
///
/// - Lines are `key = value`. Keys, `settings` and `peer` may be written in any case. Blanks
///   around keys and values are dropped. A `#` elsewhere than at the start of a line is part
///   of the value, so notes can hold one.
/// - `[settings]` (at most one) holds the console's defaults; every key is optional. `port`
///   is where the console's storage SCP listens; `theme` a theme name or path.
/// - Each `[peer NAME]` needs `ae-title`, `host` and `port`; `notes` is optional. Names differ
///   from one another ignoring case.
/// - AE titles follow `AETitle` (1-16 printable ASCII characters, no backslash, not only
///   spaces); ports are 1-65535; host names hold no blanks. Control characters are refused
///   in every value.
/// - Unknown sections and keys, a key given twice in one section and a `key = value` outside
///   any section are errors, so that a misspelling is reported instead of ignored.
/// - The file is UTF-8 (a leading byte order mark is skipped); lines end in LF or CRLF, and the
///   last one needs no line end.
///
/// Every problem is reported as a `PeerBookError` naming the file and line.
public struct PeerBook: Equatable, Sendable {
    /// The `[settings]` section. A nil value is not in the file, and the console uses its
    /// own default (or the command line's).
    public struct Settings: Equatable, Sendable {
        /// Our AE title when calling peers.
        public var callingAE: String?
        /// The AE title peers are asked to send retrieved objects to.
        public var moveDestination: String?
        /// The port the console's storage SCP listens on.
        public var port: Int?
        /// Where received objects are written.
        public var outputDirectory: String?
        /// A theme name or path, as for `--theme`.
        public var theme: String?

        public init(callingAE: String? = nil, moveDestination: String? = nil, port: Int? = nil,
                    outputDirectory: String? = nil, theme: String? = nil) {
            self.callingAE = callingAE
            self.moveDestination = moveDestination
            self.port = port
            self.outputDirectory = outputDirectory
            self.theme = theme
        }

        /// What is wrong with these settings, or nil when they can be written and read back.
        public var problem: String? {
            if let value = callingAE, let problem = PeerBook.aeTitleProblem(value, key: "calling-ae") { return problem }
            if let value = moveDestination, let problem = PeerBook.aeTitleProblem(value, key: "move-destination") {
                return problem
            }
            if let value = port, let problem = PeerBook.portProblem(value, key: "port") { return problem }
            if let value = outputDirectory,
               let problem = PeerBook.textProblem(value, what: "output-directory", required: true) { return problem }
            if let value = theme, let problem = PeerBook.textProblem(value, what: "theme", required: true) { return problem }
            return nil
        }
    }

    public var settings: Settings
    /// In file order; `add` appends.
    public var peers: [Peer]
    /// The file's comment lines, so that a save keeps them.
    public var comments = Comments()

    /// Comment lines kept with what they belong to: the block before the first section
    /// (`opening`), each section's block right above its header (`before`) and those among
    /// its keys (`inside`, written after the header on a save), and those after the last
    /// key (`closing`). Blank lines are not kept.
    public struct Comments: Equatable, Sendable {
        public struct Section: Equatable, Sendable {
            public var before: [String] = []
            public var inside: [String] = []
        }
        public var opening: [String] = []
        public var closing: [String] = []
        /// By `PeerBook.commentKey`: "settings", or "peer " and the lower-cased peer name.
        public var sections: [String: Section] = [:]
        public init() {}
    }

    static func commentKey(peer name: String) -> String { "peer " + name.lowercased() }

    public init(settings: Settings = Settings(), peers: [Peer] = []) {
        self.settings = settings
        self.peers = peers
    }

    /// Equal settings and peers; comments are not compared.
    public static func == (a: PeerBook, b: PeerBook) -> Bool {
        a.settings == b.settings && a.peers == b.peers
    }

    /// Files bigger than this are refused unread: a peers file is typed by hand, and a
    /// mistaken `--peers` should not pull a DICOM object into memory.
    public static let maximumFileSize = 1 << 20

    static let settingsKeys = ["calling-ae", "move-destination", "port", "output-directory", "theme"]
    static let peerKeys = ["ae-title", "host", "port", "notes"]

    // MARK: - Where

    /// The file the console reads when not told otherwise: `$XDG_CONFIG_HOME/movescu/movescu.conf`,
    /// or `$HOME/.config/movescu/movescu.conf` when XDG_CONFIG_HOME is unset or empty.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty { return xdg + "/movescu/movescu.conf" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.config/movescu/movescu.conf"
    }

    // MARK: - Reading

    /// Reads the book at `path`. No file there is an empty book (nothing saved yet); a
    /// directory, a file that cannot be read, or one that is not a regular file is an error.
    public static func load(from path: String) throws(PeerBookError) -> PeerBook {
        func fail(_ reason: String) -> PeerBookError { PeerBookError(file: path, line: 0, reason: reason) }
        // O_NONBLOCK so that a FIFO given by mistake does not hang the open; it is refused below.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return PeerBook() }
            throw fail("cannot be opened (\(String(cString: strerror(code))))")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw fail("cannot be examined (\(String(cString: strerror(errno))))") }
        let type = status.st_mode & S_IFMT
        if type == S_IFDIR { throw fail("is a directory; expected a peers file") }
        guard type == S_IFREG else { throw fail("is not a regular file; expected a peers file") }
        if Int(status.st_size) > maximumFileSize {
            throw fail("is \(status.st_size) bytes; a peers file may have at most \(maximumFileSize)")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("cannot be read (\(String(cString: strerror(errno))))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[..<n])
            // The file grew after fstat.
            if bytes.count > maximumFileSize { throw fail("is bigger than \(maximumFileSize) bytes, the most a peers file may have") }
        }
        return try parse(bytes: bytes, file: path)
    }

    /// Parses the text of a peers file. `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(PeerBookError) -> PeerBook {
        try parse(bytes: Array(text.utf8), file: file)
    }

    /// Parses the bytes of a peers file, which must be UTF-8. `file` names it in errors.
    public static func parse(bytes: [UInt8], file: String) throws(PeerBookError) -> PeerBook {
        var parser = Parser(file: file)
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        var number = 0
        while start <= bytes.count {
            number += 1
            var end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            let next = end + 1
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            let raw = bytes[start..<end]
            let line = String(decoding: raw, as: UTF8.self)
            // Decoding replaces bad sequences with U+FFFD; then the bytes differ.
            guard line.utf8.elementsEqual(raw) else {
                throw PeerBookError(file: file, line: number, reason: "is not UTF-8 text; a peers file is UTF-8")
            }
            try parser.take(line, number: number)
            start = next
        }
        return try parser.finish()
    }

    private struct Parser {
        enum Section {
            case none
            case settings
            case peer(name: String, line: Int)
        }

        let file: String
        var book = PeerBook()
        var section = Section.none
        /// Keys of the current section, with their lines.
        var keys: [String: Int] = [:]
        var settingsLine: Int?
        /// Lower-cased peer names, with the lines of their headers.
        var names: [String: Int] = [:]
        var aeTitle: String?
        var host: String?
        var port: Int?
        var notes = ""
        var number = 0
        /// Comment lines not yet given to a section, and where their last block (after the
        /// last blank line) starts: above the first section, that block is the section's and
        /// the ones before it are the file's opening.
        var pendingComments: [String] = []
        var lastBlockStart = 0
        var sawSection = false

        init(file: String) { self.file = file }

        var currentCommentKey: String? {
            switch section {
            case .none: return nil
            case .settings: return "settings"
            case .peer(let name, _): return PeerBook.commentKey(peer: name)
            }
        }

        func fail(_ reason: String) -> PeerBookError { PeerBookError(file: file, line: number, reason: reason) }

        mutating func take(_ line: String, number: Int) throws(PeerBookError) {
            self.number = number
            let text = PeerBook.trim(line)
            let scalars = text.unicodeScalars
            guard let first = scalars.first else {
                lastBlockStart = pendingComments.count
                return
            }
            if first == "#" {
                pendingComments.append(text)
                return
            }
            if first == "[" {
                var before = pendingComments
                if !sawSection {
                    book.comments.opening = Array(pendingComments[..<lastBlockStart])
                    before = Array(pendingComments[lastBlockStart...])
                }
                pendingComments = []
                lastBlockStart = 0
                try header(text)
                if let key = currentCommentKey, !before.isEmpty {
                    book.comments.sections[key, default: .init()].before = before
                }
                sawSection = true
                return
            }
            if !pendingComments.isEmpty, let key = currentCommentKey {
                book.comments.sections[key, default: .init()].inside += pendingComments
                pendingComments = []
            }
            lastBlockStart = 0

            guard let equals = scalars.firstIndex(of: "=") else {
                throw fail("expected 'key = value', a section header such as '[peer NAME]', or a '#' comment; found '\(PeerBook.shown(text))'")
            }
            let key = PeerBook.trim(String(scalars[..<equals])).lowercased()
            let value = PeerBook.trim(String(scalars[scalars.index(after: equals)...]))
            if key.isEmpty { throw fail("there is no key before '='; expected 'key = value'") }

            let sectionName: String
            let known: [String]
            switch section {
            case .none:
                throw fail("'\(PeerBook.shown(key))' comes before any section; settings go under [settings], peers under [peer NAME]")
            case .settings:
                sectionName = "[settings]"
                known = PeerBook.settingsKeys
            case .peer(let name, _):
                sectionName = "[peer \(PeerBook.shown(name))]"
                known = PeerBook.peerKeys
            }
            guard known.contains(key) else {
                throw fail("unknown key '\(PeerBook.shown(key))' in \(sectionName); expected \(PeerBook.list(known, "or"))")
            }
            if let earlier = keys[key] {
                throw fail("'\(key)' is given twice in \(sectionName) (first on line \(earlier))")
            }
            keys[key] = number

            switch (section, key) {
            case (.settings, "calling-ae"): book.settings.callingAE = try aeTitleValue(value, key: key)
            case (.settings, "move-destination"): book.settings.moveDestination = try aeTitleValue(value, key: key)
            case (.settings, "port"): book.settings.port = try portValue(value, key: key)
            case (.settings, "output-directory"): book.settings.outputDirectory = try textValue(value, key: key, required: true)
            case (.settings, "theme"): book.settings.theme = try textValue(value, key: key, required: true)
            case (.peer, "ae-title"): aeTitle = try aeTitleValue(value, key: key)
            case (.peer, "host"):
                if let problem = PeerBook.hostProblem(value) { throw fail(problem) }
                host = value
            case (.peer, "port"): port = try portValue(value, key: key)
            case (.peer, "notes"): notes = try textValue(value, key: key, required: false)
            default: break  // unreachable: the key was checked against the section's list
            }
        }

        mutating func header(_ text: String) throws(PeerBookError) {
            let scalars = text.unicodeScalars
            guard scalars.count >= 2, scalars.last == "]" else {
                throw fail("a section header is '[settings]' or '[peer NAME]' alone on its line; found '\(PeerBook.shown(text))'")
            }
            let inner = PeerBook.trim(String(scalars.dropFirst().dropLast()))
            let word = String(inner.unicodeScalars.prefix { !PeerBook.isBlank($0) }).lowercased()
            let rest = PeerBook.trim(String(inner.unicodeScalars.drop { !PeerBook.isBlank($0) }))
            if word == "settings" && rest.isEmpty {
                try endSection()
                if let earlier = settingsLine { throw fail("a second [settings] section (the first is on line \(earlier))") }
                settingsLine = number
                section = .settings
            } else if word == "peer" {
                try endSection()
                if rest.isEmpty { throw fail("a peer section needs a name, as in '[peer archive]'") }
                if let problem = PeerBook.textProblem(rest, what: "the peer name", required: true) { throw fail(problem) }
                if let earlier = names[rest.lowercased()] {
                    throw fail("a second peer named '\(PeerBook.shown(rest))' (see line \(earlier)); peer names must differ, ignoring case")
                }
                names[rest.lowercased()] = number
                section = .peer(name: rest, line: number)
            } else {
                throw fail("unknown section '\(PeerBook.shown(text))'; expected [settings] or [peer NAME]")
            }
        }

        /// Closes the current section: a peer must have had its required keys.
        mutating func endSection() throws(PeerBookError) {
            if case .peer(let name, let line) = section {
                let missing = ["ae-title", "host", "port"].filter { keys[$0] == nil }
                guard let aeTitle, let host, let port, missing.isEmpty else {
                    throw PeerBookError(file: file, line: line,
                                        reason: "peer '\(PeerBook.shown(name))' has no \(PeerBook.list(missing, "or")); a peer needs ae-title, host and port")
                }
                book.peers.append(Peer(name: name, aeTitle: aeTitle, host: host, port: port, notes: notes))
            }
            section = .none
            keys = [:]
            aeTitle = nil
            host = nil
            port = nil
            notes = ""
        }

        mutating func finish() throws(PeerBookError) -> PeerBook {
            try endSection()
            if sawSection {
                book.comments.closing = pendingComments
            } else {
                book.comments.opening = pendingComments
            }
            return book
        }

        func aeTitleValue(_ value: String, key: String) throws(PeerBookError) -> String {
            if let problem = PeerBook.aeTitleProblem(value, key: key) { throw fail(problem) }
            return value
        }

        func portValue(_ value: String, key: String) throws(PeerBookError) -> Int {
            // Digits only: no signs, no blanks; at most 5 of them keeps Int(_:) far from overflow.
            guard !value.isEmpty, value.utf8.count <= 5, value.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                  let port = Int(value), (1...65535).contains(port) else {
                throw fail("\(key) must be a number from 1 to 65535, found '\(PeerBook.shown(value))'")
            }
            return port
        }

        func textValue(_ value: String, key: String, required: Bool) throws(PeerBookError) -> String {
            if required && value.isEmpty { throw fail("\(key) has no value; give one, or leave the line out for the default") }
            if let problem = PeerBook.textProblem(value, what: key, required: required) { throw fail(problem) }
            return value
        }
    }

    // MARK: - Writing

    static let header = """
        # movescu console configuration: settings and the DICOM peers of the Peers pane.
        # Lines starting with '#' are comments. [settings] keys, all optional: calling-ae,
        # move-destination, port, output-directory, theme. Each [peer NAME] needs ae-title,
        # host and port; notes is optional. movescu rewrites this file when peers are
        # edited in the console; comments stay with the section they are in or above.

        """

    /// The header's lines, and those of earlier versions' headers.
    static let headerLines: Set<String> = Set(header.split(separator: "\n").map(String.init) + [
        "# edited in the console, and comments are not kept.",
    ])

    /// The whole book in the file format, with a header saying what the file is. What
    /// `problem` accepts reads back equal; `save(to:)` refuses anything else.
    public func serialize() -> String {
        func lines(_ comments: [String]) -> String { comments.map { $0 + "\n" }.joined() }
        // Our own header lines (this version's and earlier ones') are written anew; the
        // user's opening comments follow them.
        let opening = PeerBook.header + lines(comments.opening.filter { !PeerBook.headerLines.contains($0) })
        let settingsComments = comments.sections["settings"] ?? .init()
        var out = opening + "\n" + lines(settingsComments.before) + "[settings]\n" + lines(settingsComments.inside)
        if let value = settings.callingAE { out += "calling-ae = \(value)\n" }
        if let value = settings.moveDestination { out += "move-destination = \(value)\n" }
        if let value = settings.port { out += "port = \(value)\n" }
        if let value = settings.outputDirectory { out += "output-directory = \(value)\n" }
        if let value = settings.theme { out += "theme = \(value)\n" }
        for peer in peers {
            let peerComments = comments.sections[PeerBook.commentKey(peer: peer.name)] ?? .init()
            out += "\n" + lines(peerComments.before) + "[peer \(peer.name)]\n" + lines(peerComments.inside)
            out += "ae-title = \(peer.aeTitle)\n"
            out += "host = \(peer.host)\n"
            out += "port = \(peer.port)\n"
            if !peer.notes.isEmpty { out += "notes = \(peer.notes)\n" }
        }
        if !comments.closing.isEmpty { out += "\n" + lines(comments.closing) }
        return out
    }

    /// What is wrong with the book (the first thing found), or nil when it can be saved and
    /// read back unchanged.
    public var problem: String? {
        if let problem = settings.problem { return "settings: \(problem)" }
        let commentLines = comments.opening + comments.closing + comments.sections.values.flatMap { $0.before + $0.inside }
        if let bad = commentLines.first(where: { !$0.hasPrefix("#") || $0.unicodeScalars.contains("\n") }) {
            return "a comment line must start with '#' and hold no line break: '\(PeerBook.shown(bad))'"
        }
        var seen: Set<String> = []
        for peer in peers {
            if let problem = peer.problem { return problem }
            if !seen.insert(peer.name.lowercased()).inserted {
                return "two peers are named '\(PeerBook.shown(peer.name))'; peer names must differ, ignoring case"
            }
        }
        return nil
    }

    /// Writes the book to `path` so that readers see the old file or the new one, never a
    /// part: a temporary file in the same folder, flushed, then renamed over `path`. The
    /// folder is made (mode 0700) if missing. A file that exists keeps its permissions; a
    /// new one is 0600. When `path` is a symbolic link, the file it points to is replaced.
    public func save(to path: String) throws(PeerBookError) {
        func fail(_ reason: String) -> PeerBookError { PeerBookError(file: path, line: 0, reason: reason) }
        if let problem { throw fail("not saved: \(problem)") }

        var target = path
        var linkStatus = stat()
        if lstat(path, &linkStatus) == 0, linkStatus.st_mode & S_IFMT == S_IFLNK, let resolved = realpath(path, nil) {
            target = String(cString: resolved)
            free(resolved)
        }
        let url = URL(fileURLWithPath: target)
        let folder = url.deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: folder) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw fail("cannot make the folder \(folder) (\(error.localizedDescription))")
            }
        }

        var template = Array((folder + "/." + url.lastPathComponent + ".XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw fail("cannot make a temporary file in \(folder) (\(String(cString: strerror(errno))))") }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var isOpen = true
        var renamed = false
        defer {
            if isOpen { close(fd) }
            if !renamed { unlink(temporary) }
        }
        var existing = stat()
        if stat(target, &existing) == 0 { fchmod(fd, existing.st_mode & 0o7777) }

        let bytes = Array(serialize().utf8)
        let written: Int32 = bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return 0
        }
        if written != 0 { throw fail("cannot write \(temporary) (\(String(cString: strerror(written))))") }
        if fsync(fd) != 0 { throw fail("cannot flush \(temporary) (\(String(cString: strerror(errno))))") }
        isOpen = false
        if close(fd) != 0 { throw fail("cannot close \(temporary) (\(String(cString: strerror(errno))))") }
        if rename(temporary, target) != 0 { throw fail("cannot rename \(temporary) into place (\(String(cString: strerror(errno))))") }
        renamed = true
        // Make the rename itself durable; a failure here loses nothing already written.
        let folderFD = open(folder, O_RDONLY | O_CLOEXEC)
        if folderFD >= 0 {
            fsync(folderFD)
            close(folderFD)
        }
    }

    // MARK: - Changes from the console

    /// The peer called `name`, ignoring case.
    public func peer(named name: String) -> Peer? {
        index(of: name).map { peers[$0] }
    }

    func index(of name: String) -> Int? {
        let key = PeerBook.trim(name).lowercased()
        return peers.firstIndex { $0.name.lowercased() == key }
    }

    /// Appends `peer` (blanks trimmed, as the file reader would). Refused when it is not
    /// valid or its name is taken, ignoring case.
    public mutating func add(_ peer: Peer) throws(PeerBookError) {
        let peer = peer.trimmed
        if let problem = peer.problem { throw PeerBookError(file: "", line: 0, reason: problem) }
        if let taken = index(of: peer.name) {
            throw PeerBookError(file: "", line: 0,
                                reason: "a peer named '\(PeerBook.shown(peers[taken].name))' already exists; peer names must differ, ignoring case")
        }
        peers.append(peer)
    }

    /// Replaces the peer called `name` (ignoring case) with `peer`, in the same place. The
    /// name may change, but not to another peer's.
    public mutating func update(_ name: String, to peer: Peer) throws(PeerBookError) {
        guard let position = index(of: name) else {
            throw PeerBookError(file: "", line: 0, reason: "there is no peer named '\(PeerBook.shown(name))'")
        }
        let peer = peer.trimmed
        if let problem = peer.problem { throw PeerBookError(file: "", line: 0, reason: problem) }
        if let taken = index(of: peer.name), taken != position {
            throw PeerBookError(file: "", line: 0,
                                reason: "a peer named '\(PeerBook.shown(peers[taken].name))' already exists; peer names must differ, ignoring case")
        }
        let oldKey = PeerBook.commentKey(peer: peers[position].name), newKey = PeerBook.commentKey(peer: peer.name)
        if oldKey != newKey, let kept = comments.sections.removeValue(forKey: oldKey) {
            comments.sections[newKey] = kept
        }
        peers[position] = peer
    }

    /// Removes the peer called `name` (ignoring case) and returns it.
    @discardableResult
    public mutating func delete(_ name: String) throws(PeerBookError) -> Peer {
        guard let position = index(of: name) else {
            throw PeerBookError(file: "", line: 0, reason: "there is no peer named '\(PeerBook.shown(name))'")
        }
        comments.sections[PeerBook.commentKey(peer: peers[position].name)] = nil
        return peers.remove(at: position)
    }

    // MARK: - Value rules, shared by the reader and the checks on changes

    /// Blanks the reader drops around keys and values: space, tab and other space separators.
    static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator
    }

    static func trim(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isBlank($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isBlank($0) })!
        return String(scalars[first...last])
    }

    /// `text` for an error message: control characters as '?', long texts cut short.
    static func shown(_ text: String) -> String {
        let limit = 60
        let scalars = text.unicodeScalars
        let visible = scalars.prefix(limit).map { $0.properties.generalCategory == .control ? "?" : $0 }
        return String(String.UnicodeScalarView(visible)) + (scalars.count > limit ? "…" : "")
    }

    static func list(_ words: [String], _ last: String) -> String {
        words.count <= 1 ? words.joined() : words.dropLast().joined(separator: ", ") + " \(last) " + words.last!
    }

    /// Whether `text` can be a value (or a peer name): no control characters, nothing to trim,
    /// and not empty when `required`.
    static func textProblem(_ text: String, what: String, required: Bool) -> String? {
        if text.isEmpty { return required ? "\(what) must not be empty" : nil }
        if let control = text.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
            let code = String(control.value, radix: 16, uppercase: true)
            let padded = String(repeating: "0", count: max(0, 4 - code.count)) + code
            return "\(what) contains the control character U+\(padded); only printable text is allowed"
        }
        if trim(text) != text { return "\(what) begins or ends with blanks, found '\(shown(text))'" }
        return nil
    }

    static func aeTitleProblem(_ value: String, key: String) -> String? {
        if value.isEmpty { return "\(key) is empty; expected an AE title of 1 to \(AETitle.maximumLength) characters" }
        // Checked here as well as by AETitle, so that a huge value is not quoted whole.
        if value.unicodeScalars.count > AETitle.maximumLength {
            return "\(key) must be an AE title of at most \(AETitle.maximumLength) characters, found '\(shown(value))' (\(value.unicodeScalars.count))"
        }
        if let problem = AETitle.problem(with: value) { return "\(key) is not a valid AE title: \(problem)" }
        if trim(value) != value { return "\(key) begins or ends with blanks, found '\(shown(value))'" }
        return nil
    }

    static func hostProblem(_ value: String) -> String? {
        if value.isEmpty { return "host is empty; expected a host name or IP address" }
        if let problem = textProblem(value, what: "host", required: true) { return problem }
        if value.unicodeScalars.contains(where: isBlank) {
            return "host must be a host name or IP address without blanks, found '\(shown(value))'"
        }
        return nil
    }

    static func portProblem(_ value: Int, key: String) -> String? {
        (1...65535).contains(value) ? nil : "\(key) must be a number from 1 to 65535, found \(value)"
    }
}
