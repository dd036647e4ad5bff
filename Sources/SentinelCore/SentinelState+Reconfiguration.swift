/// After the promotion: the replicas reconfigured, the failover's end, the switch to the promoted replica.
extension SentinelState {
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
