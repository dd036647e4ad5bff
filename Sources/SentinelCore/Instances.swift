/// Milliseconds on a monotonic clock. The core never reads a clock: every event carries `now`.
public typealias Millis = Int64

extension Int64 {
    /// `self * factor`, held at `.max` / `.min` instead of trapping: down-after, failover-timeout
    /// and the DEBUG timers take any positive value a client sends (Int64.max included), and
    /// the core multiplies them.
    public func saturatingTimes(_ factor: Int64) -> Int64 {
        let (product, overflow) = multipliedReportingOverflow(by: factor)
        guard overflow else { return product }
        return (self < 0) == (factor < 0) ? .max : .min
    }

    /// `self + other`, held at `.max` / `.min` instead of trapping.
    public func saturatingPlus(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }
}

/// An `ip:port` pair as Sentinel announces and compares them.
public struct InstanceAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var ip: String
    public var port: Int

    public init(ip: String, port: Int) {
        self.ip = ip
        self.port = port
    }

    /// `ip:port` (Sentinel's instance name for replicas and sentinels).
    public var description: String { "\(ip):\(port)" }

    public static func < (a: InstanceAddress, b: InstanceAddress) -> Bool {
        (a.ip, a.port) < (b.ip, b.port)
    }
}

/// Names one monitored instance: a master, one of its replicas, or a peer sentinel watching it.
public enum InstanceRef: Hashable, Sendable {
    case master(String)
    case replica(master: String, InstanceAddress)
    case sentinel(master: String, runID: String)

    /// The name of the master this instance belongs to.
    public var masterName: String {
        switch self {
        case .master(let name), .replica(let name, _), .sentinel(let name, _): return name
        }
    }
}

/// Where a replica is in being reconfigured towards a promoted replica.
public enum ReconfState: Hashable, Sendable {
    case none
    /// `SLAVEOF new-master` sent at this time.
    case sent(Millis)
    /// The replica reports the new master but has not synced yet.
    case inProgress
    case done
}

/// What the core knows about one instance: its link, replies and reported state.
public struct Instance: Sendable, Hashable {
    public var address: InstanceAddress
    public var runID: String?

    // Link and liveness.
    public var linkConnected = false
    /// When the current link came up (to decide whether it is old enough to recycle).
    public var linkUpSince: Millis?
    /// When the link was last seen up (or created), to time SDOWN of an unreachable instance.
    public var lastAvailTime: Millis
    /// When the oldest unanswered PING was sent; nil when none is pending.
    public var pingPendingSince: Millis?
    public var lastPingSent: Millis?
    public var infoPending = false
    public var lastMasterDownAsk: Millis?
    /// Last reply to PING of any kind.
    public var lastPongTime: Millis
    public var lastHelloSent: Millis?
    public var sdownSince: Millis?
    public var scriptKillSent = false
    /// Set when a master's run id changed and master-reboot-down-after-period is on; cleared by a PONG.
    public var rebootSince: Millis?
    /// When its port first actively refused a reconnect (TCP RST, ECONNREFUSED) in the current
    /// run of refusals; nil once a link is made, a reply arrives or a connect fails otherwise.
    public var refusedSince: Millis?
    /// The current SDOWN was decided by crash detection (every sentinel sees it at once).
    public var sdownFromCrash = false
    /// The current SDOWN counted down-after from the link's loss with no PING pending (every
    /// sentinel lost it in the same millisecond when the master's EOF came: a kill on a host that
    /// is up, crash detection off), not from a PING of its own.
    public var sdownFromLinkLoss = false
    /// A master whose run id changed (a restart) and that has not yet shown, not loading, a
    /// data set or a replica's role: whether it came back empty is still to be decided.
    public var restartedSince: Millis?
    /// A master that restarted empty while a replica holds data (crash detection): SDOWN
    /// while this holds, so a replica with the data is promoted before a full resync from
    /// the empty master wipes them.
    public var emptyRestartSince: Millis?

