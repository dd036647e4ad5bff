import SentinelCore
import Testing

/// One scenario per failure mode, on a simulated group with a simulated clock.
@Suite("Sentinel core: failure scenarios")
struct FailoverScenarioTests {
    typealias G = SimulatedGroup
    static let master = G.addr(6379)

    /// A group that has run long enough for every sentinel to know the replicas and its peers.
    static func settledGroup(sentinels: Int = 3, quorum: Int = 2, behaviour: SentinelBehaviour = SentinelBehaviour(),
                             failoverTimeout: Millis = 10_000, seed: UInt64 = 1) -> G {
        var g = G(sentinelCount: sentinels, quorum: quorum, failoverTimeout: failoverTimeout, behaviour: behaviour, seed: seed)
        g.run(for: 12_000)
        return g
    }

    @Test("discovery: replicas from the master's INFO, peers from hello messages")
    func discovery() {
        let g = Self.settledGroup()
        for s in g.sentinels {
            let m = s.state.masters[G.masterName]!
            #expect(m.sortedReplicaAddresses == [G.addr(6380), G.addr(6381)])
            #expect(m.sentinels.count == 2)
            #expect(!m.instance.isSDown)
        }
        #expect(g.events("+sentinel").count == 6)
        #expect(g.events("+slave").count == 6)
    }

    @Test("master crash: SDOWN, ODOWN, one leader, promotion, replicas follow, all agree",
          arguments: [UInt64(1), 2, 3, 4, 5])
    func masterCrash(seed: UInt64) throws {
        var g = Self.settledGroup(seed: seed)
        g.crash(6379)
        let took = g.run(until: 30_000) { g in
            guard let m = g.liveMasters.first else { return false }
            return g.converged(on: m) && g.sentinels.allSatisfy { $0.state.masters[G.masterName]!.failoverState == .none }
        }
        let elapsed = try #require(took, "the group did not converge on a new master")
        let newMaster = g.liveMasters[0]
        #expect(newMaster != Self.master)
        #expect(g.events("+elected-leader").count == 1)
        #expect(g.promotions.count == 1)
        // At least a quorum saw SDOWN themselves (the rest may switch on the leader's hello first).
        #expect(g.events("+sdown").filter { $0.payload.hasPrefix("master") }.count >= 2)
        #expect(g.events("+odown").count >= 1)
        #expect(g.events("+switch-master").count == 3)
        // The other replica now replicates the new master.
        let other = [G.addr(6380), G.addr(6381)].first { $0 != newMaster }!
        #expect(g.servers[other]!.replicaOf == newMaster)
        // The promotion came shortly after down-after (1 s), well before 7.0's election timeout.
        let promotedAt = g.promotions[0].at - (g.now - elapsed)
        #expect(promotedAt < 3_000, "promoted \(promotedAt) ms after the crash")
        // The old master is now listed as a replica, to be converted when it returns.
        for s in g.sentinels {
            #expect(s.state.masters[G.masterName]!.replicas[Self.master] != nil)
        }
    }

    /// 7.0's rewrite writes `sentinelGetCurrentMasterAddress`: once the promoted replica has
    /// confirmed (the new config epoch is set, and the leader's hellos already name it), the file
    /// names it, with the old master among the known replicas. Saved with the old address, a
    /// leader killed before its switch came back with the new epoch and the old master and
    /// ignored its peers' hellos for that equal epoch for ever (Sentinel simulator, seed 19429).
    @Test("a leader's save while it reconfigures the replicas names the promoted replica at the new config epoch")
    func savedDuringReconfiguration() throws {
        var g = Self.settledGroup()
        g.crash(6379)
        g.pause(6381)  // its reconfiguration hangs: the leader stays in reconf_slaves
        let reached = g.run(until: 30_000) { g in
            g.sentinels.contains { $0.state.masters[G.masterName]!.failoverState == .reconfSlaves }
        }
        _ = try #require(reached, "no leader reached reconf_slaves")
        let leader = try #require(g.sentinels.firstIndex { $0.state.masters[G.masterName]!.failoverState == .reconfSlaves })
        let m = g.sentinels[leader].state.masters[G.masterName]!
        let promoted = try #require(m.promotedReplica)
        let saved = try #require(g.sentinels[leader].state.saved.masters.first)
        #expect(m.address == Self.master)  // the switch has not happened yet
        #expect(saved.address == promoted)
        #expect(saved.configEpoch == m.configEpoch && saved.configEpoch > 0)
        #expect(saved.knownReplicas.contains(Self.master) && !saved.knownReplicas.contains(promoted))
    }

    @Test("master crash with 7.0 behaviour also converges, and Tandem's behaviour promotes sooner")
    func masterCrashBothBehaviours() throws {
        func promotionDelay(_ behaviour: SentinelBehaviour) throws -> Millis {
            var g = Self.settledGroup(behaviour: behaviour)
            let crashAt = g.now
            g.crash(6379)
            let took = g.run(until: 30_000) { g in g.liveMasters.count == 1 && g.liveMasters[0] != Self.master && g.converged(on: g.liveMasters[0]) }
            #expect(took != nil)
            return try #require(g.promotions.first).at - crashAt
        }
        let redis70 = try promotionDelay(.redis70)
        let tandem = try promotionDelay(SentinelBehaviour())
        #expect(tandem < redis70, "tandem \(tandem) ms, 7.0 \(redis70) ms")
        #expect(tandem <= 1_300, "down-after is 1 s; tandem promoted after \(tandem) ms")
    }

