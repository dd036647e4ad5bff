/// What the shell tells the core.
public enum SentinelInput: Sendable, Hashable {
    /// The periodic timer (Sentinel runs it 10–20 times a second).
    case tick
    /// The time `SentinelState.nextSDownDeadline` named has come: masters whose down-after ran
    /// out are checked now rather than at the next tick.
    case sdownDeadline
    /// The command link to an instance connected.
    case linkUp(InstanceRef)
    /// The command link to an instance dropped or could not be made.
    case linkDown(InstanceRef)
    /// A reconnect to the instance was actively refused (TCP RST, ECONNREFUSED): nothing
    /// listens on the port of a host that is up. Also means the link is down.
    case connectionRefused(InstanceRef)
    /// A reply to PING.
    case pingReply(InstanceRef, PingReply)
    /// A parsed reply to INFO, read on a link to where the instance is now (`isCurrent`).
    case info(InstanceRef, InfoReport)
    /// INFO was answered with an error (`-BUSY` while a script runs, `-NOPERM`, …): 7.0 ignores
    /// it and asks again at the next period, and so does the core (the request is no longer
    /// pending).
    case infoFailed(InstanceRef)
    /// A hello payload received on `__sentinel__:hello` (or PUBLISHed to us by a peer).
    case hello(String)
    /// A peer's reply to `SENTINEL is-master-down-by-addr`.
    case masterDownReply(master: String, sentinel: String, down: Bool, leader: String?, leaderEpoch: UInt64)
    /// The answer to `.pauseWrites`: writes are paused and this is the master's replication offset.
    case writesPaused(master: String, offset: Int64)
    /// The answer to `.pauseWrites` when writes could not be paused.
    case pauseFailed(master: String, PauseFailure)
    /// The answer to one `.demote` attempt: the old master now follows the new one (`nil`) or
    /// the attempt failed (why). The core decides whether to try again.
    case demoteResult(master: String, at: InstanceAddress, failure: String?)
    /// The name a master was monitored by (`from`: name and port) was looked up: its address,
    /// or nil when the lookup failed or timed out (the links then go on trying the name).
    case nameResolved(master: String, from: InstanceAddress, address: String?)
}

/// Why `CLIENT PAUSE` for a coordinated switchover did not pause writes.
public enum PauseFailure: Sendable, Hashable {
    /// The shell has no connected link to the master to send it on.
    case noLink
    /// The connection, the command or the INFO after it failed (the error's text).
    case failed(String)
}

/// How an instance answered PING, as Sentinel classifies it.
public enum PingReply: Sendable, Hashable {
    /// `+PONG`.
    case pong
    /// `-LOADING` or `-MASTERDOWN`: alive, though not serving.
    case aliveNotReady
    /// `-BUSY`: a script is running; Sentinel may send SCRIPT KILL.
    case busy
    /// Any other reply: not a sign of life.
    case invalid

    /// Classifies a reply's text (`PONG`) or error code (`LOADING`, `BUSY`, …).
    public init(text: String?, errorCode: String?) {
        if text == "PONG" { self = .pong }
        else if errorCode == "LOADING" || errorCode == "MASTERDOWN" { self = .aliveNotReady }
        else if errorCode == "BUSY" { self = .busy }
        else { self = .invalid }
    }

    /// Whether Sentinel counts it as the instance being available.
    public var isValid: Bool { self == .pong || self == .aliveNotReady }
}

/// The parts of an INFO reply Sentinel decides on.
public struct InfoReport: Sendable, Hashable {
    public var runID: String?
    public var isReplica: Bool
    public var masterHost: String?
    public var masterPort: Int?
    /// The address `masterHost` names, when the shell resolved a name or normalised an address
    /// literal (nil: `masterHost` as is).
    public var masterAddress: String?
    public var masterLinkUp: Bool
    /// `master_link_down_since_seconds` in milliseconds (0 when the link is up).
    public var masterLinkDownTime: Millis
    public var replicaPriority: Int
    public var replicationOffset: Int64
    public var replicaAnnounced: Bool
    /// For a master: its `slaveN` lines.
    public var replicas: [InstanceAddress]
    /// The keys of its Keyspace section (nil: the reply had none).
    public var keyCount: Int?
    /// `loading:1`: still loading its data set from disk (its key count is not final).
    public var loading: Bool

