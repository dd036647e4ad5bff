/// Runtime reconfiguration: `SENTINEL REMOVE`, `RESET`, `SET`, `CONFIG SET announce-*`, `DEBUG`.
extension SentinelState {
    /// Stops monitoring a master (`SENTINEL REMOVE`): `-monitor`, every link closed, config saved.
    public mutating func remove(master name: String) -> [SentinelAction] {
        guard let m = masters[name] else { return [] }
        event(.warning, "-monitor", .master(name))
        for a in m.sortedReplicaAddresses { emit(.disconnect(.replica(master: name, a))) }
        for id in m.sortedSentinelIDs { emit(.disconnect(.sentinel(master: name, runID: id))) }
        emit(.disconnect(.master(name)))
        masters[name] = nil
        masterOrder = nil
        emit(.saveConfig)
        return flush()
    }

    /// `sentinelResetMaster` with an event: forgets replicas and peers, ends any failover, clears
    /// the master's down state and reconnects to it. Returns how many masters matched `isMatch`.
    public mutating func reset(where isMatch: (String) -> Bool, now: Millis) -> (count: Int, actions: [SentinelAction]) {
        var count = 0
        for name in masterNames where isMatch(name) {
            count += 1
            if behaviour.resolveConfigEpochTies, let m = masters[name], Self.currentAddress(of: m) != m.address {
                // A failover past its confirmed promotion: its configuration (the promoted
                // replica, with the failover's epoch) is what this sentinel announced, saved and
                // the peers took; 7.0's reset goes back to the old master with that epoch, which
                // no hello then corrects — and which `resolveConfigEpochTies` could spread to the
                // peers when the old address sorts first. The switch is made here, as the
                // failover's end would have.
                let (old, promoted) = (m.address, Self.currentAddress(of: m))
                plainEvent(.warning, "+switch-master",
                           "\(name) \(shown(old, master: name)) \(old.port) \(shown(promoted, master: name)) \(promoted.port)", master: name)
                resetMasterAndChangeAddress(name, to: promoted, now: now)
            }
            resetMaster(name, now: now)
            event(.warning, "+reset-master", .master(name))
        }
        if count > 0 { emit(.saveConfig) }
        return (count, flush())
    }

    mutating func resetMaster(_ name: String, now: Millis) {
        guard let m = masters[name] else { return }
        for a in m.sortedReplicaAddresses { emit(.disconnect(.replica(master: name, a))) }
        for id in m.sortedSentinelIDs { emit(.disconnect(.sentinel(master: name, runID: id))) }
        emit(.disconnect(.master(name)))
        var fresh = MonitoredMaster(name: name, address: m.address, quorum: m.quorum, downAfter: m.downAfter,
                                    failoverTimeout: m.failoverTimeout, parallelSyncs: m.parallelSyncs, now: now)
        fresh.rebootDownAfter = m.rebootDownAfter
        fresh.crashDetection = m.crashDetection
        fresh.replicatedDurability = m.replicatedDurability
        fresh.configEpoch = m.configEpoch
        fresh.leader = m.leader
        fresh.leaderEpoch = m.leaderEpoch
        fresh.votedForOtherEpoch = m.votedForOtherEpoch
        fresh.votedForOtherAt = m.votedForOtherAt
        fresh.votedForOtherAddress = m.votedForOtherAddress
        fresh.votedForOtherServers = m.votedForOtherServers
        fresh.instance.roleReportedTime = now
        masters[name] = fresh
        emit(.connect(.master(name), m.address))
    }

    /// A master monitored by a name its sentinel looks up in the background (the configured
    /// `sentinel monitor m db.example 6379 2` at start) moves to the address the name resolved
    /// to, unless it has moved meanwhile (a failover, a reset to a hello's address) or is
    /// failing over: its master link is made again there. An unresolved name (nil) changes
    /// nothing: the links go on trying it, and down-after decides as for any unreachable master.
    mutating func nameResolved(master name: String, from: InstanceAddress, address: String?, now: Millis) {
        guard let address, var m = masters[name], m.address == from, !m.failoverInProgress else { return }
        emit(.disconnect(.master(name)))
        m.instance = Instance(address: InstanceAddress(ip: address, port: from.port), now: now)
        masters[name] = m
        emit(.connect(.master(name), m.address))
        emit(.saveConfig)
    }

