/// Redis Sentinel's decisions as a pure state machine: inputs and a time in, actions out.
///
/// Mirrors `sentinel.c` of Redis 7.0 (function names are given where a step follows one),
/// with Tandem's deliberate changes behind `SentinelBehaviour`. No I/O, no clock, no global
/// randomness: the shell feeds `handle(_:now:)` and carries out the returned actions in order
/// (a `.saveConfig` before anything after it).
public struct SentinelState: Sendable {
    public let myID: String
    public var currentEpoch: UInt64 = 0
    /// Names the operator gave for instances and the addresses they resolved to (the shell
    /// remembers them as it resolves), and whether announce-hostnames is on: together they say
    /// how an instance's host is shown in replies and event payloads, at the time of each
    /// (7.0's announceSentinelAddr).
    public var hostnames = HostnameBook()
    public var announceHostnames = false
    public internal(set) var masters: [String: MonitoredMaster] = [:]
    /// The address this sentinel announces in hello messages.
    public internal(set) var announce: InstanceAddress
    /// True until `announce.ip` is learned from a link's local address (no announce-ip at start).
    public internal(set) var learnsAnnounceIP: Bool
    /// Changed with `setTimer` (`SENTINEL DEBUG`).
    public internal(set) var timers: SentinelTimers
    public var behaviour: SentinelBehaviour
    public internal(set) var tiltSince: Millis?
    /// `SENTINEL SIMULATE-FAILURE`'s flags.
    public internal(set) var simulatedFailure: SimulatedFailure = []
    /// Old masters of coordinated switchovers still being demoted, by address.
    public internal(set) var demotions: [InstanceAddress: Demotion] = [:]
    /// Host names the shell resolved (lower-cased) to the addresses they name: a replica's
    /// `master_host` may name its master by either (see `replicates(_:from:)`).
    public internal(set) var hostAddresses: [String: String] = [:]
    var previousTick: Millis?
    /// The masters' names in order, kept for the timer (sorting them on every tick was a
    /// measurable part of its cost with hundreds of masters); nil after a master is added or
    /// removed (`masterOrderChanged`).
    var masterOrder: [String]?
    var random: SplitMix64
    var output: [SentinelAction] = []

    /// `learnsAnnounceIP`: `announce.ip` is a placeholder until `learnAnnounceIP` gives the
    /// local address of the first link made.
    public init(myID: String, announce: InstanceAddress, learnsAnnounceIP: Bool = false, seed: UInt64 = 0,
                timers: SentinelTimers = SentinelTimers(), behaviour: SentinelBehaviour = SentinelBehaviour()) {
        self.myID = myID
        self.announce = announce
        self.learnsAnnounceIP = learnsAnnounceIP
        self.timers = timers
        self.behaviour = behaviour
        self.random = SplitMix64(seed: seed)
    }

    /// True while in TILT: monitoring continues, but no action is taken.
    public var isTilted: Bool { tiltSince != nil }

    /// Deliberate bugs, switched on only by tests (through `@testable import`), to show that the
    /// randomized schedules catch a broken rule. Never set outside tests.
    enum DeliberateBug: Sendable, Hashable {
        case voteTwiceInAnEpoch
        /// A coordinated switchover promotes without waiting for the replica to catch up.
        case switchoverSkipsCatchUp
        /// A candidate takes a peer's reply naming it leader as a vote in its current epoch,
        /// whatever epoch the reply was for (the missing check: a reply that arrives late, from
        /// an earlier election, counts again).
        case countsStaleVoteReply
        /// A vote (and the epoch it raises) is given without a save: the shell answers before
        /// the file holds it, and a sentinel restarted meanwhile can vote again in that epoch.
        case votesWithoutSaving
    }
    var brokenForTesting: DeliberateBug?

    /// Names of the monitored masters in order.
    public var masterNames: [String] { masters.keys.sorted() }

    // MARK: Entry points

    /// Starts monitoring a master (`sentinel monitor` or `SENTINEL MONITOR`).
    /// Without `downAfter` or `failoverTimeout`, the defaults in `timers` (`SENTINEL DEBUG` can change them).
    public mutating func monitor(name: String, address: InstanceAddress, quorum: Int, downAfter: Millis? = nil,
                                 failoverTimeout: Millis? = nil, parallelSyncs: Int = 1, now: Millis) -> [SentinelAction] {
        var master = MonitoredMaster(name: name, address: address, quorum: quorum,
                                     downAfter: downAfter ?? timers.defaultDownAfter,
                                     failoverTimeout: failoverTimeout ?? timers.defaultFailoverTimeout,
                                     parallelSyncs: parallelSyncs, now: now)
        master.instance.roleReportedTime = now
        if masters[name] == nil { masterOrder = nil }
        masters[name] = master
        emit(.connect(.master(name), address))
        event(.warning, "+monitor", .master(name), "quorum \(quorum)")
        return flush()
    }

