/// One line of text being edited: the prompt the console shows for a value, a key, a path.
public struct LineEditor: Equatable, Sendable {
    public var label: String
    public private(set) var text: [Character]
    public private(set) var cursor: Int
    /// Keyword completion from the data dictionary (for the part before '=').
    public var completesKeywords: Bool
    /// Candidates for the word at the cursor, after Tab.
    public private(set) var candidates: [String] = []

    public init(label: String, text: String = "", completesKeywords: Bool = false) {
        self.label = label
        self.text = Array(text)
        cursor = self.text.count
        self.completesKeywords = completesKeywords
    }

    public var string: String { String(text) }

    public enum Outcome: Equatable, Sendable { case editing, accepted(String), cancelled }

    /// Applies a key; says whether the line was accepted or cancelled.
    public mutating func handle(_ key: ConsoleKey, keywords: () -> [String] = { [] }) -> Outcome {
        switch key {
        case .enter: return .accepted(string)
        case .escape: return .cancelled
        case .character(let c):
            // A combining mark or joiner typed after a character merges with it; the text
            // is re-read as characters so that the cursor always counts the same units.
            text.insert(c, at: cursor)
            let before = String(text[0..<(cursor + 1)])
            text = Array(String(text))
            cursor = min(text.count, Array(before).count)
            candidates = []
        case .backspace:
            if cursor > 0 { text.remove(at: cursor - 1); cursor -= 1 }
            candidates = []
        case .delete:
            if cursor < text.count { text.remove(at: cursor) }
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(text.count, cursor + 1)
        case .home, .control("a"): cursor = 0
        case .end, .control("e"): cursor = text.count
        case .control("u"):
            text.removeSubrange(0..<cursor)
            cursor = 0
        case .control("k"): text.removeSubrange(cursor..<text.count)
        case .tab where completesKeywords: complete(keywords())
        default: break
        }
        return .editing
    }

    /// Completes the keyword being typed (after the last '.', before any '='): to the one
    /// match, or to the longest prefix all matches share, listing them.
    mutating func complete(_ keywords: [String]) {
        let before = text[0..<cursor]
        guard !before.contains("=") else { return }
        let offset = before.lastIndex(of: ".").map { $0 + 1 } ?? 0
        let word = String(text[offset..<cursor])
        guard !word.isEmpty else { return }
        let matches = keywords.filter { $0.lowercased().hasPrefix(word.lowercased()) }
        guard let first = matches.first else { candidates = []; return }
        var common = first
        for match in matches.dropFirst() {
            while !match.lowercased().hasPrefix(common.lowercased()) { common.removeLast() }
        }
        let replacement = matches.count == 1 ? first : (common.count >= word.count ? common : word)
        text.replaceSubrange(offset..<cursor, with: Array(replacement))
        cursor = offset + replacement.count
        candidates = matches.count == 1 ? [] : matches
    }
}
