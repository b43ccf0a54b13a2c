/// What a cell is drawn as: a role that the theme maps to colours and attributes.
public enum StyleRole: String, CaseIterable, Sendable {
    case normal, header, title, border, focus, selected, hint, key, dim
    case success, warning, failure, pending, progress, progressEmpty
}

/// One character cell. A wide character (CJK, fullwidth) fills its cell and the next, which
/// holds an empty continuation.
public struct Cell: Equatable, Sendable {
    public var text: String
    public var role: StyleRole
    public init(text: String = " ", role: StyleRole = .normal) {
        self.text = text
        self.role = role
    }
    public var isContinuation: Bool { text.isEmpty }
}

/// The screen as the console draws it: a grid of cells, rendered without curses, so that
/// tests read it as text and the terminal backend only copies it out.
public struct Grid: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int, role: StyleRole = .normal) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Cell(role: role), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { cells[y * width + x] = newValue }
    }

    /// Columns one scalar takes on a terminal: 0 for marks and format characters that join
    /// the one before (accents, ZWJ, variation selectors, zero-width space), 2 for East Asian
    /// wide and fullwidth ones and emoji, 1 otherwise.
    public static func columns(_ scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        switch value {
        case 0x1160...0x11FF, 0xD7B0...0xD7FB:  // Hangul vowels and final consonants join the syllable before
            return 0
        case 0x1F1E6...0x1F1FF:  // regional indicators: one column each for wcwidth, and so for curses
            return 1
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
             0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
             0xFFE0...0xFFE6, 0x20000...0x3FFFD:
            return 2
        default:
            // Emoji drawn as emoji by default; those drawn as text (a thermometer) take one.
            return scalar.properties.isEmojiPresentation ? 2 : 1
        }
    }

    /// What a cell shows for a character, and its columns (0: nothing is shown). A character
    /// is one grapheme; curses gives it the columns of its scalars added up. Emoji sequences
    /// (joined by ZWJ, flags, skin tones), on which terminals and curses disagree, and
    /// anything wider than two columns show their first scalar only, so that a row of wire
    /// text (a patient's name) never ends up wider than the grid thinks. A lone zero-width
    /// character shows nothing; control characters show as a dot.
    public static func display(_ character: Character) -> (text: String, columns: Int) {
        let scalars = character.unicodeScalars
        guard scalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F && !(0x80...0x9F).contains($0.value) }) else {
            return (".", 1)
        }
        let visible = scalars.filter { columns($0) > 0 }
        guard let first = visible.first else { return ("", 0) }
        let total = visible.reduce(0) { $0 + columns($1) }
        let emojiSequence = scalars.contains("\u{200D}") || visible.filter { $0.properties.isEmoji && $0.value > 0xFF }.count > 1
        if total <= 2 && !emojiSequence { return (String(character), total) }
        return (String(first), columns(first))
    }

    /// Columns a character takes where the grid draws it.
    public static func columns(_ character: Character) -> Int {
        display(character).columns
    }

    /// Columns a string takes.
    public static func columns(_ text: String) -> Int {
        text.reduce(0) { $0 + columns($1) }
    }

    /// Writes `text` from (x, y), clipped to `limit` columns and the grid; returns the
    /// columns used. Control characters become dots: text from the wire never moves the cursor.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, role: StyleRole = .normal, limit: Int? = nil) -> Int {
        guard y >= 0, y < height, x < width else { return 0 }
        let end = min(width, x + (limit ?? width))
        var column = x
        for character in text {
            let (shown, columns) = Grid.display(character)
            guard columns > 0 else { continue }
            if column + columns > end { break }
            if column >= 0 {
                self[column, y] = Cell(text: shown, role: role)
                if columns == 2 { self[column + 1, y] = Cell(text: "", role: role) }
            }
            column += columns
        }
        return column - x
    }

    /// Fills a rectangle with blanks of a role.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, role: StyleRole) {
        for row in max(0, y)..<min(height, y + h) {
            for column in max(0, x)..<min(width, x + w) {
                self[column, row] = Cell(role: role)
            }
        }
    }

    /// A box with a title in its top edge.
    public mutating func box(x: Int, y: Int, width w: Int, height h: Int, title: String, role: StyleRole = .border, titleRole: StyleRole = .title) {
        guard w >= 2, h >= 2 else { return }
        put("┌" + String(repeating: "─", count: w - 2) + "┐", x: x, y: y, role: role)
        for row in (y + 1)..<(y + h - 1) {
            put("│", x: x, y: row, role: role)
            put("│", x: x + w - 1, y: row, role: role)
        }
        put("└" + String(repeating: "─", count: w - 2) + "┘", x: x, y: y + h - 1, role: role)
        if !title.isEmpty { put(" \(title) ", x: x + 2, y: y, role: titleRole, limit: w - 4) }
    }

    /// One row as text (continuations skipped), trailing blanks kept.
    public func row(_ y: Int) -> String {
        var out = ""
        for x in 0..<width where !self[x, y].isContinuation { out += self[x, y].text }
        return out
    }

    /// The whole grid as text, one line a row, trailing blanks removed: what a test reads.
    public var text: String {
        (0..<height).map { row($0).replacing(/\s+$/, with: "") }.joined(separator: "\n")
    }
}