    /// Restores a replica or a sentinel from the config file's state lines.
    public mutating func restoreKnownReplica(master name: String, address: InstanceAddress, now: Millis) -> [SentinelAction] {
        guard masters[name] != nil, masters[name]!.replicas[address] == nil else { return [] }
        masters[name]!.replicas[address] = Instance(address: address, now: now)
        emit(.connect(.replica(master: name, address), address))
        return flush()
    }

    /// Restores a peer sentinel from a `known-sentinel` line.
    public mutating func restoreKnownSentinel(master name: String, address: InstanceAddress, runID: String, now: Millis) -> [SentinelAction] {
        guard masters[name] != nil, runID != myID else { return [] }
        masters[name]!.sentinels[runID] = Instance(address: address, runID: runID, now: now)
        emit(.connect(.sentinel(master: name, runID: runID), address))
        return flush()
    }

    /// Applies one input.
    public mutating func handle(_ input: SentinelInput, now: Millis) -> [SentinelAction] {
        switch input {
        case .tick: timer(now: now)
        case .sdownDeadline: sdownDeadlinesReached(now: now)
        case .linkUp(let ref):
            // As sentinelReconnectInstance: a fresh link is PINGed at once.
            guard instance(ref) != nil else { break }
            update(ref) {
                $0.linkConnected = true
                $0.linkUpSince = now
                $0.lastPingSent = now
                if $0.pingPendingSince == nil { $0.pingPendingSince = now }
                $0.refusedSince = nil  // something accepts connections there again
            }
            emit(.ping(ref))
            // With crash detection, a master's new link asks INFO at once: if the process was
            // restarted (possibly empty), that is known before anything is decided on it.
            if case .master(let name) = ref, crashDetectionEnabled(name), let ri = instance(ref), ri.runID != nil, !ri.infoPending {
                emit(.info(ref))
                update(ref) { $0.infoPending = true }
            }
        case .linkDown(let ref):
            update(ref) {
                if $0.linkConnected { $0.lastAvailTime = max($0.lastAvailTime, now) }
                $0.linkConnected = false
                $0.infoPending = false
                $0.refusedSince = nil  // a timeout or a reset: ambiguous, down-after decides
            }
        case .connectionRefused(let ref):
            connectionRefused(ref, now: now)
        case .pingReply(let ref, let reply):
            let received: (inout Instance) -> Void = {
                $0.lastPongTime = now
                if reply.isValid {
                    $0.lastAvailTime = now
                    $0.pingPendingSince = nil
                }
                $0.refusedSince = nil
                if reply == .pong { $0.rebootSince = nil }
            }
            if case .sentinel(_, let runID) = ref, let peer = instance(ref), peer.linkConnected {
                updatePeer(runID, at: peer.address, received)
            } else {
                update(ref, received)
            }
            // sentinelPingReplyCallback: one SCRIPT KILL for an SDOWN instance stuck in a script.
            if reply == .busy, let ri = instance(ref), ri.isSDown, !ri.scriptKillSent {
                emit(.scriptKill(ref))
                update(ref) { $0.scriptKillSent = true }
            }
        case .writesPaused(let name, let offset):
            writesPaused(name, offset: offset, now: now)
        case .pauseFailed(let name, let failure):
            pauseFailed(name, failure, now: now)
        case .demoteResult(let name, let address, let failure):
            demoteResult(name, at: address, failure: failure, now: now)
        case .nameResolved(let name, let from, let address):
            nameResolved(master: name, from: from, address: address, now: now)
        case .info(let ref, let report):
            refreshInfo(ref, report, now: now)
            react(ref.masterName, now: now)
        case .infoFailed(let ref):
            // Without this, an INFO answered -BUSY (a long script) left the request pending for
            // as long as the link lasted, and no INFO was asked there again.
            update(ref) { $0.infoPending = false }
        case .hello(let payload): processHello(payload, now: now)
        case .masterDownReply(let name, let runID, let down, let leader, let leaderEpoch):
            guard masters[name]?.sentinels[runID] != nil else { break }
            masters[name]!.sentinels[runID]!.lastMasterDownReply = now
            masters[name]!.sentinels[runID]!.reportsMasterDown = down
            masters[name]!.peersMayHoldAnswers = true
            if let leader, leader != "*" {
                masters[name]!.sentinels[runID]!.leader = leader
                masters[name]!.sentinels[runID]!.leaderEpoch =
                    brokenForTesting == .countsStaleVoteReply && leader == myID ? max(leaderEpoch, currentEpoch) : leaderEpoch
            }
            react(name, now: now)
        }
        return flush()
    }

