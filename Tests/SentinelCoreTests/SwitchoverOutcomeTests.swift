import SentinelCore
import Testing

/// What the core decides from the answers to a coordinated switchover's CLIENT PAUSE and demote.
@Suite("Sentinel core: switchover pause and demote outcomes")
struct SwitchoverOutcomeTests {
    typealias G = SimulatedGroup
    static let abort = SentinelEvent(level: .warning, type: "-failover-abort-slave-timeout", payload: "master mymaster 10.0.0.1 6379")

    /// Sentinel 0's core after a forced failover has asked for the pause (no answer fed yet), and the time.
    static func waitingForPause() throws -> (SentinelState, Millis) {
        var g = G()
        g.run(for: 12_000)
        var s = g.sentinels[0].state
        var t = g.time(of: 0)
        var actions = try s.forceFailover(G.masterName, now: t)
        while !actions.contains(where: { if case .pauseWrites = $0 { true } else { false } }) {
            // The peers asked for their votes give them (a forced failover is elected too).
            var answers: [SentinelAction] = []
            for case .askMasterState(.sentinel(_, let runID), _, let epoch, let candidate) in actions {
                answers += s.handle(.masterDownReply(master: G.masterName, sentinel: runID, down: false, leader: candidate, leaderEpoch: epoch), now: t)
            }
            if answers.isEmpty {
                t += 100
                try #require(t < g.time(of: 0) + 2_000, "no CLIENT PAUSE asked for")
                answers = s.handle(.tick, now: t)
            }
            actions = answers
        }
        #expect(s.masters[G.masterName]!.failoverState == .pauseMaster)
        return (s, t)
    }

    @Test("no link to send CLIENT PAUSE on: the switchover is abandoned, with nothing to unpause")
    func pauseWithoutLink() throws {
        var (s, t) = try Self.waitingForPause()
        let actions = s.handle(.pauseFailed(master: G.masterName, .noLink), now: t + 1)
        #expect(actions.contains(.publish(Self.abort)))
        #expect(!actions.contains(.unpauseWrites(.master(G.masterName))), "writes were never paused")
        #expect(s.masters[G.masterName]!.failoverInProgress == false)
        #expect(s.masters[G.masterName]!.writesPaused == false)
        // A pause that succeeds after all, too late, is undone.
        #expect(s.handle(.writesPaused(master: G.masterName, offset: 42), now: t + 2) == [.unpauseWrites(.master(G.masterName))])
    }

    @Test("a CLIENT PAUSE that fails abandons the switchover: nothing promoted, the master keeps its writes")
    func pauseFails() throws {
        var g = G()
        g.run(for: 12_000)
        g.failNextPause = true
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        g.run(for: 3_000)
        #expect(g.events("-failover-abort-slave-timeout", in: 0).count == 1)
        #expect(g.promotions.isEmpty && g.pauses == 0 && g.demotions == 0)
        #expect(g.liveMasters == [G.addr(6379)])
        #expect(g.sentinels[0].state.masters[G.masterName]!.failoverInProgress == false)
    }

    @Test("a demote that fails is retried 100 ms later until the old master follows")
    func demoteRetried() throws {
        var g = G()
        g.run(for: 12_000)
        g.failDemotes = 3
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        let took = g.run(until: 20_000) { g in
            g.liveMasters.count == 1 && g.liveMasters[0] != G.addr(6379) && g.converged(on: g.liveMasters[0])
        }
        #expect(took != nil)
        #expect(g.demoteAttempts.map(\.attempt) == [1, 2, 3, 4])
        let gaps = zip(g.demoteAttempts.dropFirst(), g.demoteAttempts).map { $0.at - $1.at }
        #expect(gaps.allSatisfy { $0 >= 100 && $0 <= 200 }, "gaps \(gaps)")
        #expect(g.demotions == 1)
        #expect(g.servers[G.addr(6379)]!.replicaOf == g.liveMasters.first)
        #expect(g.servers[G.addr(6379)]!.writesPaused == false)
        #expect(g.sentinels[0].state.demotions.isEmpty, "nothing left to retry")
    }

    @Test("a demote that keeps failing is given up once the pause it would lift has run out")
    func demoteGivenUp() throws {
        var g = G()
        g.run(for: 12_000)
        g.failDemotes = .max
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        _ = g.run(until: 20_000) { !$0.demoteAttempts.isEmpty }
        let first = try #require(g.demoteAttempts.first).at
        let window = g.sentinels[0].state.behaviour.switchoverPauseLimit + 1_000
        g.run(for: window + 3_000)
        let last = try #require(g.demoteAttempts.last).at
        #expect(last < first + window, "an attempt \(last - first) ms after the first, past the pause")
        #expect(last >= first + window - 200, "attempts went on until the pause ran out")
        #expect(g.demoteAttempts.count >= 50)
        #expect(g.sentinels[0].state.demotions.isEmpty)
    }