    /// A master setting changed by `SENTINEL SET`; the shell validates, this applies and saves.
    public enum MasterSetting: Sendable, Hashable {
        case quorum(Int)
        case downAfter(Millis)
        case failoverTimeout(Millis)
        case parallelSyncs(Int)
        case rebootDownAfter(Millis)
        /// `crash-detection yes|no`.
        case crashDetection(Bool)
        /// `durability async|replicated` (true: replicated).
        case replicatedDurability(Bool)
        /// A setting the core does not use (scripts, credentials, rename-command): only the event.
        case other
    }

    /// Applies one `SENTINEL SET` option and emits `+set <master> <option> <value>`.
    public mutating func set(master name: String, _ setting: MasterSetting, option: String, value: String) -> [SentinelAction] {
        guard masters[name] != nil else { return [] }
        switch setting {
        case .quorum(let q): masters[name]!.quorum = q
        case .downAfter(let ms):
            masters[name]!.downAfter = ms
        case .failoverTimeout(let ms): masters[name]!.failoverTimeout = ms
        case .parallelSyncs(let n): masters[name]!.parallelSyncs = n
        case .rebootDownAfter(let ms): masters[name]!.rebootDownAfter = ms
        case .crashDetection(let on): masters[name]!.crashDetection = on
        case .replicatedDurability(let on): masters[name]!.replicatedDurability = on
        case .other: break
        }
        event(.warning, "+set", .master(name), "\(option) \(value)")
        return flush()
    }
}

extension SentinelState {
    /// `SENTINEL CONFIG SET announce-ip`: nil (an empty value) keeps the address in use.
    public mutating func setAnnounceIP(_ ip: String?) {
        guard let ip else { return }
        announce.ip = ip
        learnsAnnounceIP = false
    }

    /// `SENTINEL CONFIG SET announce-port` (the port announced: the sentinel's own when 0).
    public mutating func setAnnouncePort(_ port: Int) {
        announce.port = port
    }

    /// The local address of a link just made: announced from now on if no announce-ip was
    /// given and none was learned yet.
    public mutating func learnAnnounceIP(_ ip: String) {
        guard learnsAnnounceIP else { return }
        announce.ip = ip
        learnsAnnounceIP = false
    }

    /// `SENTINEL SIMULATE-FAILURE`: replaces the flags.
    public mutating func setSimulatedFailure(_ flags: SimulatedFailure) {
        simulatedFailure = flags
    }

    /// `SENTINEL DEBUG <timer> <milliseconds>`; the shell has checked the value is positive.
    public mutating func setTimer(_ name: SentinelTimers.Name, _ value: Millis) {
        timers[name] = value
    }
}

extension SentinelTimers {
    /// The timers as `SENTINEL DEBUG` names them.
    public enum Name: String, CaseIterable, Sendable {
        case infoPeriod = "info-period"
        case pingPeriod = "ping-period"
        case askPeriod = "ask-period"
        case publishPeriod = "publish-period"
        case defaultDownAfter = "default-down-after"
        case defaultFailoverTimeout = "default-failover-timeout"
        case tiltTrigger = "tilt-trigger"
        case tiltPeriod = "tilt-period"
        case replicaReconfTimeout = "slave-reconf-timeout"
        case minLinkReconnectPeriod = "min-link-reconnect-period"
        case electionTimeout = "election-timeout"
    }

    public subscript(_ name: Name) -> Millis {
        get {
            switch name {
            case .infoPeriod: infoPeriod
            case .pingPeriod: pingPeriod
            case .askPeriod: askPeriod
            case .publishPeriod: publishPeriod
            case .defaultDownAfter: defaultDownAfter
            case .defaultFailoverTimeout: defaultFailoverTimeout
            case .tiltTrigger: tiltTrigger
            case .tiltPeriod: tiltPeriod
            case .replicaReconfTimeout: replicaReconfTimeout
            case .minLinkReconnectPeriod: minLinkReconnectPeriod
            case .electionTimeout: electionTimeout
            }
        }
        set {
            switch name {
            case .infoPeriod: infoPeriod = newValue
            case .pingPeriod: pingPeriod = newValue
            case .askPeriod: askPeriod = newValue
            case .publishPeriod: publishPeriod = newValue
            case .defaultDownAfter: defaultDownAfter = newValue
            case .defaultFailoverTimeout: defaultFailoverTimeout = newValue
            case .tiltTrigger: tiltTrigger = newValue
            case .tiltPeriod: tiltPeriod = newValue
            case .replicaReconfTimeout: replicaReconfTimeout = newValue
            case .minLinkReconnectPeriod: minLinkReconnectPeriod = newValue
            case .electionTimeout: electionTimeout = newValue
            }
        }
    }
}
