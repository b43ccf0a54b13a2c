import Foundation
import Synchronization
import Logging
import Retrieve

// receive-bench: our storage SCP alone (the one movescu retrieves with), for the receive
// benchmarks. Listens, prints "listening on <port>", writes what arrives to the folder, and
// exits once as many objects as asked for have been stored (or on SIGTERM), printing
// "stored <objects> <bytes> <failed>". Says on stderr when a slow write moves the writes to
// the thread pool.
//
//   receive-bench <output folder> <objects to wait for> [port [maximum PDU length]]

let arguments = CommandLine.arguments
guard arguments.count >= 3, let expected = Int(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: receive-bench <output folder> <objects to wait for> [port [maximum PDU length]]\n".utf8))
    exit(1)
}
AllocatorTuning.forLargeBlocks()
var configuration = RetrieveConfiguration()
configuration.storage.outputDirectory = arguments[1]
configuration.listenPort = arguments.count > 3 ? Int(arguments[3]) ?? 0 : 0
if arguments.count > 4 {
    guard let length = UInt32(arguments[4]), length >= 4096 else {
        FileHandle.standardError.write(Data("receive-bench: the maximum PDU length \(arguments[4]) is not a number of 4096 or more\n".utf8))
        exit(1)
    }
    configuration.maximumPDULength = length
}
configuration.moveDestination = "RECEIVER"
// The work runs in a task while the main thread waits on a semaphore: with top-level await the
// main thread would park in dispatch_main, whose sigsuspend valgrind 3.19 cannot follow (it
// stops with an internal error), and callgrind.sh runs this program under valgrind. Detached:
// a task of the main actor would wait for the main thread forever.
let quiet = Logger(label: "receive-bench") { _ in SwiftLogNoOpLogHandler() }
let finished = DispatchSemaphore(value: 0)
let failure = Mutex<String?>(nil)
let settings = configuration
Task.detached {
    defer { finished.signal() }
    do {
        try await receive(settings, expecting: expected, logger: quiet)
    } catch {
        failure.withLock { $0 = "\(error)" }
    }
}
finished.wait()
if let message = failure.withLock({ $0 }) {
    FileHandle.standardError.write(Data("receive-bench: \(message)\n".utf8))
    exit(1)
}

nonisolated func receive(_ configuration: RetrieveConfiguration, expecting expected: Int, logger: Logger) async throws {
    // Woken by the object that completes the count (or by SIGTERM), not by polling: a timer
    // every few milliseconds cost the receiver hundreds of wake-ups per second of receiving.
    let done = Countdown(expected)
    let service = try await StorageService.start(configuration, logger: logger) { event in
        switch event {
        case .objectStored, .objectFailed: done.countOne()
        case .writesMovedToThreadPool(let ms):
            // Said, so that a benchmark's slow round can be told from one where the disk was slow.
            FileHandle.standardError.write(Data("receive-bench: a write took \(ms) ms; writes move to the thread pool\n".utf8))
        default: break
        }
    }
    FileHandle.standardOutput.write(Data("listening on \(service.port)\n".utf8))
    signal(SIGTERM, SIG_IGN)
    let stop = DispatchSource.makeSignalSource(signal: SIGTERM)
    stop.setEventHandler { done.finish() }
    stop.resume()
    await done.wait()
    await service.stop()
    let s = service.stored
    FileHandle.standardOutput.write(Data("stored \(s.objects) \(s.bytes) \(s.failed)\n".utf8))
}

/// Counts objects down to zero; `wait` returns once there (or once finished early).
final class Countdown: Sendable {
    private struct State {
        var left: Int
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(left: count)) }

    func countOne() {
        state.withLock { $0.left -= 1; return $0.left <= 0 ? $0.waiter.take() : nil }?.resume()
    }

    func finish() {
        state.withLock { $0.left = 0; return $0.waiter.take() }?.resume()
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let early = state.withLock { s -> Bool in
                if s.left <= 0 { return true }
                s.waiter = continuation
                return false
            }
            if early { continuation.resume() }
        }
    }
}