    @Test("master paused (SIGSTOP): the link stays up but PINGs go unanswered, so it fails over")
    func masterPaused() throws {
        var g = Self.settledGroup()
        g.pause(6379)
        let took = g.run(until: 30_000) { g in
            g.liveMasters.count == 2 && g.sentinels.indices.allSatisfy { g.advertisedMaster($0) != Self.master }
        }
        #expect(took != nil)
        #expect(g.promotions.count == 1)
    }

    @Test("replica selection: priority first, then replication offset; priority 0 never")
    func replicaSelection() throws {
        var g = G(replicas: 3)
        g.servers[G.addr(6380)]!.priority = 0     // never promote
        g.servers[G.addr(6381)]!.priority = 100
        g.servers[G.addr(6382)]!.priority = 100
        g.run(for: 12_000)
        // 6382 lags: it stops copying the master's offset.
        g.servers[G.addr(6382)]!.replicaOf = G.addr(9999)
        g.run(for: 11_000)
        g.servers[G.addr(6382)]!.replicaOf = Self.master
        g.servers[G.addr(6382)]!.offset = 1
        g.crash(6379)
        // Freeze 6382's offset below 6381's by crashing the master now, before it catches up.
        #expect(g.run(until: 30_000) { $0.promotions.count == 1 } != nil)
        #expect(g.promotions.first?.address == G.addr(6381))
    }

    @Test("lower replica-priority wins over a larger offset")
    func priorityBeatsOffset() {
        var g = G(replicas: 2)
        g.servers[G.addr(6381)]!.priority = 10
        g.run(for: 12_000)
        g.crash(6379)
        _ = g.run(until: 30_000) { $0.promotions.count == 1 }
        #expect(g.promotions.first?.address == G.addr(6381))
    }

    @Test("a sentinel partitioned from the master alone sees SDOWN but never ODOWN: no failover")
    func partitionOfOneSentinel() {
        var g = Self.settledGroup()
        g.isolate(sentinel: 0, from: Self.master)
        g.run(for: 20_000)
        #expect(g.events("+sdown", in: 0).contains { $0.payload.hasPrefix("master") })
        #expect(g.events("+odown").isEmpty)
        #expect(g.promotions.isEmpty)
        #expect(g.sentinels.indices.allSatisfy { g.advertisedMaster($0) == Self.master })
        g.heal()
        g.run(for: 3_000)
        #expect(g.events("-sdown", in: 0).contains { $0.payload.hasPrefix("master") })
    }

    @Test("two candidates in the same epoch: a voter gives one vote per epoch, first come first served")
    func twoCandidatesSameEpoch() {
        var voter = SentinelState(myID: "c", announce: InstanceAddress(ip: "10.0.0.2", port: 26381))
        _ = voter.monitor(name: "m", address: Self.master, quorum: 2, now: 0)
        let first = voter.isMasterDownByAddr(address: Self.master, epoch: 1, runID: "a", now: 10)
        let second = voter.isMasterDownByAddr(address: Self.master, epoch: 1, runID: "b", now: 20)
        #expect(first.leader == "a" && first.leaderEpoch == 1)
        #expect(second.leader == "a" && second.leaderEpoch == 1)
        // The vote is saved before it is given.
        #expect(first.actions.contains(.saveConfig))
        #expect(!second.actions.contains(.saveConfig))
        // A later epoch gets a new vote.
        let third = voter.isMasterDownByAddr(address: Self.master, epoch: 2, runID: "b", now: 30)
        #expect(third.leader == "b" && third.leaderEpoch == 2)
        #expect(voter.currentEpoch == 2)
        // An unknown address is not down and gets no vote.
        let unknown = voter.isMasterDownByAddr(address: G.addr(1), epoch: 3, runID: "a", now: 40)
        #expect(unknown.down == false && unknown.leader == "*")
    }

    @Test("a vote for another's failover is reported as awaited until its new configuration arrives or failover-timeout passes; never our own")
    func awaitedFailoverEpoch() {
        var voter = SentinelState(myID: "c", announce: InstanceAddress(ip: "10.0.0.2", port: 26381))
        _ = voter.monitor(name: "m", address: Self.master, quorum: 2, now: 0)
        #expect(voter.awaitedFailoverEpoch("m", now: 5) == nil)
        _ = voter.isMasterDownByAddr(address: Self.master, epoch: 1, runID: "a", now: 10)
        let timeout = voter.masters["m"]!.failoverTimeout
        #expect(voter.awaitedFailoverEpoch("m", now: 20) == 1)
        // The vote delays our own attempt by a random desync: still awaited until then.
        #expect(voter.awaitedFailoverEpoch("m", now: 10 + timeout - 1) == 1)
        #expect(voter.awaitedFailoverEpoch("m", now: 10 + timeout + 1_001) == nil)
        #expect(voter.awaitedFailoverEpoch("other", now: 20) == nil)
        // Our own candidacy is not awaited.
        var candidate = SentinelState(myID: "c", announce: InstanceAddress(ip: "10.0.0.2", port: 26381))
        _ = candidate.monitor(name: "m", address: Self.master, quorum: 2, now: 0)
        _ = candidate.isMasterDownByAddr(address: Self.master, epoch: 1, runID: "c", now: 10)
        #expect(candidate.awaitedFailoverEpoch("m", now: 20) == nil)
        // In a group: the voters learn the outcome from the leader's hellos.
        var g = Self.settledGroup()
        g.crash(6379)
        g.run(for: 15_000)
        #expect(g.promotions.count == 1)
        #expect(g.sentinels.indices.allSatisfy { g.sentinels[$0].state.awaitedFailoverEpoch(G.masterName, now: g.time(of: $0)) == nil })
        // ... and some of them voted for another's failover: what was awaited is now known.
        #expect(g.events("+vote-for-leader").count >= 2)
    }

