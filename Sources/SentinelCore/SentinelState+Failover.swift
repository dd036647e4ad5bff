extension SentinelState {
    /// `sentinelStartFailoverIfNeeded`.
    mutating func startFailoverIfNeeded(_ name: String, now: Millis) -> Bool {
        guard withMaster(name, { $0.isODown && !$0.failoverInProgress }) == true, let master = masters[name] else { return false }
        if let started = master.failoverStartTime, now - started < master.failoverTimeout.saturatingTimes(2) {
            masters[name]!.candidacyNotBefore = nil
            return false
        }
        // Candidacy jitter: sentinels that reach ODOWN in the same millisecond (a crash-down
        // is seen by all at once; so is a link lost with no PING pending — down-after from the
        // same EOF, and each one's reconnects, refused every 200 ms from then, check it in step;
        // a down-after SDOWN from an unanswered PING is spread by each one's PING timing) would
        // all stand in one epoch, each vote for itself and split the vote; then 7.0 retries only
        // after 2 × failover-timeout (Tandem: within 200 ms, `splitVoteRetry`). A random start
        // spreads them so the first candidate's vote requests reach the others before they stand.
        if let jitter = behaviour.candidacyJitter, jitter > 0, master.instance.sdownFromCrash || master.instance.sdownFromLinkLoss,
           master.candidacyNotBefore == nil {
            masters[name]!.candidacyNotBefore = now + Millis(random.next() % UInt64(jitter))
        }
        // (Also set by a split vote's retry, whatever the SDOWN came from.)
        if let notBefore = masters[name]!.candidacyNotBefore, now < notBefore { return false }
        masters[name]!.candidacyNotBefore = nil
        startFailover(name, now: now)
        return true
    }

    /// `sentinelStartFailover`: a new epoch, and a random start so peers do not collide.
    mutating func startFailover(_ name: String, now: Millis) {
        // Wraps as 7.0's uint64 does: an epoch of 2^64 - 1 (from the file or a peer's hello)
        // must not stop the process.
        currentEpoch &+= 1
        masters[name]!.failoverState = .waitStart
        masters[name]!.failoverInProgress = true
        masters[name]!.failoverEpoch = currentEpoch
        plainEvent(.warning, "+new-epoch", "\(currentEpoch)", master: name)
        event(.warning, "+try-failover", .master(name))
        masters[name]!.failoverStartTime = now + randomDesync()
        masters[name]!.failoverStateChangeTime = now
    }

    /// With `durability replicated` and the master down: the moment it was first seen down
    /// (its port refusing, or SDOWN). Every write a replica acknowledged was acknowledged before
    /// it, so a replica's INFO read after it shows every such write it has.
    func durableSince(_ master: borrowing MonitoredMaster) -> Millis? {
        guard master.replicatedDurability, let sdown = master.instance.sdownSince else { return nil }
        return min(master.instance.refusedSince ?? sdown, sdown)
    }

    /// `sentinelSelectSlave`: drop unusable replicas, then sort by priority, offset, run id.
    /// With `durability replicated` and the master down, only replicas whose INFO was read
    /// after it went down are candidates, and the highest offset comes first (an acknowledged
    /// write is on some replica; the one furthest ahead has them all).
    func selectReplica(_ name: String, now: Millis) -> InstanceAddress? {
        selectableReplicas(name, now: now).ordered.first
    }

    /// Usable replicas in the order `selectReplica` prefers them; with `durability replicated`
    /// and the master down, `unconfirmed` counts the reachable ones left out because no INFO
    /// read since the master went down is in yet; `stale` the reachable ones whose last INFO is
    /// older than its validity.
    func selectableReplicas(_ name: String, now: Millis) -> (ordered: [InstanceAddress], unconfirmed: Int, stale: [InstanceAddress]) {
        guard let master = masters[name] else { return ([], 0, []) }
        var maxMasterDownTime: Millis = 0
        if let since = master.instance.sdownSince { maxMasterDownTime += now - since }
        maxMasterDownTime = maxMasterDownTime.saturatingPlus(master.downAfter.saturatingTimes(10))
        let infoValidity = master.instance.isSDown ? timers.pingPeriod.saturatingTimes(5) : timers.infoPeriod.saturatingTimes(3)
        let reachable = master.replicas.values.filter { r in
            !r.isSDown && r.linkConnected && now - r.lastAvailTime <= timers.pingPeriod.saturatingTimes(5)
                && r.replicaPriority != 0
        }
        let since = durableSince(master)
        let candidates = reachable.filter { r in
            r.infoRefresh.map { now - $0 <= infoValidity && $0 >= (since ?? $0) } == true
                && r.masterLinkDownTime <= maxMasterDownTime
        }
        let offsetFirst = since != nil
        let ordered = candidates.sorted { a, b in
            if offsetFirst && a.replicationOffset != b.replicationOffset { return a.replicationOffset > b.replicationOffset }
            if a.replicaPriority != b.replicaPriority { return a.replicaPriority < b.replicaPriority }
            if a.replicationOffset != b.replicationOffset { return a.replicationOffset > b.replicationOffset }
            switch (a.runID, b.runID) {
            case (nil, nil): return a.address < b.address
            case (nil, _): return false
            case (_, nil): return true
            case (let x?, let y?): return x.lowercased() != y.lowercased() ? x.lowercased() < y.lowercased() : a.address < b.address
            }
        }.map(\.address)
        // Durability: reachable replicas whose INFO since the master went down is still to come.
        let unconfirmed = since.map { since in
            reachable.filter { r in r.infoRefresh.map { $0 < since || now - $0 > infoValidity } ?? true }.count
        } ?? 0
        let stale = reachable.filter { r in r.infoRefresh.map { now - $0 > infoValidity } ?? true }.map(\.address).sorted()
        return (ordered, unconfirmed, stale)
    }

    /// How long a failover with `durability replicated` waits in select-slave for replicas'
    /// INFO read after the master went down before it gives up (-failover-abort-no-good-slave).
    static let durableSelectionWait: Millis = 3_000

    /// `sentinelFailoverStateMachine`.
    mutating func failoverStateMachine(_ name: String, now: Millis) {
        guard let master = masters[name], master.failoverInProgress else { return }
        let ref = InstanceRef.master(name)
        switch master.failoverState {
        case .waitStart:
            let winner = leader(name, epoch: master.failoverEpoch, now: now)
            if winner != myID && !(master.forcedFailover && forcedFailoverGoesAhead(name, now: now)) {
                if let retry = behaviour.splitVoteRetry, retry > 0, isSplitVote(name, epoch: master.failoverEpoch, now: now) {
                    event(.warning, "-failover-abort-split-vote", ref)
                    abortFailover(name, now: now)
                    // Stand again soon, in a new epoch, after a random delay: the other
                    // candidates do the same, and the first to stand gets the others' votes.
                    masters[name]!.failoverStartTime = nil
                    masters[name]!.candidacyNotBefore = now + 1 + Millis(random.next() % UInt64(retry))
                    return
                }
                let electionTimeout = min(timers.electionTimeout, master.failoverTimeout)
                if now - (masters[name]!.failoverStartTime ?? now) > electionTimeout
                    || (behaviour.endLostElection && isLostElection(name, epoch: master.failoverEpoch)) {
                    event(.warning, "-failover-abort-not-elected", ref)
                    abortFailover(name, now: now)
                }
                return
            }
            event(.warning, "+elected-leader", ref)
            simulatedCrashPoint(.crashAfterElection)
            masters[name]!.failoverState = .selectSlave
            masters[name]!.failoverStateChangeTime = now
            event(.warning, "+failover-state-select-slave", ref)
        case .selectSlave:
            // SDOWN only a moment ago, or SDOWN for longer but its link just back (this sentinel
            // was cut off from it, the cut has healed, and the PING pending since the cut keeps
            // it SDOWN until the first PONG; the write simulator's seed 107013: a SENTINEL
            // FAILOVER 0.2 s after such a heal promoted unpaused while the master took writes).
            let sdownJustNow = master.instance.sdownSince.map { now - $0 < behaviour.switchoverLinkWait } ?? false
            let linkJustBack = master.instance.linkConnected
                && (master.instance.linkUpSince.map { now - $0 < behaviour.switchoverLinkWait } ?? false)
            if behaviour.coordinatedSwitchover && master.forcedFailover
                && (master.instance.isSDown ? sdownJustNow || linkJustBack : !master.instance.linkConnected)
                && now - master.failoverStateChangeTime < behaviour.switchoverLinkWait {
                // A reachable master whose link is down for a moment (recycled, reconnecting), or
                // that has just turned SDOWN (its PONGs late on a slow network): wait for it rather
                // than fall back to promoting while it still takes writes. (Found by the write
                // simulator, seed 52320: a planned switchover on a network with 0–400 ms delays
                // found the master SDOWN for 100 ms at the moment it chose the replica, promoted
                // unpaused, and the master's 10 writes meanwhile were lost.) A master SDOWN for
                // longer (dead, or fenced by its node agent) is not waited for.
                return
            }
            let (ordered, unconfirmed, stale) = selectableReplicas(name, now: now)
            if unconfirmed > 0 && now - master.failoverStateChangeTime < Self.durableSelectionWait {
                // Durability: a replica left out may hold writes the others lack; wait for its
                // INFO (asked for at once, see periodicCommandsDue) rather than lose them.
                return
            }
            if ordered.isEmpty, !stale.isEmpty, let wait = behaviour.staleInfoWait,
               now - master.failoverStateChangeTime < wait {
                // Reachable replicas whose last INFO is too old to choose on (a replica's INFO
                // comes every 10 s while its master is up, and counts for 5 s once it is SDOWN):
                // ask them now and choose on their answers (each one steps the failover on),
                // rather than abort and stand again only after twice the failover-timeout.
                for address in stale where masters[name]!.replicas[address]?.infoPending == false {
                    emit(.info(.replica(master: name, address)))
                    masters[name]!.replicas[address]!.infoPending = true
                }
                return
            }
            guard let chosen = ordered.first else {
                event(.warning, "-failover-abort-no-good-slave", ref)
                abortFailover(name, now: now)
                return
            }
            let replica = InstanceRef.replica(master: name, chosen)
            event(.warning, "+selected-slave", replica)
            masters[name]!.replicas[chosen]!.promoted = true
            masters[name]!.promotedReplica = chosen
            masters[name]!.failoverStateChangeTime = now
            // A master that answers when the replica is chosen (SENTINEL FAILOVER of a reachable
            // master, or one back from a partition while the failover its absence started goes
            // on) takes writes: it is paused and the replica catches up before the promotion,
            // as a switchover. Promoted at once, the replica would lack the writes the old master
            // acknowledged until its demotion (found by the simulator on its network model:
            // WriteScheduleTests seed 193, durability replicated, a failover elected 200 ms
            // after the master's node came back lost 11 acknowledged writes).
            if behaviour.coordinatedSwitchover && !master.instance.isSDown && master.instance.linkConnected {
                masters[name]!.failoverState = .pauseMaster
                masters[name]!.writesPaused = true
                masters[name]!.writesPausedSince = now
                emit(.pauseWrites(ref, timeout: behaviour.switchoverPauseLimit + 1_000))
                return
            }
            masters[name]!.failoverState = .sendSlaveofNoone
            event(.notice, "+failover-state-send-slaveof-noone", replica)
        case .pauseMaster:
            if now - master.failoverStateChangeTime > behaviour.switchoverPauseLimit {
                event(.warning, "-failover-abort-slave-timeout", ref)
                abortFailover(name, now: now)
            }
        case .waitReplicaCatchUp:
            guard let promoted = master.promotedReplica, let replica = master.replicas[promoted],
                  let target = master.switchoverTargetOffset else {
                abortFailover(name, now: now)
                return
            }
            if replica.replicationOffset >= target && replica.infoRefresh.map({ $0 >= master.failoverStateChangeTime }) == true
                || brokenForTesting == .switchoverSkipsCatchUp {
                masters[name]!.failoverState = .sendSlaveofNoone
                masters[name]!.failoverStateChangeTime = now
                event(.notice, "+failover-state-send-slaveof-noone", .replica(master: name, promoted))
            } else if now - master.failoverStateChangeTime > behaviour.switchoverPauseLimit {
                event(.warning, "-failover-abort-slave-timeout", ref)
                abortFailover(name, now: now)
            }
        case .sendSlaveofNoone:
            guard let promoted = master.promotedReplica, let replica = master.replicas[promoted] else {
                abortFailover(name, now: now)
                return
            }
            if !replica.linkConnected {
                if now - master.failoverStateChangeTime > master.failoverTimeout {
                    event(.warning, "-failover-abort-slave-timeout", ref)
                    abortFailover(name, now: now)
                }
                return
            }
            let replicaRef = InstanceRef.replica(master: name, promoted)
            emit(.promote(replicaRef))
            event(.notice, "+failover-state-wait-promotion", replicaRef)
            masters[name]!.failoverState = .waitPromotion
            masters[name]!.failoverStateChangeTime = now
        case .waitPromotion:
            if master.writesPaused, let since = master.writesPausedSince, now - since >= behaviour.switchoverPauseLimit {
                // A switchover whose promotion is still unconfirmed when the old master's pause
                // is about to run out (the promoted replica cut off, say): once it runs out the
                // old master takes writes again, which confirming the promotion later would
                // discard. Abandoned instead (the old master keeps them; the replica told to
                // become master is converted back). Found by the simulator: WriteScheduleTests seed 694.
                event(.warning, "-failover-abort-slave-timeout", ref)
                abortFailover(name, now: now)
            } else if now - master.failoverStateChangeTime > master.failoverTimeout {
                event(.warning, "-failover-abort-slave-timeout", ref)
                abortFailover(name, now: now)
            }
        case .reconfSlaves:
            reconfigureNextReplicas(name, now: now)
        case .none, .updateConfig:
            break
        }
    }

    /// `sentinelAbortFailover`: only possible before the promotion is confirmed.
    mutating func abortFailover(_ name: String, now: Millis) {
        if masters[name]!.writesPaused {
            if !newerFailoverKnown(name) { emit(.unpauseWrites(.master(name))) }
            masters[name]!.writesPaused = false
        }
        masters[name]!.switchoverTargetOffset = nil
        masters[name]!.failoverInProgress = false
        masters[name]!.forcedFailover = false
        masters[name]!.failoverState = .none
        masters[name]!.failoverStateChangeTime = now
        if let promoted = masters[name]!.promotedReplica {
            masters[name]!.replicas[promoted]?.promoted = false
            masters[name]!.promotedReplica = nil
        }
    }

    /// A newer failover of this master than our last one is known (we voted in a newer epoch,
    /// or adopted a newer configuration). The old master's pause may then be that failover's:
    /// a server has one pause, the latest end wins, and CLIENT UNPAUSE lifts it whoever set it —
    /// so ours is left to run out by itself (at most `switchoverPauseLimit` + 1 s after it began)
    /// rather than lifted under the newer failover's promotion. (Found by the write simulator,
    /// seed 39165: a switchover waiting for a lagging replica was superseded by an agents'
    /// failover, elected with our vote, which paused the old master itself; our abort's UNPAUSE
    /// reached the old master while the other replica was being promoted, and the old master
    /// acknowledged 75 writes that the promotion then discarded.)
    func newerFailoverKnown(_ name: String) -> Bool {
        guard let m = masters[name] else { return false }
        return m.leaderEpoch > m.failoverEpoch || m.configEpoch > m.failoverEpoch
    }
}

extension SentinelState {
    /// Sends hello to the master, every replica and every peer sentinel of `name` with a link.
    mutating func sendHelloEverywhere(_ name: String, now: Millis) {
        guard let master = masters[name] else { return }
        var refs: [InstanceRef] = [.master(name)]
        refs += master.sortedReplicaAddresses.map { .replica(master: name, $0) }
        refs += master.sortedSentinelIDs.map { .sentinel(master: name, runID: $0) }
        for ref in refs where instance(ref)?.linkConnected == true { sendHello(ref, now: now) }
    }
}
