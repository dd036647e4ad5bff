extension SentinelState {
    /// Whether a reply read on a link to `address` speaks for `ref` now. A switch to a new
    /// master address or a SENTINEL RESET may have moved or removed the instance while the
    /// command was in flight; a reply from where it was must not be taken for where it is (the
    /// shell asks before handing an INFO reply over as `.info`).
    public func isCurrent(_ address: InstanceAddress, of ref: InstanceRef) -> Bool {
        instance(ref)?.address == address
    }

    /// `sentinelRefreshInstanceInfo`: record what INFO says, then act on role changes.
    mutating func refreshInfo(_ ref: InstanceRef, _ report: InfoReport, now: Millis) {
        let name = ref.masterName
        guard let before = instance(ref), masters[name] != nil else { return }
        var rebooted = false
        if let runID = report.runID, before.runID != runID {
            if before.runID != nil {
                rebooted = true
                event(.notice, "+reboot", ref)
                if case .master = ref, masters[name]!.rebootDownAfter > 0 {
                    update(ref) { $0.rebootSince = now }
                }
            }
            update(ref) { $0.runID = runID }
        }
        if case .master = ref {
            for address in report.replicas where masters[name]!.replicas[address] == nil {
                masters[name]!.replicas[address] = Instance(address: address, now: now)
                emit(.connect(.replica(master: name, address), address))
                event(.notice, "+slave", .replica(master: name, address))
                emit(.saveConfig)
            }
        }
        update(ref) { ri in
            ri.infoPending = false
            ri.masterLinkDownTime = report.isReplica ? report.masterLinkDownTime : 0
            if report.isReplica {
                if ri.replicaOfHost != report.masterHost || ri.replicaOfPort != report.masterPort {
                    ri.replicaConfChangeTime = now
                }
                ri.replicaOfHost = report.masterHost
                ri.replicaOfAddress = report.masterAddress
                ri.replicaOfPort = report.masterPort
                ri.replicaOfLinkUp = report.masterLinkUp
                ri.replicaPriority = report.replicaPriority
                ri.replicationOffset = report.replicationOffset
                ri.replicaAnnounced = report.replicaAnnounced
            }
            ri.keyCount = report.keyCount
            ri.infoRefresh = now
        }
        if case .master = ref { checkEmptyRestart(name, report, rebooted: rebooted, now: now) }
        let isReplicaEntry: Bool
        if case .replica = ref { isReplicaEntry = true } else { isReplicaEntry = false }
        if before.infoRefresh == nil || before.roleReportedReplica != report.isReplica {
            update(ref) {
                $0.roleReportedTime = now
                $0.roleReportedReplica = report.isReplica
                if report.isReplica { $0.replicaConfChangeTime = now }
            }
        }
        // As 7.0's role_reported, an entry starts out reporting the role it is listed with, so
        // a replica entry whose first INFO says master (an old master back) is a -role-change.
        let reportedBefore = before.infoRefresh == nil ? isReplicaEntry : before.roleReportedReplica
        if reportedBefore != report.isReplica {
            let expected = isReplicaEntry == report.isReplica
            event(.verbose, expected ? "+role-change" : "-role-change", ref,
                  "new reported role is \(report.isReplica ? "slave" : "master")")
        }
        if isTilted { return }
        guard case .replica(_, let address) = ref else { return }
        let ri = instance(ref)!
        let master = masters[name]!

        if !report.isReplica {
            if ri.promoted && master.failoverInProgress && master.failoverState == .waitPromotion {
                promotionConfirmed(name, replica: address, now: now)
            } else {
                // A replica that claims to be a master (typically the old master coming back):
                // once it has stayed so for a while and our master looks sane, convert it.
                // Tandem's short wait is kept off while we have voted for another sentinel's
                // failover of this master and not yet heard its outcome (our config epoch is
                // older than the vote's), for up to failover-timeout after the vote: that replica
                // is most likely the one it promoted, whose new configuration a hello late on the
                // network has not brought yet; converting it would discard the writes it took (the
                // write simulator's seed 4107: converted 200 ms after its promotion, 2 writes lost).
                // The short wait also needs a majority of the sentinels to have been heard from
                // (a hello) since the replica began claiming master: a sentinel back from a
                // partition holds the configuration from before it until the first hello brings
                // the new one, and the replica claiming master is then the one the others
                // promoted. (Found by the fault lab, scripts/lab-reliability.sh link_down: the old
                // master's sentinel heard the promoted replica 40 ms after the link came back, its
                // first hello 0.7 s after; it converted the new master to a replica of the old one,
                // which its agent had just made a replica: no master, writes stopped.) Without
                // it, 7.0's wait: 8 s span four hello periods (and a sentinel whose peers are all
                // gone still converts).
                //
                // With Tandem's behaviour the claim counts only from when this sentinel could see
                // it: from the role change, or from when its link to the replica last came up if
                // later. A replica that said master before a partition (the old master, not yet
                // converted) and says so again after it — now the master the others promoted
                // meanwhile — has not been claiming master all along as far as anyone here knows.
                // (Write simulator seed 54832: a sentinel cut off 12 s with its fenced master saw
                // the newly promoted master, which it had last seen as the old master before the
                // cut, and converted it 200 ms after the heal, before the first hello brought the
                // new configuration: 6 acknowledged writes thrown away, durability replicated.)
                // Without it, 7.0's wait from 7.0's role_reported_time.
                let awaitingOutcome = behaviour.convertReturningMasterAfter != nil
                    && awaitedFailoverEpoch(name, now: now) != nil
                let claimSeenSince = behaviour.convertReturningMasterAfter == nil
                    ? ri.roleReportedTime : max(ri.roleReportedTime, ri.linkUpSince ?? ri.roleReportedTime)
                let heard = heardFromMajority(name, since: claimSeenSince)
                let wait = (heard ? behaviour.convertReturningMasterAfter : nil) ?? timers.publishPeriod.saturatingTimes(4)
                if !ri.promoted && !awaitingOutcome && masterLooksSane(name, now: now) && noDownFor(ri, wait, now: now)
                    && now - claimSeenSince > wait {
                    emit(.replicate(ref, to: master.address))
                    event(.notice, "+convert-to-slave", ref)
                }
            }
        }
        if report.isReplica && !replicates(ri, from: master.address) {
            let wait = master.failoverTimeout
            if masterLooksSane(name, now: now) && noDownFor(ri, wait, now: now) && now - ri.replicaConfChangeTime > wait {
                emit(.replicate(ref, to: master.address))
                event(.notice, "+fix-slave-config", ref)
            }
        }
        if report.isReplica, let promoted = master.promotedReplica {
            if case .sent = ri.reconf, replicates(ri, from: promoted) {
                update(ref) { $0.reconf = .inProgress }
                event(.notice, "+slave-reconf-inprog", ref)
            }
            if instance(ref)!.reconf == .inProgress && report.masterLinkUp {
                update(ref) { $0.reconf = .done }
                event(.notice, "+slave-reconf-done", ref)
            }
        }
    }

    /// `sentinelMasterLooksSane`.
    func masterLooksSane(_ name: String, now: Millis) -> Bool {
        guard let m = masters[name] else { return false }
        return !m.instance.roleReportedReplica && !m.instance.isSDown && !m.isODown
            && m.instance.infoRefresh.map { now - $0 < timers.infoPeriod.saturatingTimes(2) } == true
    }

    /// Whether a majority of the sentinels monitoring `name` (this one included) have been heard
    /// from since `time`: this one, and enough peers whose last hello came after it. Their
    /// hellos carry their configuration, so a newer one would have been adopted by now.
    func heardFromMajority(_ name: String, since time: Millis) -> Bool {
        guard let m = masters[name] else { return false }
        let needed = Self.majority(of: m.sentinels.count + 1)
        var heard = 1
        for peer in m.sentinels.values where (peer.lastHelloReceived.map { $0 > time } ?? false) {
            heard += 1
        }
        return heard >= needed
    }

    /// `sentinelRedisInstanceNoDownFor`.
    func noDownFor(_ ri: Instance, _ ms: Millis, now: Millis) -> Bool {
        guard let since = ri.sdownSince else { return true }
        return now - since > ms
    }

    /// `sentinelProcessHelloMessage`: learn peers, adopt newer epochs and newer configurations.
    mutating func processHello(_ payload: String, now: Millis) {
        // Split on the comma byte into substrings (no grapheme breaking, no string or array per
        // field): hundreds of hellos a second arrive with many masters, nearly all repeating
        // what we know. Our own (a third of what a subscription delivers with three sentinels)
        // are dropped before anything is built from them.
        guard let fields = HelloFields(payload), fields.runID != myID, let port = Int(fields.port),
              let peerEpoch = UInt64(fields.epoch), let masterPort = Int(fields.masterPort),
              let masterConfigEpoch = UInt64(fields.configEpoch) else { return }
        let name = String(fields.name)
        // Nearly every hello repeats what we know (a known peer at its address, no newer epoch):
        // then only its time is recorded, with one lookup of the master, and the peer found
        // among the master's few by comparing its run id (no string made and hashed for it).
        let (epoch, behaviour) = (currentEpoch, behaviour)
        guard let (known, configEpoch, repeated) = withMaster(name, { m -> (InstanceAddress?, UInt64, Bool) in
            guard let j = Self.peerIndex(fields.runID, in: m.sentinels) else { return (nil, m.configEpoch, false) }
            let known = m.sentinels.values[j].address
            if known.port == port && known.ip == fields.ip && peerEpoch <= epoch
                && (m.configEpoch > masterConfigEpoch
                    || (m.configEpoch == masterConfigEpoch && !Self.yieldsToTie(m, ip: fields.masterIP, port: masterPort, behaviour: behaviour)))
            {
                m.sentinels.values[j].lastHelloReceived = now
                return (known, m.configEpoch, true)
            }
            return (known, m.configEpoch, false)
        }) else { return }
        if repeated { return }
        let runID = String(fields.runID)
        if !(known.map { $0.port == port && $0.ip == fields.ip } ?? false) {
            let ip = String(fields.ip)
            let address = InstanceAddress(ip: ip, port: port)
            var switched = false
            if known != nil {
                switched = true
                emit(.disconnect(.sentinel(master: name, runID: runID)))
                masters[name]!.sentinels[runID] = nil
                event(.notice, "+sentinel-address-switch", .master(name), "ip \(ip) port \(port) for \(runID)")
            }
            // Another run id at this address is a restarted sentinel: the new id replaces it.
            for (otherID, other) in masters[name]!.sentinels where other.address == address {
                event(.notice, "+sentinel-invalid-addr", .sentinel(master: name, runID: otherID))
                emit(.disconnect(.sentinel(master: name, runID: otherID)))
                masters[name]!.sentinels[otherID] = nil
            }
            masters[name]!.sentinels[runID] = Instance(address: address, runID: runID, now: now)
            emit(.connect(.sentinel(master: name, runID: runID), address))
            if !switched { event(.notice, "+sentinel", .sentinel(master: name, runID: runID)) }
            emit(.saveConfig)
        }
        if peerEpoch > currentEpoch {
            currentEpoch = peerEpoch
            emit(.saveConfig)
            plainEvent(.warning, "+new-epoch", "\(currentEpoch)", master: name)
        }
        if configEpoch == masterConfigEpoch,
           withMaster(name, { Self.yieldsToTie($0, ip: fields.masterIP, port: masterPort, behaviour: behaviour) }) == true
        {
            // Two configurations with one epoch (see `yieldsToTie`): the lower address is kept.
            switchToAnnounced(name, InstanceAddress(ip: String(fields.masterIP), port: masterPort), from: runID, now: now)
        } else if configEpoch < masterConfigEpoch {
            masters[name]!.configEpoch = masterConfigEpoch
            let announced = InstanceAddress(ip: String(fields.masterIP), port: masterPort)
            if announced != masters[name]!.address {
                switchToAnnounced(name, announced, from: runID, now: now)
            } else if masters[name]!.failoverState != .none && masters[name]!.failoverEpoch < masterConfigEpoch {
                // A newer configuration naming the master our own (older) failover is moving away
                // from: that failover is superseded. Ended here, without switching to the replica
                // it promoted — at its end that switch would keep the newer config epoch just
                // taken, and announce a second master with the same epoch as the peers': two
                // configurations no hello can reconcile. (7.0 does the same; found by the write
                // simulator, seed 44543: a sentinel frozen in its failover's reconfiguration, woken
                // after a newer failover had moved the master back, never converged.) The promoted
                // replica, still claiming master, is converted as any.
                event(.warning, "+config-update-from", .sentinel(master: name, runID: runID))
                resetMasterAndChangeAddress(name, to: announced, now: now)
            } else {
                emit(.saveConfig)
            }
        }
        masters[name]!.sentinels[runID]?.lastHelloReceived = now
    }

    /// A peer's hello brought a configuration naming another master address: switch to it as an
    /// observer (`+config-update-from`, `+switch-master`, the client reconfig script).
    mutating func switchToAnnounced(_ name: String, _ announced: InstanceAddress, from runID: String, now: Millis) {
        let old = masters[name]!.address
        event(.warning, "+config-update-from", .sentinel(master: name, runID: runID))
        plainEvent(.warning, "+switch-master",
                   "\(name) \(shown(old, master: name)) \(old.port) \(announced.ip) \(announced.port)", master: name)
        resetMasterAndChangeAddress(name, to: announced, now: now)
        emit(.clientReconfigScript(master: name, role: "observer", state: "start", from: old, to: announced))
    }

    /// A hello announcing `ip:port` as `master`'s address with our own configuration epoch, where
    /// we have another address, and this sentinel should take the announced one
    /// (`SentinelBehaviour.resolveConfigEpochTies`): the epoch is not 0 (a fresh `monitor`), no
    /// failover of ours is under way (a leader announces its promoted replica with the epoch
    /// before it switches to it itself), the announced address is one of our replicas (another
    /// server of the group, not our master under another name: a host name against its address
    /// after a restart with `announce-hostnames`), and it sorts before ours. Both sides decide
    /// the same way, so one hello ends the split.
    @inline(__always)
    static func yieldsToTie(_ m: borrowing MonitoredMaster, ip: Substring, port: Int, behaviour: SentinelBehaviour) -> Bool {
        guard behaviour.resolveConfigEpochTies, m.configEpoch > 0, m.failoverState == .none, !m.failoverInProgress else {
            return false
        }
        let ours = m.address
        if ours.port == port && ours.ip == ip { return false }
        guard (ip, port) < (Substring(ours.ip), ours.port) else { return false }
        return m.replicas[InstanceAddress(ip: String(ip), port: port)] != nil
    }

    /// Where the peer `runID` is among a master's peer entries: by comparison while there are
    /// few (a sentinel set has a handful), by hashing beyond.
    static func peerIndex(_ runID: Substring, in sentinels: [String: Instance]) -> Dictionary<String, Instance>.Index? {
        guard sentinels.count <= 8 else { return sentinels.index(forKey: String(runID)) }
        var j = sentinels.startIndex
        while j != sentinels.endIndex {
            if sentinels.keys[j] == runID { return j }
            j = sentinels.index(after: j)
        }
        return nil
    }
}

