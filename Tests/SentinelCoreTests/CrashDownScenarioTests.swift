import SentinelCore
import Testing

/// Crash-down: a master process that dies on a host that is up (its port refuses connections,
/// its replicas lose their links) fails over without waiting for down-after; every ambiguous
/// failure still waits for it. down-after is 30 s here, as operators set it.
@Suite("Sentinel core: crash-down")
struct CrashDownScenarioTests {
    typealias G = SimulatedGroup
    static let master = G.addr(6379)
    static let downAfter: Millis = 30_000

    static func settledGroup(behaviour: SentinelBehaviour = SentinelBehaviour(), seed: UInt64 = 1,
                             sentinels: Int = 3) -> G {
        var g = G(sentinelCount: sentinels, downAfter: downAfter, failoverTimeout: 60_000, behaviour: behaviour, seed: seed)
        g.run(for: 12_000)
        return g
    }

    static func masterSDowns(_ g: G) -> [SentinelEvent] {
        g.events("+sdown").filter { $0.payload.hasPrefix("master") }
    }

    static func convergedElsewhere(_ g: G) -> Bool {
        guard g.liveMasters.count == 1, let m = g.liveMasters.first, m != master else { return false }
        return g.converged(on: m)
    }

    @Test("crash (kill -9 on a live host): crash-down, ODOWN, one election, promotion, all switch — long before down-after",
          arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func crashPromotes(seed: UInt64) throws {
        var g = Self.settledGroup(seed: seed)
        g.crash(6379)
        // What redis-py's discover_master takes from each sentinel: the master of SENTINEL
        // MASTERS unless it is flagged s_down or o_down. Once the crashed master was SDOWN it
        // must never be offered again (it once was, mid-failover, when the replicas' reports the
        // crash-down rested on changed with their reconfiguration).
        func offered(_ g: G, _ i: Int) -> InstanceAddress? {
            guard let m = g.sentinels[i].state.masters[G.masterName], !m.instance.isSDown, !m.isODown else { return nil }
            return m.address
        }
        var wasSDown = Set<Int>()
        func watch(_ g: G) {
            for i in g.sentinels.indices {
                if g.sentinels[i].state.masters[G.masterName]?.instance.isSDown == true { wasSDown.insert(i) }
                if wasSDown.contains(i), offered(g, i) == Self.master {
                    Issue.record("sentinel \(i) offers the crashed master again at t=\(g.now)")
                }
            }
        }
        let took = g.run(until: 5_000) { g in
            watch(g)
            return Self.convergedElsewhere(g)
        }
        try #require(took != nil, "not converged within 5 s of simulated time (down-after is 30 s)")
        #expect(g.promotions.count == 1)
        #expect(g.events("+elected-leader").count == 1, "one election, no split vote")
        #expect(g.events("+try-failover").count == 1)
        #expect(g.events("+crash-down").count >= 2, "at least a quorum saw the crash themselves")
        // The leader's own +switch-master follows the replicas' reconfiguration.
        _ = g.run(until: 2_000) { g in
            watch(g)
            return false
        }
        #expect(g.events("+switch-master").count == 3)
        #expect(g.events("-sdown").filter { $0.payload.hasPrefix("master") }.isEmpty, "the crashed master stays SDOWN until the switch")
        let other = [G.addr(6380), G.addr(6381)].first { $0 != g.liveMasters[0] }!
        #expect(g.servers[other]!.replicaOf == g.liveMasters[0])
    }

    @Test("hang (SIGSTOP): connections accepted, nothing refused — no SDOWN and no failover before down-after")
    func hangWaitsForDownAfter() {
        var g = Self.settledGroup()
        g.pause(6379)
        g.run(for: Self.downAfter - 1_000)
        #expect(Self.masterSDowns(g).isEmpty)
        #expect(g.events("+crash-down").isEmpty)
        #expect(g.promotions.isEmpty)
        // It is a failure all the same once down-after has passed.
        #expect(g.run(until: 10_000) { $0.promotions.count == 1 } != nil)
    }

    @Test("host stops answering (no RST, replicas' links down too): no failover before down-after")
    func hostFailureWaitsForDownAfter() {
        var g = Self.settledGroup()
        g.hostFails(6379)
        g.run(for: Self.downAfter - 1_000)
        #expect(Self.masterSDowns(g).isEmpty)
        #expect(g.promotions.isEmpty)
        #expect(g.run(until: 10_000) { $0.promotions.count == 1 } != nil)
    }

    @Test("partition of every sentinel from the master (connections time out, replicas fine): no failover before down-after")
    func partitionWaitsForDownAfter() {
        var g = Self.settledGroup()
        for i in g.sentinels.indices { g.isolate(sentinel: i, from: Self.master) }
        g.run(for: Self.downAfter - 1_000)
        #expect(Self.masterSDowns(g).isEmpty)
        #expect(g.promotions.isEmpty)
    }

    @Test("a refusal seen by one sentinel only (local firewall REJECT) while the replicas' links stay up: no fast SDOWN")
    func refusalSeenByOneSentinel() {
        var g = Self.settledGroup()
        g.rejected.insert(G.Blocked(sentinel: 0, address: Self.master))
        g.run(for: Self.downAfter - 1_000)
        #expect(g.events("+crash-down").isEmpty)
        #expect(Self.masterSDowns(g).isEmpty)
        #expect(g.promotions.isEmpty)
        #expect(g.sentinels.indices.allSatisfy { g.advertisedMaster($0) == Self.master })
        // Past down-after it is SDOWN there (7.0's rule), and still never ODOWN: the others see it up.
        g.run(for: 5_000)
        #expect(g.events("+sdown", in: 0).contains { $0.payload.hasPrefix("master") })
        #expect(g.events("+odown").isEmpty)
    }

    @Test("every sentinel refused (the master's port changed) while its replicas keep their links: no fast failover")
    func refusalWithReplicasUp() {
        var g = Self.settledGroup()
        for i in g.sentinels.indices { g.rejected.insert(G.Blocked(sentinel: i, address: Self.master)) }
        g.run(for: Self.downAfter - 1_000)
        #expect(g.events("+crash-down").isEmpty)
        #expect(Self.masterSDowns(g).isEmpty)
        #expect(g.promotions.isEmpty)
    }

    @Test("a master restarted at once (back and accepting before any reconnect is refused): no failover")
    func restartWithinWindow() {
        var g = Self.settledGroup()
        g.crash(6379)
        g.restart(6379)  // same step: the sentinels' links drop and reconnect to the new process
        g.run(for: Self.downAfter + 5_000)
        #expect(g.events("+crash-down").isEmpty)
        #expect(Self.masterSDowns(g).isEmpty)
        #expect(g.promotions.isEmpty)
        #expect(g.converged(on: Self.master))
    }

    @Test("a master that comes back after the failover has started: it completes and the old master is converted to a replica")
    func restartAfterDecision() throws {
        var g = Self.settledGroup()
        g.crash(6379)
        _ = g.run(until: 5_000) { !$0.events("+try-failover").isEmpty }
        g.restart(6379)
        let took = g.run(until: 10_000) { g in
            Self.convergedElsewhere(g) && g.servers[Self.master]!.replicaOf == g.liveMasters.first
        }
        #expect(took != nil)
        #expect(g.promotions.count == 1)
    }

    /// The live master the group converged on, if it still holds the data (1,000 keys), and
    /// the restarted server is its replica holding them too.
    static func dataSurvived(_ g: G) -> Bool {
        guard Self.convergedElsewhere(g), let m = g.liveMasters.first else { return false }
        return g.servers[m]!.keys == 1_000 && g.servers[Self.master]!.replicaOf == m && g.servers[Self.master]!.keys == 1_000
    }

    @Test("a master restarted empty (no persistence) before any refusal was seen: SDOWN at once, a replica with the data is promoted before a full resync flushes it, the empty server becomes its replica",
          arguments: [UInt64(1), 2, 3, 4, 5])
    func emptyRestartBeforeRefusal(seed: UInt64) throws {
        var g = Self.settledGroup(seed: seed)
        g.crash(6379)
        g.restart(6379, empty: true)  // same step: back (empty) before any reconnect is refused
        var wiped = false
        let took = g.run(until: 10_000) { g in
            if g.servers.contains(where: { $0.key != Self.master && $0.value.keys == 0 }) { wiped = true }
            return Self.dataSurvived(g)
        }
        try #require(took != nil, "the data did not survive on a promoted replica within 10 s (down-after is 30 s)")
        #expect(!g.events("+empty-restart").isEmpty)
        #expect(g.events("+crash-down").isEmpty, "nothing was refused")
        #expect(g.promotions.count == 1)
        #expect(g.promotions[0].at < 1_000 + 12_000, "promoted before the 1 s full resync could flush the replicas")
        #expect(!wiped, "a replica took the empty data set")
    }

    @Test("a master restarted empty after its crash-down was seen (the failover under way): the data survives, the restarted server is never offered to clients",
          arguments: [UInt64(1), 2, 3])
    func emptyRestartAfterCrashDown(seed: UInt64) throws {
        var g = Self.settledGroup(seed: seed)
        g.crash(6379)
        _ = g.run(until: 2_000) { !$0.events("+crash-down").isEmpty }
        g.restart(6379, empty: true)
        var offered = false
        let took = g.run(until: 10_000) { g in
            for i in g.sentinels.indices {
                if let m = g.sentinels[i].state.masters[G.masterName], m.address == Self.master, !m.instance.isSDown, !m.isODown {
                    offered = true
                }
            }
            return Self.dataSurvived(g)
        }
        #expect(took != nil)
        #expect(g.promotions.count == 1)
        #expect(!offered, "a sentinel offered the empty restarted master as the master")
    }

    @Test("not an empty restart: a master restarted with its data (persistence, a new run id), or empty while its replicas are empty too, or still loading — no failover before down-after")
    func restartsThatAreNotEmpty() {
        var withData = Self.settledGroup()
        withData.crash(6379)
        withData.servers[Self.master]!.runID = "restarted-with-data"
        withData.restart(6379)
        withData.run(for: Self.downAfter - 1_000)
        #expect(withData.events("+empty-restart").isEmpty)
        #expect(withData.promotions.isEmpty)
        #expect(withData.converged(on: Self.master))

        var allEmpty = Self.settledGroup()
        for a in allEmpty.servers.keys { allEmpty.servers[a]!.keys = 0 }
        allEmpty.run(for: 12_000)  // every replica's INFO shows it empty
        allEmpty.crash(6379)
        allEmpty.restart(6379, empty: true)
        allEmpty.run(for: Self.downAfter - 1_000)
        #expect(allEmpty.events("+empty-restart").isEmpty)
        #expect(allEmpty.promotions.isEmpty)

        var loading = Self.settledGroup()
        loading.crash(6379)
        loading.restart(6379, empty: true)
        loading.servers[Self.master]!.loading = true  // its RDB is being loaded: keys not final
        loading.run(for: 3_000)
        #expect(loading.events("+empty-restart").isEmpty)
        loading.servers[Self.master]!.loading = false
        loading.servers[Self.master]!.keys = 1_000  // loaded
        loading.run(for: Self.downAfter - 5_000)
        #expect(loading.events("+empty-restart").isEmpty)
        #expect(loading.promotions.isEmpty)
    }

    @Test("an empty restart with redis-7.0 behaviour: no failover, the replicas resync from the empty master and lose the data (7.0's data loss, kept)")
    func emptyRestartUnder70() {
        var g = Self.settledGroup(behaviour: .redis70)
        g.crash(6379)
        g.restart(6379, empty: true)
        g.run(for: Self.downAfter + 10_000)
        #expect(g.events("+empty-restart").isEmpty)
        #expect(g.promotions.isEmpty)
        #expect(g.servers.values.allSatisfy { $0.keys == 0 })
    }

    @Test("replicas that name their master by a host name (or in another case) still count for crash-down once the name's address is known")
    func replicaMatchByHostName() throws {
        var g = G(downAfter: Self.downAfter, failoverTimeout: 60_000)
        g.hostNames[Self.master] = "Redis-A.example"
        for i in g.sentinels.indices { g.sentinels[i].state.learnHostAddress("redis-a.example", Self.master.ip) }
        g.run(for: 12_000)
        #expect(g.events("+fix-slave-config").isEmpty, "a replica naming its master by name is configured right")
        g.crash(6379)
        #expect(g.run(until: 5_000) { Self.convergedElsewhere($0) } != nil)
        #expect(g.events("+crash-down").count >= 2)

        // The same name never resolved: the replicas' reports cannot be matched, so no crash-down.
        var unknown = G(downAfter: Self.downAfter, failoverTimeout: 60_000)
        unknown.hostNames[Self.master] = "redis-a.example"
        unknown.run(for: 12_000)
        unknown.crash(6379)
        unknown.run(for: 5_000)
        #expect(unknown.events("+crash-down").isEmpty)
        #expect(unknown.promotions.isEmpty)
    }

    @Test("a replica whose link has been down long before the crash does not count as agreeing")
    func staleReplicaLinkDoesNotCount() {
        var g = G(replicas: 1, downAfter: Self.downAfter, failoverTimeout: 60_000)
        g.run(for: 12_000)
        // The only replica reports its link to the master lost 10 s before the crash.
        g.servers[G.addr(6380)]!.linkDownSince = g.now - 10_000
        g.crash(6379)
        g.run(for: 5_000)
        #expect(g.events("+crash-down").isEmpty)
        #expect(g.promotions.isEmpty)
    }

    @Test("a replica that answered the refusal's INFO with its link still up (it had not read its master's EOF yet) is asked again within the fast period, and the crash is then seen")
    func replicaVetoIsAskedAgain() {
        let master = InstanceAddress(ip: "10.0.0.1", port: 6379), replica = InstanceAddress(ip: "10.0.0.1", port: 6380)
        var s = SentinelState(myID: "me", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        _ = s.monitor(name: "m", address: master, quorum: 1, downAfter: Self.downAfter, now: 0)
        let r = InstanceRef.replica(master: "m", replica)
        _ = s.handle(.linkUp(.master("m")), now: 0)
        _ = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: false, replicas: [replica])), now: 10)
        _ = s.handle(.linkUp(r), now: 20)
        _ = s.handle(.info(r, InfoReport(runID: "b", isReplica: true, masterHost: master.ip, masterPort: master.port, masterLinkUp: true)), now: 30)
        _ = s.handle(.pingReply(.master("m"), .pong), now: 990)
        _ = s.handle(.linkDown(.master("m")), now: 1_000)
        #expect(s.handle(.connectionRefused(.master("m")), now: 1_001).contains(.info(r)))
        // Its answer still says the link is up: no crash-down yet.
        _ = s.handle(.info(r, InfoReport(runID: "b", isReplica: true, masterHost: master.ip, masterPort: master.port, masterLinkUp: true)), now: 1_002)
        #expect(!s.masters["m"]!.instance.isSDown)
        var askedAgain: Millis?
        var t: Millis = 1_002
        while t < 1_500, askedAgain == nil {
            t += 50
            if s.handle(.tick, now: t).contains(.info(r)) { askedAgain = t }
        }
        #expect(askedAgain.map { $0 <= 1_002 + 200 } == true, "asked again at \(String(describing: askedAgain))")
        let actions = s.handle(.info(r, InfoReport(runID: "b", isReplica: true, masterHost: master.ip, masterPort: master.port, masterLinkUp: false)), now: t + 1)
        #expect(s.masters["m"]!.instance.isSDown)
        #expect(actions.contains { if case .publish(let e) = $0 { return e.type == "+crash-down" } else { return false } })
    }

    @Test("crash detection off: with redis-7.0 behaviour, and per master (sentinel crash-detection <master> no)")
    func crashDetectionOff() throws {
        var g70 = Self.settledGroup(behaviour: .redis70)
        g70.crash(6379)
        g70.run(for: Self.downAfter - 1_000)
        #expect(g70.promotions.isEmpty)
        #expect(g70.events("+crash-down").isEmpty)
        #expect(g70.run(until: 40_000) { Self.convergedElsewhere($0) } != nil)

        var g = Self.settledGroup()
        for i in g.sentinels.indices {
            _ = g.sentinels[i].state.set(master: G.masterName, .crashDetection(false), option: "crash-detection", value: "no")
            #expect(!g.sentinels[i].state.crashDetectionEnabled(G.masterName))
        }
        g.crash(6379)
        g.run(for: Self.downAfter - 1_000)
        #expect(g.promotions.isEmpty)
        #expect(g.events("+crash-down").isEmpty)

        // And on again per master under redis-7.0 behaviour.
        var on = Self.settledGroup(behaviour: .redis70)
        for i in on.sentinels.indices { on.sentinels[i].state.setCrashDetection(master: G.masterName, true) }
        on.crash(6379)
        _ = on.run(until: 5_000) { !$0.events("+odown").isEmpty }
        #expect(!on.events("+crash-down").isEmpty)
        #expect(!on.events("+odown").isEmpty)
    }

    @Test("the master's process and the sentinel beside it die together (a node's crash): the two left fail over fast; a split vote is retried at once, not after 2 × failover-timeout",
          arguments: [SentinelBehaviour(), .redis70])
    func crashWithOneSentinel(behaviour: SentinelBehaviour) {
        var splits = 0, slow: [UInt64] = []
        // Two sentinels stand in one epoch here when their timers run in step; with
        // `periodicRideAlong` their INFO to the replicas (which confirms the crash) leaves on
        // different ticks, one stands first and gets the other's vote: no split in these seeds.
        // Both are run: fast either way, and splits (without riding along) retried at once.
        for seed in UInt64(1)...30 {
          for rideAlong in [true, false] {
            var b = behaviour
            if behaviour.splitVoteRetry == nil { b.crashDetection = true }  // 7.0's election, crash-down detection
            b.periodicRideAlong = rideAlong && behaviour.periodicRideAlong
            var g = Self.settledGroup(behaviour: b, seed: seed)
            g.askLatency = true
            g.crash(6379)
            g.sentinels[2].alive = false
            if g.run(until: 5_000, { Self.convergedElsewhere($0) }) == nil { slow.append(seed) }
            #expect(g.promotions.count <= 1)
            splits += g.events("-failover-abort-split-vote").count
          }
        }
        if behaviour.splitVoteRetry == nil {
            // 7.0's election: two candidates in one epoch with the third voter gone wait for the
            // election timeout and 2 × failover-timeout (here 2 min).
            #expect(!slow.isEmpty, "no seed split the vote: the scenario does not exercise the retry")
        } else {
            #expect(slow.isEmpty, "seeds that did not converge within 5 s: \(slow)")
            #expect(splits > 0, "no seed split the vote: the scenario does not exercise the retry")
        }
    }

    @Test("a mixed group: a peer without crash detection still votes, so quorum-many detecting peers fail over fast")
    func mixedGroup() {
        var g = Self.settledGroup()
        // Sentinel 2 behaves as redis-sentinel 7.0 (answers down only after down-after).
        g.sentinels[2].state.behaviour = .redis70
        g.crash(6379)
        #expect(g.run(until: 5_000) { Self.convergedElsewhere($0) } != nil)
        #expect(g.events("+crash-down", in: 2).isEmpty)
    }
}

