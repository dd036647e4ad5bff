/// Down detection: SDOWN from each instance's replies, ODOWN from the peers' answers, and
/// the `is-master-down-by-addr` requests that gather them (split from the timer's file).
extension SentinelState {
    /// `sentinelCheckSubjectivelyDown`.
    mutating func checkSubjectivelyDown(_ ref: InstanceRef, now: Millis) {
        // Read in place: the scalars this check needs, not copies of the instance and master.
        guard let (downAfter, rebootDownAfter) = withMaster(ref.masterName, { ($0.downAfter, $0.rebootDownAfter) }),
              let ri = withInstance(ref, { Liveness($0) }) else { return }
        checkSubjectivelyDown(ref, ri, downAfter: downAfter, rebootDownAfter: rebootDownAfter, now: now)
    }

    /// `sentinelCheckSubjectivelyDown` on the liveness `ri` read from the instance.
    mutating func checkSubjectivelyDown(_ ref: InstanceRef, _ ri: Liveness, downAfter: Millis, rebootDownAfter: Millis,
                                        now: Millis) {
        if Self.linkLooksStuck(ri, downAfter: downAfter, now: now, timers: timers) {
            emit(.reconnect(ref, instance(ref)!.address))
            update(ref) {
                $0.linkConnected = false
                $0.linkUpSince = nil
                $0.infoPending = false
            }
        }
        // The master-only rules read the master as it is now (after the reconnect above).
        var isMaster = false, name = ""
        if case .master(let n) = ref { isMaster = true; name = n }
        let (down, crashed, refused) = Self.sdownVerdict(
            isMaster: isMaster, ri, downAfter: downAfter, rebootDownAfter: rebootDownAfter, now: now, timers: timers,
            crashDown: { isCrashDown(name) }, emptyRestartCounts: { crashDetectionEnabled(name) })
        if down {
            if !ri.isSDown {
                if refused { event(.notice, "+crash-down", ref) }
                event(.warning, "+sdown", ref)
                let linkLoss = !crashed && !ri.linkConnected && ri.pingPendingSince == nil && now - ri.lastAvailTime > downAfter
                update(ref) {
                    $0.sdownSince = now
                    $0.sdownFromCrash = crashed
                    $0.sdownFromLinkLoss = linkLoss
                }
                if case .master(let name) = ref, behaviour.askOnSDown {
                    askMasterStateToOtherSentinels(name, forced: true, now: now)
                }
            }
        } else if ri.isSDown {
            event(.warning, "-sdown", ref)
            update(ref) {
                $0.sdownSince = nil
                $0.sdownFromCrash = false
                $0.sdownFromLinkLoss = false
                $0.scriptKillSent = false
            }
        }
    }

    /// `sentinelCheckObjectivelyDown`: SDOWN here plus enough peers saying so.
    mutating func checkObjectivelyDown(_ name: String, now: Millis) {
        // Neither SDOWN nor ODOWN (nearly every master on nearly every tick): nothing changes.
        guard let (sdown, wasODown) = withMaster(name, { ($0.instance.isSDown, $0.isODown) }), sdown || wasODown else { return }
        let master = masters[name]!
        var votes = 0
        var odown = false
        if master.instance.isSDown {
            votes = 1 + master.sentinels.values.filter(\.reportsMasterDown).count
            odown = votes >= master.quorum
        }
        if odown {
            if !master.isODown {
                masters[name]!.odownSince = now
                event(.warning, "+odown", .master(name), "#quorum \(votes)/\(master.quorum)")
            }
        } else if master.isODown {
            masters[name]!.odownSince = nil
            masters[name]!.candidacyNotBefore = nil
            event(.warning, "-odown", .master(name))
        }
    }

