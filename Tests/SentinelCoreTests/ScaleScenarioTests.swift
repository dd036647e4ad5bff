import SentinelCore
import Testing

/// Many masters watched by one set of sentinels (issue 19): the failover of one master while
/// hundreds of others stay monitored, and the PING periods that keep that cheap.
@Suite("Sentinel core: many masters")
struct ScaleScenarioTests {
    typealias G = SimulatedGroup

    @Test("500 masters: one crashes and fails over as alone; the other 499 are left as they were",
          .timeLimit(.minutes(5)))
    func fiveHundredMasters() throws {
        let groups = 500
        var g = G(replicas: 1, groups: groups)
        // Long enough for every sentinel to see each master's replica (first INFO) and its peers (hellos).
        g.run(for: 4_000)
        for s in g.sentinels {
            #expect(s.state.masters.count == groups)
            #expect(s.state.masters.values.allSatisfy { $0.replicas.count == 1 && $0.sentinels.count == 2 && !$0.instance.isSDown })
        }
        let crashed = 123
        let name = G.masterName(crashed)
        let replica = G.addr(G.masterPort(crashed) + 1)
        let crashedAt = g.now
        g.crash(G.masterPort(crashed))
        let took = g.run(until: 30_000) { g in
            g.sentinels.indices.allSatisfy { g.advertisedMaster($0, master: name) == replica }
                && g.sentinels.allSatisfy { $0.state.masters[name]!.failoverState == .none }
        }
        let elapsed = try #require(took, "the sentinels did not converge on the promoted replica")
        #expect(g.promotions.count == 1)
        #expect(g.promotions.first?.address == replica)
        // As fast as with one master: promoted shortly after down-after (1 s).
        let promotedAfter = try #require(g.promotions.first).at - crashedAt
        #expect(promotedAfter <= 1_300, "promoted \(promotedAfter) ms after the crash")
        #expect(elapsed <= 2_000)
        // Nothing happened to any other master.
        // (WARNING events, each followed by a notification-script run naming its master.)
        for type in ["+sdown", "+odown", "+try-failover", "+switch-master"] {
            #expect(!g.notifications.filter { $0.event.type == type }.isEmpty, "\(type)")
            let others = g.notifications.filter { $0.event.type == type && $0.master != name }
            #expect(others.isEmpty, "\(type): \(others.prefix(3).map(\.event.payload))")
        }
        #expect(g.events("+switch-master").count == 3)
        for s in g.sentinels {
            let untouched = s.state.masters.values.filter { $0.name != name }
            #expect(untouched.allSatisfy { $0.configEpoch == 0 && $0.failoverState == .none && !$0.instance.isSDown })
        }
    }

    @Test("a replica of a healthy master is PINGed at 7.0's period, at the fast period once the master is SDOWN")
    func replicaPingPeriod() throws {
        // Quorum 4 of 3 sentinels: the master stays SDOWN without a failover taking the replica away.
        var g = G(replicas: 1, quorum: 4)
        g.run(for: 5_000)
        g.recordPings = true
        g.run(for: 5_000)
        let replica = InstanceRef.replica(master: G.masterName, G.addr(6380))
        func pings(_ ref: InstanceRef, by i: Int, from start: Millis) -> Int {
            g.pings.filter { $0.by == i && $0.ref == ref && $0.at > start }.count
        }
        // 5 s: the master at every tick its fast period allows (replies here come at once, so
        // every other 100 ms tick), its replica about every second.
        let healthyStart = g.now - 5_000
        #expect(pings(.master(G.masterName), by: 0, from: healthyStart) >= 20)
        #expect((4...6).contains(pings(replica, by: 0, from: healthyStart)))
        g.crash(6379)
        try #require(g.run(until: 3_000) { $0.sentinels[0].state.masters[G.masterName]!.instance.isSDown } != nil)
        let sdownAt = g.now
        g.run(for: 1_000)
        #expect(pings(replica, by: 0, from: sdownAt) >= 4)
        #expect(g.sentinels[0].state.masters[G.masterName]!.replicas.count == 1)
    }

