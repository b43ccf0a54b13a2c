import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Asks the kernel to acknowledge what arrived at once instead of delaying the ACK.
///
/// A sender that writes a small PDU (a C-STORE command) and then another small one (its data
/// set) without TCP_NODELAY, as DCMTK's dcmqrscp and storescu do unless TCP_NODELAY is in
/// their environment, holds the second write back (Nagle) until the first is acknowledged;
/// Linux delays that ACK by up to 40 ms, so every small object costs 40 ms. Quick ACKs remove
/// the wait. TCP_QUICKACK does not stay set, so it is set again after each read. Elsewhere
/// than on Linux this does nothing.
final class QuickAckHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The channel's options, taken once: getting them instantiates generic metadata in NIO,
    /// which cost as much as the rest of the call when done after every read.
    private var options: (any NIOSynchronousChannelOptions)?

    #if os(Linux)
    private static let quickAck = ChannelOptions.Types.SocketOption(level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_TCP)),
                                                                    name: NIOBSDSocket.Option(rawValue: CInt(TCP_QUICKACK)))
    #endif

    func handlerAdded(context: ChannelHandlerContext) {
        options = context.channel.syncOptions
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        #if os(Linux)
        _ = try? options?.setOption(QuickAckHandler.quickAck, value: 1)
        #endif
        context.fireChannelReadComplete()
    }
}