@Suite("Sentinel core: candidacy jitter")
struct CandidacyJitterTests {
    static let master = InstanceAddress(ip: "10.0.0.1", port: 6379)

    static let replica = InstanceAddress(ip: "10.0.0.1", port: 6380)

    /// What the SDOWN comes from: crash-down (refused, the replica's link down); down-after
    /// from a PING left unanswered; down-after from the link's loss with no PING pending.
    enum Cause { case crash, unansweredPing, linkLost }

    /// A sentinel with two peers that reaches ODOWN at t = 1000 (its own SDOWN plus a peer's
    /// answer) from `cause`; returns when it started the failover (`+try-failover`).
    static func candidacyStart(seed: UInt64, behaviour: SentinelBehaviour = SentinelBehaviour(), cause: Cause = .crash) -> Millis? {
        let crash = cause == .crash
        var s = SentinelState(myID: "me", announce: InstanceAddress(ip: "10.0.0.2", port: 26379), seed: seed, behaviour: behaviour)
        _ = s.monitor(name: "m", address: master, quorum: 2, downAfter: crash ? 30_000 : 500, now: 0)
        s.setCrashDetection(master: "m", true)
        _ = s.handle(.hello("10.0.0.2,26380,peer1,0,m,10.0.0.1,6379,0"), now: 0)
        _ = s.handle(.hello("10.0.0.2,26381,peer2,0,m,10.0.0.1,6379,0"), now: 0)
        _ = s.handle(.linkUp(.sentinel(master: "m", runID: "peer1")), now: 0)
        let r = InstanceRef.replica(master: "m", replica)
        if crash {
            _ = s.handle(.linkUp(.master("m")), now: 0)
            _ = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: false, replicas: [replica])), now: 10)
            _ = s.handle(.linkUp(r), now: 20)
            _ = s.handle(.info(r, InfoReport(runID: "b", isReplica: true, masterHost: master.ip, masterPort: master.port, masterLinkUp: true)), now: 30)
            _ = s.handle(.pingReply(.master("m"), .pong), now: 990)
            let asked = s.handle(.connectionRefused(.master("m")), now: 1_000)
            guard asked.contains(.info(r)) else { return nil }  // the replica is asked at once
            _ = s.handle(.info(r, InfoReport(runID: "b", isReplica: true, masterHost: master.ip, masterPort: master.port, masterLinkUp: false)), now: 1_000)
            guard s.masters["m"]!.instance.isSDown else { return nil }
        } else {
            _ = s.handle(.linkUp(.master("m")), now: 0)  // PINGed at once
            if cause == .linkLost {
                _ = s.handle(.pingReply(.master("m"), .pong), now: 100)
                _ = s.handle(.linkDown(.master("m")), now: 300)
            }
            _ = s.handle(.tick, now: 900)  // SDOWN after down-after
            guard s.masters["m"]!.instance.isSDown, s.masters["m"]!.instance.sdownFromLinkLoss == (cause == .linkLost) else { return nil }
        }
        let actions = s.handle(.masterDownReply(master: "m", sentinel: "peer1", down: true, leader: nil, leaderEpoch: 0), now: 1_000)
        func started(_ actions: [SentinelAction]) -> Bool {
            actions.contains { if case .publish(let e) = $0 { return e.type == "+try-failover" } else { return false } }
        }
        if started(actions) { return 1_000 }
        var t: Millis = 1_000
        while t < 3_000 {
            t += 10
            if started(s.handle(.tick, now: t)) { return t }
        }
        return nil
    }

    @Test("a crash-down ODOWN starts the failover after a seeded random delay below the jitter, not in the same instant")
    func jitterDelaysCandidacy() throws {
        let jitter = try #require(SentinelBehaviour().candidacyJitter)
        var starts: Set<Millis> = []
        for seed in UInt64(1)...8 {
            let start = try #require(Self.candidacyStart(seed: seed))
            #expect(start >= 1_000 && start <= 1_000 + jitter + 10)
            #expect(start == Self.candidacyStart(seed: seed), "deterministic for a seed")
            starts.insert(start)
        }
        #expect(starts.count > 1, "different sentinels (seeds) stand at different times")
        #expect(starts.contains { $0 > 1_000 })
    }

    @Test("an ODOWN from a link lost with no PING pending (all sentinels lose it in one millisecond) is jittered too")
    func jitterAfterLinkLoss() throws {
        let jitter = try #require(SentinelBehaviour().candidacyJitter)
        var starts: Set<Millis> = []
        for seed in UInt64(1)...8 {
            let start = try #require(Self.candidacyStart(seed: seed, cause: .linkLost))
            #expect(start >= 1_000 && start <= 1_000 + jitter + 10)
            starts.insert(start)
        }
        #expect(starts.count > 1 && starts.contains { $0 > 1_000 })
    }

    @Test("a down-after ODOWN from an unanswered PING, and any ODOWN with redis-7.0 behaviour, starts the failover at once")
    func noJitterOtherwise() {
        for seed in UInt64(1)...4 {
            #expect(Self.candidacyStart(seed: seed, cause: .unansweredPing) == 1_000)
        }
        var b = SentinelBehaviour.redis70
        b.eagerSteps = true  // so that the reply itself starts it, as with Tandem's behaviour
        #expect(Self.candidacyStart(seed: 1, behaviour: b) == 1_000)
    }
}

