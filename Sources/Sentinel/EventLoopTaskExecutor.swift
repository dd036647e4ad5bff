import NIOCore

/// Runs tasks on one event loop: the sentinel port's client connections run where the runtime and
/// its links run, so a peer's PUBLISH or PING is read, handled by the runtime and answered
/// without a thread hop (hundreds a second with many masters).
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