    @Test("a peer watching many masters with us is PINGed once per period, not once per master")
    func peerPingsShared() {
        let groups = 20
        var g = G(replicas: 1, behaviour: .redis70, groups: groups)
        g.run(for: 5_000)
        g.recordPings = true
        g.run(for: 10_000)
        func isPeer(_ ref: InstanceRef) -> Bool {
            if case .sentinel = ref { return true }
            return false
        }
        let toPeers = g.pings.filter { $0.by == 0 && isPeer($0.ref) }
        // Two peers, one PING each per second: about 20 in 10 s (not 20 × 20).
        #expect((16...24).contains(toPeers.count), "\(toPeers.count) PINGs to peers")
        for s in g.sentinels {
            #expect(s.state.masters.values.allSatisfy { m in m.sentinels.values.allSatisfy { !$0.isSDown } })
        }
        // A peer that stops answering goes SDOWN under every master it watches.
        g.sentinels[1].alive = false
        g.run(for: 3_000)
        let peer = g.sentinels[1].state.myID
        #expect(g.sentinels[0].state.masters.values.allSatisfy { $0.sentinels[peer]?.isSDown == true })
    }

    @Test("a PING carries the INFO and the hello due within half its period: one write per instance where 7.0 makes up to three, at the same periods")
    func rideAlong() {
        func run(_ behaviour: SentinelBehaviour) -> (writes: Int, hellos: Int, infos: Int, alone: Int) {
            var g = G(replicas: 1, behaviour: behaviour)
            g.run(for: 5_000)
            g.recordPings = true
            g.run(for: 20_000)
            let replica = InstanceRef.replica(master: G.masterName, G.addr(6380))
            let toReplica = g.sent.filter { $0.by == 0 && $0.ref == replica }
            let pingTimes = Set(toReplica.filter { $0.command == "PING" }.map(\.at))
            // Commands given to one link in one tick leave in one write (the shell's flush).
            let writes = Set(toReplica.map(\.at)).count
            let alone = toReplica.filter { $0.command != "PING" && !pingTimes.contains($0.at) }.count
            return (writes, toReplica.filter { $0.command == "PUBLISH" }.count, toReplica.filter { $0.command == "INFO" }.count, alone)
        }
        var without = SentinelBehaviour()
        without.periodicRideAlong = false
        let on = run(SentinelBehaviour())
        let off = run(without)
        // The hello stays about every 2 s and INFO every 10 s (never twice as often)...
        #expect((9...11).contains(on.hellos), "\(on.hellos) hellos in 20 s")
        #expect((2...3).contains(on.infos), "\(on.infos) INFO in 20 s")
        #expect((9...11).contains(off.hellos) && (2...3).contains(off.infos))
        // ...but each goes out with a PING: fewer writes than without riding along.
        #expect(on.alone == 0, "\(on.alone) commands sent without a PING")
        #expect(off.alone > 0)
        #expect(on.writes < off.writes, "writes \(on.writes) with, \(off.writes) without")
        // 7.0's timing is kept as it is.
        #expect(!SentinelBehaviour.redis70.periodicRideAlong)
    }

    @Test("the masters' fast PING period stretches with their number (about 1,000 PINGs a second), and is fast again for a master in trouble")
    func fastPingBudget() throws {
        func masterPings(groups: Int, of g: Int) -> Int {
            var sim = G(replicas: 1, groups: groups)
            sim.run(for: 4_000)
            sim.recordPings = true
            sim.run(for: 6_000)
            return sim.pings.filter { $0.by == 0 && $0.ref == .master(G.masterName(g)) }.count
        }
        // One master: every other 100 ms tick (replies come at once here) — about 30 in 6 s.
        let one = masterPings(groups: 1, of: 0)
        #expect(one >= 25, "\(one) PINGs to the only master in 6 s")
        // 300 masters: a 300 ms period, so every fourth tick — about 15 in 6 s.
        let many = masterPings(groups: 300, of: 7)
        #expect((12...18).contains(many), "\(many) PINGs to one of 300 masters in 6 s")

        // A master that stops answering is PINGed at the fast period again once SDOWN (here
        // unanswered, so at every tick past half the period: 100 ms), not every 150 ms.
        var sim = G(replicas: 1, quorum: 4, groups: 300)
        sim.run(for: 4_000)
        let name = G.masterName(7)
        sim.pause(G.masterPort(7))
        try #require(sim.run(until: 5_000) { $0.sentinels[0].state.masters[name]!.instance.isSDown } != nil)
        sim.recordPings = true
        sim.run(for: 1_000)
        let whileDown = sim.pings.filter { $0.by == 0 && $0.ref == .master(name) }.count
        #expect(whileDown >= 8, "\(whileDown) PINGs in the first second of SDOWN")
    }
}
