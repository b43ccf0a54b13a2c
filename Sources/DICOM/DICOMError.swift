#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors of the DICOM core. Every case says what is wrong and where.
public enum DICOMError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bytes that do not decode: `offset` counts from the start of the stream given to the reader.
    case malformed(offset: Int, reason: String)
    /// The input ended in the middle of an element, item or sequence.
    case truncated(offset: Int, reason: String)
    /// A transfer syntax this reader or writer does not handle (compressed pixel data is fine;
    /// the syntax itself must be known).
    case unsupportedTransferSyntax(String)
    /// A data dictionary file (DCMDICTPATH) that cannot be read or parsed.
    case dictionary(file: String, line: Int, reason: String)
    /// A `-k` key or a sequence path that does not parse.
    case badKey(key: String, reason: String)
    /// Dump text that does not parse.
    case badDump(source: String, line: Int, reason: String)
    /// A file that cannot be opened, read or written.
    case io(path: String, reason: String)
    /// A value that cannot be encoded as asked.
    case encoding(String)
    /// A system call on a file or folder failed: `action` says what was tried ("cannot
    /// write"), `code` is the errno, kept so that callers can tell a full disk or a
    /// read-only file system from other failures.
    case fileSystem(path: String, action: String, code: Int32)

    /// The system's words for `code` ("No space left on device").
    public static func systemMessage(_ code: Int32) -> String { String(cString: strerror(code)) }

    public var description: String {
        switch self {
        case .malformed(let offset, let reason):
            return "malformed data set at byte \(offset): \(reason)"
        case .truncated(let offset, let reason):
            return "data set truncated at byte \(offset): \(reason)"
        case .unsupportedTransferSyntax(let uid):
            return "unsupported transfer syntax \(uid)"
        case .dictionary(let file, let line, let reason):
            return "data dictionary \(file), line \(line): \(reason)"
        case .badKey(let key, let reason):
            return "bad key '\(key)': \(reason)"
        case .badDump(let source, let line, let reason):
            return "\(source), line \(line): \(reason)"
        case .io(let path, let reason):
            return "\(path): \(reason)"
        case .encoding(let reason):
            return "cannot encode: \(reason)"
        case .fileSystem(let path, let action, let code):
            return "\(path): \(action) (\(DICOMError.systemMessage(code)))"
        }
    }
}