/// The eight fields of a hello (`ip,port,runid,current_epoch,master_name,master_ip,master_port,
/// master_config_epoch`), split on the comma byte; nil unless there are exactly eight.
struct HelloFields {
    var ip, port, runID, epoch, name, masterIP, masterPort, configEpoch: Substring

    init?(_ payload: String) {
        var rest = Substring(payload)
        func field() -> Substring? {
            guard let comma = rest.utf8.firstIndex(of: UInt8(ascii: ",")) else { return nil }
            defer { rest = rest[rest.utf8.index(after: comma)...] }
            return rest[..<comma]
        }
        guard let ip = field(), let port = field(), let runID = field(), let epoch = field(), let name = field(),
              let masterIP = field(), let masterPort = field(), !rest.utf8.contains(UInt8(ascii: ",")) else { return nil }
        (self.ip, self.port, self.runID, self.epoch, self.name) = (ip, port, runID, epoch, name)
        (self.masterIP, self.masterPort, configEpoch) = (masterIP, masterPort, rest)
    }
}

extension SentinelState {
    /// A vote for another's failover of this master, given less than failover-timeout ago, whose
    /// configuration has not come (`votedForOtherEpoch` newer than the config epoch). Unlike 7.0's
    /// record of the vote (`leader`) it outlasts the end of our own failover, which resets that:
    /// a sentinel that voted while reconfiguring the replicas of its own, older failover then
    /// switched to its promoted replica and converted the master the newer failover had promoted
    /// (the write simulator's seed 107125).
    func votedOutcomeUnseen(_ master: borrowing MonitoredMaster, now: Millis) -> Bool {
        guard master.votedForOtherEpoch > master.configEpoch, let at = master.votedForOtherAt else { return false }
        return now - at < master.failoverTimeout
    }

