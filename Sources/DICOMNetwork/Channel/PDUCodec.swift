import NIOCore

/// Decodes PDUs from a TCP byte stream; nil while a PDU is incomplete. A PDU longer than
/// the maximum this side announced is an error raised from its header alone, before any of
/// its body is buffered.
public struct PDUDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = PDU

    /// The maximum P-DATA-TF length we announced (A-ASSOCIATE PDUs are allowed up to 1 MiB).
    public var maximumLength: UInt32

    public init(maximumLength: UInt32) {
        self.maximumLength = maximumLength
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> PDU? {
        guard buffer.readableBytes >= 6 else { return nil }
        // Only look at the header until the whole PDU is there.
        guard let header = buffer.getBytes(at: buffer.readerIndex, length: 6) else { return nil }
        let length = Int(header[2]) << 24 | Int(header[3]) << 16 | Int(header[4]) << 8 | Int(header[5])
        if buffer.readableBytes < 6 + length {
            _ = try PDU.decode(header[...], maximumLength: maximumLength)  // throws when too long
            return nil
        }
        guard let bytes = buffer.readBytes(length: 6 + length),
              let (pdu, _) = try PDU.decode(bytes[...], maximumLength: maximumLength) else {
            return nil
        }
        return pdu
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> PDU? {
        try decode(buffer: &buffer)
    }
}

/// Writes PDUs, each in one buffer (so each goes out in one write).
public struct PDUEncoder: MessageToByteEncoder {
    public typealias OutboundIn = PDU

    public init() {}

    public func encode(data: PDU, out: inout ByteBuffer) throws {
        out.writeBytes(data.encoded())
    }
}