    @Test("vote lost: with two of three sentinels gone, the survivor cannot be elected")
    func voteLost() {
        var g = Self.settledGroup(quorum: 1)
        g.sentinels[1].alive = false
        g.sentinels[2].alive = false
        g.crash(6379)
        g.run(for: 15_000)
        #expect(!g.events("+odown", in: 0).isEmpty, "quorum 1: ODOWN on its own")
        #expect(!g.events("+try-failover", in: 0).isEmpty)
        #expect(!g.events("-failover-abort-not-elected", in: 0).isEmpty)
        #expect(g.events("+elected-leader").isEmpty)
        #expect(g.promotions.isEmpty)
    }

    @Test("leader crash mid-failover: another sentinel completes it after 2 × failover-timeout")
    func leaderCrashMidFailover() throws {
        var g = Self.settledGroup(failoverTimeout: 3_000)
        g.crash(6379)
        _ = g.run(until: 20_000) { $0.promotions.count == 1 }
        let leader = try #require(g.promotions.first?.by)
        g.sentinels[leader].alive = false
        let took = g.run(until: 40_000) { g in
            guard let m = g.liveMasters.first, g.liveMasters.count == 1 else { return false }
            return g.converged(on: m)
        }
        #expect(took != nil, "the surviving sentinels did not converge")
        #expect(g.events("+elected-leader").count >= 1)
    }

    @Test("promoted replica dies before confirming: the failover aborts and a later attempt promotes another")
    func promotedReplicaDies() throws {
        var g = Self.settledGroup(failoverTimeout: 3_000)
        g.crashOnNextPromotion = true  // the chosen replica dies as SLAVEOF NO ONE reaches it
        g.crash(6379)
        _ = g.run(until: 20_000) { !$0.events("+selected-slave").isEmpty }
        let chosen = try #require(g.events("+selected-slave").first?.payload.split(separator: " ")[1])
        let chosenPort = Int(chosen.split(separator: ":")[1])!
        let survivor = chosenPort == 6380 ? 6381 : 6380
        let took = g.run(until: 60_000) { $0.converged(on: G.addr(survivor)) }
        #expect(took != nil)
        #expect(!g.events("-failover-abort-slave-timeout").isEmpty)
    }

    @Test("old master returning as master is converted to a replica within about 1 s")
    func oldMasterReturns() throws {
        var g = Self.settledGroup()
        g.crash(6379)
        _ = g.run(until: 30_000) { g in g.liveMasters.first.map { g.converged(on: $0) } ?? false }
        let newMaster = try #require(g.liveMasters.first)
        g.restart(6379)  // comes back claiming role:master
        let took = g.run(until: 20_000) { $0.servers[Self.master]!.replicaOf == newMaster }
        let t = try #require(took)
        #expect(t <= 1_500, "old master took \(t) ms to be converted")
        #expect(!g.events("+convert-to-slave").isEmpty)
    }

    @Test("with 7.0 behaviour the old master is converted only after 8 s")
    func oldMasterReturnsRedis70() throws {
        var g = Self.settledGroup(behaviour: .redis70)
        g.crash(6379)
        _ = g.run(until: 30_000) { g in g.liveMasters.first.map { g.converged(on: $0) } ?? false }
        let newMaster = try #require(g.liveMasters.first)
        g.restart(6379)
        let took = try #require(g.run(until: 30_000) { $0.servers[Self.master]!.replicaOf == newMaster })
        #expect(took > 8_000)
    }

    @Test("TILT from a clock jump: no failover while tilted, normal again after 30 s")
    func tiltFromClockJump() {
        var g = Self.settledGroup()
        for i in g.sentinels.indices { g.sentinels[i].clockSkew = -5_000 }  // every clock jumps back
        g.crash(6379)
        g.run(for: 10_000)
        #expect(g.events("+tilt").count == 3)
        #expect(g.promotions.isEmpty, "no action in TILT")
        #expect(g.sentinels.allSatisfy { $0.state.isTilted })
        let t = g.run(until: 60_000) { $0.promotions.count == 1 }
        #expect(t != nil)
        #expect(g.events("-tilt").count == 3)
    }

    @Test("a tilted sentinel answers is-master-down-by-addr with 0")
    func tiltedAnswersNotDown() {
        var s = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        _ = s.monitor(name: "m", address: Self.master, quorum: 2, downAfter: 1_000, now: 0)
        _ = s.handle(.linkUp(.master("m")), now: 0)
        // Ticks every 100 ms (one gap of 1.4 s would be a stall, credited: `stallCredit`).
        for t in stride(from: Millis(100), through: 1_500, by: 100) { _ = s.handle(.tick, now: t) }  // no PONG: SDOWN after down-after
        #expect(s.masters["m"]!.instance.isSDown)
        #expect(s.isMasterDownByAddr(address: Self.master, epoch: 0, runID: "*", now: 1_500).down)
        _ = s.handle(.tick, now: 900)  // clock went backwards
        #expect(s.isTilted)
        #expect(!s.isMasterDownByAddr(address: Self.master, epoch: 0, runID: "*", now: 900).down)
    }
}

@Suite("Sentinel core: larger groups and epochs")
struct GroupScenarioTests {
    typealias G = SimulatedGroup

    @Test("five sentinels, quorum 3: one failover, everyone follows through hello (last failover wins)")
    func fiveSentinels() throws {
        var g = G(sentinelCount: 5, quorum: 3)
        g.run(for: 12_000)
        g.crash(6379)
        let took = g.run(until: 30_000) { g in
            guard g.liveMasters.count == 1, let m = g.liveMasters.first else { return false }
            return g.converged(on: m)
        }
        #expect(took != nil)
        #expect(g.events("+elected-leader").count == 1)
        #expect(g.events("+config-update-from").count == 4, "the four followers learn the new config from hello")
        let epochs = Set(g.sentinels.map { $0.state.masters[G.masterName]!.configEpoch })
        #expect(epochs.count == 1 && epochs.first! >= 1)
    }

