/// Tandem's coordinated switchover (`SentinelBehaviour.coordinatedSwitchover`): the answers to
/// the pause, and the old master's demotion, retried until its pause would have run out.
extension SentinelState {
    /// A switchover's old master still to be made a replica of the promoted one. The demotion
    /// outlives the failover (the master's link is moved to the new master at once), so it is
    /// kept by the old master's address.
    public struct Demotion: Sendable, Hashable {
        public var master: String
        public var oldMaster: InstanceAddress
        public var newMaster: InstanceAddress
        /// No attempt starts at or after this: the pause the demote lifts has run out by then.
        public var deadline: Millis
        /// Attempts started so far.
        public var attempts: Int
        /// When the next attempt is due; nil while one is under way.
        public var retryAt: Millis?
        /// The epoch of the failover that promoted `newMaster`.
        public var epoch: UInt64 = 0
    }

    /// How long after a failed demote the next attempt starts (at the first tick from then).
    static let demoteRetryDelay: Millis = 100

    /// `.writesPaused`: catch up from the paused offset, or undo a pause that came too late.
    mutating func writesPaused(_ name: String, offset: Int64, now: Millis) {
        guard masters[name]?.failoverState == .pauseMaster else {
            // The switchover ended meanwhile: undo — unless a newer failover may rely on the pause.
            if !newerFailoverKnown(name) { emit(.unpauseWrites(.master(name))) }
            return
        }
        masters[name]!.switchoverTargetOffset = offset
        masters[name]!.failoverState = .waitReplicaCatchUp
        masters[name]!.failoverStateChangeTime = now
        react(name, now: now)
    }

    /// `.pauseFailed`: writes were never paused, so there is nothing to undo; the switchover is
    /// abandoned as if the replica had not caught up in time.
    mutating func pauseFailed(_ name: String, _ failure: PauseFailure, now: Millis) {
        guard masters[name]?.failoverState == .pauseMaster else { return }
        masters[name]!.writesPaused = false
        event(.warning, "-failover-abort-slave-timeout", .master(name))
        abortFailover(name, now: now)
    }

    /// The promotion is confirmed while the old master's writes are paused: it follows the new
    /// master before it takes writes again. Retried until the pause (limit + 1 s) runs out.
    mutating func startDemotion(_ name: String, newMaster: InstanceAddress, now: Millis) {
        let old = masters[name]!.address
        demotions[old] = Demotion(master: name, oldMaster: old, newMaster: newMaster,
                                  deadline: now.saturatingPlus(behaviour.switchoverPauseLimit.saturatingPlus(1_000)),
                                  attempts: 1, retryAt: nil, epoch: masters[name]!.failoverEpoch)
        emit(.demote(master: name, at: old, to: newMaster, attempt: 1))
    }

    /// `.demoteResult`: done, or the next attempt scheduled.
    mutating func demoteResult(_ name: String, at address: InstanceAddress, failure: String?, now: Millis) {
        guard let d = demotions[address], d.master == name, d.retryAt == nil else { return }
        if failure == nil {
            demotions[address] = nil
        } else {
            demotions[address]!.retryAt = now.saturatingPlus(Self.demoteRetryDelay)
        }
    }

    /// A demotion whose failover is no longer the group's last word: the master has moved to a
    /// third address (until the failover ends it still names the old master), or a newer
    /// failover of it was started, voted for or adopted (it may promote the old master itself).
    /// Retrying would make the new master a replica of an old one.
    /// (Found by the write simulator, seed 23031: a switchover's demote kept failing; the old
    /// master's agent made it a replica itself, the promoted replica's agent was dead, so the
    /// agents asked for a failover, which promoted the old master back; the next demote attempt
    /// then succeeded and made it a replica of the replica it had just demoted: a replication
    /// loop, no master, 3 acknowledged writes lost.)
    func superseded(_ d: Demotion) -> Bool {
        guard let m = masters[d.master] else { return true }
        return (m.address != d.newMaster && m.address != d.oldMaster)
            || m.failoverEpoch > d.epoch || m.leaderEpoch > d.epoch || m.configEpoch > d.epoch
    }

    /// On each tick: the demote attempts that are due, and the demotions past their deadline dropped
    /// — an attempt still under way too: its answer may never come (the sentinel was stopped and
    /// its connection closed meanwhile; found by the write simulator, seed 1408: a demotion kept
    /// for ever), and the pause it was to lift has run out; a returning old master is demoted as
    /// any other.
    mutating func retryDemotions(now: Millis) {
        guard !demotions.isEmpty else { return }
        for address in demotions.keys.sorted() {
            guard let d = demotions[address] else { continue }
            if now >= d.deadline || superseded(d) {
                demotions[address] = nil
                continue
            }
            guard let due = d.retryAt, now >= due else { continue }
            demotions[address]!.attempts += 1
            demotions[address]!.retryAt = nil
            emit(.demote(master: d.master, at: address, to: d.newMaster, attempt: d.attempts + 1))
        }
    }
}
