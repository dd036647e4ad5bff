extension SentinelState {
    /// `sentinelTimer`: TILT check, then every master with its replicas and sentinels.
    mutating func timer(now: Millis) {
        checkTilt(now: now)
        retryDemotions(now: now)
        for name in orderedMasterNames() {
            handleInstance(.master(name), now: now)
            if handleReplicasAndPeers(of: name, now: now) == .updateConfig {
                switchToPromotedReplica(name, now: now)
            }
        }
    }

    /// `handleInstance` for each of a master's replicas (by address), then each of its peer
    /// entries (by run id), as 7.0's timer walks them. Each is visited where it is stored, by
    /// index: one with no command due and whose SDOWN check would change nothing — nearly every
    /// one on nearly every tick — emits nothing, so it is left there, and only the others are
    /// handled, in that order (`handleVisited`). With hundreds of masters, looking each instance
    /// up by key (hashing addresses and 40-character run ids) and keeping sorted key orders
    /// were most of the timer's cost. Returns the master's failover state after it.
    mutating func handleReplicasAndPeers(of name: String, now: Millis) -> FailoverState? {
        guard let i = masters.index(forKey: name) else { return nil }
        let (timers, behaviour, count, tilted) = (timers, behaviour, masters.count, tiltSince != nil)
        let (busyReplicas, busyPeers, state) = Self.visitReplicasAndPeers(
            of: &masters.values[i], now: now, timers: timers, behaviour: behaviour, masterCount: count, tilted: tilted)
        if busyReplicas.isEmpty && busyPeers.isEmpty { return state }
        for (address, seen) in busyReplicas.sorted(by: { $0.0 < $1.0 }) {
            handleVisited(.replica(master: name, address), seen, now: now)
        }
        for (runID, seen) in busyPeers.sorted(by: { $0.0 < $1.0 }) {
            handleVisited(.sentinel(master: name, runID: runID), seen, now: now)
        }
        return withMaster(name) { $0.failoverState }
    }

    /// Visits every replica and peer entry of `master` in place (in storage order: the marks
    /// a visit sets are the instance's own); returns those whose visit leaves something to do,
    /// and the master's failover state. Within one access to the master: read through
    /// `masters.values[i]` for each instance, the master was copied whole every time.
    static func visitReplicasAndPeers(of master: inout MonitoredMaster, now: Millis, timers: SentinelTimers,
                                      behaviour: SentinelBehaviour, masterCount: Int, tilted: Bool)
        -> (replicas: [(InstanceAddress, Visit)], peers: [(String, Visit)], state: FailoverState)
    {
        var busyReplicas: [(InstanceAddress, Visit)] = []
        var busyPeers: [(String, Visit)] = []
        // A master in none of the states that change its replicas' and peers' periods (SDOWN,
        // a refused port, ODOWN, a failover): their visits are first checked with `idle`.
        let quiet = !master.instance.isSDown && master.instance.refusedSince == nil && !master.isODown
            && !master.failoverInProgress && master.failoverState == .none
        let pingPeriod = pingPeriod(isMaster: false, of: master, timers: timers, behaviour: behaviour, masterCount: masterCount)
        var j = master.replicas.startIndex
        while j != master.replicas.endIndex {
            if quiet && idle(master.replicas.values[j], now: now, pingPeriod: pingPeriod,
                             infoPeriod: quietReplicaInfoPeriod(master.replicas.values[j], timers: timers, behaviour: behaviour),
                             publishPeriod: timers.publishPeriod) {
                j = master.replicas.index(after: j)
                continue
            }
            if let seen = periodicCommandsDue(.replica(j), of: &master, now: now, timers: timers, behaviour: behaviour,
                                              masterCount: masterCount),
               !leavesUnchanged(seen, tilted: tilted, now: now, timers: timers) {
                busyReplicas.append((master.replicas.keys[j], seen))
            }
            j = master.replicas.index(after: j)
        }
        var k = master.sentinels.startIndex
        while k != master.sentinels.endIndex {
            if quiet && idle(master.sentinels.values[k], now: now, pingPeriod: pingPeriod, infoPeriod: nil,
                             publishPeriod: timers.publishPeriod) {
                k = master.sentinels.index(after: k)
                continue
            }
            if let seen = periodicCommandsDue(.sentinel(k), of: &master, now: now, timers: timers, behaviour: behaviour,
                                              masterCount: masterCount),
               !leavesUnchanged(seen, tilted: tilted, now: now, timers: timers) {
                busyPeers.append((master.sentinels.keys[k], seen))
            }
            k = master.sentinels.index(after: k)
        }
        return (busyReplicas, busyPeers, master.failoverState)
    }

    /// A replica's or peer's visit that is known, from a few of its fields, to leave nothing to
    /// do — nearly every visit: 8,000 a second at 200 masters, where a command is due about
    /// once a second per instance. The same answer as `periodicCommandsDue` followed by
    /// `leavesUnchanged`, without reading the rest (with `pingPeriod` and `infoPeriod` as
    /// `periodicCommandsDue` works them out for a quiet master; `infoPeriod` nil: a peer).
    /// Connected, not SDOWN, no PING unanswered: the SDOWN check cannot change (nothing has
    /// been silent) and the link cannot look stuck; then none of PING, INFO and hello is due.
    /// False sends the visit the long way, which then decides.
    @inline(__always)
    static func idle(_ ri: borrowing Instance, now: Millis, pingPeriod: Millis, infoPeriod: Millis?, publishPeriod: Millis) -> Bool {
        guard ri.linkConnected, !ri.isSDown, ri.pingPendingSince == nil else { return false }
        if now - ri.lastPongTime > pingPeriod && (ri.lastPingSent.map { now - $0 > pingPeriod / 2 } ?? true) { return false }
        if let infoPeriod, !ri.infoPending, (ri.infoRefresh.map { now - $0 > infoPeriod } ?? true) { return false }
        if ri.lastHelloSent.map({ now - $0 > publishPeriod }) ?? true { return false }
        return true
    }

    /// A replica's INFO period under a quiet master (`periodicCommandsDue`'s rule with none of
    /// the master's states that shorten it).
    @inline(__always)
    static func quietReplicaInfoPeriod(_ ri: borrowing Instance, timers: SentinelTimers, behaviour: SentinelBehaviour) -> Millis {
        var infoPeriod = ri.masterLinkDownTime != 0 ? 1_000 : timers.infoPeriod
        if let fast = behaviour.fastInfoPeriod, ri.infoRefresh != nil && !ri.roleReportedReplica {
            infoPeriod = min(infoPeriod, fast)
        }
        return infoPeriod
    }

    /// A replica's or peer's visit that emits nothing: no command due and, unless in TILT
    /// (`handleVisited` then stops before the check), an SDOWN check that would change nothing.
    static func leavesUnchanged(_ seen: Visit, tilted: Bool, now: Millis, timers: SentinelTimers) -> Bool {
        if let due = seen.due, due.info || due.ping || due.hello { return false }
        if tilted { return true }
        if linkLooksStuck(seen.liveness, downAfter: seen.downAfter, now: now, timers: timers) { return false }
        let verdict = sdownVerdict(isMaster: false, seen.liveness, downAfter: seen.downAfter,
                                   rebootDownAfter: seen.rebootDownAfter, now: now, timers: timers,
                                   crashDown: { false }, emptyRestartCounts: { false })
        return verdict.down == seen.liveness.isSDown
    }

    /// `masterNames`, sorted again only after a master was added or removed (`masterOrder`).
    mutating func orderedMasterNames() -> [String] {
        if let order = masterOrder, order.count == masters.count { return order }
        let order = masterNames
        masterOrder = order
        return order
    }

    /// `sentinelCheckTiltCondition`: a timer gap that is negative or over 2 s means the clock
    /// jumped or the process was stopped; distrust what we saw for the TILT period.
    mutating func checkTilt(now: Millis) {
        if let previous = previousTick {
            let delta = now - previous
            if delta < 0 || delta > timers.tiltTrigger {
                tiltSince = now  // as 7.0: a new jump during TILT restarts the period
                plainEvent(.warning, "+tilt", "#tilt mode entered")
            }
            if let credit = behaviour.stallCredit, delta > credit { creditStall(delta, now: now) }
        }
        previousTick = now
    }

    /// `stallCredit`: every PING pending across a timer gap of `gap` counts from the gap's end.
    mutating func creditStall(_ gap: Millis, now: Millis) {
        func credit(_ i: inout Instance) {
            if let since = i.pingPendingSince { i.pingPendingSince = min(now, since.saturatingPlus(gap)) }
        }
        for name in masters.keys {
            credit(&masters[name]!.instance)
            for a in masters[name]!.replicas.keys { credit(&masters[name]!.replicas[a]!) }
            for id in masters[name]!.sentinels.keys { credit(&masters[name]!.sentinels[id]!) }
        }
    }

    /// `sentinelHandleRedisInstance`. The periodic commands and the SDOWN check read the
    /// instance with one lookup (`visit`): the timer visits every instance 10–20 times a
    /// second, and with hundreds of masters the lookups by name were most of its cost.
    mutating func handleInstance(_ ref: InstanceRef, now: Millis) {
        handleVisited(ref, visit(ref, now: now), now: now)
    }

    /// The rest of `handleInstance` once the instance was visited (`seen`: nil if there is none).
    mutating func handleVisited(_ ref: InstanceRef, _ seen: Visit?, now: Millis) {
        if let due = seen?.due { sendPeriodicCommands(ref, due, now: now) }
        if let since = tiltSince {
            if now - since < timers.tiltPeriod { return }
            tiltSince = nil
            plainEvent(.warning, "-tilt", "#tilt mode exited")
        }
        guard let seen else { return }
        checkSubjectivelyDown(ref, seen.liveness, downAfter: seen.downAfter, rebootDownAfter: seen.rebootDownAfter, now: now)
        guard case .master(let name) = ref else { return }
        // Neither SDOWN nor ODOWN nor failing over (nearly every master on nearly every tick):
        // of the steps below only forgetting stale answers applies (each step checks the same).
        let age = timers.askPeriod.saturatingTimes(5)
        let quiet = withMaster(name) { m -> Bool in
            guard !m.instance.isSDown, !m.isODown, !m.failoverInProgress else { return false }
            Self.forgetStaleAnswers(of: &m, now: now, after: age)
            return true
        }
        if quiet != false { return }
        checkObjectivelyDown(name, now: now)
        if startFailoverIfNeeded(name, now: now) {
            askMasterStateToOtherSentinels(name, forced: true, now: now)
        }
        runFailoverSteps(name, now: now)
        askMasterStateToOtherSentinels(name, forced: false, now: now)
    }

    /// The failover state machine: one step (7.0), or with `eagerSteps` as many as can be
    /// taken now (each step still waits for what it needs: votes, a promotion, replicas).
    mutating func runFailoverSteps(_ name: String, now: Millis) {
        guard withMaster(name, { $0.failoverInProgress }) == true else { return }  // nothing to step
        var steps = 0
        repeat {
            let before = masters[name]?.failoverState
            failoverStateMachine(name, now: now)
            steps += 1
            if !behaviour.eagerSteps || masters[name]?.failoverState == before || masters[name]?.failoverState == .updateConfig { break }
        } while steps < 6
    }

    /// With `eagerSteps`, react to an input at once instead of at the next tick: recheck
    /// SDOWN/ODOWN, start or continue a failover.
    mutating func react(_ name: String, now: Millis) {
        guard behaviour.eagerSteps, !isTilted, masters[name] != nil else { return }
        // A clock that went back since the last tick: the next tick enters TILT; deciding now
        // would measure negative silences (a dead master's SDOWN once cleared this way).
        if let previous = previousTick, now < previous { return }
        checkSubjectivelyDown(.master(name), now: now)
        checkObjectivelyDown(name, now: now)
        if startFailoverIfNeeded(name, now: now) {
            askMasterStateToOtherSentinels(name, forced: true, now: now)
        }
        runFailoverSteps(name, now: now)
        if masters[name]?.failoverState == .updateConfig {
            switchToPromotedReplica(name, now: now)
        }
    }

    /// What one visit of the timer read from an instance: the periodic commands due (nil when
    /// its link is down), then its liveness and its master's down-after settings.
    struct Visit {
        var due: PeriodicCommands?
        var liveness: Liveness
        var downAfter: Millis
        var rebootDownAfter: Millis
    }

    /// Which periodic commands are due (`periodicCommandsDue`, which marks them sent) and the
    /// instance's liveness after that, read in place. Nil if there is no such instance.
    mutating func visit(_ ref: InstanceRef, now: Millis) -> Visit? {
        guard let i = masters.index(forKey: ref.masterName) else { return nil }
        let (timers, behaviour, count) = (timers, behaviour, masters.count)
        return Self.visit(ref, in: &masters.values[i], now: now, timers: timers, behaviour: behaviour, masterCount: count)
    }

    /// `visit` within one access to the master.
    static func visit(_ ref: InstanceRef, in master: inout MonitoredMaster, now: Millis, timers: SentinelTimers,
                      behaviour: SentinelBehaviour, masterCount: Int) -> Visit? {
        let slot: Slot
        switch ref {
        case .master: slot = .master
        case .replica(_, let address):
            guard let j = master.replicas.index(forKey: address) else { return nil }
            slot = .replica(j)
        case .sentinel(_, let runID):
            guard let j = master.sentinels.index(forKey: runID) else { return nil }
            slot = .sentinel(j)
        }
        return periodicCommandsDue(slot, of: &master, now: now, timers: timers, behaviour: behaviour, masterCount: masterCount)
    }

    /// Where an instance is stored in its master: the master itself, or an index into its
    /// replicas or its peer entries.
    enum Slot {
        case master
        case replica(Dictionary<InstanceAddress, Instance>.Index)
        case sentinel(Dictionary<String, Instance>.Index)
    }

    /// `sentinelSendPeriodicCommands`: INFO, PING and hello, each at its period (`due`, decided
    /// by `visit`), emitted in 7.0's order.
    mutating func sendPeriodicCommands(_ ref: InstanceRef, _ due: PeriodicCommands, now: Millis) {
        if due.info { emit(.info(ref)) }
        if due.ping {
            emit(.ping(ref))
            if case .sentinel(_, let runID) = ref, let address = due.peerAddress {
                updatePeer(runID, at: address) {
                    $0.lastPingSent = now
                    if $0.pingPendingSince == nil { $0.pingPendingSince = now }
                }
            }
        }
        if due.hello { sendHello(ref, now: now) }
    }

    /// Which periodic commands are due for `ref` (nil when its link is down); marks INFO and
    /// PING as sent on the instance. With the instance's liveness after that. Nil if there is
    /// no such instance.
    static func periodicCommandsDue(_ slot: Slot, of master: inout MonitoredMaster, now: Millis,
                                    timers: SentinelTimers, behaviour: SentinelBehaviour, masterCount: Int) -> Visit?
    {
        // A replica's INFO period depends on its master's state (read here) and on the replica
        // itself (read in place by `visit` below: read here through `values[j]`, the instance
        // was copied whole, strings retained, three times per replica per tick).
        var replicaIndex: Dictionary<InstanceAddress, Instance>.Index?
        var slowReplicaInfo = false, fastAfterRefusal = false, durabilityWait = false, promoting = false
        if case .replica(let j) = slot {
            replicaIndex = j
            let address = master.replicas.keys[j]
            // Tandem also refreshes replicas every second once the master is merely SDOWN, so
            // their INFO is fresh when a failover needs to choose one.
            // So does a master whose port refuses connections (crash detection asked them at
            // the first refusal; this keeps asking while the refusals last).
            let masterSuspect = behaviour.fastInfoPeriod != nil
                && (master.instance.isSDown || (master.instance.refusedSince != nil && (master.crashDetection ?? behaviour.crashDetection)))
            slowReplicaInfo = master.isODown || master.failoverInProgress || masterSuspect
            // For 2 s after the master's port first refused: a replica asked at the refusal may
            // have answered before it read its master's EOF (link still up, a veto); ask again
            // at the fast period rather than a second later.
            if masterSuspect, behaviour.fastInfoPeriod != nil, let refused = master.instance.refusedSince, now - refused < 2_000 {
                fastAfterRefusal = true
            }
            // Durability: the choice waits for INFO read after the master went down.
            durabilityWait = master.replicatedDurability && master.failoverInProgress && master.failoverState == .selectSlave
            promoting = master.promotedReplica == address
                && (master.failoverState == .waitPromotion || master.failoverState == .waitReplicaCatchUp)
        }
        func replicaInfoPeriod(_ ri: borrowing Instance) -> Millis {
            var infoPeriod = timers.infoPeriod
            if slowReplicaInfo || ri.masterLinkDownTime != 0 { infoPeriod = 1_000 }
            if fastAfterRefusal, let fast = behaviour.fastInfoPeriod { infoPeriod = min(infoPeriod, fast) }
            if durabilityWait { infoPeriod = min(infoPeriod, behaviour.fastInfoPeriod ?? 100) }
            if let fast = behaviour.fastInfoPeriod {
                let claimsMaster = ri.infoRefresh != nil && !ri.roleReportedReplica
                if promoting || claimsMaster { infoPeriod = min(infoPeriod, fast) }
            }
            return infoPeriod
        }
        let isMaster: Bool
        if case .master = slot { isMaster = true } else { isMaster = false }
        let pingPeriod = pingPeriod(isMaster: isMaster, of: master, timers: timers, behaviour: behaviour, masterCount: masterCount)
        let downAfter = master.downAfter, rebootDownAfter = master.rebootDownAfter
        // The instance where it is stored (found once: this runs for every instance on every tick).
        func visit(_ ri: inout Instance) -> Visit {
            guard ri.linkConnected else {
                return Visit(due: nil, liveness: Liveness(ri), downAfter: downAfter, rebootDownAfter: rebootDownAfter)
            }
            var due = PeriodicCommands()
            let isPeer: Bool
            if case .sentinel = slot { isPeer = true } else { isPeer = false }
            let infoPeriod = replicaIndex != nil ? replicaInfoPeriod(ri) : timers.infoPeriod
            // Each command is due at its own period (7.0's rules); with `periodicRideAlong`, once
            // one of them is due, the others that would fall due within half a ping period go
            // with it, in the same write. Half a period: a command sent early is never sent
            // twice as often as its period says; a PING sent early only measures more often.
            func pingDue(_ slack: Millis) -> Bool {
                now - ri.lastPongTime > pingPeriod - slack && (ri.lastPingSent.map { now - $0 > pingPeriod / 2 } ?? true)
            }
            func infoDue(_ slack: Millis) -> Bool {
                !isPeer && !ri.infoPending && (ri.infoRefresh.map { now - $0 > infoPeriod - min(slack, infoPeriod / 2) } ?? true)
            }
            func helloDue(_ slack: Millis) -> Bool {
                ri.lastHelloSent.map { now - $0 > timers.publishPeriod - min(slack, timers.publishPeriod / 2) } ?? true
            }
            due.ping = pingDue(0)
            due.info = infoDue(0)
            due.hello = helloDue(0)
            if behaviour.periodicRideAlong, due.ping || due.info || due.hello {
                let slack = pingPeriod / 2
                due.ping = due.ping || pingDue(slack)
                due.info = due.info || infoDue(slack)
                due.hello = due.hello || helloDue(slack)
            }
            if due.ping {
                // A peer's other entries are marked too, by the caller (`updatePeer`).
                ri.lastPingSent = now
                if ri.pingPendingSince == nil { ri.pingPendingSince = now }
                if isPeer { due.peerAddress = ri.address }
            }
            if due.info { ri.infoPending = true }
            return Visit(due: due, liveness: Liveness(ri), downAfter: downAfter, rebootDownAfter: rebootDownAfter)
        }
        switch slot {
        case .master:
            return visit(&master.instance)
        case .replica(let j):
            return visit(&master.replicas.values[j])
        case .sentinel(let j):
            return visit(&master.sentinels.values[j])
        }
    }

    /// How often an instance of `master` is PINGed (`isMaster`: the master itself, else one of
    /// its replicas or peers). 7.0: min(down-after, ping period) for every instance. With
    /// `behaviour.pingPeriod`, the master is PINGed at that fast period, so a crash is timed
    /// from a recent reply; its replicas and peers only while the master is SDOWN, ODOWN or
    /// being failed over, when their liveness decides the election and the replica chosen.
    /// Otherwise they keep 7.0's period: a replica of a healthy master need not be PINGed ten
    /// times a second, and with hundreds of masters those PINGs were most of the work.
    ///
    /// The masters' fast period stretches with their number past `behaviour.fastPingsPerSecond`
    /// (200 masters: 200 ms), never past the standard period; a master that is SDOWN, ODOWN or
    /// being failed over, and its replicas and peers then, keep the fast period itself.
    static func pingPeriod(isMaster: Bool, of master: borrowing MonitoredMaster, timers: SentinelTimers,
                           behaviour: SentinelBehaviour, masterCount: Int) -> Millis {
        let standard = min(master.downAfter, timers.pingPeriod)
        guard let fast = behaviour.pingPeriod else { return standard }
        let urgent = master.instance.isSDown || master.isODown || master.failoverInProgress
        if isMaster {
            if urgent { return min(master.downAfter, fast) }
            var period = fast
            if let budget = behaviour.fastPingsPerSecond, budget > 0 {
                period = max(fast, Millis(masterCount).saturatingTimes(1_000) / Millis(budget))
            }
            return min(standard, period)
        }
        return urgent ? min(master.downAfter, fast) : standard
    }

    /// A PING sent to a peer, or its reply, counts for every master the peer watches at that
    /// address over a connected link: 7.0 shares one link per peer among those masters (its
    /// `act_ping_time` and `last_pong_time` live on the link), so a peer watching 200 masters
    /// with us is PINGed once per period, not 200 times.
    mutating func updatePeer(_ runID: String, at address: InstanceAddress, _ change: (inout Instance) -> Void) {
        // Walked by index so the masters are changed in place, never copied.
        var i = masters.startIndex
        while i != masters.endIndex {
            Self.updatePeer(runID, at: address, in: &masters.values[i], change)
            i = masters.index(after: i)
        }
    }

    private static func updatePeer(_ runID: String, at address: InstanceAddress, in master: inout MonitoredMaster,
                                   _ change: (inout Instance) -> Void) {
        guard let j = master.sentinels.index(forKey: runID), master.sentinels.values[j].linkConnected,
              master.sentinels.values[j].address == address else { return }
        change(&master.sentinels.values[j])
    }

    /// The 8-field hello: `ip,port,runid,current_epoch,master_name,master_ip,master_port,master_config_epoch`.
    /// Read where the master is stored (`withMaster`): a hello goes out hundreds of times a
    /// second with many masters, and reading `masters[name]` copied the master whole.
    mutating func helloPayload(for name: String) -> String? {
        guard let (address, configEpoch) = withMaster(name, { (Self.currentAddress(of: $0), $0.configEpoch) }) else { return nil }
        return "\(announce.ip),\(announce.port),\(myID),\(currentEpoch),\(name),\(address.ip),\(address.port),\(configEpoch)"
    }

    mutating func sendHello(_ ref: InstanceRef, now: Millis) {
        // PUBLISH waits out a CLIENT PAUSE WRITE, and every later command on the link waits
        // behind it: not to a master whose writes this sentinel paused for a switchover.
        if case .master(let name) = ref, withMaster(name, { $0.writesPaused }) == true { return }
        guard let payload = helloPayload(for: ref.masterName) else { return }
        emit(.publishHello(ref, payload: payload))
        update(ref) { $0.lastHelloSent = now }
    }

    /// `sentinelForceHelloUpdateForMaster`: send hello everywhere on the next tick.
    mutating func forceHelloUpdate(_ name: String) {
        guard masters[name] != nil else { return }
        masters[name]!.instance.lastHelloSent = nil
        for address in masters[name]!.replicas.keys { masters[name]!.replicas[address]!.lastHelloSent = nil }
        for runID in masters[name]!.sentinels.keys { masters[name]!.sentinels[runID]!.lastHelloSent = nil }
    }
}

