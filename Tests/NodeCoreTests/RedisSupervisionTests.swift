import NodeCore
import Testing

/// `redis.supervise`: a restarted server never comes back as a master the group has replaced,
/// and never as a master while the group may still fail over.
@Suite("Node core: supervising the local Redis")
struct RedisSupervisionTests {
    let me = "10.0.0.1:6379", other = "10.0.0.2:6379"

    func supervision(hold: Int64 = 31_000) -> RedisSupervision {
        RedisSupervision(settings: RedisSupervision.Settings(myRedis: me, holdLimit: hold))
    }

    @Test("a replica's server (the group's master is another node) restarts at once, as that master's replica")
    func replicaRestarts() {
        var s = supervision()
        s.started(now: 0)
        #expect(s.decide(groupMaster: other, majorityContact: true, now: 100) == .running)
        s.exited(now: 60_000)  // ran a minute: not a failed start
        #expect(s.decide(groupMaster: other, majorityContact: true, now: 60_000) == .start(replicaOf: other))
    }

    @Test("the master's server that died is kept down while the group names it, and starts as the promoted replica's replica")
    func deadMasterWaitsForFailover() {
        var s = supervision(hold: 31_000)
        s.started(now: 0)
        s.exited(now: 60_000)
        for t in stride(from: Int64(60_000), to: 60_300, by: 50) {
            guard case .wait(let why) = s.decide(groupMaster: me, majorityContact: true, now: t) else {
                Issue.record("started at \(t) while the group still names this Redis its master")
                return
            }
            #expect(why.contains("still names this Redis"))
        }
        // The monitors promoted the other node: start as its replica, never as a master.
        #expect(s.decide(groupMaster: other, majorityContact: true, now: 60_300) == .start(replicaOf: other))
    }

    @Test("if no replica is promoted within the hold limit, the server starts as the master with its own data")
    func holdLimit() {
        var s = supervision(hold: 5_000)
        s.started(now: 0)
        s.exited(now: 20_000)
        #expect(s.decide(groupMaster: me, majorityContact: true, now: 20_000) != .start(replicaOf: nil))
        #expect(s.decide(groupMaster: me, majorityContact: true, now: 24_999) != .start(replicaOf: nil))
        #expect(s.decide(groupMaster: me, majorityContact: true, now: 25_000) == .start(replicaOf: nil))
    }

    @Test("past the hold limit, a dead master stays down while a replica answers (a split vote, a failover tried again); it starts as the promoted one's replica")
    func replicaAnswersKeepsMasterDown() {
        var s = supervision(hold: 5_000)
        s.started(now: 0)
        s.exited(now: 20_000)
        for t in stride(from: Int64(20_000), through: 80_000, by: 1_000) {
            let d = s.decide(groupMaster: me, majorityContact: true, replicaAnswers: true, now: t)
            #expect(d != .start(replicaOf: nil), "started as the master at \(t) over a replica that answers")
        }
        guard case .wait(let why) = s.decide(groupMaster: me, majorityContact: true, replicaAnswers: true, now: 80_100) else {
            Issue.record("expected a wait")
            return
        }
        #expect(why.contains("a replica answers"))
        #expect(s.decide(groupMaster: other, majorityContact: true, replicaAnswers: true, now: 81_000) == .start(replicaOf: other))
        // With no replica answering any more, the hold limit decides as before.
        var t = supervision(hold: 5_000)
        t.started(now: 0)
        t.exited(now: 20_000)
        #expect(t.decide(groupMaster: me, majorityContact: true, replicaAnswers: true, now: 20_000) != .start(replicaOf: nil))
        #expect(t.decide(groupMaster: me, majorityContact: true, replicaAnswers: true, now: 30_000) != .start(replicaOf: nil))
        #expect(t.decide(groupMaster: me, majorityContact: true, replicaAnswers: false, now: 30_100) == .start(replicaOf: nil))
    }

    @Test("no start without a majority in contact or without a known master (a rebooted node that sees nobody stays down)")
    func needsMajority() {
        var s = supervision()
        #expect(s.decide(groupMaster: other, majorityContact: false, now: 0) == .wait("no contact with a majority of the group: its master is not known"))
        #expect(s.decide(groupMaster: nil, majorityContact: true, now: 0) == .wait("the group has no master yet"))
        // The hold counts only while the group is known: time without majority contact does
        // not bring the master's start nearer.
        _ = s.decide(groupMaster: me, majorityContact: true, now: 1_000)
        _ = s.decide(groupMaster: me, majorityContact: false, now: 40_000)
        #expect(s.decide(groupMaster: me, majorityContact: true, now: 40_100) != .start(replicaOf: nil))
        #expect(s.decide(groupMaster: other, majorityContact: true, now: 40_200) == .start(replicaOf: other))
    }

    @Test("a server that dies right after each start is restarted with a doubling delay, capped")
    func backoff() {
        var s = supervision()
        var t: Int64 = 0
        var delays: [Int64] = []
        for _ in 0..<8 {
            s.started(now: t)
            t += 100
            s.exited(now: t)
            // Find when the next start is allowed.
            var next = t
            while s.decide(groupMaster: other, majorityContact: true, now: next) != .start(replicaOf: other) { next += 50 }
            delays.append(next - t)
            t = next
        }
        #expect(delays == [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000])
        // After a run longer than stableAfter, the next exit restarts at once again.
        s.started(now: t)
        s.exited(now: t + 20_000)
        #expect(s.decide(groupMaster: other, majorityContact: true, now: t + 20_000) == .start(replicaOf: other))
        // A spawn that failed outright backs off too.
        var f = supervision()
        f.startFailed(now: 0)
        #expect(f.decide(groupMaster: other, majorityContact: true, now: 100) != .start(replicaOf: other))
        #expect(f.decide(groupMaster: other, majorityContact: true, now: 500) == .start(replicaOf: other))
    }
}