    @Test("a newer config epoch in a hello replaces the master address; an older one is ignored")
    func configEpochPropagation() {
        var s = SentinelState(myID: "me", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        _ = s.monitor(name: "m", address: G.addr(6379), quorum: 2, now: 0)
        var actions = s.handle(.hello("10.0.0.2,26380,peer,5,m,10.0.0.1,6380,5"), now: 10)
        #expect(s.currentMasterAddress("m") == G.addr(6380))
        #expect(s.currentEpoch == 5)
        #expect(actions.contains(.publish(SentinelEvent(level: .warning, type: "+switch-master", payload: "m 10.0.0.1 6379 10.0.0.1 6380"))))
        #expect(actions.contains(.saveConfig))
        #expect(s.masters["m"]!.replicas[G.addr(6379)] != nil, "the old master is kept as a replica")
        actions = s.handle(.hello("10.0.0.2,26381,other,5,m,10.0.0.1,6381,4"), now: 20)
        #expect(s.currentMasterAddress("m") == G.addr(6380))
        #expect(actions.contains { if case .publish(let e) = $0 { return e.type == "+sentinel" } else { return false } })
        // Our own hello, and malformed ones, change nothing.
        #expect(s.handle(.hello("10.0.0.2,26379,me,9,m,10.0.0.1,6390,9"), now: 30).isEmpty)
        #expect(s.handle(.hello("garbage"), now: 40).isEmpty)
        #expect(s.handle(.hello("10.0.0.2,x,peer,5,m,10.0.0.1,6380,5"), now: 50).isEmpty)
    }

    @Test("a sentinel that restarts with a new run id at the same address replaces its old entry")
    func sentinelNewRunID() {
        var s = SentinelState(myID: "me", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        _ = s.monitor(name: "m", address: G.addr(6379), quorum: 2, now: 0)
        _ = s.handle(.hello("10.0.0.2,26380,old,0,m,10.0.0.1,6379,0"), now: 10)
        _ = s.handle(.hello("10.0.0.2,26380,new,0,m,10.0.0.1,6379,0"), now: 20)
        #expect(s.masters["m"]!.sortedSentinelIDs == ["new"])
        // The same run id at a new address moves the entry.
        let actions = s.handle(.hello("10.0.0.3,26380,new,0,m,10.0.0.1,6379,0"), now: 30)
        #expect(s.masters["m"]!.sentinels["new"]?.address == InstanceAddress(ip: "10.0.0.3", port: 26380))
        #expect(actions.contains { if case .publish(let e) = $0 { return e.type == "+sentinel-address-switch" } else { return false } })
    }

    @Test("SENTINEL FAILOVER: refused without a good replica or while one runs; otherwise elected by the peers (7.0: no election)",
          arguments: [false, true])
    func forcedFailover(redis70: Bool) throws {
        var g = G(behaviour: redis70 ? .redis70 : SentinelBehaviour())
        g.run(for: 12_000)
        var state = g.sentinels[0].state
        #expect(throws: SentinelState.FailoverRefusal.noSuchMaster) { try state.forceFailover("nope", now: g.now) }
        let actions = try state.forceFailover(G.masterName, now: g.now)
        #expect(actions.contains { if case .publish(let e) = $0 { return e.type == "+try-failover" } else { return false } })
        #expect(throws: SentinelState.FailoverRefusal.inProgress) { try state.forceFailover(G.masterName, now: g.now) }
        g.sentinels[0].state = state
        let took = g.run(until: 20_000) { g in g.liveMasters.count == 1 && g.liveMasters[0] != G.addr(6379) && g.converged(on: g.liveMasters[0]) }
        #expect(took != nil)
        #expect(g.events("+elected-leader", in: 0).count == 1)
        if redis70 {
            // 7.0 records its own vote, but asks nobody else (the master is not even down).
            #expect(g.events("+vote-for-leader").map(\.payload) == ["\(state.myID) 1"])
        } else {
            // Elected: the peers asked in the new epoch vote for it, so another sentinel's forced
            // failover could not lead in the same epoch.
            #expect(g.events("+vote-for-leader").map(\.payload) == Array(repeating: "\(state.myID) 1", count: 3))
        }

        var lonely = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        _ = lonely.monitor(name: "m", address: G.addr(6379), quorum: 2, now: 0)
        #expect(throws: SentinelState.FailoverRefusal.noGoodReplica) { try lonely.forceFailover("m", now: 0) }
    }

    @Test("two SENTINEL FAILOVERs on two sentinels at once (an operator's and a node agent's): one leader, one promotion (7.0: both lead in one epoch)",
          arguments: [false, true])
    func concurrentForcedFailovers(redis70: Bool) throws {
        var g = G(behaviour: redis70 ? .redis70 : SentinelBehaviour())
        g.run(for: 12_000)
        let first = try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0))
        let second = try g.sentinels[1].state.forceFailover(G.masterName, now: g.time(of: 1))
        g.perform(first, by: 0)
        g.perform(second, by: 1)
        g.run(for: 15_000)
        let leaders = g.sentinels.indices.filter { !g.events("+elected-leader", in: $0).isEmpty }
        if redis70 {
            #expect(leaders == [0, 1], "7.0 elects nobody: both lead in epoch 1")
        } else {
            #expect(leaders.count == 1, "leaders \(leaders)")
            #expect(g.promotions.count == 1, "\(g.promotions)")
            #expect(g.liveMasters.count == 1 && g.liveMasters[0] != G.addr(6379) && g.converged(on: g.liveMasters[0]))
        }
    }

