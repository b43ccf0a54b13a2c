/// The protocol data units of the DICOM upper layer (PS3.8 section 9.3), as plain values.
/// An unknown PDU type decodes to `.unknown`, for the state machine to reject (Evt19).
public enum PDU: Equatable, Sendable {
    // Indirect: the association PDUs are large and rare. Inline they made every PDU 176
    // bytes, too large for the inline storage of the `Any` that NIO wraps each message of a
    // pipeline in, so each P-DATA-TF was copied into a heap box on its way up.
    indirect case associateRQ(AssociateRQ)
    indirect case associateAC(AssociateAC)
    case associateRJ(AssociateRJ)
    case pData(PDataTF)
    case releaseRQ
    case releaseRP
    case abort(Abort)
    case unknown(type: UInt8, body: [UInt8])

    /// PDU type codes, PS3.8 Table 9-11 and following.
    public enum TypeCode: UInt8, Sendable {
        case associateRQ = 0x01, associateAC = 0x02, associateRJ = 0x03, pData = 0x04
        case releaseRQ = 0x05, releaseRP = 0x06, abort = 0x07
    }

    /// The PDU's name as PS3.8 spells it.
    public var name: String {
        switch self {
        case .associateRQ: return "A-ASSOCIATE-RQ"
        case .associateAC: return "A-ASSOCIATE-AC"
        case .associateRJ: return "A-ASSOCIATE-RJ"
        case .pData: return "P-DATA-TF"
        case .releaseRQ: return "A-RELEASE-RQ"
        case .releaseRP: return "A-RELEASE-RP"
        case .abort: return "A-ABORT"
        case .unknown(let type, _): return "an unknown PDU of type 0x\(String(type, radix: 16, uppercase: true))"
        }
    }

    public var typeCode: UInt8 {
        switch self {
        case .associateRQ: return 0x01
        case .associateAC: return 0x02
        case .associateRJ: return 0x03
        case .pData: return 0x04
        case .releaseRQ: return 0x05
        case .releaseRP: return 0x06
        case .abort: return 0x07
        case .unknown(let type, _): return type
        }
    }

    /// The whole PDU: 6-byte header (type, reserved, 4-byte length) and body.
    public func encoded() -> [UInt8] {
        let body: [UInt8]
        switch self {
        case .associateRQ(let rq): body = rq.encodedBody()
        case .associateAC(let ac): body = ac.encodedBody()
        case .associateRJ(let rj): body = rj.encodedBody()
        case .pData(let p): body = p.encodedBody()
        case .releaseRQ, .releaseRP: body = [0, 0, 0, 0]
        case .abort(let a): body = a.encodedBody()
        case .unknown(_, let b): body = b
        }
        var w = PDUWriter()
        w.u8(typeCode)
        w.u8(0)
        w.u32(UInt32(body.count))
        w.append(body)
        return w.bytes
    }

    /// Decodes one PDU from the start of `bytes`.
    /// - Returns: the PDU and the bytes it took, or nil when more bytes are needed.
    /// - Throws: `PDUError.tooLong` when the header announces more than `maximumLength`
    ///   (checked before waiting for the body), `.malformed` for a body that does not parse.
    public static func decode(_ bytes: ArraySlice<UInt8>, maximumLength: UInt32) throws -> (pdu: PDU, consumed: Int)? {
        guard bytes.count >= 6 else { return nil }
        let s = bytes.startIndex
        let type = bytes[s]
        let length = UInt32(bytes[s + 2]) << 24 | UInt32(bytes[s + 3]) << 16 | UInt32(bytes[s + 4]) << 8 | UInt32(bytes[s + 5])
        // Association PDUs are not bound by the data transfer maximum (PS3.8 D.1), but still
        // by a sane limit.
        let limit = type == 0x04 || type > 0x07 ? maximumLength : max(maximumLength, 1 << 20)
        guard length <= limit else { throw PDUError.tooLong(length: length, maximum: limit) }
        guard bytes.count >= 6 + Int(length) else { return nil }
        let body = bytes[(s + 6)..<(s + 6 + Int(length))]
        let pdu: PDU
        switch type {
        case 0x01: pdu = .associateRQ(try AssociateRQ(body: body))
        case 0x02: pdu = .associateAC(try AssociateAC(body: body))
        case 0x03: pdu = .associateRJ(try AssociateRJ(body: body))
        case 0x04: pdu = .pData(try PDataTF(body: body))
        case 0x05, 0x06:
            guard body.count == 4 else { throw PDUError.malformed("A-RELEASE PDU with a body of \(body.count) bytes, not 4") }
            pdu = type == 0x05 ? .releaseRQ : .releaseRP
        case 0x07: pdu = .abort(try Abort(body: body))
        default: pdu = .unknown(type: type, body: Array(body))
        }
        return (pdu, 6 + Int(length))
    }
}
