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

    /// Columns a character takes on a terminal: 2 for East Asian wide and fullwidth ones,
    /// 1 otherwise (control characters are drawn as a dot).
    public static func columns(_ character: Character) -> Int {
        guard let scalar = character.unicodeScalars.first?.value else { return 1 }
        switch scalar {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
             0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
             0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
            return 2
        default:
            return 1
        }
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
            let wide = Grid.columns(character) == 2
            if column + (wide ? 2 : 1) > end { break }
            if column >= 0 {
                let printable = character.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F && !(0x80...0x9F).contains($0.value) }
                self[column, y] = Cell(text: printable ? String(character) : ".", role: role)
                if wide { self[column + 1, y] = Cell(text: "", role: role) }
            }
            column += wide ? 2 : 1
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
