import CNcursesw
import Console
import Foundation

/// The console's terminal through ncursesw: the only code that touches curses. It copies a
/// grid onto the screen (curses sends only what changed), maps style roles to colour pairs
/// from the theme, and reads keys with a timeout.
public final class CursesTerminal: ConsoleTerminal {
    private var attributes: [StyleRole: (attr_t, Int16)] = [:]
    private var closed = false
    public let colors: Bool

    /// Starts curses on the terminal. `useColor` false (NO_COLOR, or a monochrome choice)
    /// draws with attributes only; so does a terminal that has no colours.
    public init(theme: Theme, useColor: Bool) {
        setlocale(LC_ALL, "")
        // The screen is drawn in UTF-8 (boxes, names); a C or POSIX locale would turn every
        // such character into escapes, so take C.UTF-8 for the character type then.
        if let codeset = nl_langinfo(nl_item(CODESET)), String(cString: codeset) != "UTF-8" {
            setlocale(LC_CTYPE, "C.UTF-8")
        }
        initscr()
        // raw, not cbreak: Ctrl-C arrives as a key (cancel), not as a signal that kills
        // the process with the terminal still in curses mode.
        raw()
        noecho()
        nonl()
        intrflush(cncurses_stdscr(), false)
        keypad(cncurses_stdscr(), true)
        curs_set(0)
        set_escdelay(25)
        var colors = false
        if useColor && has_colors() {
            start_color()
            use_default_colors()
            colors = true
        }
        self.colors = colors
        // Without colours the monochrome theme draws selection and progress with attributes.
        apply(colors ? theme : (theme.isMonochrome ? theme : Theme.builtIn["monochrome"] ?? theme))
    }

    /// Sets the colour pair and attributes of every role.
    public func apply(_ theme: Theme) {
        var pair: Int16 = 1
        for role in StyleRole.allCases {
            var style = theme[role]
            if !colors { style = style.withoutColor }
            var attribute: attr_t = 0
            if style.bold { attribute |= cncurses_bold() }
            if style.underline { attribute |= cncurses_underline() }
            if style.reverse { attribute |= cncurses_reverse() }
            if style.dim { attribute |= cncurses_dim() }
            var usedPair: Int16 = 0
            if colors, Int(pair) < Int(cncurses_color_pairs()) {
                init_pair(pair, Self.number(style.foreground), Self.number(style.background))
                usedPair = pair
                pair += 1
            }
            attributes[role] = (attribute, usedPair)
        }
        clearok(cncurses_stdscr(), true)
    }

    private static func number(_ color: ThemeColor) -> Int16 {
        switch color {
        case .terminalDefault: return -1
        case .index(let n): return n < Int(cncurses_colors()) ? Int16(n) : Int16(n % 8)
        }
    }

    public var size: (width: Int, height: Int) {
        (Int(cncurses_cols()), Int(cncurses_lines()))
    }

    public func draw(_ grid: Grid) {
        let width = min(grid.width, size.width), height = min(grid.height, size.height)
        for y in 0..<height {
            var x = 0
            // Runs of cells with one role go out as one string.
            while x < width {
                let role = grid[x, y].role
                var text = ""
                let start = x
                while x < width, grid[x, y].role == role {
                    text += grid[x, y].text
                    x += 1
                }
                // The last cell of the screen is drawn too; curses may report ERR for the
                // cursor moving past it, which is harmless.
                let (attribute, pair) = attributes[role] ?? (0, 0)
                var scalars = Array(text.unicodeScalars.map { wchar_t(bitPattern: $0.value) })
                scalars.append(0)
                _ = cncurses_put(Int32(y), Int32(start), scalars, attribute, pair)
            }
        }
        refresh()
    }

    public func read(timeout milliseconds: Int) -> TerminalInput? {
        timeout(Int32(milliseconds))
        var character: wint_t = 0
        let kind = get_wch(&character)
        if kind == ERR {
            // A terminal whose connection dropped answers every read at once, with nothing:
            // without this the console would spin on it for ever (seen after a lost tmux).
            var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 0) > 0, descriptor.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return .hangup }
            return nil
        }
        if kind == KEY_CODE_YES {
            let code = Int32(character)
            if code == cncurses_key_resize() { return .resize }
            switch code {
            case KEY_UP: return .key(.up)
            case KEY_DOWN: return .key(.down)
            case KEY_LEFT: return .key(.left)
            case KEY_RIGHT: return .key(.right)
            case KEY_PPAGE: return .key(.pageUp)
            case KEY_NPAGE: return .key(.pageDown)
            case KEY_HOME: return .key(.home)
            case KEY_END: return .key(.end)
            case KEY_ENTER: return .key(.enter)
            case KEY_BACKSPACE: return .key(.backspace)
            case KEY_DC: return .key(.delete)
            case KEY_BTAB: return .key(.backTab)
            case KEY_F0 + 1...KEY_F0 + 12: return .key(.function(Int(code - KEY_F0)))
            default: return nil
            }
        }
        switch character {
        case 9: return .key(.tab)
        case 10, 13: return .key(.enter)
        case 27: return .key(.escape)
        case 8, 127: return .key(.backspace)
        default:
            guard let scalar = Unicode.Scalar(UInt32(character)) else { return nil }
            if scalar.value < 0x20 { return .key(.control(Character(Unicode.Scalar(scalar.value + 0x60)!))) }
            return .key(.character(Character(scalar)))
        }
    }

    /// Gives the terminal back as it was.
    public func close() {
        guard !closed else { return }
        closed = true
        endwin()
    }

    deinit { close() }
}