    /// `sentinelAskMasterStateToOtherSentinels`: while the master is SDOWN, ask each peer
    /// whether it agrees (and, once a failover has started, ask for its vote).
    mutating func askMasterStateToOtherSentinels(_ name: String, forced: Bool, now: Millis) {
        // Nothing is asked while the master is up (but for a forced failover's election, see
        // `SentinelBehaviour.electForcedFailover`): only stale answers are forgotten, in place.
        let age = timers.askPeriod.saturatingTimes(5)
        let electForced = behaviour.electForcedFailover
        guard let up = withMaster(name, { m in
            if m.instance.isSDown { return false }
            if electForced && m.forcedFailover && m.failoverState == .waitStart { return false }
            Self.forgetStaleAnswers(of: &m, now: now, after: age)
            return true
        }), !up else { return }
        let master = masters[name]!
        let electing = master.instance.isSDown
            || (behaviour.electForcedFailover && master.forcedFailover && master.failoverState == .waitStart)
        for runID in master.sortedSentinelIDs {
            let peer = master.sentinels[runID]!
            if now - (peer.lastMasterDownReply ?? Millis.min / 2) > timers.askPeriod.saturatingTimes(5) {
                masters[name]!.sentinels[runID]!.reportsMasterDown = false
                masters[name]!.sentinels[runID]!.leader = nil
            }
            guard electing, peer.linkConnected else { continue }
            if !forced {
                let last = max(peer.lastMasterDownReply ?? Millis.min / 2, peer.lastMasterDownAsk ?? Millis.min / 2)
                let period = peer.reportsMasterDown ? timers.askPeriod : (behaviour.askPeriod ?? timers.askPeriod)
                if now - last < period { continue }
            }
            let candidate = master.failoverState != .none ? myID : "*"
            emit(.askMasterState(.sentinel(master: name, runID: runID), master: master.address, epoch: currentEpoch, runID: candidate))
            masters[name]!.sentinels[runID]!.lastMasterDownAsk = now
        }
    }
}

extension SentinelState {
    /// A link that has been up a while but whose PING is unanswered for half of down-after
    /// may be stuck (a half-open TCP connection): recycle it, as 7.0 does.
    static func linkLooksStuck(_ ri: Liveness, downAfter: Millis, now: Millis, timers: SentinelTimers) -> Bool {
        guard ri.linkConnected, let since = ri.linkUpSince, now - since > timers.minLinkReconnectPeriod,
              let pending = ri.pingPendingSince else { return false }
        return now - pending > downAfter / 2 && now - ri.lastPongTime > downAfter / 2
    }

    /// `sentinelCheckSubjectivelyDown`'s verdict on the liveness `ri` read from an instance
    /// (`isMaster`: the master itself): whether it is down, by crash detection, on a refused
    /// connect. `crashDown` and `emptyRestartCounts` (read only for a master, and only when
    /// nothing before decided) say whether crash detection holds it down.
    static func sdownVerdict(isMaster: Bool, _ ri: Liveness, downAfter: Millis, rebootDownAfter: Millis, now: Millis,
                             timers: SentinelTimers, crashDown: () -> Bool, emptyRestartCounts: () -> Bool)
        -> (down: Bool, crashed: Bool, refused: Bool)
    {
        var elapsed: Millis = 0
        if let pending = ri.pingPendingSince {
            elapsed = now - pending
        } else if !ri.linkConnected {
            elapsed = now - ri.lastAvailTime
        }
        var down = elapsed > downAfter
        if isMaster, ri.roleReportedReplica,
           now - ri.roleReportedTime > downAfter.saturatingPlus(timers.infoPeriod.saturatingTimes(2)) {
            down = true
        }
        // master-reboot-down-after-period: a rebooted master that has not answered PONG since.
        if isMaster, rebootDownAfter > 0, let since = ri.rebootSince, now - since > rebootDownAfter {
            down = true
        }
        // Crash-down (see SentinelState+CrashDown.swift): SDOWN at once, before down-after.
        var crashed = false, refused = false
        if !down, isMaster, ri.refusedSince != nil, crashDown() {
            down = true
            crashed = true
            refused = true
        }
        // A master that restarted empty while a replica holds data (see checkEmptyRestart).
        if !down, isMaster, ri.emptyRestartSince != nil, emptyRestartCounts() {
            down = true
            crashed = true
        }
        // A crash-down SDOWN holds until the master answers again: the replicas' reports it
        // rested on change as the failover reconfigures them, and a dead master that looked
        // healthy again mid-failover was handed to clients (SENTINEL MASTERS without s_down).
        // Answering is not enough if it restarted: it holds until an INFO read on the new link
        // has shown whether the master came back empty (that INFO is sent with the first PING).
        if !down, ri.isSDown, ri.sdownFromCrash, let since = ri.sdownSince {
            let infoAwaited = ri.linkConnected && ri.linkUpSince.map { up in
                (ri.infoRefresh ?? Millis.min) < up && now - up < downAfter
            } == true
            if ri.lastAvailTime <= since || infoAwaited {
                down = true
                crashed = true
            }
        }
        return (down, crashed, refused)
    }
}

