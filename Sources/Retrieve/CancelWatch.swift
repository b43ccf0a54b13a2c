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

    /// Sends the request, then watches for the operator's cancel and abort: only once it
    /// is out (a C-CANCEL between its command and its data set would break the message). A
    /// cancel asked for before (while connecting, say) goes out in the same write, right behind
    /// the request: sent by the watch's task after the request's write, it went out only once
    /// a busy machine got round to that task, by which time a fast archive had sent
    /// everything. `early` says whether it did. No watch without a control.
    static func send(_ request: DIMSEMessage, dataSet: [UInt8], control: RetrieveControl?, association: AssociationRequestor,
                     messageID: UInt16, contextID: UInt8, sent: @escaping @Sendable () -> Void,
                     failed: @escaping @Sendable (String) -> Void) async throws -> (watch: CancelWatch?, early: Bool) {
        let early = control.map { !$0.abortRequested && $0.takeCancel() } ?? false
        var messages: [(DIMSEMessage, [UInt8]?)] = [(request, dataSet)]
        if early {
            sent()
            messages.append((.cancelRQ(CCancelRQ(messageIDBeingRespondedTo: messageID)), nil))
        }
        try await association.send(messages, contextID: contextID)
        let watch = control.map {
            CancelWatch(control: $0, association: association, messageID: messageID, contextID: contextID,
                        alreadySent: early, sent: sent, failed: failed)
        }
        return (watch, early)
    }

    /// Starts watching, once the request is out (a C-CANCEL between its command and its data
    /// set would break the message).
    /// - Parameters:
    ///   - alreadySent: the request went out with a C-CANCEL behind it.
    ///   - sent: told just before the C-CANCEL goes out.
    ///   - failed: told why, when it could not be sent.
    private init(control: RetrieveControl, association: AssociationRequestor, messageID: UInt16, contextID: UInt8,
                 alreadySent: Bool, sent: @escaping @Sendable () -> Void, failed: @escaping @Sendable (String) -> Void) {
        let (stream, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.control = control
        self.wake = wake
        let flags = self.flags
        flags.state.withLock { $0.sent = alreadySent }
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