    @Test("SENTINEL FAILOVER with the other sentinels gone (their links down): it goes ahead alone as 7.0 does, but never under durability replicated; with one still reachable it waits for its vote")
    func forcedFailoverAlone() throws {
        var g = G()
        g.run(for: 12_000)
        g.sentinels[1].alive = false
        g.sentinels[2].alive = false
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        let took = g.run(until: 30_000) { !$0.promotions.isEmpty }
        #expect(took != nil, "the lone sentinel never failed over")
        #expect(g.events("+elected-leader", in: 0).count == 1)
        #expect(g.events("-failover-abort-not-elected", in: 0).isEmpty)
        #expect(g.events("+vote-for-leader").count == 1, "nobody else voted")

        // One peer gone, one there: elected by the one there (its vote makes the majority).
        var h = G()
        h.run(for: 12_000)
        h.sentinels[2].alive = false
        h.perform(try h.sentinels[0].state.forceFailover(G.masterName, now: h.time(of: 0)), by: 0)
        #expect(h.run(until: 30_000) { !$0.promotions.isEmpty } != nil)
        #expect(h.events("+vote-for-leader", in: 1).map(\.payload) == ["\(h.sentinels[0].state.myID) 1"])

        // Under `durability replicated` there is no lone override: not elected, aborted, no promotion.
        var durable = G()
        durable.run(for: 12_000)
        durable.sentinels[0].state.setReplicatedDurability(master: G.masterName, true)
        durable.sentinels[1].alive = false
        durable.sentinels[2].alive = false
        durable.perform(try durable.sentinels[0].state.forceFailover(G.masterName, now: durable.time(of: 0)), by: 0)
        durable.run(for: 15_000)
        #expect(durable.promotions.isEmpty)
        #expect(durable.events("-failover-abort-not-elected", in: 0).count >= 1)
    }

    /// Write simulator seed 93711: a sentinel that voted for a peer's failover, was cut off
    /// before its outcome, and then had no peer left when an operator's SENTINEL FAILOVER came
    /// went ahead alone from the old configuration and made the promoted replica (which had
    /// taken writes since) a replica of a lagging one.
    @Test("SENTINEL FAILOVER with the other sentinels gone does not go ahead alone after a vote for another's failover whose outcome was never heard (also after a restart from its file); it does once a configuration of that epoch has come")
    func forcedFailoverAloneAfterUnseenVote() throws {
        for (outcomeHeard, restarted) in [(false, false), (false, true), (true, false)] {
            var g = G()
            g.run(for: 12_000)
            let peer = g.sentinels[1].state.myID
            let vote = g.sentinels[0].state.isMasterDownByAddr(address: G.addr(6379), epoch: 1, runID: peer, now: g.time(of: 0))
            try #require(vote.leader == peer && vote.leaderEpoch == 1)
            if restarted {
                // The file keeps the vote's epoch, not whom it went to: the refusal survives a restart.
                g.flushSave(0)
                g.restartSentinel(0)
                try #require(g.sentinels[0].state.masters[G.masterName]!.leaderEpoch == 1)
            }
            if outcomeHeard {
                // The leader's hello: the same master kept (its failover ended without a switch), config epoch 1.
                let me = g.sentinels[1].address
                _ = g.sentinels[0].state.handle(.hello("\(me.ip),\(me.port),\(peer),1,\(G.masterName),10.0.0.1,6379,1"), now: g.time(of: 0))
                try #require(g.sentinels[0].state.masters[G.masterName]!.configEpoch == 1)
            }
            g.sentinels[1].alive = false
            g.sentinels[2].alive = false
            g.run(for: 3_000)
            g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
            // Short of failover-timeout (10 s) from the vote: until then the voted failover's
            // leader may still promote (`unseenVoteSettles` has what follows).
            g.run(for: 6_000)
            if outcomeHeard {
                #expect(g.promotions.count == 1, "the lone override, as before")
            } else {
                #expect(g.promotions.isEmpty, "went ahead alone from a configuration a failover it voted for may have superseded")
            }
        }
    }

    /// A helper's review of the refusal above: it had no end, so a sentinel left alone after a
    /// vote whose leader aborted could never be overridden. A vote read from the file after a
    /// restart still never settles so (the file does not keep the group at the vote, and a
    /// SENTINEL RESET before the restart may have forgotten the replica that failover promoted).
    @Test("the refusal ends once failover-timeout has passed since the vote and every INFO since shows the master and its replicas unchanged; not for a vote read from the file")
    func unseenVoteSettles() throws {
        for restarted in [false, true] {
            var g = G()
            g.run(for: 12_000)
            let peer = g.sentinels[1].state.myID
            _ = g.sentinels[0].state.isMasterDownByAddr(address: G.addr(6379), epoch: 1, runID: peer, now: g.time(of: 0))
            let by = try #require(g.sentinels[0].state.masters[G.masterName]!.votedForOtherAt)
            if restarted {
                g.flushSave(0)
                g.restartSentinel(0)
                try #require(g.sentinels[0].state.masters[G.masterName]!.votedForOtherEpoch == 1)
            }
            g.sentinels[1].alive = false
            g.sentinels[2].alive = false
            // Within failover-timeout (10 s) of the vote: refused, as above.
            g.run(for: 3_000)
            g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
            _ = g.run(until: 15_000) { !$0.sentinels[0].state.masters[G.masterName]!.failoverInProgress }
            // Past it, once every instance's INFO since says nothing was promoted (the master's
            // comes every 10 s): that attempt goes ahead if it still stands, else the operator's
            // next SENTINEL FAILOVER does.
            if g.promotions.isEmpty {
                let settled = g.run(until: 25_000) { $0.sentinels[0].state.voteOutcomeSettled($0.sentinels[0].state.masters[G.masterName]!, now: $0.time(of: 0)) }
                #expect((settled != nil) == !restarted, "restarted: \(restarted)")
                g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
                g.run(for: 12_000)
            }
            #expect(g.promotions.count == (restarted ? 0 : 1), "restarted: \(restarted)")
            for promotion in g.promotions {
                #expect(promotion.at + g.sentinels[0].clockSkew > by + 10_000, "promoted at \(promotion.at), vote at \(by)")
            }
        }
    }