extension SentinelState {
    /// With `behaviour.sdownAtDeadline`: the earliest time at which a master that is not SDOWN
    /// becomes so by one of `sdownVerdict`'s timed rules (down-after from its oldest unanswered
    /// PING; a replica role reported too long; master-reboot-down-after-period), if nothing is
    /// heard from it before. The shell sends `.sdownDeadline` then, when that comes before its
    /// next tick. Nil: none, or TILT. One pass over the masters (the shell asks after every tick).
    ///
    /// Not the rule for a link that is down with no PING pending (down-after from when the
    /// master was last available): every sentinel sees a link drop (the master's EOF) in the same
    /// millisecond, so all three were SDOWN, and stood for election, in the same millisecond and
    /// split the vote (the failover benchmark without crash detection: promoted 1.10–1.19 s
    /// against 1.02–1.07 s); the timer ticks' spread keeps them apart there. An unanswered
    /// PING is each sentinel's own, sent at its own tick.
    public func nextSDownDeadline() -> Millis? {
        guard behaviour.sdownAtDeadline, behaviour.eagerSteps, !isTilted else { return nil }
        var earliest: Millis?
        for master in masters.values {
            guard let at = Self.sdownDeadline(of: master, timers: timers) else { continue }
            if earliest.map({ at < $0 }) ?? true { earliest = at }
        }
        return earliest
    }

    /// `nextSDownDeadline` for one master (the first millisecond at which `elapsed > limit`).
    static func sdownDeadline(of master: borrowing MonitoredMaster, timers: SentinelTimers) -> Millis? {
        let ri = master.instance
        guard !ri.isSDown else { return nil }
        var at: Millis?
        func consider(_ t: Millis) { if at.map({ t < $0 }) ?? true { at = t } }
        let downAfter = master.downAfter
        if let pending = ri.pingPendingSince {
            consider(pending.saturatingPlus(downAfter).saturatingPlus(1))
        }
        if ri.roleReportedReplica {
            consider(ri.roleReportedTime.saturatingPlus(downAfter.saturatingPlus(timers.infoPeriod.saturatingTimes(2))).saturatingPlus(1))
        }
        if master.rebootDownAfter > 0, let since = ri.rebootSince {
            consider(since.saturatingPlus(master.rebootDownAfter).saturatingPlus(1))
        }
        return at
    }

    /// `.sdownDeadline`: each master whose deadline has come is checked as an input about it
    /// would be (`react`: SDOWN, then ODOWN, the peers asked, a failover started), in the
    /// timer's order. The other masters wait for the tick.
    mutating func sdownDeadlinesReached(now: Millis) {
        guard behaviour.sdownAtDeadline else { return }
        // Woken late — the process stopped (SIGSTOP, a paused VM) while it slept toward the
        // deadline: the tick decides, after its TILT check and `stallCredit` (a PING pending
        // across the stall counts from its end).
        if let previous = previousTick, now - previous > (behaviour.stallCredit ?? timers.tiltTrigger) { return }
        let timers = timers
        for name in orderedMasterNames() {
            guard let due = withMaster(name, { Self.sdownDeadline(of: $0, timers: timers) }) ?? nil, due <= now else { continue }
            react(name, now: now)
        }
    }
}
