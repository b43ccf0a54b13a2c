import NIOCore

/// Runs a task's jobs on one channel's event loop, so that the task reading the channel's
/// PDUs is woken on the thread that received them instead of on another thread: one hand-over
/// between threads fewer per PDU. Only for services that never block (file I/O on the thread
/// pool); every await hands the thread back to the loop.
@available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *)
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: EventLoop

    init(_ eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
