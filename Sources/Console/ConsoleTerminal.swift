/// What the console reads from a terminal.
public enum TerminalInput: Equatable, Sendable {
    case key(ConsoleKey)
    /// The terminal changed size; the next frame is drawn at the new size.
    case resize
    /// The terminal is gone (its connection dropped): the console ends, aborting what runs.
    case hangup
}

/// A terminal the console draws on. The curses backend (module Terminal) is the real one;
/// tests use a grid-keeping fake. Used from one thread only: the console's loop.
public protocol ConsoleTerminal: AnyObject {
    /// Columns and rows now.
    var size: (width: Int, height: Int) { get }
    /// Shows the grid (only what changed needs to reach the screen).
    func draw(_ grid: Grid)
    /// Waits up to `milliseconds` for input; nil when none came.
    func read(timeout milliseconds: Int) -> TerminalInput?
}
