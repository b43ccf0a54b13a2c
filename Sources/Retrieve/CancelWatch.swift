import DICOMNetwork
import Synchronization

/// Watches a `RetrieveControl` while the responses to a find or a move come in: sends one
/// C-CANCEL when a cancel is asked for, aborts the association when an abort is; neither
/// after `stop()`. Woken by the control, never polling.
final class CancelWatch: Sendable {
    private final class Flags: Sendable {
        let state = Mutex((stopped: false, sent: false))
    }
    private let flags = Flags()
    private let control: RetrieveControl
    private let wake: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - sent: told just before the C-CANCEL goes out.
    ///   - failed: told why, when it could not be sent.
    init(control: RetrieveControl, association: AssociationRequestor, messageID: UInt16, contextID: UInt8,
         sent: @escaping @Sendable () -> Void, failed: @escaping @Sendable (String) -> Void) {
        let (stream, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.control = control
        self.wake = wake
        let flags = self.flags
        Task {
            for await _ in stream {
                if control.abortRequested {
                    if flags.state.withLock({ $0.stopped }) { return }
                    association.abort()
                    return
                }
                guard control.takeCancel() else { continue }
                let send = flags.state.withLock { s -> Bool in
                    guard !s.stopped && !s.sent else { return false }
                    s.sent = true
                    return true
                }
                guard send else { continue }
                sent()
                do {
                    try await association.send(.cancelRQ(CCancelRQ(messageIDBeingRespondedTo: messageID)), contextID: contextID)
                } catch {
                    // The receiving side sees the broken association and reports it.
                    failed("\(error)")
                }
            }
        }
        control.observe { wake.yield() }
        // Whatever was asked for between the request and now.
        wake.yield()
    }

    var sent: Bool { flags.state.withLock { $0.sent } }

    /// Ends the watch (the loop ends when the stream does); later requests are left for
    /// whoever looks next.
    func stop() {
        let first = flags.state.withLock { s -> Bool in
            defer { s.stopped = true }
            return !s.stopped
        }
        guard first else { return }
        control.observe(nil)
        wake.finish()
    }
}
