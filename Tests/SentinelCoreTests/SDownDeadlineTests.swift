@testable import SentinelCore
import Testing

/// `SentinelBehaviour.sdownAtDeadline`: the shell wakes the core at the millisecond a master's
/// down-after runs out (`nextSDownDeadline`, input `.sdownDeadline`) instead of the next tick.
@Suite("Sentinel core: SDOWN at the deadline")
struct SDownDeadlineTests {
    typealias G = SimulatedGroup

    static func sdowns(_ actions: [SentinelAction]) -> [SentinelEvent] {
        actions.compactMap { if case .publish(let e) = $0, e.type == "+sdown" { return e } else { return nil } }
    }

    /// A group run until the master stops answering and sentinel 0 has a PING pending.
    static func hungMaster(_ behaviour: SentinelBehaviour) -> G {
        var g = G(replicas: 1, behaviour: behaviour)
        g.run(for: 3_000)
        g.pause(G.masterPort(0))
        g.step()
        g.step()
        return g
    }

    @Test("a hung master is SDOWN the millisecond after its oldest unanswered PING is down-after old, and the peers are asked then")
    func atTheDeadline() throws {
        var g = Self.hungMaster(SentinelBehaviour())
        let pending = try #require(g.sentinels[0].state.masters[G.masterName]?.instance.pingPendingSince)
        let deadline = try #require(g.sentinels[0].state.nextSDownDeadline())
        #expect(deadline == pending + 1_000 + 1)
        // The group runs on (its timer ticks every 100 ms) up to the last tick before it.
        while g.time(of: 0) + 100 < deadline { g.step() }
        var s = g.sentinels[0].state
        #expect(s.nextSDownDeadline() == deadline && s.masters[G.masterName]?.instance.isSDown == false)
        // Not a millisecond early (down-after is "more than"), at once at the deadline.
        #expect(Self.sdowns(s.handle(.sdownDeadline, now: deadline - 1)).isEmpty)
        let actions = s.handle(.sdownDeadline, now: deadline)
        #expect(Self.sdowns(actions).map(\.payload).contains { $0.hasPrefix("master mymaster") })
        // askOnSDown: the peers are asked in the same step, as at a tick.
        #expect(actions.contains { if case .askMasterState = $0 { return true } else { return false } })
        #expect(s.masters[G.masterName]?.instance.sdownSince == deadline)
        // SDOWN now: no deadline left for it.
        #expect(s.nextSDownDeadline() == nil)
    }

    @Test("a reply before the deadline moves it: the deadline input then changes nothing")
    func replyMovesIt() throws {
        var g = Self.hungMaster(SentinelBehaviour())
        let deadline = try #require(g.sentinels[0].state.nextSDownDeadline())
        while g.time(of: 0) + 100 < deadline { g.step() }
        var s = g.sentinels[0].state
        _ = s.handle(.pingReply(.master(G.masterName), .pong), now: deadline - 10)
        #expect(s.nextSDownDeadline() == nil || s.nextSDownDeadline()! > deadline)
        #expect(Self.sdowns(s.handle(.sdownDeadline, now: deadline)).isEmpty)
        #expect(s.masters[G.masterName]?.instance.isSDown == false)
        g.resume(G.masterPort(0))
    }

    @Test("a link down with no PING pending has no deadline: the sentinels would all be SDOWN, and stand, in one millisecond")
    func linkDown() throws {
        var g = G(replicas: 1)
        g.run(for: 3_000)
        var s = g.sentinels[0].state
        _ = s.handle(.pingReply(.master(G.masterName), .pong), now: g.now)
        #expect(s.masters[G.masterName]?.instance.pingPendingSince == nil)
        _ = s.handle(.linkDown(.master(G.masterName)), now: g.now + 5)
        #expect(s.nextSDownDeadline() == nil)
        // The tick still finds it SDOWN after down-after.
        let actions = s.handle(.tick, now: g.now + 5 + 1_001)
        #expect(!Self.sdowns(actions).isEmpty)
    }

    @Test("7.0's timing has no deadline: SDOWN waits for the tick", arguments: [false, true])
    func redis70(_ switchOnly: Bool) {
        var behaviour = SentinelBehaviour()
        if switchOnly { behaviour.sdownAtDeadline = false } else { behaviour = .redis70 }
        let g = Self.hungMaster(behaviour)
        var s = g.sentinels[0].state
        #expect(s.nextSDownDeadline() == nil)
        let late = (s.masters[G.masterName]?.instance.pingPendingSince ?? 0) + 5_000
        #expect(Self.sdowns(s.handle(.sdownDeadline, now: late)).isEmpty)
    }

    @Test("woken late (the process stopped while it slept toward the deadline): the tick decides, with its stall credit")
    func wokenLate() throws {
        let g = Self.hungMaster(SentinelBehaviour())
        var s = g.sentinels[0].state
        let deadline = try #require(s.nextSDownDeadline())
        let previous = try #require(s.previousTick)
        let late = max(deadline, previous + 501)
        #expect(Self.sdowns(s.handle(.sdownDeadline, now: late)).isEmpty)
        #expect(s.masters[G.masterName]?.instance.isSDown == false)
    }

    @Test("in TILT there is no deadline")
    func tilt() {
        var g = Self.hungMaster(SentinelBehaviour())
        var s = g.sentinels[0].state
        _ = s.handle(.tick, now: g.now + 3_000)  // a 3 s gap: TILT
        #expect(s.isTilted)
        #expect(s.nextSDownDeadline() == nil)
        g.step()
    }
}
