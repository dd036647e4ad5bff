/// The leader election: votes, the winner, forced failovers alone, split and lost elections.
extension SentinelState {
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
}
