import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
@testable import DICOMNetwork

@Suite struct PDUCodecTests {
    /// pynetdicom's golden PDUs through the decoder, whole and byte by byte
    /// (ByteToMessageDecoderVerifier feeds both ways and checks leftovers).
    @Test func decoderVerifiedOnGoldenPDUs() throws {
        let names = ["a_associate_rq", "a_associate_ac", "a_associate_rj", "p_data_tf", "a_release_rq", "a_release_rp", "a_abort", "a_p_abort"]
        var pairs: [(ByteBuffer, [PDU])] = []
        for name in names {
            let bytes = try #require(pynetdicomPDUs[name], "\(name) (pip install pynetdicom)")
            let pdu = try #require(try PDU.decode(bytes[...], maximumLength: 1 << 20)).pdu
            pairs.append((ByteBuffer(bytes: bytes), [pdu]))
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            PDUDecoder(maximumLength: 16384)
        }
    }

    @Test func tooLongIsRefusedFromTheHeader() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PDUDecoder(maximumLength: 16384)))
        var buffer = channel.allocator.buffer(capacity: 6)
        buffer.writeBytes([0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: PDUError.tooLong(length: 0xFFFF_FFFF, maximum: 16384)) {
            try channel.writeInbound(buffer)
        }
        _ = try? channel.finish()
    }

    @Test func encoderWritesOnePDUPerBuffer() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(PDUEncoder()))
        try channel.writeOutbound(PDU.releaseRQ)
        let out = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(out.readableBytesView) == [0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])
        #expect(try channel.finish().isClean)
    }
}