    /// Answers `SENTINEL is-master-down-by-addr ip port epoch runid`: `(down, leader or "*", vote epoch)`.
    /// The returned actions (a vote is saved before it is given) must be carried out before replying.
    public mutating func isMasterDownByAddr(address: InstanceAddress, epoch: UInt64, runID: String, now: Millis)
        -> (down: Bool, leader: String, leaderEpoch: UInt64, actions: [SentinelAction])
    {
        // With Tandem's behaviour a master is also known by the address of the replica its
        // failover has promoted, while the replicas are reconfigured (`currentMasterAddress`,
        // what our hellos announce and the peers have taken): the peers then ask about that
        // address. 7.0 answers "not down, no vote" and so never learns of their newer failover of
        // it; it ended its own failover, saw the master they had promoted meanwhile claim master
        // and converted it to a replica of ours (the write simulator's seed 107125: a replication
        // loop, 5 acknowledged writes lost). Voting there makes that newer failover one we
        // await (`awaitedFailoverEpoch`, also past our own failover's end).
        var match = masters.values.first(where: { $0.address == address })
        var promotedDown: Bool?
        if match == nil, behaviour.votesOnPromotedAddress,
           let m = masters.values.first(where: { Self.currentAddress(of: $0) == address }) {
            match = m
            promotedDown = m.replicas[address]?.isSDown ?? false
        }
        guard let name = match?.name else {
            return (false, "*", 0, flush())
        }
        let down = !isTilted && (promotedDown ?? masters[name]!.instance.isSDown)
        var leader: String?
        var leaderEpoch: UInt64 = 0
        if runID != "*" {
            (leader, leaderEpoch) = voteLeader(name, epoch: epoch, candidate: runID, about: address, now: now)
        }
        return (down, leader ?? "*", leaderEpoch, flush())
    }

    /// Why `SENTINEL FAILOVER` was refused.
    public enum FailoverRefusal: Error, Sendable, Hashable {
        case noSuchMaster
        case inProgress
        case noGoodReplica
    }

    /// `SENTINEL FAILOVER name`: fail over now, whatever the peers think of the master — without
    /// asking them (7.0), or elected by them (`SentinelBehaviour.electForcedFailover`).
    public mutating func forceFailover(_ name: String, now: Millis) throws(FailoverRefusal) -> [SentinelAction] {
        guard masters[name] != nil else { throw .noSuchMaster }
        if masters[name]!.failoverInProgress { throw .inProgress }
        if selectReplica(name, now: now) == nil { throw .noGoodReplica }
        startFailover(name, now: now)
        masters[name]!.forcedFailover = true
        if behaviour.electForcedFailover {
            askMasterStateToOtherSentinels(name, forced: true, now: now)
        }
        return flush()
    }

    /// What `SENTINEL get-master-addr-by-name` answers: the promoted replica once it has
    /// confirmed its promotion, else the master (`sentinelGetCurrentMasterAddress`).
    public func currentMasterAddress(_ name: String) -> InstanceAddress? {
        guard let master = masters[name] else { return nil }
        return Self.currentAddress(of: master)
    }

    /// `currentMasterAddress` of a master at hand.
    static func currentAddress(of master: borrowing MonitoredMaster) -> InstanceAddress {
        if master.failoverInProgress, let promoted = master.promotedReplica,
           master.failoverState == .reconfSlaves || master.failoverState == .updateConfig {
            return promoted
        }
        return master.address
    }

    // MARK: Helpers

    mutating func emit(_ action: SentinelAction) { output.append(action) }

    mutating func flush() -> [SentinelAction] {
        defer { output.removeAll() }
        return output
    }

    func instance(_ ref: InstanceRef) -> Instance? {
        switch ref {
        case .master(let name): return masters[name]?.instance
        case .replica(let name, let address): return masters[name]?.replicas[address]
        case .sentinel(let name, let runID): return masters[name]?.sentinels[runID]
        }
    }

    mutating func update(_ ref: InstanceRef, _ change: (inout Instance) -> Void) {
        _ = withInstance(ref, change)
    }