/// `SentinelBehaviour.staleInfoWait`: a failover elected while no replica's INFO is fresh enough
/// to choose on asks the replicas and waits for them instead of aborting.
@Suite("Sentinel core: choosing on stale INFO")
struct StaleReplicaInfoTests {
    static let master = InstanceAddress(ip: "10.0.0.1", port: 6379)
    static let replica = InstanceAddress(ip: "10.0.0.1", port: 6380)

    static func events(_ actions: [SentinelAction]) -> [String] {
        actions.compactMap { if case .publish(let e) = $0 { return e.type } else { return nil } }
    }

    /// A sentinel with two peers whose replica last answered INFO at t = 30, the master silent
    /// from t = 5,000 (a PING unanswered: down-after 1,000 ms), the peers saying it is down and
    /// voting for this sentinel at t = 6,215: what the failover did by then, and the actions.
    static func elected(_ behaviour: SentinelBehaviour) -> (SentinelState, [String], [SentinelAction]) {
        var s = SentinelState(myID: "me", announce: InstanceAddress(ip: "10.0.0.2", port: 26379), seed: 3, behaviour: behaviour)
        _ = s.monitor(name: "m", address: master, quorum: 2, downAfter: 1_000, now: 0)
        s.setCrashDetection(master: "m", false)
        _ = s.handle(.hello("10.0.0.2,26380,peer1,0,m,10.0.0.1,6379,0"), now: 0)
        _ = s.handle(.hello("10.0.0.2,26381,peer2,0,m,10.0.0.1,6379,0"), now: 0)
        _ = s.handle(.linkUp(.sentinel(master: "m", runID: "peer1")), now: 0)
        _ = s.handle(.linkUp(.sentinel(master: "m", runID: "peer2")), now: 0)
        _ = s.handle(.linkUp(.master("m")), now: 0)
        _ = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: false, replicas: [replica])), now: 10)
        let r = InstanceRef.replica(master: "m", replica)
        _ = s.handle(.linkUp(r), now: 20)
        _ = s.handle(.info(r, InfoReport(runID: "b", isReplica: true, masterHost: master.ip, masterPort: master.port, masterLinkUp: true)), now: 30)
        var t: Millis = 0
        // Every instance answers until 5,000; then the master stops answering PINGs.
        while t < 5_900 {
            t += 100
            for action in s.handle(.tick, now: t) {
                switch action {
                case .ping(let ref) where ref != .master("m") || t < 5_000:
                    _ = s.handle(.pingReply(ref, .pong), now: t)
                default: break
                }
            }
        }
        var actions = s.handle(.tick, now: 6_205)  // SDOWN (the first PING unanswered went at 5,100); the peers asked
        var seen = events(actions)
        for peer in ["peer1", "peer2"] {
            let a = s.handle(.masterDownReply(master: "m", sentinel: peer, down: true, leader: nil, leaderEpoch: 0), now: 6_210)
            seen += events(a)
            actions += a
        }
        let epoch = Int(s.currentEpoch)
        for peer in ["peer1", "peer2"] {
            let a = s.handle(.masterDownReply(master: "m", sentinel: peer, down: true, leader: "me", leaderEpoch: UInt64(epoch)), now: 6_215)
            seen += events(a)
            actions += a
        }
        return (s, seen, actions)
    }

    @Test("elected with the replica's INFO 6 s old: it is asked at once and chosen on its answer, not -failover-abort-no-good-slave")
    func asksAndWaits() throws {
        var (s, seen, actions) = Self.elected(SentinelBehaviour())
        #expect(seen.contains("+elected-leader"))
        #expect(!seen.contains("-failover-abort-no-good-slave"), "\(seen)")
        #expect(!seen.contains("+selected-slave"))
        let r = InstanceRef.replica(master: "m", Self.replica)
        #expect(actions.contains(.info(r)), "the stale replica is asked")
        let answered = s.handle(.info(r, InfoReport(runID: "b", isReplica: true, masterHost: Self.master.ip, masterPort: Self.master.port, masterLinkUp: false)), now: 6_220)
        #expect(Self.events(answered).contains("+selected-slave"))
        #expect(answered.contains(.promote(r)))
    }

    @Test("no answer within the wait: aborted as 7.0 does; without the wait (7.0) aborted at once")
    func givesUp() throws {
        var (s, _, _) = Self.elected(SentinelBehaviour())
        let later = s.handle(.tick, now: 6_215 + 1_001)
        #expect(Self.events(later).contains("-failover-abort-no-good-slave"))
        var without = SentinelBehaviour()
        without.staleInfoWait = nil  // as 7.0 (`redis70` has none)
        #expect(SentinelBehaviour.redis70.staleInfoWait == nil)
        let (_, seen, _) = Self.elected(without)
        #expect(seen.contains("+elected-leader") && seen.contains("-failover-abort-no-good-slave"), "\(seen)")
    }
}
