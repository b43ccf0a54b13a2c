import Foundation

/// A terminal colour: the terminal's default, one of the 16 named ones, or 0...255.
public enum ThemeColor: Equatable, Sendable {
    case terminalDefault
    case index(Int)

    static let names = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]

    init?(_ word: String) {
        let word = word.lowercased()
        if word == "default" { self = .terminalDefault; return }
        if let i = ThemeColor.names.firstIndex(of: word) { self = .index(i); return }
        if word.hasPrefix("bright"), let i = ThemeColor.names.firstIndex(of: String(word.dropFirst(6))) { self = .index(i + 8); return }
        if let n = Int(word), (0...255).contains(n) { self = .index(n); return }
        return nil
    }
}

/// How one role is drawn.
public struct ThemeStyle: Equatable, Sendable {
    public var foreground: ThemeColor = .terminalDefault
    public var background: ThemeColor = .terminalDefault
    public var bold = false
    public var underline = false
    public var reverse = false
    public var dim = false
    public init() {}

    /// The same style without colours, for terminals without them and NO_COLOR.
    public var withoutColor: ThemeStyle {
        var style = self
        style.foreground = .terminalDefault
        style.background = .terminalDefault
        return style
    }
}

public struct ThemeError: Error, Equatable, CustomStringConvertible {
    public var source: String
    public var line: Int
    public var reason: String
    public var description: String { line > 0 ? "\(source), line \(line): \(reason)" : "\(source): \(reason)" }
}

/// A console theme. The file format (themes/*.theme) is one setting a line:
///
///     # a comment
///     name = High contrast
///     header = black on brightwhite, bold
///     failure = brightred, bold, underline
///
/// A role takes a foreground colour, optionally `on` a background colour, then attributes
/// (bold, underline, reverse, dim), separated by commas. Colours: default, the eight names,
/// the same with `bright` in front, or 0-255. Roles not named keep the default theme's style.
public struct Theme: Equatable, Sendable {
    public var name: String
    public var styles: [StyleRole: ThemeStyle]

    public subscript(role: StyleRole) -> ThemeStyle { styles[role] ?? ThemeStyle() }

    /// No role uses a colour.
    public var isMonochrome: Bool {
        StyleRole.allCases.allSatisfy { self[$0].foreground == .terminalDefault && self[$0].background == .terminalDefault }
    }

    public static func parse(_ text: String, source: String, base: Theme? = nil) throws -> Theme {
        var theme = base ?? Theme(name: source, styles: [:])
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            func fail(_ reason: String) -> ThemeError { ThemeError(source: source, line: number + 1, reason: reason) }
            guard let equals = line.firstIndex(of: "=") else { throw fail("expected 'role = style', found '\(line)'") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if key == "name" {
                theme.name = value
                continue
            }
            guard let role = StyleRole.allCases.first(where: { $0.rawValue.lowercased() == key }) else {
                throw fail("unknown role '\(key)' (roles: \(StyleRole.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            var style = ThemeStyle()
            for (index, part) in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }).enumerated() {
                switch part.lowercased() {
                case "bold": style.bold = true
                case "underline": style.underline = true
                case "reverse": style.reverse = true
                case "dim": style.dim = true
                case "": throw fail("an empty item in '\(value)'")
                default:
                    guard index == 0 else { throw fail("unknown attribute '\(part)' (bold, underline, reverse, dim)") }
                    let words = part.split(separator: " ").map(String.init)
                    guard let fg = ThemeColor(words[0]) else { throw fail("unknown colour '\(words[0])'") }
                    style.foreground = fg
                    if words.count == 3, words[1].lowercased() == "on", let bg = ThemeColor(words[2]) {
                        style.background = bg
                    } else if words.count != 1 {
                        throw fail("expected 'colour' or 'colour on colour', found '\(part)'")
                    }
                }
            }
            theme.styles[role] = style
        }
        return theme
    }

    /// The built-in themes by name (their text is also in themes/ in the repository).
    public static var builtIn: [String: Theme] {
        var themes: [String: Theme] = [:]
        let base = try! Theme.parse(BuiltInThemes.texts["default"]!, source: "default")
        for (name, text) in BuiltInThemes.texts {
            themes[name] = try! Theme.parse(text, source: name, base: base)
        }
        return themes
    }

    public static var standard: Theme { builtIn["default"]! }

    /// Where users keep their own themes: $XDG_CONFIG_HOME/movescu/themes, or
    /// ~/.config/movescu/themes.
    public static func userFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty { return xdg + "/movescu/themes" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.config/movescu/themes"
    }

    /// `--theme NAME|PATH`: a path (with a '/' or ending in .theme) is read; a name is looked
    /// up in the user folder, then among the built-in ones. Failing that, the error says why
    /// and the caller falls back to the default.
    public static func load(_ nameOrPath: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Theme {
        let base = standard
        func read(_ path: String) throws -> Theme {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ThemeError(source: path, line: 0, reason: "cannot be read")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ThemeError(source: path, line: 0, reason: "is not UTF-8 text")
            }
            return try parse(text, source: path, base: base)
        }
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".theme") { return try read(nameOrPath) }
        let user = userFolder(environment: environment) + "/\(nameOrPath).theme"
        if FileManager.default.fileExists(atPath: user) { return try read(user) }
        if let theme = builtIn[nameOrPath] { return theme }
        throw ThemeError(source: nameOrPath, line: 0,
                         reason: "no such theme (built in: \(builtIn.keys.sorted().joined(separator: ", ")); yours go in \(userFolder(environment: environment)))")
    }
}