    /// Runs `body` on the instance where it is stored: neither it nor its master is copied
    /// (with hundreds of masters, copies of both for every instance on every tick were most of
    /// the timer's cost). Nil if there is no such instance.
    mutating func withInstance<T>(_ ref: InstanceRef, _ body: (inout Instance) -> T) -> T? {
        guard let i = masters.index(forKey: ref.masterName) else { return nil }
        return Self.withInstance(ref, in: &masters.values[i], body)
    }

    static func withInstance<T>(_ ref: InstanceRef, in master: inout MonitoredMaster, _ body: (inout Instance) -> T) -> T? {
        switch ref {
        case .master:
            return body(&master.instance)
        case .replica(_, let address):
            guard let j = master.replicas.index(forKey: address) else { return nil }
            return body(&master.replicas.values[j])
        case .sentinel(_, let runID):
            guard let j = master.sentinels.index(forKey: runID) else { return nil }
            return body(&master.sentinels.values[j])
        }
    }

    /// `<type> <name> <ip> <port> @ <master> <ip> <port>` (the `%@` of sentinelEvent).
    func describe(_ ref: InstanceRef) -> String {
        guard let master = masters[ref.masterName] else { return "" }
        let at = "@ \(master.name) \(shown(master.address, master: master.name)) \(master.address.port)"
        switch ref {
        case .master:
            return "master \(master.name) \(shown(master.address, master: master.name)) \(master.address.port)"
        case .replica(_, let a):
            return "slave \(a) \(shown(a)) \(a.port) \(at)"
        case .sentinel(_, let runID):
            let a = master.sentinels[runID]?.address ?? InstanceAddress(ip: "?", port: 0)
            return "sentinel \(runID) \(shown(a)) \(a.port) \(at)"
        }
    }

    /// How `address`'s host is shown now (`hostnames`); `master`: the master's name when the
    /// address is that master's own.
    public func shown(_ address: InstanceAddress, master: String? = nil) -> String {
        hostnames.shown(address.ip, port: address.port, master: master, announceHostnames: announceHostnames)
    }

    /// An event about `ref` (payload starts with its description, then `extra`).
    mutating func event(_ level: EventLevel, _ type: String, _ ref: InstanceRef, _ extra: String? = nil) {
        let text = describe(ref) + (extra.map { " " + $0 } ?? "")
        publish(SentinelEvent(level: level, type: type, payload: text), master: ref.masterName)
    }

    /// An event whose payload is only `text` (+new-epoch, +switch-master, +vote-for-leader, ±tilt).
    mutating func plainEvent(_ level: EventLevel, _ type: String, _ text: String, master: String? = nil) {
        publish(SentinelEvent(level: level, type: type, payload: text), master: master)
    }

    /// `sentinelEvent`: publish, and a WARNING event about a master's instance also goes to that
    /// master's notification-script (none for ±tilt, which is about no master).
    mutating func publish(_ e: SentinelEvent, master: String?) {
        emit(.publish(e))
        if e.level == .warning, let master { emit(.notificationScript(master: master, e)) }
    }

    /// A step `SENTINEL SIMULATE-FAILURE` can name: the shell is told to crash if it is set.
    mutating func simulatedCrashPoint(_ point: SimulatedFailure) {
        if simulatedFailure.contains(point) { emit(.simulatedCrash) }
    }

    mutating func randomDesync() -> Millis {
        Millis(random.next() % UInt64(max(1, timers.maxDesync)))
    }
}

/// A small seeded generator so the core's random delays are reproducible in tests.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SentinelState {
    /// Restores `config-epoch` and `leader-epoch` from the config file.
    public mutating func restoreEpochs(master name: String, configEpoch: UInt64, leaderEpoch: UInt64) {
        guard masters[name] != nil else { return }
        masters[name]!.configEpoch = configEpoch
        masters[name]!.leaderEpoch = leaderEpoch
        // The file keeps the epoch of the last vote, not whom it went to: a vote newer than the
        // configuration is taken as one for another's failover whose outcome was never seen, so
        // a restart does not lift `forcedFailoverGoesAhead`'s refusal (if the vote was for
        // ourselves, our own failover did not end either).
        masters[name]!.votedForOtherEpoch = leaderEpoch > configEpoch ? leaderEpoch : 0
    }
}

extension SentinelState {
    /// Sets `master-reboot-down-after-period` for a master (0 turns the rule off).
    public mutating func setRebootDownAfter(master name: String, _ period: Millis) {
        masters[name]?.rebootDownAfter = period
    }
}
