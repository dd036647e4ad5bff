import Logging
import NIOCore
import SentinelCore

#if canImport(Glibc)
import Glibc
#endif

/// The timer: sentinelTimer's tick at 10–20 Hz and, with `SentinelBehaviour.sdownAtDeadline`,
/// a wake-up at a master's SDOWN deadline — a task scheduled on the actor's own event loop.
extension SentinelRuntime {
    /// Sets the timer's next wake-up on the actor's loop: the next tick (Sentinel's hz is 10 +
    /// rand()%10, re-drawn each tick, to desynchronise peers) or, sooner, a master's down-after
    /// running out before it (`SentinelBehaviour.sdownAtDeadline`: checked then, not up to
    /// 100 ms later). A deadline the last wake-up did not clear is left to the tick (no busy
    /// loop). A task scheduled on the loop, not a Swift task sleeping on the global executor:
    /// the wake-up is the loop's own epoll timeout, with no hop between threads (with hundreds
    /// of masters the sleeping task's two hops per tick were a third of the process's wake-ups).
    func scheduleTimer() {
        guard !timerStopped else { return }
        var deadline = state.nextSDownDeadline()
        if let d = deadline, let last = lastDeadline, d <= last { deadline = nil }
        let wake = deadline.map { min(startedAt + .milliseconds($0), nextTick) } ?? nextTick
        let atDeadline = wake < nextTick ? deadline : nil
        timer = loop.scheduleTask(in: TimeAmount(max(.zero, ContinuousClock.now.duration(to: wake)))) { [weak self] in
            self?.assumeIsolated { $0.timerFired(atDeadline: atDeadline) }
        }
    }

    /// The timer's wake-up: the SDOWN deadline `atDeadline`, or a tick; then the next one.
    private func timerFired(atDeadline: Millis?) {
        guard !timerStopped else { return }
        if let atDeadline {
            lastDeadline = atDeadline
            input(.sdownDeadline)
        } else {
            tick()
            nextTick = ContinuousClock.now + .milliseconds(Int.random(in: 50...100))
        }
        scheduleTimer()
    }

    /// One timer tick: the core's timer, then the scripts.
    func tick() {
        if simulatedCrashDue {
            logger.warning("Sentinel: SIMULATED failure! Crashing!")
            exit(99)
        }
        clients.update {
            let stats = $0.stats
            $0.samples.sample(stats, now: .now)
        }
        input(.tick)
        runScripts()
        closeIdleClients()
    }
}