    // From INFO.
    public var infoRefresh: Millis?
    public var roleReportedReplica = false
    public var roleReportedTime: Millis
    public var masterLinkDownTime: Millis = 0
    public var replicaOfHost: String?
    public var replicaOfPort: Int?
    /// The address `replicaOfHost` names, as the shell resolved or normalised it (nil: as is).
    public var replicaOfAddress: String?
    /// The keys of its last INFO's Keyspace section (nil: not reported).
    public var keyCount: Int?
    public var replicaOfLinkUp = false
    public var replicaPriority = 100
    public var replicationOffset: Int64 = 0
    public var replicaAnnounced = true
    public var replicaConfChangeTime: Millis

    // Failover bookkeeping (replicas).
    public var reconf: ReconfState = .none
    public var promoted = false

    // Peer sentinels.
    public var lastHelloReceived: Millis?
    public var reportsMasterDown = false
    public var lastMasterDownReply: Millis?
    public var leader: String?
    public var leaderEpoch: UInt64 = 0

    public init(address: InstanceAddress, runID: String? = nil, now: Millis) {
        self.address = address
        self.runID = runID
        self.lastAvailTime = now
        self.pingPendingSince = now
        self.lastPongTime = now
        self.roleReportedTime = now
        self.replicaConfChangeTime = now
    }

    public var isSDown: Bool { sdownSince != nil }
}

/// Sentinel's failover states, named as `SENTINEL MASTER` reports them.
public enum FailoverState: String, Hashable, Sendable {
    case none = "none"
    case waitStart = "wait_start"
    case selectSlave = "select_slave"
    /// Tandem's coordinated switchover: writes paused on the reachable old master.
    case pauseMaster = "pause_master"
    /// Tandem's coordinated switchover: waiting for the chosen replica to reach the master's offset.
    case waitReplicaCatchUp = "wait_replica_catchup"
    case sendSlaveofNoone = "send_slaveof_noone"
    case waitPromotion = "wait_promotion"
    case reconfSlaves = "reconf_slaves"
    case updateConfig = "update_config"
}

/// One monitored master with its replicas and the peer sentinels that watch it.
public struct MonitoredMaster: Sendable, Hashable {
    public var name: String
    public var instance: Instance
    public var quorum: Int
    public var downAfter: Millis
    public var failoverTimeout: Millis
    public var parallelSyncs: Int
    /// `master-reboot-down-after-period` (0: off).
    public var rebootDownAfter: Millis = 0
    public var configEpoch: UInt64 = 0
    public var replicas: [InstanceAddress: Instance] = [:]
    /// Peer sentinels by run id.
    public var sentinels: [String: Instance] = [:]

    public var odownSince: Millis?
    /// Our vote in `leaderEpoch`.
    public var leader: String?
    public var leaderEpoch: UInt64 = 0
    /// The latest epoch in which we voted for another sentinel's failover of this master: while
    /// it is newer than `configEpoch`, that failover's outcome was never seen here (it may have
    /// promoted a replica), and a forced failover does not go ahead alone (`forcedFailoverGoesAhead`).
    public var votedForOtherEpoch: UInt64 = 0
    /// When that vote was given (nil after a restart: the file has no time).
    public var votedForOtherAt: Millis?
    /// The address the vote was about: the master's, or the replica our failover promoted
    /// (`votesOnPromotedAddress`). nil after a restart.
    public var votedForOtherAddress: InstanceAddress?
    /// The group's servers at that vote: master, replicas, promoted replica.
    public var votedForOtherServers: Set<InstanceAddress> = []
    public var failoverState: FailoverState = .none
    public var failoverEpoch: UInt64 = 0
    /// When the last failover attempt started (or was pushed back by a vote); nil: never.
    public var failoverStartTime: Millis?
    public var failoverStateChangeTime: Millis = 0
    public var failoverInProgress = false
    public var forcedFailover = false
    public var promotedReplica: InstanceAddress?
    /// During a coordinated switchover: the paused master's replication offset to catch up to.
    public var switchoverTargetOffset: Int64?
    /// During a coordinated switchover: writes are paused on the old master.
    public var writesPaused = false
    /// During a coordinated switchover: when the CLIENT PAUSE was sent.
    public var writesPausedSince: Millis?
    /// `sentinel crash-detection <master> yes|no`; nil: as `SentinelBehaviour.crashDetection`.
    public var crashDetection: Bool?
    /// `sentinel durability <master> replicated` (Tandem's): writes are acknowledged only once a
    /// replica has them (by the proxy's WAIT), so a failover of a master that is down promotes
    /// the replica with the highest offset read after the master went down, whatever the
    /// priorities say.
    public var replicatedDurability = false
    /// With `SentinelBehaviour.candidacyJitter`: the ODOWN master's failover is not started
    /// before this time (nil: no start pending).
    public var candidacyNotBefore: Millis?
    /// False while no peer entry holds an answer (`reportsMasterDown` or a `leader`): the
    /// timer's walk that forgets stale answers (`forgetStaleAnswers`) is then skipped.
    var peersMayHoldAnswers = false

