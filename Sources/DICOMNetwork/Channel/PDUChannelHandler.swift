import NIOCore

/// Bytes in, PDUs out, and PDUs in, bytes out: `PDUDecoder` and `PDU.encoded()` on a channel.
///
/// It does what NIO's `ByteToMessageHandler` and `MessageToByteHandler` would do with them,
/// and no more: those are generic, and run from NIO's module unspecialized they looked up
/// type metadata and witness tables on every read (a tenth of the user time of receiving
/// from one sender went into them, the decoder aside). The decoder consumes every byte of a
/// P-DATA-TF as it arrives, so bytes are kept from one read to the next only while another
/// PDU's body is incomplete.
///
/// After a decoding error nothing more of the stream can be framed: the error goes to the
/// association handler (which aborts), and bytes that still arrive are dropped and end the
/// connection, as with NIO's handler.
public final class PDUChannelHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = PDU
    public typealias OutboundIn = PDU
    public typealias OutboundOut = ByteBuffer

    /// Raised for bytes that arrive after the stream could not be framed.
    public struct BytesAfterBadPDU: Error, CustomStringConvertible {
        public var description: String { "bytes arrived after a PDU that could not be decoded" }
    }

    private var decoder: PDUDecoder
    /// What a read left undecoded (part of a PDU other than P-DATA-TF), for the next read.
    private var rest: ByteBuffer?
    private var failed = false
    /// Set once the channel is inactive, also while PDUs of a read are being handed on: none
    /// goes up after it.
    private var inactive = false

    public init(maximumLength: UInt32) {
        decoder = PDUDecoder(maximumLength: maximumLength)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !inactive else { return }
        guard !failed else {
            context.fireErrorCaught(BytesAfterBadPDU())
            return
        }
        var buffer = unwrapInboundIn(data)
        if var earlier = rest {
            rest = nil
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        do {
            // Called only while bytes are left, as NIO's handler does.
            while buffer.readableBytes > 0, !inactive, let pdu = try decoder.decode(buffer: &buffer) {
                context.fireChannelRead(wrapInboundOut(pdu))
            }
        } catch {
            failed = true
            context.fireErrorCaught(error)
            return
        }
        if buffer.readableBytes > 0 { rest = buffer }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        inactive = true
        rest = nil
        context.fireChannelInactive()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Each PDU in one buffer, so that each goes out in one write.
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: unwrapOutboundIn(data).encoded())), promise: promise)
    }
}
