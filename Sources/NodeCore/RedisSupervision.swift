/// `redis.supervise`: when and as what the agent starts the local redis-server. Pure: the shell
/// reports the process's exits and what the group says, and starts the server as told.
///
/// The rule that makes a rebooted or crashed old master safe: the server is started only once
/// the group's master is known (this node in contact with a majority, the newest view among its
/// monitor's and its peers'), and
/// - as a replica of that master when it is another node's Redis;
/// - when the group still names *this* Redis — it died as the master and the monitors have not
///   failed over yet — not at all for `holdLimit`: the monitors see its port refusing and its
///   replicas' links down (crash-down) and promote a replica, after which it starts as that
///   replica's replica. Only if the group still names it after `holdLimit` and no replica
///   answers (none could be promoted) does it start as the master, with what its disk holds:
///   there is nothing newer. While a replica answers it stays down however long the monitors
///   take (a split vote, a failover aborted and tried again): started as the master — empty
///   after a crash without persistence — it would have the replicas resync from it and drop
///   every write they hold (the write simulator's seeds 2617, 3859 and 9844 did that).
/// An exit soon after a start counts as a failed start: restarts back off, doubling from
/// `minBackoff` to `maxBackoff`.
public struct RedisSupervision: Sendable, Hashable {
    public struct Settings: Sendable, Hashable {
        /// This node's Redis as the group names it (`host:port`).
        public var myRedis: String
        /// How long to keep a dead master down for the group to fail over (down-after +
        /// failover-timeout by default: Sentinel's own window for one attempt).
        public var holdLimit: Int64
        public var minBackoff: Int64 = 500
        public var maxBackoff: Int64 = 10_000
        /// A server that ran this long before exiting was not a failed start.
        public var stableAfter: Int64 = 10_000

        public init(myRedis: String, holdLimit: Int64) {
            self.myRedis = myRedis
            self.holdLimit = holdLimit
        }
    }

    public enum Decision: Sendable, Hashable {
        /// Start the server now; `replicaOf` nil: as a master (`--replicaof no one`).
        case start(replicaOf: String?)
        /// Not now, and why (the shell logs a changed reason once).
        case wait(String)
        /// The server runs: nothing to do.
        case running
    }

    public let settings: Settings
    public private(set) var running = false
    private var startedAt: Int64?
    private var lastExit: Int64?
    private var failedStarts = 0
    private var holdingSince: Int64?

    public init(settings: Settings) {
        self.settings = settings
    }

    /// How long after the last exit the next start may come.
    public var backoff: Int64 {
        guard failedStarts > 0 else { return 0 }
        var delay = settings.minBackoff
        for _ in 1..<min(failedStarts, 16) { delay = min(settings.maxBackoff, delay * 2) }
        return min(settings.maxBackoff, delay)
    }

    /// What to do now, given the group's master (nil: unknown), whether this node is in
    /// contact with a majority of the group, and whether a replica of that master answers its
    /// monitor (one that could be promoted in this server's place).
    public mutating func decide(groupMaster: String?, majorityContact: Bool, replicaAnswers: Bool = false,
                                now: Int64) -> Decision {
        if running { return .running }
        if let exit = lastExit, now - exit < backoff {
            return .wait("backing off after \(failedStarts) failed start\(failedStarts == 1 ? "" : "s") in a row")
        }
        guard majorityContact else {
            holdingSince = nil
            return .wait("no contact with a majority of the group: its master is not known")
        }
        guard let master = groupMaster else {
            holdingSince = nil
            return .wait("the group has no master yet")
        }
        if master != settings.myRedis {
            holdingSince = nil
            return .start(replicaOf: master)
        }
        let since = holdingSince ?? now
        holdingSince = since
        if now - since < settings.holdLimit {
            return .wait("the group still names this Redis its master: kept down for at most \(settings.holdLimit) ms for the monitors to promote a replica")
        }
        if replicaAnswers {
            return .wait("the group still names this Redis its master after \(settings.holdLimit) ms, but a replica answers: kept down until the monitors promote one (started as the master, it would have the replicas resync from it and drop what they hold)")
        }
        return .start(replicaOf: nil)
    }

    /// The shell started the server (after `.start`).
    public mutating func started(now: Int64) {
        running = true
        startedAt = now
        holdingSince = nil
    }

    /// The server could not be started at all (spawn failed): counts as a failed start.
    public mutating func startFailed(now: Int64) {
        running = false
        lastExit = now
        failedStarts += 1
    }

    /// The server exited (any status).
    public mutating func exited(now: Int64) {
        running = false
        // A server that ran a while restarts at once; one that died soon after its start backs off.
        if let at = startedAt, now - at >= settings.stableAfter { failedStarts = 0 } else { failedStarts += 1 }
        lastExit = now
    }
}
