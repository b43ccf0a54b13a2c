import DICOM

/// A-ASSOCIATE-RJ (type 0x03), PS3.8 Table 9-21.
public struct AssociateRJ: Equatable, Sendable {
    /// 1 rejected-permanent, 2 rejected-transient.
    public var result: UInt8
    /// 1 service-user, 2 service-provider (ACSE), 3 service-provider (presentation).
    public var source: UInt8
    public var reason: UInt8

    public init(result: UInt8, source: UInt8, reason: UInt8) {
        self.result = result
        self.source = source
        self.reason = reason
    }

    func encodedBody() -> [UInt8] { [0, result, source, reason] }

    init(body: ArraySlice<UInt8>) throws {
        guard body.count == 4 else { throw PDUError.malformed("A-ASSOCIATE-RJ with a body of \(body.count) bytes, not 4") }
        let s = body.startIndex
        self.init(result: body[s + 1], source: body[s + 2], reason: body[s + 3])
    }

    public var resultText: String {
        switch result {
        case 1: return "Rejected Permanent"
        case 2: return "Rejected Transient"
        default: return "Result \(result)"
        }
    }

    public var sourceText: String {
        switch source {
        case 1: return "Service User"
        case 2: return "Service Provider (ACSE)"
        case 3: return "Service Provider (Presentation)"
        default: return "Source \(source)"
        }
    }

    public var reasonText: String {
        switch (source, reason) {
        case (1, 1): return "No Reason Given"
        case (1, 2): return "Application Context Name Not Supported"
        case (1, 3): return "Calling AE Title Not Recognized"
        case (1, 7): return "Called AE Title Not Recognized"
        case (2, 1): return "No Reason Given"
        case (2, 2): return "Protocol Version Not Supported"
        case (3, 1): return "Temporary Congestion"
        case (3, 2): return "Local Limit Exceeded"
        default: return "Reason \(reason)"
        }
    }
}

/// A-ABORT (type 0x07), PS3.8 Table 9-26.
public struct Abort: Equatable, Sendable {
    /// 0 service-user, 2 service-provider.
    public var source: UInt8
    /// For the provider: 0 not specified, 1 unrecognized PDU, 2 unexpected PDU,
    /// 4 unrecognized PDU parameter, 5 unexpected PDU parameter, 6 invalid PDU parameter value.
    public var reason: UInt8

    public init(source: UInt8, reason: UInt8) {
        self.source = source
        self.reason = reason
    }

    func encodedBody() -> [UInt8] { [0, 0, source, reason] }

    init(body: ArraySlice<UInt8>) throws {
        guard body.count == 4 else { throw PDUError.malformed("A-ABORT with a body of \(body.count) bytes, not 4") }
        let s = body.startIndex
        self.init(source: body[s + 2], reason: body[s + 3])
    }
}

/// One presentation data value: a fragment of a command or data set (PS3.8 9.3.5.1, Annex E).
public struct PresentationDataValue: Equatable, Sendable {
    public var contextID: UInt8
    public var isCommand: Bool
    public var isLast: Bool
    /// The bytes; a received data PDV's may be a view of the receive buffer (no copy).
    public var payload: ByteChunk

    public init(contextID: UInt8, isCommand: Bool, isLast: Bool, data: [UInt8]) {
        self.init(contextID: contextID, isCommand: isCommand, isLast: isLast, payload: ByteChunk(data))
    }

    public init(contextID: UInt8, isCommand: Bool, isLast: Bool, payload: ByteChunk) {
        self.contextID = contextID
        self.isCommand = isCommand
        self.isLast = isLast
        self.payload = payload
    }

    /// The bytes as an array (a copy when they are a view).
    public var data: [UInt8] {
        get { payload.array }
        set { payload = ByteChunk(newValue) }
    }

    var messageControlHeader: UInt8 { (isCommand ? 0x01 : 0) | (isLast ? 0x02 : 0) }
}

/// P-DATA-TF (type 0x04).
public struct PDataTF: Equatable, Sendable {
    public var values: [PresentationDataValue]

    public init(values: [PresentationDataValue]) { self.values = values }

    func encodedBody() -> [UInt8] {
        var w = PDUWriter()
        for value in values {
            w.u32(UInt32(value.payload.count + 2))
            w.u8(value.contextID)
            w.u8(value.messageControlHeader)
            w.append(value.payload)
        }
        return w.bytes
    }

    init(body: ArraySlice<UInt8>) throws {
        var r = PDUReader(body, what: "P-DATA-TF")
        values = []
        while !r.isAtEnd {
            let length = Int(try r.u32("PDV length"))
            try PDataTF.checkItem(length: length, left: r.remaining)
            let id = try r.u8("presentation context ID")
            let header = try r.u8("message control header")
            try PDataTF.checkControlHeader(header)
            values.append(PresentationDataValue(contextID: id, isCommand: header & 1 != 0, isLast: header & 2 != 0,
                                                data: Array(try r.take(length - 2, "PDV data"))))
        }
        if values.isEmpty { throw PDataTF.noValues }
    }

    static let noValues = PDUError.malformed("P-DATA-TF without any presentation data value")

    /// A PDV item's length against the bytes `left` in its PDU after the length field (the
    /// checks both decoders make).
    static func checkItem(length: Int, left: Int) throws {
        guard length >= 2 else { throw PDUError.malformed("P-DATA-TF: a PDV of length \(length), less than its 2-byte header") }
        guard left >= length else {
            throw PDUError.malformed("P-DATA-TF: a PDV of length \(length) with \(left) byte(s) left in the PDU")
        }
    }

    static func checkControlHeader(_ header: UInt8) throws {
        guard header & 0xFC == 0 else {
            throw PDUError.malformed("P-DATA-TF: message control header 0x\(String(header, radix: 16)) has reserved bits set")
        }
    }
}