    public init(name: String, address: InstanceAddress, quorum: Int, downAfter: Millis = 30_000,
                failoverTimeout: Millis = 180_000, parallelSyncs: Int = 1, now: Millis) {
        self.name = name
        self.instance = Instance(address: address, now: now)
        self.quorum = quorum
        self.downAfter = downAfter
        self.failoverTimeout = failoverTimeout
        self.parallelSyncs = parallelSyncs
    }

    public var address: InstanceAddress { instance.address }
    public var isODown: Bool { odownSince != nil }

    /// Replicas in a stable order, so decisions never depend on hash order.
    public var sortedReplicaAddresses: [InstanceAddress] { replicas.keys.sorted() }
    public var sortedSentinelIDs: [String] { sentinels.keys.sorted() }
}

/// Sentinel's timers (all changeable with `SENTINEL DEBUG`). Defaults are Redis 7.0's.
public struct SentinelTimers: Sendable, Hashable {
    public var infoPeriod: Millis = 10_000
    public var pingPeriod: Millis = 1_000
    public var askPeriod: Millis = 1_000
    public var publishPeriod: Millis = 2_000
    public var defaultDownAfter: Millis = 30_000
    /// The failover-timeout of a master added by `SENTINEL MONITOR`.
    public var defaultFailoverTimeout: Millis = 180_000
    public var tiltTrigger: Millis = 2_000
    public var tiltPeriod: Millis = 30_000
    public var replicaReconfTimeout: Millis = 10_000
    public var electionTimeout: Millis = 10_000
    public var maxDesync: Millis = 1_000
    public var minLinkReconnectPeriod: Millis = 15_000

    public init() {}
}

/// Tandem's deliberate departures from Redis Sentinel 7.0, each with a switch back.
public struct SentinelBehaviour: Sendable, Hashable {
    /// Ask the peers the moment a master goes SDOWN instead of at the next ask period.
    public var askOnSDown = true
    /// Mark a master SDOWN at the millisecond down-after runs out (the shell wakes the core then:
    /// `SentinelState.nextSDownDeadline`, input `.sdownDeadline`), not at the next timer tick
    /// after it (50–100 ms later with Sentinel's hz 10–19).
    public var sdownAtDeadline = true
    /// Convert a returning old master after it has claimed to be a master this long, instead of
    /// 7.0's 4 × publish period (8 s), so it takes writes for well under a second.
    public var convertReturningMasterAfter: Millis? = 500
    /// Poll INFO of the replica being promoted, and of a replica that claims to be a master,
    /// this often (7.0: 1 s and 10 s), so promotion and a returning old master are seen at once.
    public var fastInfoPeriod: Millis? = 100

