/// Application entity titles (PS3.5 Table 6.2-1, VR AE): at most 16 characters of the default
/// repertoire, no control characters, no backslash; leading and trailing spaces are not
/// significant, and a title of spaces only is no title.
public enum AETitle {
    public static let maximumLength = 16

    /// What is wrong with `title`, or nil when it is a valid AE title.
    public static func problem(with title: String) -> String? {
        let trimmed = title.trimmingSpaces
        if trimmed.isEmpty { return "an AE title must not be empty or spaces only" }
        if title.unicodeScalars.count > maximumLength {
            return "\"\(printable(title))\" is \(title.unicodeScalars.count) characters long; an AE title has at most \(maximumLength)"
        }
        for scalar in title.unicodeScalars {
            if scalar == "\\" { return "\"\(printable(title))\" contains a backslash, which an AE title must not" }
            if scalar.value < 0x20 || scalar.value > 0x7E {
                return "\"\(printable(title))\" contains the character U+\(String(scalar.value, radix: 16, uppercase: true)), which an AE title must not (printable ASCII only)"
            }
        }
        return nil
    }

    public static func isValid(_ title: String) -> Bool { problem(with: title) == nil }

    /// `title` with control and non-ASCII characters shown as `?`, for log lines: a title
    /// from the wire is data, never terminal control.
    public static func printable(_ title: String) -> String {
        String(String.UnicodeScalarView(title.unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7F ? $0 : "?" }))
    }
}

extension String {
    /// Without leading and trailing spaces (only U+0020, as DICOM pads).
    var trimmingSpaces: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " }) else { return "" }
        let last = scalars.lastIndex(where: { $0 != " " })!
        return String(scalars[first...last])
    }
}
