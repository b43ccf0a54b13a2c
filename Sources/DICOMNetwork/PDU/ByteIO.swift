/// Big-endian byte writing and reading for PDUs (PS3.8 9.3: all PDU fields are big endian).
struct PDUWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) }
    mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(v >> 24)); bytes.append(UInt8(v >> 16 & 0xFF))
        bytes.append(UInt8(v >> 8 & 0xFF)); bytes.append(UInt8(v & 0xFF))
    }
    mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }
    mutating func append(_ b: some Collection<UInt8>) { bytes.append(contentsOf: b) }

    /// An AE title field: 16 bytes, space padded.
    mutating func aeTitle(_ title: String) {
        var b = Array(title.utf8.prefix(16))
        b += repeatElement(0x20, count: 16 - b.count)
        bytes.append(contentsOf: b)
    }

    /// An item: type, reserved, 2-byte length, then what `body` writes.
    mutating func item(_ type: UInt8, _ body: (inout PDUWriter) -> Void) {
        u8(type); u8(0)
        let lengthAt = bytes.count
        u16(0)
        let start = bytes.count
        body(&self)
        let length = bytes.count - start
        bytes[lengthAt] = UInt8(length >> 8 & 0xFF)
        bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }
}

struct PDUReader {
    let bytes: ArraySlice<UInt8>
    var position: Int
    /// What is being read, for error messages.
    let what: String

    init(_ bytes: ArraySlice<UInt8>, what: String) {
        self.bytes = bytes
        self.position = bytes.startIndex
        self.what = what
    }

    var remaining: Int { bytes.endIndex - position }
    var isAtEnd: Bool { position >= bytes.endIndex }

    func need(_ n: Int, _ field: String) throws {
        if remaining < n {
            throw PDUError.malformed("\(what): \(field) needs \(n) byte(s), \(remaining) left")
        }
    }
    mutating func u8(_ field: String) throws -> UInt8 {
        try need(1, field)
        defer { position += 1 }
        return bytes[position]
    }
    mutating func u16(_ field: String) throws -> UInt16 {
        try need(2, field)
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }
    mutating func u32(_ field: String) throws -> UInt32 {
        try need(4, field)
        defer { position += 4 }
        return UInt32(bytes[position]) << 24 | UInt32(bytes[position + 1]) << 16
            | UInt32(bytes[position + 2]) << 8 | UInt32(bytes[position + 3])
    }
    mutating func take(_ n: Int, _ field: String) throws -> ArraySlice<UInt8> {
        try need(n, field)
        defer { position += n }
        return bytes[position..<(position + n)]
    }
    mutating func skip(_ n: Int, _ field: String) throws { _ = try take(n, field) }

    /// Text with trailing spaces and NULs removed (AE titles, UIDs).
    mutating func text(_ n: Int, _ field: String) throws -> String {
        let raw = try take(n, field)
        var end = raw.endIndex
        while end > raw.startIndex, raw[end - 1] == 0x20 || raw[end - 1] == 0 { end -= 1 }
        var start = raw.startIndex
        while start < end, raw[start] == 0x20 { start += 1 }
        return String(decoding: raw[start..<end], as: UTF8.self)
    }

    /// Items: type, reserved, 2-byte length, body.
    mutating func items(_ field: String) throws -> [(type: UInt8, body: ArraySlice<UInt8>)] {
        var result: [(UInt8, ArraySlice<UInt8>)] = []
        while !isAtEnd {
            let type = try u8("\(field) item type")
            try skip(1, "\(field) item reserved byte")
            let length = Int(try u16("\(field) item length"))
            guard remaining >= length else {
                throw PDUError.malformed("\(what): \(field) item 0x\(String(type, radix: 16)) has length \(length), \(remaining) byte(s) left")
            }
            result.append((type, try take(length, "\(field) item")))
        }
        return result
    }
}

/// Errors decoding PDUs. Every case says what is wrong.
public enum PDUError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    /// A PDU longer than the maximum this side announced.
    case tooLong(length: UInt32, maximum: UInt32)

    public var description: String {
        switch self {
        case .malformed(let reason): return "malformed PDU: \(reason)"
        case .tooLong(let length, let maximum): return "PDU of \(length) bytes exceeds the maximum of \(maximum)"
        }
    }
}
