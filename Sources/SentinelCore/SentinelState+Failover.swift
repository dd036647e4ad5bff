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

    /// `sentinelVoteLeader`: one vote per epoch, first come first served, saved before it is given.
    /// `about`: the address the request named (the master's, or the replica our failover promoted).
    mutating func voteLeader(_ name: String, epoch: UInt64, candidate: String, about: InstanceAddress, now: Millis) -> (String?, UInt64) {
        if epoch > currentEpoch {
            currentEpoch = epoch
            if brokenForTesting != .votesWithoutSaving { emit(.saveConfig) }
            plainEvent(.warning, "+new-epoch", "\(currentEpoch)", master: name)
        }
        if (masters[name]!.leaderEpoch < epoch || brokenForTesting == .voteTwiceInAnEpoch) && currentEpoch <= epoch {
            masters[name]!.leader = candidate
            masters[name]!.leaderEpoch = currentEpoch
            if brokenForTesting != .votesWithoutSaving { emit(.saveConfig) }
            plainEvent(.warning, "+vote-for-leader", "\(candidate) \(currentEpoch)", master: name)
            if candidate != myID {
                // Voting for someone else delays our own attempt.
                masters[name]!.failoverStartTime = now + randomDesync()
                masters[name]!.votedForOtherEpoch = currentEpoch
                masters[name]!.votedForOtherAt = now
                masters[name]!.votedForOtherAddress = about
                masters[name]!.votedForOtherServers = Self.servers(of: masters[name]!)
            }
        }
        return (masters[name]!.leader, masters[name]!.leaderEpoch)
    }

    /// `sentinelGetLeader`: the winner of `epoch` if it has a majority of all known sentinels
    /// (voters = peers + us) and at least quorum votes.
    mutating func leader(_ name: String, epoch: UInt64, now: Millis) -> String? {
        let master = masters[name]!
        var counts: [String: Int] = [:]
        for runID in master.sortedSentinelIDs {
            let peer = master.sentinels[runID]!
            if let vote = peer.leader, peer.leaderEpoch == currentEpoch { counts[vote, default: 0] += 1 }
        }
        let voters = master.sentinels.count + 1
        var winner = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.first?.key
        var maxVotes = winner.map { counts[$0]! } ?? 0
        let (myVote, voteEpoch) = voteLeader(name, epoch: epoch, candidate: winner ?? myID, about: master.address, now: now)
        if let myVote, voteEpoch == epoch {
            counts[myVote, default: 0] += 1
            if counts[myVote]! > maxVotes {
                maxVotes = counts[myVote]!
                winner = myVote
            }
        }
        if winner != nil && (maxVotes < Self.majority(of: voters) || maxVotes < master.quorum) { winner = nil }
        return winner
    }

    /// A forced failover (`SENTINEL FAILOVER`) not elected (yet): 7.0 goes ahead at once. With
    /// `electForcedFailover` it goes ahead without a majority only while no peer has voted for
    /// another candidate in its epoch and every peer that has not voted for it is out of reach
    /// (SDOWN, or its link down): the operator's override of a group whose other sentinels are
    /// gone still works, and two forced failovers started at once on two sentinels that reach
    /// each other are decided by the votes.
    ///
    /// Never under `durability replicated`: a sentinel cut off from its peers (not gone) would
    /// promote a replica on its side while the master goes on taking writes the other side's
    /// replicas acknowledge, and its epoch would discard them at the heal (the write simulator's
    /// seed 10183). Such a group's forced failover needs its majority.
    ///
    /// Nor after a vote for another sentinel's failover of this master whose outcome never came
    /// (no configuration of that epoch or newer heard since): that leader may have promoted a
    /// replica that has taken writes since, which a lone failover from the old configuration
    /// would make a replica of a lagging one (the write simulator's seed 93711: the sentinel
    /// voted, was cut off, and its peers were gone when an operator's SENTINEL FAILOVER came;
    /// 14 acknowledged writes lost). 7.0 goes ahead. The refusal ends once that failover is seen
    /// to have promoted nothing (`voteOutcomeSettled`).
    func forcedFailoverGoesAhead(_ name: String, now: Millis) -> Bool {
        guard behaviour.electForcedFailover else { return true }
        guard let master = masters[name], !master.replicatedDurability else { return false }
        if master.votedForOtherEpoch > master.configEpoch && !voteOutcomeSettled(master, now: now) { return false }
        let epoch = master.failoverEpoch
        for peer in master.sentinels.values {
            if peer.leaderEpoch == epoch, let vote = peer.leader {
                if vote != myID { return false }  // a rival holds votes in this epoch
                continue
            }
            if !peer.isSDown && peer.linkConnected { return false }  // may still answer
        }
        return true
    }

    /// Whether a failover we voted for whose configuration never came is over without a
    /// promotion among the servers we know: failover-timeout has passed since the vote (its
    /// leader gives up a promotion not confirmed by then), and the latest INFO of each server,
    /// received after that — the master's, each
    /// replica's and each server of the group at the vote's (`votedForOtherServers`: a SENTINEL
    /// RESET since forgets the replicas, and one the leader promoted no longer follows the
    /// master, so the master's INFO never lists it again), all of them needed — says the master
    /// is master and every other server replicates it. A replica that leader promoted would say
    /// master (or, converted back, would have come with a newer configuration). A server of the
    /// vote's group that stays out of reach keeps the refusal (it may be that promoted master,
    /// cut off with its clients).
    public func voteOutcomeSettled(_ master: borrowing MonitoredMaster, now: Millis) -> Bool {
        // A vote read from the file (no time) never settles so: the file keeps the vote's
        // epoch but not the group at the vote, and a SENTINEL RESET before the restart may have
        // forgotten the very replica that failover promoted (the review of 39edae5).
        guard let by = master.votedForOtherAt else { return false }
        let since = by.saturatingPlus(master.failoverTimeout)
        guard now > since, let masterInfo = master.instance.infoRefresh, masterInfo > since,
              !master.instance.roleReportedReplica, !master.replicas.isEmpty else { return false }
        for address in master.votedForOtherServers.union(master.replicas.keys) where address != master.address {
            guard let r = master.replicas[address], let info = r.infoRefresh, info > since, r.roleReportedReplica,
                  replicates(r, from: master.address) else { return false }
        }
        return true
    }

    /// The servers of a group: its master, its replicas, and the replica its failover promoted.
    static func servers(of master: borrowing MonitoredMaster) -> Set<InstanceAddress> {
        var all = Set(master.replicas.keys)
        all.insert(master.address)
        if let promoted = master.promotedReplica { all.insert(promoted) }
        return all
    }

    /// Whether the election of `epoch` is split: more than one candidate holds votes (ours and
    /// the peers' replies for this epoch), and with every peer that may still answer (its link
    /// up, not SDOWN, an answer heard within half of down-after, no vote of this epoch heard
    /// yet) none can reach the votes needed (a majority of all known sentinels, and the quorum).
    /// A peer cut off with the master is not SDOWN yet when the others stand (both go silent at
    /// once), and counted as undecided it hid a split between the other two until the election
    /// timed out (ProxyPartitionLabTests in the fresh-clone CI run: promoted 2.04 s after the
    /// cut instead of ~1.2 s).
    func isSplitVote(_ name: String, epoch: UInt64, now: Millis) -> Bool {
        guard let master = masters[name], master.leaderEpoch == epoch, let mine = master.leader else { return false }
        var counts: [String: Int] = [mine: 1]
        var undecided = 0
        for peer in master.sentinels.values {
            if peer.leaderEpoch == epoch, let vote = peer.leader {
                counts[vote, default: 0] += 1
            } else if peer.linkConnected && !peer.isSDown && now - peer.lastAvailTime <= master.downAfter / 2 {
                undecided += 1
            }
        }
        let needed = Self.votesNeeded(master)
        // Split: another candidate holds votes too. (Alone with every other voter out of
        // reach is not a split: 7.0's timeout and retry apply, no new epoch every moment.)
        return counts.count > 1 && counts.values.allSatisfy { $0 + undecided < needed }
    }

    /// The votes a candidate needs: a majority of all known sentinels (the peers and us), and
    /// at least the quorum.
    static func votesNeeded(_ master: borrowing MonitoredMaster) -> Int {
        max(majority(of: master.sentinels.count + 1), master.quorum)
    }

    /// Whether another candidate already holds the votes needed in `epoch` (a majority of all
    /// known sentinels, and the quorum), by the peers' replies: each sentinel votes once an
    /// epoch, so this one cannot be elected in it any more. With Tandem's behaviour such an
    /// election ends at once (`-failover-abort-not-elected`) instead of at the election timeout
    /// (10 s at most): meanwhile the node agent beside it keeps the master it is trying to fail
    /// over fenced and off the VIP (the write simulator's seed 99485: a sentinel back from a cut
    /// stood in the epoch its peers had just elected another in, and its node kept the VIP off
    /// every node for 10 s after the group had converged).
    func isLostElection(_ name: String, epoch: UInt64) -> Bool {
        guard let master = masters[name] else { return false }
        var counts: [String: Int] = [:]
        for peer in master.sentinels.values where peer.leaderEpoch == epoch {
            if let vote = peer.leader, vote != myID { counts[vote, default: 0] += 1 }
        }
        let needed = Self.votesNeeded(master)
        return counts.values.contains { $0 >= needed }
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

    /// Called when the promoted replica's INFO shows `role:master` during WAIT_PROMOTION.
    mutating func promotionConfirmed(_ name: String, replica address: InstanceAddress, now: Millis) {
        masters[name]!.configEpoch = masters[name]!.failoverEpoch
        masters[name]!.failoverState = .reconfSlaves
        masters[name]!.failoverStateChangeTime = now
        emit(.saveConfig)
        event(.warning, "+promoted-slave", .replica(master: name, address))
        simulatedCrashPoint(.crashAfterPromotion)
        event(.warning, "+failover-state-reconf-slaves", .master(name))
        emit(.clientReconfigScript(master: name, role: "leader", state: "start", from: masters[name]!.address, to: address))
        if masters[name]!.writesPaused {
            // Coordinated switchover: the old master follows the new one before it takes writes again.
            startDemotion(name, newMaster: address, now: now)
            masters[name]!.writesPaused = false
            masters[name]!.switchoverTargetOffset = nil
        }
        forceHelloUpdate(name)
        if behaviour.eagerSteps {
            // Tell the peers now rather than at the next tick: they switch on this hello.
            sendHelloEverywhere(name, now: now)
        }
    }

    /// `sentinelFailoverReconfNextSlave`: point the other replicas at the promoted one,
    /// at most parallel-syncs at a time.
    mutating func reconfigureNextReplicas(_ name: String, now: Millis) {
        guard let promoted = masters[name]!.promotedReplica else { return }
        let master = masters[name]!
        var inProgress = master.replicas.values.filter {
            if case .sent = $0.reconf { return true }
            return $0.reconf == .inProgress
        }.count
        for address in master.sortedReplicaAddresses where inProgress < master.parallelSyncs {
            let r = masters[name]!.replicas[address]!
            if r.promoted || r.reconf == .done || leftToNewerFailover(master, r) { continue }
            let ref = InstanceRef.replica(master: name, address)
            if case .sent(let at) = r.reconf, now - at > timers.replicaReconfTimeout {
                event(.notice, "-slave-reconf-sent-timeout", ref)
                masters[name]!.replicas[address]!.reconf = .done
                continue
            }
            if r.reconf != .none { continue }
            if !r.linkConnected { continue }
            if let votedAt = newerFailoverVote(master), (r.infoRefresh ?? Millis.min) < votedAt {
                // Whether it is that failover's promotion: its INFO since the vote decides.
                if !r.infoPending {
                    emit(.info(ref))
                    masters[name]!.replicas[address]!.infoPending = true
                }
                continue
            }
            emit(.replicate(ref, to: promoted))
            masters[name]!.replicas[address]!.reconf = .sent(now)
            event(.notice, "+slave-reconf-sent", ref)
            inProgress += 1
        }
        detectFailoverEnd(name, now: now)
    }

    /// With Tandem's behaviour, when we have voted for another sentinel's failover of this
    /// master (or of the replica we promoted: `votesOnPromotedAddress`) in a newer epoch than
    /// our failover's: the vote's time. nil otherwise (and always with 7.0's behaviour).
    func newerFailoverVote(_ master: borrowing MonitoredMaster) -> Millis? {
        guard behaviour.votesOnPromotedAddress, let vote = master.leader, vote != myID,
              master.leaderEpoch > master.failoverEpoch else { return nil }
        return master.votedForOtherAt
    }

    /// A replica our reconfiguration leaves alone: after such a vote, one whose INFO since says
    /// it is a master — as far as we can tell, the replica that failover promoted; a REPLICAOF
    /// of ours would make it a replica of ours and throw away what it took since (7.0 sends it,
    /// and at failover-timeout sends the rest at once, `+slave-reconf-sent-be`). A replica whose
    /// last INFO is older than the vote is asked for one before it is told. The other replicas
    /// are reconfigured as usual: left on the old master, they would acknowledge its writes if
    /// it came back (write simulator seed 132376, where a first version ended the whole
    /// reconfiguration at such a vote). Not counted as waited for at the failover's end.
    func leftToNewerFailover(_ master: borrowing MonitoredMaster, _ r: Instance) -> Bool {
        guard let votedAt = newerFailoverVote(master), let info = r.infoRefresh, info >= votedAt else { return false }
        return !r.roleReportedReplica
    }

    /// `sentinelFailoverDetectEnd`.
    mutating func detectFailoverEnd(_ name: String, now: Millis) {
        let master = masters[name]!
        guard let promoted = master.promotedReplica, let p = master.replicas[promoted] else { return }
        // 7.0 waits while the promoted replica is SDOWN, however long: a leader whose new master
        // died after its promotion keeps the old master's address, so it answers no vote about
        // the new one, and the others cannot fail it over (found by the write simulator, seed
        // 2608: the replica with the data was never promoted). Tandem ends it at failover-timeout.
        if p.isSDown && !(behaviour.endFailoverWithPromotedDown && now - master.failoverStateChangeTime > master.failoverTimeout) {
            return
        }
        var notReconfigured = master.replicas.values.filter {
            !$0.promoted && $0.reconf != .done && !$0.isSDown && !leftToNewerFailover(master, $0)
        }.count
        var timedOut = false
        if now - master.failoverStateChangeTime > master.failoverTimeout {
            notReconfigured = 0
            timedOut = true
            event(.warning, "+failover-end-for-timeout", .master(name))
        }
        guard notReconfigured == 0 else { return }
        event(.warning, "+failover-end", .master(name))
        masters[name]!.failoverState = .updateConfig
        masters[name]!.failoverStateChangeTime = now
        if timedOut {
            for address in master.sortedReplicaAddresses {
                let r = master.replicas[address]!
                if r.promoted || r.reconf == .done || leftToNewerFailover(master, r) { continue }
                // Not asked since such a vote: it may be that failover's promotion (the checks
                // after our switch, +fix-slave-config and the conversion's, see to it then).
                if let votedAt = newerFailoverVote(master), (r.infoRefresh ?? Millis.min) < votedAt { continue }
                if case .sent = r.reconf { continue }
                if !r.linkConnected { continue }
                let ref = InstanceRef.replica(master: name, address)
                emit(.replicate(ref, to: promoted))
                event(.notice, "+slave-reconf-sent-be", ref)
                masters[name]!.replicas[address]!.reconf = .sent(now)
            }
        }
    }

    /// `sentinelFailoverSwitchToPromotedSlave`.
    mutating func switchToPromotedReplica(_ name: String, now: Millis) {
        let master = masters[name]!
        // A hello brought a newer configuration while our failover ran (we were stopped or cut
        // off mid-failover and the group failed over again since): ours is stale. Switching to
        // our promoted replica now would advertise it under that newer config epoch, and no
        // peer would ever follow (7.0 switches anyway; a randomized schedule found it).
        if master.configEpoch > master.failoverEpoch {
            event(.warning, "-failover-abort-superseded", .master(name), "#config epoch \(master.configEpoch)")
            resetMasterAndChangeAddress(name, to: master.address, now: now)
            return
        }
        let target = master.promotedReplica ?? master.address
        plainEvent(.warning, "+switch-master",
                   "\(name) \(shown(master.address, master: name)) \(master.address.port) \(shown(target, master: name)) \(target.port)",
                   master: name)
        resetMasterAndChangeAddress(name, to: target, now: now)
        // With Tandem's behaviour, after a vote (during our failover) for a newer failover whose
        // configuration has not come, the vote's back-off stands: the switch does not let us
        // stand at once against the failover we voted for (the promoted replica that failover
        // replaces may be down: we would see it ODOWN after down-after and could win a newer
        // epoch while that leader promotes). 7.0's switch clears it.
        if behaviour.votesOnPromotedAddress, master.votedForOtherEpoch > master.configEpoch, let at = master.votedForOtherAt {
            masters[name]!.failoverStartTime = at
        }
    }

    /// `sentinelResetMasterAndChangeAddress`: the old replicas (but the new master) and the old
    /// master become the replicas of the new address; peers are kept.
    mutating func resetMasterAndChangeAddress(_ name: String, to address: InstanceAddress, now: Millis) {
        let old = masters[name]!
        var replicaAddresses = old.sortedReplicaAddresses.filter { $0 != address }
        if address != old.address { replicaAddresses.append(old.address) }
        for a in old.sortedReplicaAddresses { emit(.disconnect(.replica(master: name, a))) }
        emit(.disconnect(.master(name)))

        var master = old
        master.replicas = [:]
        master.instance = Instance(address: address, now: now)
        master.odownSince = nil
        master.leader = nil
        master.failoverState = .none
        master.failoverStateChangeTime = 0
        master.failoverStartTime = nil  // a new failover may start at once
        master.failoverInProgress = false
        master.forcedFailover = false
        master.promotedReplica = nil
        master.writesPaused = false
        master.switchoverTargetOffset = nil
        master.candidacyNotBefore = nil
        masters[name] = master
        emit(.connect(.master(name), address))
        for a in replicaAddresses {
            masters[name]!.replicas[a] = Instance(address: a, now: now)
            emit(.connect(.replica(master: name, a), a))
            event(.notice, "+slave", .replica(master: name, a))
        }
        emit(.saveConfig)
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