extension SentinelState {
    /// Peers' answers older than `age` no longer count (the first step of
    /// `sentinelAskMasterStateToOtherSentinels`). Written only where something changes.
    static func forgetStaleAnswers(of master: inout MonitoredMaster, now: Millis, after age: Millis) {
        guard master.peersMayHoldAnswers else { return }
        var held = false
        var j = master.sentinels.startIndex
        while j != master.sentinels.endIndex {
            if now - (master.sentinels.values[j].lastMasterDownReply ?? Millis.min / 2) > age,
               master.sentinels.values[j].reportsMasterDown || master.sentinels.values[j].leader != nil {
                master.sentinels.values[j].reportsMasterDown = false
                master.sentinels.values[j].leader = nil
            }
            if master.sentinels.values[j].reportsMasterDown || master.sentinels.values[j].leader != nil { held = true }
            j = master.sentinels.index(after: j)
        }
        master.peersMayHoldAnswers = held
    }
}

/// The periodic commands due for an instance on a visit of the timer.
struct PeriodicCommands {
    var info = false
    var ping = false
    var hello = false
    /// A peer's address, when a PING is due for it (its other entries are marked by `updatePeer`).
    var peerAddress: InstanceAddress?
}

/// The scalars of an instance that the SDOWN check reads (no strings: nothing to retain).
struct Liveness {
    var linkConnected: Bool
    var linkUpSince: Millis?
    var lastAvailTime: Millis
    var pingPendingSince: Millis?
    var lastPongTime: Millis
    var roleReportedReplica: Bool
    var roleReportedTime: Millis
    var rebootSince: Millis?
    var refusedSince: Millis?
    var isSDown: Bool
    var sdownSince: Millis?
    var sdownFromCrash: Bool
    var emptyRestartSince: Millis?
    var infoRefresh: Millis?

    init(_ ri: borrowing Instance) {
        linkConnected = ri.linkConnected
        linkUpSince = ri.linkUpSince
        lastAvailTime = ri.lastAvailTime
        pingPendingSince = ri.pingPendingSince
        lastPongTime = ri.lastPongTime
        roleReportedReplica = ri.roleReportedReplica
        roleReportedTime = ri.roleReportedTime
        rebootSince = ri.rebootSince
        refusedSince = ri.refusedSince
        isSDown = ri.isSDown
        sdownSince = ri.sdownSince
        sdownFromCrash = ri.sdownFromCrash
        emptyRestartSince = ri.emptyRestartSince
        infoRefresh = ri.infoRefresh
    }
}

extension SentinelState {
    /// Runs `body` on the master where it is stored (no copy). Nil if there is no such master.
    mutating func withMaster<T>(_ name: String, _ body: (inout MonitoredMaster) -> T) -> T? {
        guard let i = masters.index(forKey: name) else { return nil }
        return body(&masters.values[i])
    }
}
