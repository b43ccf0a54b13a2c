import Foundation
import Synchronization
import Logging
import Retrieve

// receive-bench: our storage SCP alone (the one movescu retrieves with), for the receive
// benchmarks. Listens, prints "listening on <port>", writes what arrives to the folder, and
// exits once as many objects as asked for have been stored (or on SIGTERM), printing
// "stored <objects> <bytes> <failed>".
//
//   receive-bench <output folder> <objects to wait for> [port]

let arguments = CommandLine.arguments
guard arguments.count >= 3, let expected = Int(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: receive-bench <output folder> <objects to wait for> [port]\n".utf8))
    exit(1)
}
AllocatorTuning.forLargeBlocks()
var configuration = RetrieveConfiguration()
configuration.storage.outputDirectory = arguments[1]
configuration.listenPort = arguments.count > 3 ? Int(arguments[3]) ?? 0 : 0
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
    let service = try await StorageService.start(configuration, logger: logger)
    FileHandle.standardOutput.write(Data("listening on \(service.port)\n".utf8))
    signal(SIGTERM, SIG_IGN)
    let stop = DispatchSource.makeSignalSource(signal: SIGTERM)
    let stopped = Mutex(false)
    stop.setEventHandler { stopped.withLock { $0 = true } }
    stop.resume()
    while service.stored.objects + service.stored.failed < expected && !stopped.withLock({ $0 }) {
        try await Task.sleep(for: .milliseconds(2))
    }
    await service.stop()
    let s = service.stored
    FileHandle.standardOutput.write(Data("stored \(s.objects) \(s.bytes) \(s.failed)\n".utf8))
}
