import DICOM

/// The names received objects get: DCMTK's `<prefix>.<SOP Instance UID>`, where both come
/// from the C-STORE command. A UID from the wire is data: only a valid UID (digits and dots)
/// ever becomes part of a path.
public enum ObjectNaming {
    public static func fileName(sopClassUID: String, sopInstanceUID: String) -> String? {
        guard isValidUID(sopInstanceUID) else { return nil }
        return UIDTable.filePrefix(forSOPClass: sopClassUID) + "." + sopInstanceUID
    }

    /// A UID with the trailing spaces or NULs some senders pad with removed (-up).
    public static func unpadded(_ uid: String) -> String {
        var s = Substring(uid)
        while let last = s.last, last == " " || last == "\0" { s = s.dropLast() }
        return String(s)
    }
}
