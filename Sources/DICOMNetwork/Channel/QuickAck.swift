import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Asks the kernel to acknowledge what arrived at once instead of delaying the ACK, once the
/// peer is seen to wait for ACKs.
///
/// A sender that writes a small PDU (a C-STORE command) and then another small one (its data
/// set) without TCP_NODELAY, as DCMTK's dcmqrscp and storescu do unless TCP_NODELAY is in
/// their environment, holds the second write back (Nagle) until the first is acknowledged;
/// Linux delays that ACK by up to 40 ms, so every small object costs 40 ms. Quick ACKs remove
/// the wait. TCP_QUICKACK does not stay set, so it is set again after each read.
///
/// A sender with TCP_NODELAY never waits for our ACKs, and there each of those calls only
/// costs (a system call and an ACK packet per read: 4% of the CPU time of receiving from
/// storescu). So quick ACKs start once the connection has been quiet for `stall` after a
/// read, which is what a sender held back by Nagle looks like (it sends the rest when the
/// delayed ACK comes, 40 ms later); from then on they are set after every read, as before.
/// A pause of the peer's own (an archive reading its disk) switches them on too, which costs
/// no more than having them on from the start. Elsewhere than on Linux this does nothing.
final class QuickAckHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// How long the connection may be quiet after a read before the peer is taken to wait
    /// for our ACK.
    static let stall = TimeAmount.milliseconds(5)

    /// The channel's options, taken once: getting them instantiates generic metadata in NIO,
    /// which cost as much as the rest of the call when done after every read.
    private var options: (any NIOSynchronousChannelOptions)?
    /// Set after every read from now on.
    private(set) var quickAcks = false
    /// Reads so far, for the watch to tell whether one came while it waited.
    private var reads = 0
    private var watch: Scheduled<Void>?

    #if os(Linux)
    private static let quickAck = ChannelOptions.Types.SocketOption(level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_TCP)),
                                                                    name: NIOBSDSocket.Option(rawValue: CInt(TCP_QUICKACK)))
    #endif

    func handlerAdded(context: ChannelHandlerContext) {
        options = context.channel.syncOptions
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watch?.cancel()
        watch = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        watch?.cancel()
        watch = nil
        context.fireChannelInactive()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if quickAcks {
            askForQuickAck()
        } else {
            reads &+= 1
            if watch == nil { startWatch(context: context) }
        }
        context.fireChannelReadComplete()
    }

    /// Waits `stall`: when no read came meanwhile, the peer may be waiting for an ACK, so one
    /// goes out now, and after every read from then on. Otherwise it waits again (one timer
    /// every `stall` while data flows, none once quick ACKs are on).
    private func startWatch(context: ChannelHandlerContext) {
        let seen = reads
        watch = context.eventLoop.assumeIsolated().scheduleTask(in: QuickAckHandler.stall) { [self] in
            watch = nil
            guard context.channel.isActive else { return }
            guard reads == seen else {
                startWatch(context: context)
                return
            }
            quickAcks = true
            askForQuickAck()
        }
    }

    private func askForQuickAck() {
        #if os(Linux)
        _ = try? options?.setOption(QuickAckHandler.quickAck, value: 1)
        #endif
    }
}