    @Test("the vote's outcome is not settled while a replica claims master, an INFO since is missing, or failover-timeout has not passed")
    func unseenVoteNotSettled() throws {
        var g = G()
        g.run(for: 12_000)
        _ = g.sentinels[0].state.isMasterDownByAddr(address: G.addr(6379), epoch: 1, runID: g.sentinels[1].state.myID, now: g.time(of: 0))
        let voted = g.time(of: 0)
        g.run(for: 25_000)
        let state = g.sentinels[0].state
        let m = state.masters[G.masterName]!
        try #require(state.voteOutcomeSettled(m, now: g.time(of: 0)))
        var claimed = m
        claimed.replicas[G.addr(6380)]!.roleReportedReplica = false
        #expect(!state.voteOutcomeSettled(claimed, now: g.time(of: 0)))
        var stale = m
        stale.replicas[G.addr(6381)]!.infoRefresh = voted + m.failoverTimeout - 1
        #expect(!state.voteOutcomeSettled(stale, now: g.time(of: 0)))
        #expect(!state.voteOutcomeSettled(m, now: voted + m.failoverTimeout))
        var forgotten = m
        forgotten.replicas[G.addr(6380)] = nil
        #expect(!state.voteOutcomeSettled(forgotten, now: g.time(of: 0)), "a server of the vote's group no longer known")
    }

    /// The review of the settlement: a SENTINEL RESET (an operator forgetting dead sentinels)
    /// empties the replicas, and one the voted failover promoted no longer follows the master,
    /// so its INFO never lists it again: without the vote's own list of servers the outcome
    /// looked settled and the lone failover went ahead from the old configuration.
    @Test("after SENTINEL RESET, a replica the voted failover may have promoted (claiming master, no longer listed by the master) keeps the refusal")
    func unseenVoteNotSettledAfterReset() throws {
        var g = G()
        g.run(for: 12_000)
        _ = g.sentinels[0].state.isMasterDownByAddr(address: G.addr(6379), epoch: 1, runID: g.sentinels[1].state.myID, now: g.time(of: 0))
        g.servers[G.addr(6380)]!.replicaOf = nil  // the leader's promotion, as far as anyone can tell
        g.sentinels[1].alive = false
        g.sentinels[2].alive = false
        g.perform(g.sentinels[0].state.reset(where: { $0 == G.masterName }, now: g.time(of: 0)).actions, by: 0)
        g.run(for: 25_000)
        let m = g.sentinels[0].state.masters[G.masterName]!
        try #require(m.replicas[G.addr(6380)] == nil, "forgotten by the reset, not listed by the master")
        #expect(!g.sentinels[0].state.voteOutcomeSettled(m, now: g.time(of: 0)))
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        g.run(for: 12_000)
        #expect(g.promotions.isEmpty, "went ahead alone after a reset erased the evidence")
    }

    /// Write simulator seed 99485: a sentinel back from a cut stood in the epoch in which its
    /// peers had just elected another, and waited out the election timeout (10 s) while its node
    /// agent kept the master fenced and the VIP off every node.
    @Test("a candidate whose peers' replies show another candidate elected in its epoch gives up at once; with 7.0's timing at the election timeout")
    func lostElectionEndsAtOnce() throws {
        for tandem in [true, false] {
            var behaviour = SentinelBehaviour()
            if !tandem { behaviour.endLostElection = false }
            var g = G(behaviour: behaviour)
            g.run(for: 12_000)
            let winner = g.sentinels[2].state.myID
            for j in [1, 2] {
                let vote = g.sentinels[j].state.isMasterDownByAddr(address: G.addr(6379), epoch: 1, runID: winner, now: g.time(of: j))
                try #require(vote.leader == winner && vote.leaderEpoch == 1)
            }
            g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
            try #require(g.sentinels[0].state.masters[G.masterName]!.failoverEpoch == 1, "stood in the peers' epoch")
            let took = try #require(g.run(until: 15_000) { $0.events("-failover-abort-not-elected", in: 0).count == 1 })
            if tandem {
                #expect(took <= 500, "gave up after \(took) ms")
            } else {
                #expect(took >= 9_000, "7.0 waits for the election timeout; gave up after \(took) ms")
            }
            #expect(g.promotions.isEmpty)
        }
    }