    /// The epoch of our vote for another sentinel's failover of this master while its outcome is
    /// not known to us: our config epoch is older than the vote's (the leader's new configuration
    /// has not reached us) and failover-timeout has not passed since the vote. nil otherwise.
    /// A voter cannot tell a leader that aborted from one that promoted where we cannot hear it;
    /// the node agent fences the old master meanwhile (SENTINEL MASTER's `failover-vote-epoch`).
    ///
    /// With `votesOnPromotedAddress` it is the one record of such a vote (`votedForOther…`),
    /// which outlasts the end of our own failover (`votedOutcomeUnseen`); 7.0's behaviour keeps
    /// the master's record of its vote (`leader`, reset when a failover of ours ends).
    public func awaitedFailoverEpoch(_ name: String, now: Millis) -> UInt64? {
        guard let master = masters[name] else { return nil }
        if behaviour.votesOnPromotedAddress {
            return votedOutcomeUnseen(master, now: now) ? master.votedForOtherEpoch : nil
        }
        guard let leader = master.leader, leader != myID, master.leaderEpoch > master.configEpoch,
              let start = master.failoverStartTime, now - start < master.failoverTimeout else { return nil }
        return master.leaderEpoch
    }

    /// What SENTINEL MASTER reports as `failover-vote-epoch`: `awaitedFailoverEpoch`, when the
    /// vote was about the address the reply gives as the master's. A vote about the replica our
    /// own failover promoted, given while we still reconfigure the replicas (the reply still
    /// gives the old master), is reported once our failover has switched to that replica: the
    /// node agent fences the master the vote was about, not the old one.
    public func reportedFailoverVoteEpoch(_ name: String, now: Millis) -> UInt64? {
        guard let epoch = awaitedFailoverEpoch(name, now: now), let master = masters[name] else { return nil }
        if behaviour.votesOnPromotedAddress, let about = master.votedForOtherAddress, about != master.address { return nil }
        return epoch
    }
}
