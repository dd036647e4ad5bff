/// Sentinel's script policy (`sentinelScheduleScriptExecution`, `sentinelRunPendingScripts`,
/// `sentinelCollectTerminatedScripts`, `sentinelKillTimedoutScripts`), without processes or a
/// clock: the shell starts, reaps and kills; this decides when.
///
/// At most `maxRunning` run at once and `maxQueued` wait (the oldest waiting job is dropped
/// beyond that); exit code 1 or death by a signal is retried up to `maxRetries` runs with a
/// delay of `retryDelay` doubling per retry; any other exit ends the job (non-zero ones with
/// `-script-error`); a job running longer than `maxRuntime` is to be killed (`-script-timeout`).
public struct ScriptQueue: Sendable {
    public struct Job: Sendable, Hashable, Identifiable {
        public let id: UInt64
        /// Path of the script, then its arguments.
        public let argv: [String]
        public internal(set) var isRunning = false
        public internal(set) var pid: Int32 = 0
        /// While running: when it started; while waiting: the earliest start (0: at once).
        public internal(set) var startTime: Millis = 0
        /// How many times it has been started.
        public internal(set) var retryNumber = 0
    }

    /// How a script process ended.
    public enum Termination: Sendable, Hashable {
        case exited(Int32)
        case signalled(Int32)
    }

    public var maxRunning = 16
    public var maxQueued = 256
    public var maxRetries = 10
    public var retryDelay: Millis = 30_000
    public var maxRuntime: Millis = 60_000
    public private(set) var jobs: [Job] = []
    private var nextID: UInt64 = 1

    public init() {}

    public var runningCount: Int { jobs.filter(\.isRunning).count }

    /// Queues a run of `argv` (to start at the next `due`).
    public mutating func schedule(_ argv: [String]) {
        jobs.append(Job(id: nextID, argv: argv))
        nextID += 1
        if jobs.count > maxQueued, let oldest = jobs.firstIndex(where: { !$0.isRunning }) {
            jobs.remove(at: oldest)
        }
    }

    /// Jobs to start now, in queue order, marked running; the shell reports each with
    /// `started` or `startFailed`.
    public mutating func due(now: Millis) -> [Job] {
        var out: [Job] = []
        var running = runningCount
        for i in jobs.indices where running < maxRunning && !jobs[i].isRunning && jobs[i].startTime <= now {
            jobs[i].isRunning = true
            jobs[i].startTime = now
            jobs[i].retryNumber += 1
            running += 1
            out.append(jobs[i])
        }
        return out
    }

    public mutating func started(_ id: UInt64, pid: Int32) {
        if let i = jobs.firstIndex(where: { $0.id == id }) { jobs[i].pid = pid }
    }

    /// The process could not be started: retried like an exit code 1; returns the
    /// `-script-error` payload when it gives up.
    public mutating func startFailed(_ id: UInt64, now: Millis) -> SentinelEvent? {
        finished(id, .exited(1), now: now, error: "-script-error")
    }

    /// A started process ended; returns `-script-error` when it failed for good.
    public mutating func terminated(pid: Int32, _ how: Termination, now: Millis) -> SentinelEvent? {
        guard let job = jobs.first(where: { $0.isRunning && $0.pid == pid }) else { return nil }
        return finished(job.id, how, now: now, error: "-script-error")
    }

    private mutating func finished(_ id: UInt64, _ how: Termination, now: Millis, error: String) -> SentinelEvent? {
        guard let i = jobs.firstIndex(where: { $0.id == id }) else { return nil }
        let retry: Bool
        var signal: Int32 = 0, code: Int32 = 0
        switch how {
        case .exited(let c): code = c; retry = c == 1
        case .signalled(let s): signal = s; retry = true
        }
        if retry && jobs[i].retryNumber < maxRetries {
            jobs[i].isRunning = false
            jobs[i].pid = 0
            jobs[i].startTime = now.saturatingPlus(delay(forRetry: jobs[i].retryNumber))
            return nil
        }
        let job = jobs.remove(at: i)
        guard signal != 0 || code != 0 else { return nil }
        return SentinelEvent(level: .warning, type: error, payload: "\(job.argv[0]) \(signal) \(code)")
    }

    /// `sentinelScriptRetryDelay`: retryDelay, doubled for each run after the first.
    public func delay(forRetry runs: Int) -> Millis {
        var d = retryDelay
        for _ in 1..<max(1, runs) { d = d.saturatingTimes(2) }
        return d
    }

    /// Running jobs past `maxRuntime`: the shell kills each (SIGKILL) and then reports its
    /// termination as usual. Each comes with its `-script-timeout` event.
    public func timedOut(now: Millis) -> [(job: Job, event: SentinelEvent)] {
        jobs.filter { $0.isRunning && $0.pid != 0 && now - $0.startTime > maxRuntime }.map {
            ($0, SentinelEvent(level: .warning, type: "-script-timeout", payload: "\($0.argv[0]) \($0.pid)"))
        }
    }
}