    @Test("down-after and failover-timeout at Int64.max (SENTINEL SET takes any positive value): a forced failover and a crash never trap, and the largest setting simply never expires")
    func hostileSettings() throws {
        var g = G()
        g.run(for: 12_000)
        for i in g.sentinels.indices {
            for setting in [SentinelState.MasterSetting.downAfter(.max), .failoverTimeout(.max), .rebootDownAfter(.max)] {
                _ = g.sentinels[i].state.set(master: G.masterName, setting, option: "x", value: "9223372036854775807")
            }
        }
        var state = g.sentinels[0].state
        _ = try state.forceFailover(G.masterName, now: g.now)
        g.sentinels[0].state = state
        let took = g.run(until: 20_000) { g in g.liveMasters.count == 1 && g.liveMasters[0] != G.addr(6379) && g.converged(on: g.liveMasters[0]) }
        #expect(took != nil, "the forced failover did not complete")
        // The new master's host fails: with down-after at Int64.max it is never SDOWN. (A
        // crashed process on a live host is crash-down whatever down-after says.)
        g.hostFails(g.liveMasters[0].port)
        g.run(for: 10_000)
        #expect(g.events("+sdown").filter { $0.payload.hasPrefix("master") }.isEmpty)
        #expect(Int64.max.saturatingTimes(2) == .max && Int64(-3).saturatingTimes(.max) == .min && Int64(3).saturatingTimes(4) == 12)
        #expect(Int64.max.saturatingPlus(1) == .max && Int64.min.saturatingPlus(-1) == .min && Int64(1).saturatingPlus(2) == 3)
    }
}

@Suite("Sentinel core: coordinated switchover")
struct SwitchoverScenarioTests {
    typealias G = SimulatedGroup

    @Test("SENTINEL FAILOVER of a reachable master: pause writes, catch up, promote, demote the old master")
    func coordinatedSwitchover() throws {
        var g = G()
        g.run(for: 12_000)
        // Make the replicas lag: they stop following for a moment, so catching up matters.
        let actions = try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0))
        g.perform(actions, by: 0)
        let took = g.run(until: 20_000) { g in
            g.liveMasters.count == 1 && g.liveMasters[0] != G.addr(6379) && g.converged(on: g.liveMasters[0])
        }
        #expect(took != nil)
        #expect(g.pauses == 1)
        #expect(g.demotions == 1)
        let newMaster = g.liveMasters[0]
        // The old master follows the new one and is not left paused.
        #expect(g.servers[G.addr(6379)]!.replicaOf == newMaster)
        #expect(g.servers[G.addr(6379)]!.writesPaused == false)
        // The promoted replica had every write the old master took before the pause.
        #expect(g.servers[newMaster]!.offset >= g.servers[G.addr(6379)]!.offset)
        #expect(g.events("+convert-to-slave").isEmpty, "no conversion needed: it was demoted in the switchover")
        #expect(g.publishesWhileOwnPause == 0, "no hello PUBLISHed to the master while its writes are paused")
    }

    @Test("while a switchover waits for the replica to catch up, the leader PUBLISHes no hello to the paused master")
    func noHelloToPausedMaster() throws {
        var g = G()
        g.run(for: 12_000)
        // The replicas take 3 s to catch up: longer than the hello period (2 s).
        g.servers[G.addr(6380)]!.lagging = true
        g.servers[G.addr(6381)]!.lagging = true
        g.run(for: 100)  // the master takes writes the replicas lack
        let actions = try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0))
        g.perform(actions, by: 0)
        g.run(for: 3_000)
        #expect(g.promotions.isEmpty, "still waiting for the catch-up")
        g.servers[G.addr(6380)]!.lagging = false
        g.servers[G.addr(6381)]!.lagging = false
        let took = g.run(until: 20_000) { g in
            g.liveMasters.count == 1 && g.liveMasters[0] != G.addr(6379) && g.converged(on: g.liveMasters[0])
        }
        #expect(took != nil)
        #expect(g.pauses == 1 && g.demotions == 1)
        // A real PUBLISH waits out the pause and holds up every later command on that link,
        // the demote included: the old master would run the held writes first.
        #expect(g.publishesWhileOwnPause == 0)
    }

    @Test("SENTINEL FAILOVER while the master's link is down for a moment waits for it and still pauses writes")
    func switchoverWaitsForMasterLink() throws {
        var g = G()
        g.run(for: 12_000)
        // The leader's link to the master drops (a recycled or reconnecting link) just before
        // the failover; the master itself is fine.
        g.isolate(sentinel: 0, from: G.addr(6379))
        g.run(for: 150)
        #expect(g.sentinels[0].state.masters[G.masterName]!.instance.linkConnected == false)
        let actions = try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0))
        g.perform(actions, by: 0)
        g.run(for: 600)
        #expect(g.promotions.isEmpty, "nothing is promoted while the master's link is down")
        g.heal()
        let took = g.run(until: 30_000) { g in
            g.liveMasters.count == 1 && g.liveMasters[0] != G.addr(6379) && g.converged(on: g.liveMasters[0])
        }
        #expect(took != nil)
        #expect(g.pauses == 1, "the coordinated path was taken, not 7.0's promotion of a writing master")
        #expect(g.demotions == 1)
    }

    @Test("a switchover whose replica cannot catch up is abandoned and writes are unpaused")
    func switchoverAbandoned() throws {
        var g = G()
        g.run(for: 12_000)
        // Both replicas stop replicating: they will never reach the paused master's offset.
        g.servers[G.addr(6380)]!.replicaOf = G.addr(1)
        g.servers[G.addr(6381)]!.replicaOf = G.addr(1)
        g.run(for: 100)  // the master takes writes the replicas lack
        g.sentinels[0].state.behaviour.switchoverPauseLimit = 2_000
        var state = g.sentinels[0].state
        let actions = try state.forceFailover(G.masterName, now: g.time(of: 0))
        g.sentinels[0].state = state
        g.perform(actions, by: 0)
        g.run(for: 4_000)
        #expect(!g.events("-failover-abort-slave-timeout", in: 0).isEmpty)
        #expect(g.servers[G.addr(6379)]!.writesPaused == false)
        #expect(g.servers[G.addr(6379)]!.replicaOf == nil)
        #expect(g.promotions.isEmpty)
    }

    @Test("with 7.0 behaviour SENTINEL FAILOVER promotes at once without pausing")
    func redis70ForcedFailover() throws {
        var g = G(behaviour: .redis70)
        g.run(for: 12_000)
        let actions = try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0))
        g.perform(actions, by: 0)
        _ = g.run(until: 30_000) { $0.promotions.count == 1 }
        #expect(g.pauses == 0 && g.demotions == 0)
        #expect(g.promotions.count == 1)
    }
}

