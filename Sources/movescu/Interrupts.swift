import Dispatch
import Foundation
import Retrieve
import Synchronization

/// Ctrl-C (SIGINT) in the headless tool: the first asks the SCP to stop with C-CANCEL, and
/// the association is then released as usual; a second aborts it.
enum Interrupts {
    static func install(control: RetrieveControl, frontEnd: BatchFrontEnd) -> DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        let count = Mutex(0)
        source.setEventHandler { @Sendable in
            let n = count.withLock { $0 += 1; return $0 }
            if n == 1 {
                frontEnd.log(.warn, "interrupted: cancelling the move (C-CANCEL); interrupt again to abort")
                control.cancel()
            } else {
                frontEnd.log(.warn, "interrupted again: aborting the association")
                control.abort()
            }
        }
        source.resume()
        return source
    }
}