    public init(runID: String?, isReplica: Bool, masterHost: String? = nil, masterPort: Int? = nil,
                masterLinkUp: Bool = false, masterLinkDownTime: Millis = 0, replicaPriority: Int = 100,
                replicationOffset: Int64 = 0, replicaAnnounced: Bool = true, replicas: [InstanceAddress] = [],
                keyCount: Int? = nil, loading: Bool = false, masterAddress: String? = nil) {
        self.runID = runID
        self.isReplica = isReplica
        self.masterHost = masterHost
        self.masterPort = masterPort
        self.masterLinkUp = masterLinkUp
        self.masterLinkDownTime = masterLinkDownTime
        self.replicaPriority = replicaPriority
        self.replicationOffset = replicationOffset
        self.replicaAnnounced = replicaAnnounced
        self.replicas = replicas
        self.keyCount = keyCount
        self.loading = loading
        self.masterAddress = masterAddress
    }
}

/// Levels of Sentinel's events, as in sentinel.c.
public enum EventLevel: Int, Sendable, Hashable, Comparable {
    case debug = 0, verbose, notice, warning

    public static func < (a: EventLevel, b: EventLevel) -> Bool { a.rawValue < b.rawValue }
}

/// An event Sentinel publishes on the channel named `type` with `payload` (and logs).
public struct SentinelEvent: Sendable, Hashable, CustomStringConvertible {
    public var level: EventLevel
    public var type: String
    public var payload: String

    public init(level: EventLevel, type: String, payload: String) {
        self.level = level
        self.type = type
        self.payload = payload
    }

    public var description: String { "\(type) \(payload)" }
}

/// `SENTINEL SIMULATE-FAILURE`: the failover steps after which this sentinel exits.
public struct SimulatedFailure: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// `crash-after-election`: after `+elected-leader`.
    public static let crashAfterElection = SimulatedFailure(rawValue: 1)
    /// `crash-after-promotion`: after `+promoted-slave`.
    public static let crashAfterPromotion = SimulatedFailure(rawValue: 2)
}

/// What the core asks the shell to do, in order.
public enum SentinelAction: Sendable, Hashable {
    /// Open (or re-open) links to a newly known instance.
    case connect(InstanceRef, InstanceAddress)
    /// Close the links of an instance the core forgot.
    case disconnect(InstanceRef)
    /// Close the instance's link and make a new one (it looks stuck). A link shared with other
    /// entries of the same peer is recycled for all of them, as 7.0 closes a shared link.
    case reconnect(InstanceRef, InstanceAddress)
    case ping(InstanceRef)
    case info(InstanceRef)
    /// `PUBLISH __sentinel__:hello <payload>` on the instance.
    case publishHello(InstanceRef, payload: String)
    /// `SENTINEL is-master-down-by-addr ip port epoch runid-or-*` to a peer sentinel.
    case askMasterState(InstanceRef, master: InstanceAddress, epoch: UInt64, runID: String)
    /// `MULTI; SLAVEOF NO ONE; CONFIG REWRITE; CLIENT KILL TYPE normal; CLIENT KILL TYPE pubsub; EXEC`.
    case promote(InstanceRef)
    /// `MULTI; SLAVEOF ip port; CONFIG REWRITE; CLIENT KILL …; EXEC`.
    case replicate(InstanceRef, to: InstanceAddress)
    /// `CLIENT PAUSE <timeout> WRITE`, then report the master's offset with `.writesPaused`
    /// (or `.pauseFailed`).
    case pauseWrites(InstanceRef, timeout: Millis)
    /// `CLIENT UNPAUSE` (a coordinated switchover was abandoned).
    case unpauseWrites(InstanceRef)
    /// The old master of a coordinated switchover, at `address` (the master's link may already
    /// go to the new one): `MULTI; SLAVEOF ip port; CONFIG REWRITE; CLIENT UNPAUSE; EXEC`, then
    /// `CLIENT KILL TYPE normal` and `pubsub`, on a connection of its own. One attempt (the
    /// first is 1), answered with `.demoteResult`.
    case demote(master: String, at: InstanceAddress, to: InstanceAddress, attempt: Int)
    /// `SCRIPT KILL`, once, to an SDOWN instance that answers -BUSY.
    case scriptKill(InstanceRef)
    case publish(SentinelEvent)
    /// Run the master's notification-script, if it has one, with `<type> <payload>` (after each
    /// WARNING event about one of its instances, as sentinelEvent does).
    case notificationScript(master: String, SentinelEvent)
    /// A step `SENTINEL SIMULATE-FAILURE` names was reached: exit with status 99 (once the
    /// replies to the commands that led here are out; 7.0 exits from its timer too).
    case simulatedCrash
    /// Write the state lines to the config file (before carrying out any later action).
    case saveConfig
    /// Run client-reconfig-script: `<master> <role> <state> <from-ip> <from-port> <to-ip> <to-port>`.
    case clientReconfigScript(master: String, role: String, state: String, from: InstanceAddress, to: InstanceAddress)
}