    @Test("a demote whose answer never comes (the sentinel stopped, its connection gone) is dropped once the pause it would lift has run out")
    func demoteAnswerLost() throws {
        var g = G()
        g.run(for: 12_000)
        // Every message takes 300 ms, so the demote and its answer are in flight for a while.
        g.network = SimulatedNetwork(seed: 1, normal: .init(minDelay: 300, maxDelay: 300))
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        _ = g.run(until: 20_000) { !$0.demoteAttempts.isEmpty }
        let first = try #require(g.demoteAttempts.first).at
        // Stopped before the answer arrives: the answer is lost with its connection.
        g.sentinels[0].alive = false
        g.run(for: 1_000)
        #expect(g.sentinels[0].state.demotions.count == 1, "the attempt is still under way")
        g.sentinels[0].alive = true
        let window = g.sentinels[0].state.behaviour.switchoverPauseLimit + 1_000
        g.run(for: window)
        #expect(g.now > first + window)
        #expect(g.sentinels[0].state.demotions.isEmpty, "a demotion past its deadline is dropped")
        #expect(g.demoteAttempts.count == 1, "no attempt after the first: its answer was only lost")
    }
    /// Write simulator seed 23031: a switchover's demote kept failing; the old master's agent made
    /// it a replica of the promoted one itself; the promoted replica's node agent was dead, so the
    /// agents asked for a failover, which promoted the old master back. The first switchover's
    /// next demote attempt then succeeded and made the new master a replica of the one it had
    /// just demoted: a replication loop, no master.
    @Test("a demote still retried when a newer failover of the master starts is dropped: it would make the new master a replica")
    func demoteSupersededByNewerFailover() throws {
        var g = G()
        g.run(for: 12_000)
        g.failDemotes = .max
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        _ = g.run(until: 20_000) { !$0.demoteAttempts.isEmpty && $0.advertisedMaster(0) != G.addr(6379) }
        let promoted = try #require(g.promotions.first?.address)
        #expect(g.sentinels[0].state.demotions.count == 1, "the demote is being retried")
        // The old master's agent makes it a replica itself; the other replica dies, so the old
        // master is the only candidate for the next failover.
        g.servers[G.addr(6379)]!.replicaOf = promoted
        g.servers[G.addr(6379)]!.writesPaused = false
        g.crash(promoted == G.addr(6380) ? 6381 : 6380)
        g.run(for: 1_500)
        let second = g.now
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        g.failDemotes = 0
        let took = g.run(until: 30_000) { $0.converged(on: G.addr(6379)) }
        #expect(took != nil, "no convergence on the old master promoted back; servers: \(g.servers.mapValues(\.replicaOf))")
        let stale = g.demoteAttempts.filter { $0.at > second && $0.attempt > 1 }
        #expect(stale.isEmpty, "the first switchover's demote retried after the second failover began: \(stale)")
    }

    /// Write simulator seed 39165: a switchover waiting for a lagging replica was superseded by
    /// the agents' failover, elected with this sentinel's vote, whose leader paused the old master
    /// itself. This sentinel's abort then sent CLIENT UNPAUSE, which lifts every pause of a
    /// server: the old master took 75 writes while the other replica was promoted, all discarded.
    @Test("a switchover aborted after voting for a newer failover of the master leaves the pause to run out; without that vote it unpauses", arguments: [true, false])
    func abortLeavesPauseToNewerFailover(votedForNewer: Bool) throws {
        var (s, t) = try Self.waitingForPause()
        // Paused at an offset the chosen replica never reports reaching (it lags).
        _ = s.handle(.writesPaused(master: G.masterName, offset: 1 << 40), now: t + 1)
        #expect(s.masters[G.masterName]!.failoverState == .waitReplicaCatchUp)
        if votedForNewer {
            let epoch = s.masters[G.masterName]!.failoverEpoch + 1
            let vote = s.isMasterDownByAddr(address: G.addr(6379), epoch: epoch, runID: "ffffffffffffffffffffffffffffffffffffffff", now: t + 2)
            #expect(vote.leaderEpoch == epoch && vote.leader == "ffffffffffffffffffffffffffffffffffffffff")
        }
        var now = t + 2
        var actions: [SentinelAction] = []
        while !actions.contains(.publish(Self.abort)) {
            now += 100
            try #require(now < t + 20_000, "the switchover never timed out")
            actions = s.handle(.tick, now: now)
        }
        #expect(actions.contains(.unpauseWrites(.master(G.masterName))) == !votedForNewer)
        #expect(s.masters[G.masterName]!.writesPaused == false && s.masters[G.masterName]!.failoverInProgress == false)
        // A pause that answers after the abort is undone only when no newer failover may own it.
        let late = s.handle(.writesPaused(master: G.masterName, offset: 42), now: now + 1)
        #expect(late.contains(.unpauseWrites(.master(G.masterName))) == !votedForNewer)
    }