@Suite("Sentinel core: links")
struct LinkScenarioTests {
    @Test("a link whose PING stays unanswered is recycled once it is older than 15 s")
    func linkRecycling() {
        var s = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        let master = InstanceAddress(ip: "10.0.0.1", port: 6379)
        _ = s.monitor(name: "m", address: master, quorum: 2, downAfter: 4_000, now: 0)
        _ = s.handle(.linkUp(.master("m")), now: 0)
        var t: Millis = 0
        var recycledAt: Millis?
        while t < 30_000 {
            t += 100
            // Replies flow for 14 s, then the server stops answering (link stays up).
            if t < 14_000 { _ = s.handle(.pingReply(.master("m"), .pong), now: t) }
            let actions = s.handle(.tick, now: t)
            if actions.contains(.reconnect(.master("m"), master)) {
                recycledAt = t
                break
            }
        }
        // Not before the link is 15 s old, and only after half of down-after without a reply.
        #expect(recycledAt.map { $0 > 15_000 && $0 <= 16_500 } == true, "recycled at \(String(describing: recycledAt))")
        #expect(s.masters["m"]!.instance.linkConnected == false)
    }
}

@Suite("Sentinel core: reboot and busy rules")
struct RebootScenarioTests {
    static let master = InstanceAddress(ip: "10.0.0.1", port: 6379)

    static func monitored(rebootDownAfter: Millis) -> SentinelState {
        var s = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        _ = s.monitor(name: "m", address: master, quorum: 2, downAfter: 5_000, now: 0)
        s.setRebootDownAfter(master: "m", rebootDownAfter)
        _ = s.handle(.linkUp(.master("m")), now: 0)
        _ = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: false)), now: 10)
        return s
    }

    @Test("master-reboot-down-after-period: a rebooted master still LOADING past the period is SDOWN")
    func rebootRule() {
        var s = Self.monitored(rebootDownAfter: 1_000)
        let actions = s.handle(.info(.master("m"), InfoReport(runID: "b", isReplica: false)), now: 100)
        #expect(actions.contains { if case .publish(let e) = $0 { return e.type == "+reboot" } else { return false } })
        var t: Millis = 100
        while t < 1_300 {
            t += 100
            _ = s.handle(.pingReply(.master("m"), .aliveNotReady), now: t)  // -LOADING: alive, not ready
            _ = s.handle(.tick, now: t)
        }
        #expect(s.masters["m"]!.instance.isSDown)
        _ = s.handle(.pingReply(.master("m"), .pong), now: t + 100)
        _ = s.handle(.tick, now: t + 100)
        #expect(!s.masters["m"]!.instance.isSDown)
    }

    @Test("with the period at 0 (default) a reboot alone never makes the master SDOWN")
    func rebootRuleOff() {
        var s = Self.monitored(rebootDownAfter: 0)
        _ = s.handle(.info(.master("m"), InfoReport(runID: "b", isReplica: false)), now: 100)
        for t in stride(from: Millis(200), through: 3_000, by: 100) {
            _ = s.handle(.pingReply(.master("m"), .aliveNotReady), now: t)
            _ = s.handle(.tick, now: t)
        }
        #expect(!s.masters["m"]!.instance.isSDown)
    }

    @Test("an SDOWN instance answering -BUSY gets one SCRIPT KILL")
    func busyScriptKill() {
        var s = Self.monitored(rebootDownAfter: 0)
        var t: Millis = 0
        while !(s.masters["m"]!.instance.isSDown) && t < 10_000 {
            t += 100
            _ = s.handle(.tick, now: t)
        }
        #expect(s.masters["m"]!.instance.isSDown)
        let first = s.handle(.pingReply(.master("m"), .busy), now: t + 1)
        let second = s.handle(.pingReply(.master("m"), .busy), now: t + 2)
        #expect(first.contains(.scriptKill(.master("m"))))
        #expect(!second.contains(.scriptKill(.master("m"))))
    }

    @Test("a stall shorter than TILT's trigger is not held against a master (stallCredit); redis-7.0 behaviour marks it SDOWN")
    func stallIsCredited() {
        for behaviour in [SentinelBehaviour(), .redis70] {
            var s = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
            s.behaviour = behaviour
            _ = s.monitor(name: "m", address: Self.master, quorum: 2, downAfter: 1_000, now: 0)
            _ = s.handle(.linkUp(.master("m")), now: 0)
            _ = s.handle(.tick, now: 100)
            _ = s.handle(.tick, now: 1_700)  // the process did not run for 1.6 s
            #expect(!s.isTilted)
            if behaviour == .redis70 {
                #expect(s.masters["m"]!.instance.isSDown, "7.0 counts the stall")
                continue
            }
            #expect(!s.masters["m"]!.instance.isSDown, "a PING pending across the stall counts from its end")
            // Still no PONG: SDOWN down-after after the stall.
            var t: Millis = 1_700
            while !s.masters["m"]!.instance.isSDown && t < 5_000 {
                t += 100
                _ = s.handle(.tick, now: t)
            }
            #expect((2_600...2_800).contains(t), "SDOWN at t=\(t), down-after after the stall")
        }
    }
}