    /// PING every instance this often (7.0: min(down-after, 1 s)), so that a crash is measured
    /// from a recent reply and SDOWN comes close to down-after after it.
    public var pingPeriod: Millis? = 100
    /// At most this many fast PINGs a second to masters: with more masters than that over
    /// `pingPeriod`, the masters' fast period stretches (one millisecond per master; never past
    /// 7.0's period), so a sentinel watching hundreds of masters does not spend its CPU on PINGs
    /// (each is a system call and a wakeup of the server). A crash is still seen at once from the
    /// refused connection (`crashDetection`); a hung master waits down-after plus at most one
    /// (longer) period.
    public var fastPingsPerSecond: Int? = 1_000
    /// A PING that goes out carries the INFO and the hello that would fall due within half a
    /// ping period, so they leave in one write (7.0 sends each at its own period, and hiredis
    /// joins them only when they fall in one timer pass).
    public var periodicRideAlong = true
    /// While the master is SDOWN, ask peers that said "not down" again after this long (7.0: 1 s).
    public var askPeriod: Millis? = 100
    /// A failover elected while no replica's INFO is fresh enough to choose on (5 s once the
    /// master is SDOWN; a replica's INFO comes every 10 s while its master is up) asks the
    /// reachable replicas at once and waits this long for their answers, instead of 7.0's
    /// -failover-abort-no-good-slave and a new attempt after twice the failover-timeout. With
    /// `eagerSteps` the election ends within milliseconds of the SDOWN, before the INFO asked at
    /// the SDOWN is back (the node agent's benchmark, the master's link down with the proxy on
    /// another node: no failover until the link came back, 4.2 s).
    public var staleInfoWait: Millis? = 1_000
    /// Take the next failover step as soon as an input allows it (a peer's answer, a promoted
    /// replica's INFO), and several steps in one tick, instead of one step per timer tick.
    public var eagerSteps = true
    /// `SENTINEL FAILOVER` of a reachable master is a switchover that loses no acknowledged
    /// write: pause writes on the master, let the chosen replica catch up, promote it, then
    /// make the old master its replica (7.0 promotes at once while the master keeps writing).
    public var coordinatedSwitchover = true
    /// How long a coordinated switchover may keep writes paused before it gives up.
    public var switchoverPauseLimit: Millis = 5_000
    /// How long a switchover waits for the master's link if it is down when the replica is
    /// chosen, before it falls back to 7.0's promotion without a pause.
    public var switchoverLinkWait: Millis = 2_000