    /// Write simulator seed 44543: a sentinel frozen while its failover reconfigured the replicas
    /// woke after a newer failover (by its peers) had moved the master back to the old address;
    /// their hello set its config epoch to the newer one without a switch (same address), and its
    /// own failover's end then switched to the replica it had promoted, announcing it with that
    /// epoch: two masters with one config epoch, never reconciled.
    @Test("a failover still reconfiguring replicas ends when a newer configuration names the master it is moving away from; it never announces its promoted replica with that epoch")
    func failoverSupersededByNewerConfigOfSameMaster() throws {
        var g = G()
        g.run(for: 12_000)
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        _ = g.run(until: 20_000) { $0.sentinels[0].state.masters[G.masterName]?.failoverState == .reconfSlaves }
        var s = g.sentinels[0].state
        try #require(s.masters[G.masterName]!.failoverState == .reconfSlaves)
        let epoch = s.masters[G.masterName]!.failoverEpoch
        let old = s.masters[G.masterName]!.address
        let peer = try #require(s.masters[G.masterName]!.sentinels.first)
        let hello = "\(peer.value.address.ip),\(peer.value.address.port),\(peer.key),\(epoch + 1),\(G.masterName),\(old.ip),\(old.port),\(epoch + 1)"
        let actions = s.handle(.hello(hello), now: g.time(of: 0))
        #expect(s.masters[G.masterName]!.failoverState == .none && !s.masters[G.masterName]!.failoverInProgress)
        #expect(s.masters[G.masterName]!.address == old && s.masters[G.masterName]!.configEpoch == epoch + 1)
        #expect(actions.contains { if case .publish(let e) = $0 { e.type == "+config-update-from" } else { false } })
        var t = g.time(of: 0)
        for _ in 0..<100 {
            t += 100
            _ = s.handle(.tick, now: t)
        }
        #expect(s.masters[G.masterName]!.address == old, "switched to the promoted replica after all")
    }

    /// Write simulator seed 52320: a planned switchover on a slow network (PONGs up to 400 ms
    /// late) found the master SDOWN for 100 ms just as it chose the replica, and promoted it
    /// unpaused: the master's writes of the next 100 ms were lost.
    @Test("a planned switchover that finds the master just turned SDOWN waits for it to answer, then pauses it; one SDOWN for longer is not waited for")
    func switchoverWaitsForMasterJustSDown() throws {
        // One sentinel: no ODOWN failover of its own gets in the way (quorum 2).
        var g = G(sentinelCount: 1)
        g.run(for: 12_000)
        g.pause(6379)
        _ = g.run(until: 20_000) { $0.sentinels[0].state.masters[G.masterName]!.instance.isSDown }
        try #require(g.sentinels[0].state.masters[G.masterName]!.instance.isSDown)
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        g.run(for: 800)
        #expect(g.promotions.isEmpty, "promoted while the master had just turned SDOWN")
        g.resume(6379)
        _ = g.run(until: 30_000) { !$0.promotions.isEmpty }
        #expect(g.promotions.count == 1 && g.pauses >= 1, "promotions \(g.promotions), pauses \(g.pauses)")

        // SDOWN for longer than the wait (dead): promoted without waiting for it.
        var dead = G(sentinelCount: 1)
        dead.run(for: 12_000)
        dead.pause(6379)
        _ = dead.run(until: 20_000) { $0.sentinels[0].state.masters[G.masterName]!.instance.isSDown }
        dead.run(for: 2_500)
        let start = dead.now
        dead.perform(try dead.sentinels[0].state.forceFailover(G.masterName, now: dead.time(of: 0)), by: 0)
        let took = dead.run(until: start + 10_000) { !$0.promotions.isEmpty }
        #expect(took.map { $0 - start < 1_500 } == true, "promoted after \(took.map { $0 - start } ?? -1) ms")
    }

    /// Write simulator seed 107013: a SENTINEL FAILOVER 0.2 s after the sentinel's cut from the
    /// master healed — the master still SDOWN in its eyes (a PING pending since the cut, seconds
    /// before, and no PONG yet) but its link back — promoted unpaused while the master took
    /// writes: 12 lost.
    @Test("a planned switchover on a sentinel whose link to a master SDOWN for seconds has just come back waits for the master to answer, then pauses it")
    func switchoverWaitsForMasterLinkJustBack() throws {
        // One sentinel: no ODOWN failover of its own gets in the way (quorum 2).
        var g = G(sentinelCount: 1)
        g.answerAfterPause = true
        g.run(for: 12_000)
        // A PING pending when the cut begins (the master busy for a moment), then the cut.
        g.pause(6379)
        g.run(for: 200)
        g.isolate(sentinel: 0, from: G.addr(6379))
        _ = g.run(until: 20_000) { $0.sentinels[0].state.masters[G.masterName]!.instance.isSDown }
        g.run(for: 3_000)
        // The cut heals: the link is made again, the PING from before still unanswered.
        g.heal()
        g.syncLinks(0)
        let m = g.sentinels[0].state.masters[G.masterName]!
        try #require(m.instance.linkConnected && m.instance.isSDown && m.instance.pingPendingSince != nil)
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        g.run(for: 500)
        #expect(g.promotions.isEmpty, "promoted unpaused while the master's link had just come back")
        g.resume(6379)
        _ = g.run(until: 10_000) { !$0.promotions.isEmpty }
        #expect(g.promotions.count == 1 && g.pauses == 1, "promotions \(g.promotions), pauses \(g.pauses)")
    }
}

