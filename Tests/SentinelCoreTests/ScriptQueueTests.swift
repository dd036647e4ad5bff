import SentinelCore
import Testing

/// Sentinel's script policy on a simulated clock: limits, retries with backoff, timeouts.
@Suite("Sentinel core: script queue")
struct ScriptQueueTests {
    @Test("at most 16 scripts run at once; the rest start as running ones end")
    func runningLimit() {
        var q = ScriptQueue()
        for i in 0..<20 { q.schedule(["/s", "\(i)"]) }
        let first = q.due(now: 0)
        #expect(first.count == 16)
        #expect(first.map { $0.argv[1] } == (0..<16).map(String.init))
        for (n, j) in first.enumerated() { q.started(j.id, pid: Int32(100 + n)) }
        #expect(q.due(now: 1).isEmpty)
        #expect(q.terminated(pid: 100, .exited(0), now: 2) == nil)
        let next = q.due(now: 3)
        #expect(next.map { $0.argv[1] } == ["16"])
        #expect(q.jobs.count == 19)
    }

    @Test("at most 256 queued: the oldest waiting job is dropped, never a running one")
    func queueLimit() {
        var q = ScriptQueue()
        q.schedule(["/s", "running"])
        let running = q.due(now: 0)
        q.started(running[0].id, pid: 1)
        for i in 0..<300 { q.schedule(["/s", "\(i)"]) }
        #expect(q.jobs.count == 256)
        #expect(q.jobs.first?.argv[1] == "running")
        #expect(q.jobs.dropFirst().first?.argv[1] == "45")
        #expect(q.jobs.last?.argv[1] == "299")
    }

    @Test("exit 1 is retried after 30 s, then 60 s, 120 s …, up to 10 runs, then -script-error")
    func retriesWithBackoff() {
        var q = ScriptQueue()
        q.schedule(["/notify", "+sdown", "master m 127.0.0.1 6379"])
        var now: Millis = 0
        var starts: [Millis] = []
        var event: SentinelEvent?
        for run in 1...10 {
            let due = q.due(now: now)
            #expect(due.count == 1, "run \(run)")
            guard let job = due.first else { return }
            starts.append(now)
            q.started(job.id, pid: 42)
            #expect(q.due(now: now).isEmpty)
            event = q.terminated(pid: 42, .exited(1), now: now + 5)
            if run < 10 {
                #expect(event == nil)
                let next = q.jobs[0].startTime
                #expect(q.due(now: next - 1).isEmpty, "not before its delay (run \(run))")
                now = next
            }
        }
        #expect(zip(starts, starts.dropFirst()).map { $1 - $0 } == [30_005, 60_005, 120_005, 240_005, 480_005, 960_005,
                                                           1_920_005, 3_840_005, 7_680_005])
        #expect(event == SentinelEvent(level: .warning, type: "-script-error", payload: "/notify 0 1"))
        #expect(q.jobs.isEmpty)
    }

    @Test("exit 2 is not retried and is reported; exit 0 ends quietly")
    func exitTwoGivesUp() {
        var q = ScriptQueue()
        q.schedule(["/a"])
        q.schedule(["/b"])
        let jobs = q.due(now: 0)
        q.started(jobs[0].id, pid: 1)
        q.started(jobs[1].id, pid: 2)
        #expect(q.terminated(pid: 1, .exited(2), now: 1) == SentinelEvent(level: .warning, type: "-script-error", payload: "/a 0 2"))
        #expect(q.terminated(pid: 2, .exited(0), now: 1) == nil)
        #expect(q.jobs.isEmpty)
    }

    @Test("a script running over 60 s is to be killed; killed by a signal, it is retried")
    func timeout() {
        var q = ScriptQueue()
        q.schedule(["/slow"])
        let job = q.due(now: 1_000)[0]
        q.started(job.id, pid: 7)
        #expect(q.timedOut(now: 61_000).isEmpty)
        let late = q.timedOut(now: 61_001)
        #expect(late.map(\.job.pid) == [7])
        #expect(late.first?.event == SentinelEvent(level: .warning, type: "-script-timeout", payload: "/slow 7"))
        #expect(q.terminated(pid: 7, .signalled(9), now: 61_002) == nil)
        let retryAt: Millis? = q.jobs.first?.startTime
        #expect(retryAt == Millis(91_002))
    }
}