    /// Exactly Redis Sentinel 7.0's timing.
    /// A master whose port refuses connections while its replicas report their replication
    /// link down since then is *crash-down*: SDOWN at once, without waiting for down-after
    /// (the process died on a host that is up). Each master can override this
    /// (`sentinel crash-detection <master> yes|no`).
    public var crashDetection = true
    /// How far a replica's `master_link_down_since_seconds` may reach back before the master's
    /// link was lost for the replica to count as agreeing (the field has a one-second resolution).
    public var crashAgreementSlack: Millis = 1_000
    /// Start a failover up to this long (uniformly random, from the seeded generator) after a
    /// crash-down master's ODOWN instead of at once, so that sentinels that see a crash in the
    /// same millisecond rarely all stand in one epoch and split the vote (7.0: at once). A
    /// down-after SDOWN is already spread by each sentinel's own PING timing: no delay there.
    public var candidacyJitter: Millis? = 100
    /// A split vote (every voter still reachable has voted, and no candidate can reach a
    /// majority any more) ends this election at once, and this sentinel stands again in a new
    /// epoch after a random delay below this (the first to stand then gets the others' votes),
    /// instead of 7.0's wait for the election timeout and 2 × failover-timeout: with one
    /// sentinel of three gone (say, on the crashed master's host) two candidates in one epoch
    /// could never be decided before that. nil: as 7.0.
    public var splitVoteRetry: Millis? = 200
    /// A timer gap longer than this (the process did not run: a SIGSTOP, swapping, a stalled
    /// host) is not held against the instances: a PING pending across the gap counts from the
    /// gap's end, since its reply may be waiting unread. Without it, a stall a little longer
    /// than down-after (and below TILT's 2 s) makes every master SDOWN the moment the sentinel
    /// runs again; found by the simulator (WriteScheduleTests seed 753): a 1.5 s stall right
    /// after `SENTINEL FAILOVER` turned the zero-loss switchover into 7.0's unpaused promotion
    /// of a lagging replica, and acknowledged writes were lost. A master that really died in
    /// the gap is SDOWN down-after after it (crash detection is unaffected). nil: as 7.0.
    public var stallCredit: Millis? = 500
    /// A failover in reconf-slaves whose promoted replica is SDOWN ends at failover-timeout like
    /// any other (7.0 waits for that replica to come back: until then its leader keeps the old
    /// master's address and answers no vote about the new master, so the group cannot fail the
    /// new master over if it died — a write simulator schedule lost every write that way).
    public var endFailoverWithPromotedDown = true
    /// `SENTINEL FAILOVER` (and a node agent's failover request) asks the peers for their votes
    /// in the new epoch and goes on once it has a majority (and the quorum) — or, as 7.0 does,
    /// without one when every peer that has not voted for it is out of reach (SDOWN or its link
    /// down) and none has voted for another candidate; otherwise -failover-abort-not-elected.
    /// 7.0 skips the election for a forced failover, so two of them started on two sentinels at
    /// about the same time both lead in one epoch and may promote two replicas with the same
    /// configuration epoch (found by the write simulator: an operator's SENTINEL FAILOVER and a
    /// node agent's request).
    public var electForcedFailover = true
    /// A hello announcing another address for a master with the same configuration epoch as
    /// ours switches to it when that address sorts before ours (and no failover of ours is under
    /// way), so every sentinel ends on one of the two. Two configurations of one epoch come only
    /// from two failovers led in one epoch — an operator's `SENTINEL FAILOVER` that went ahead
    /// alone (as 7.0 lets a sentinel whose peers are out of reach) while the cut-off majority
    /// elected its own leader in the same epoch — and 7.0 never reconciles them: each side keeps
    /// its master for good (found by the write simulator, seed 72639). False: as 7.0.
    public var resolveConfigEpochTies = true
    /// A candidate whose peers' replies show another candidate with the votes needed in its
    /// epoch gives up at once (`-failover-abort-not-elected`) instead of at the election timeout
    /// (7.0: up to 10 s, while a node agent beside it keeps the master it tried to fail over
    /// fenced; found by the write simulator, seed 99485).
    public var endLostElection = true
    /// `is-master-down-by-addr` about the replica a failover of ours has promoted (the address
    /// our hellos announce while the replicas are reconfigured, and the peers take) is answered
    /// and voted on as about the master itself; 7.0 answers "not down, no vote" (found by the
    /// write simulator, seed 107125). And a vote for another's failover holds the conversion of
    /// a replica claiming master until that failover's configuration comes (or failover-timeout
    /// passes) even once our own failover has ended and reset the master's record of the vote.
    public var votesOnPromotedAddress = true

    public init() {}

    /// Exactly Redis Sentinel 7.0's timing.
    public static var redis70: SentinelBehaviour {
        var b = SentinelBehaviour()
        b.crashDetection = false
        b.candidacyJitter = nil
        b.splitVoteRetry = nil
        b.stallCredit = nil
        b.endFailoverWithPromotedDown = false
        b.electForcedFailover = false
        b.resolveConfigEpochTies = false
        b.endLostElection = false
        b.votesOnPromotedAddress = false
        b.askOnSDown = false
        b.sdownAtDeadline = false
        b.convertReturningMasterAfter = nil
        b.fastInfoPeriod = nil
        b.pingPeriod = nil
        b.fastPingsPerSecond = nil
        b.periodicRideAlong = false
        b.askPeriod = nil
        b.eagerSteps = false
        b.staleInfoWait = nil
        b.coordinatedSwitchover = false
        return b
    }
}
