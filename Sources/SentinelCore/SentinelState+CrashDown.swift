/// Crash-down: a master whose process died on a host that is still up fails over as fast as the
/// evidence arrives, whatever down-after says. The evidence must be unambiguous: the master's
/// port actively refuses our reconnect (a timeout, a hang or a partition never counts) *and*
/// the replicas, asked afresh, report their replication link down since about then. A refusal
/// that only we see (a local firewall, a port change) while a replica still has its link up
/// is not a crash: down-after decides, as in 7.0.
extension SentinelState {
    /// Whether crash detection is on for `name`: its own setting, else the behaviour's.
    public func crashDetectionEnabled(_ name: String) -> Bool {
        guard let m = masters[name] else { return false }
        return m.crashDetection ?? behaviour.crashDetection
    }

    /// `sentinel crash-detection <master> yes|no` (nil: back to the behaviour's default).
    public mutating func setCrashDetection(master name: String, _ on: Bool?) {
        masters[name]?.crashDetection = on
    }

    /// `sentinel durability <master> replicated` (true) or `async`.
    public mutating func setReplicatedDurability(master name: String, _ on: Bool) {
        masters[name]?.replicatedDurability = on
    }

    /// A reconnect to `ref` was refused. For the master (with crash detection on), the first
    /// refusal of a run asks every connected replica for INFO at once: their view of the
    /// replication link is the second half of the evidence.
    mutating func connectionRefused(_ ref: InstanceRef, now: Millis) {
        let first = withInstance(ref) { ri -> Bool in
            if ri.linkConnected { ri.lastAvailTime = max(ri.lastAvailTime, now) }
            ri.linkConnected = false
            ri.infoPending = false
            guard ri.refusedSince == nil else { return false }
            ri.refusedSince = now
            return true
        }
        guard first == true, case .master(let name) = ref, crashDetectionEnabled(name) else {
            if case .master(let name) = ref { react(name, now: now) }
            return
        }
        for address in masters[name]!.sortedReplicaAddresses where masters[name]!.replicas[address]!.linkConnected {
            // Even if an INFO is in flight: it may have been answered before the crash.
            emit(.info(.replica(master: name, address)))
            masters[name]!.replicas[address]!.infoPending = true
        }
        react(name, now: now)
    }

    /// Whether `name` is crash-down now: refused since `refusedSince`, and every replica we
    /// reach that replicates it has answered INFO since the refusal with its link down, lost
    /// no earlier than about when our own link was (at least one such replica). A replica not
    /// yet heard from since the refusal makes us wait for it; one whose link is up vetoes.
    func isCrashDown(_ name: String) -> Bool {
        guard let m = masters[name], m.crashDetection ?? behaviour.crashDetection,
              let refused = m.instance.refusedSince, !m.instance.linkConnected else { return false }
        var agreeing = 0
        for r in m.replicas.values where r.linkConnected && r.infoRefresh != nil && r.roleReportedReplica
            && replicates(r, from: m.address)
        {
            guard let at = r.infoRefresh, at >= refused else { return false }  // wait for its fresh INFO
            if r.replicaOfLinkUp { return false }
            // Its link was lost around when ours was, not long before (that proves nothing now).
            let lostBefore = at - m.instance.lastAvailTime + behaviour.crashAgreementSlack
            if r.masterLinkDownTime > lostBefore { continue }
            agreeing += 1
        }
        return agreeing > 0
    }

    /// Whether replica `ri`'s INFO (`master_host`, `master_port`) names `address`. As 7.0's
    /// sentinelAddrEqualsHostname the host is compared as an address where one is known and
    /// as a name otherwise (any case): the replica may have been pointed at its master by a
    /// name while we know the master by its address, or the other way round (announce-hostnames),
    /// or by another spelling of one IPv6 address (the shell normalises address literals).
    func replicates(_ ri: Instance, from address: InstanceAddress) -> Bool {
        guard ri.replicaOfPort == address.port, let host = ri.replicaOfHost else { return false }
        if host == address.ip || host.lowercased() == address.ip.lowercased() { return true }
        let reported = ri.replicaOfAddress ?? hostAddresses[host.lowercased()] ?? host.lowercased()
        let known = hostAddresses[address.ip.lowercased()] ?? address.ip.lowercased()
        return reported == known
    }

    /// The shell resolved host name `name` to `address` (a master monitored by name, a
    /// replica's `master_host`): replicas that name their master either way match it.
    public mutating func learnHostAddress(_ name: String, _ address: String) {
        hostAddresses[name.lowercased()] = address.lowercased()
    }

    /// A master's INFO after a restart: if it came back as a master with an empty data set
    /// (and not still loading one) while a replica still reports keys, it lost its data, and
    /// its replicas are about to lose theirs: its next full resync flushes them (≈1 s after
    /// the restart with disk-based sync, ≈5 s with 7.0's diskless default). With crash
    /// detection that is a crash (SDOWN at once, see `checkSubjectivelyDown`), so a replica
    /// with the data is promoted first. A master restarted with its data (persistence), one
    /// whose replicas are empty too, and one that is a replica now are left alone.
    mutating func checkEmptyRestart(_ name: String, _ report: InfoReport, rebooted: Bool, now: Millis) {
        guard crashDetectionEnabled(name) else {
            masters[name]!.instance.restartedSince = nil
            masters[name]!.instance.emptyRestartSince = nil
            return
        }
        if rebooted { masters[name]!.instance.restartedSince = now }
        let empty = !report.isReplica && !report.loading && report.keyCount == 0
        let replicaHoldsData = masters[name]!.replicas.values.contains { ($0.keyCount ?? 0) > 0 }
        if masters[name]!.instance.emptyRestartSince != nil {
            if !empty || !replicaHoldsData {
                masters[name]!.instance.emptyRestartSince = nil
                event(.notice, "-empty-restart", .master(name))
            }
            return
        }
        guard masters[name]!.instance.restartedSince != nil else { return }
        if report.loading { return }  // decided once it has loaded
        masters[name]!.instance.restartedSince = nil
        if empty && replicaHoldsData {
            masters[name]!.instance.emptyRestartSince = now
            event(.warning, "+empty-restart", .master(name), "restarted as a master with no keys while a replica holds data")
        }
    }
}
