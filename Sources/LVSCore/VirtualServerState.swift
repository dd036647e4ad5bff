/// How one health checker is timed, as keepalived runs it.
public struct CheckerPolicy: Sendable, Hashable {
    /// Between checks of a server whose state is settled.
    public var delayLoop: Duration
    /// Further attempts after a failure of an up server before it is declared down.
    public var retry: Int
    /// Between those attempts.
    public var delayBeforeRetry: Duration
    /// Before the first check: the shell draws it at random up to `warmup` (keepalived's jitter).
    public var firstCheck: Duration
    /// Start as failed: the server is down until this checker succeeds.
    public var alpha: Bool
    /// What it checks (kind, target, parameters), from the shell: on a reload a checker with the
    /// same identity keeps its state (keepalived migrates a checker that compares equal).
    public var identity: String

    public init(delayLoop: Duration, retry: Int, delayBeforeRetry: Duration, firstCheck: Duration = .zero, alpha: Bool = false,
                identity: String = "") {
        self.delayLoop = delayLoop
        self.retry = retry
        self.delayBeforeRetry = delayBeforeRetry
        self.firstCheck = firstCheck
        self.alpha = alpha
        self.identity = identity
    }
}

/// One real server of a virtual server.
public struct RealServerSettings: Sendable, Hashable {
    public var weight: Int
    /// Down: kept with weight 0 (existing connections stay, no new ones) instead of removed.
    public var inhibitOnFailure: Bool
    public var checkers: [CheckerPolicy]
    /// Address bytes and port, for Maglev's permutation, and what a reload matches servers by.
    public var identity: [UInt8]

    public init(weight: Int, inhibitOnFailure: Bool = false, checkers: [CheckerPolicy], identity: [UInt8] = []) {
        self.weight = weight
        self.inhibitOnFailure = inhibitOnFailure
        self.checkers = checkers
        self.identity = identity
    }
}

/// A virtual server's settings, from its `virtual_server` block.
public struct VirtualServerSettings: Sendable, Hashable {
    public var algorithm: SchedulingAlgorithm
    public var hashFallback: Bool
    public var hashPort: Bool
    /// A client address stays with its real server this long after its last connection.
    public var persistence: Duration?
    public var hasSorryServer: Bool
    public var quorum: Int
    public var hysteresis: Int
    /// On shutdown, report every live server down and the quorum lost.
    public var omega: Bool
    public var realServers: [RealServerSettings]

    public init(algorithm: SchedulingAlgorithm, hashFallback: Bool = false, hashPort: Bool = false, persistence: Duration? = nil,
                hasSorryServer: Bool = false, quorum: Int = 1, hysteresis: Int = 0, omega: Bool = false,
                realServers: [RealServerSettings]) {
        self.algorithm = algorithm
        self.hashFallback = hashFallback
        self.hashPort = hashPort
        self.persistence = persistence
        self.hasSorryServer = hasSorryServer
        self.quorum = quorum
        self.hysteresis = hysteresis
        self.omega = omega
        self.realServers = realServers
    }
}

/// A checker's verdict, as the shell reports it.
public enum CheckOutcome: Sendable, Hashable {
    case success
    /// MISC_CHECK with misc_dynamic, exit status 2…255: up, with this weight.
    case successWithWeight(Int)
    case failure(reason: String)
}

/// What happens to a virtual server.
public enum VirtualServerEvent: Sendable, Hashable {
    /// Time passed: start the checks that are due.
    case tick
    /// A check the core asked for (`runCheck`) finished.
    case checkFinished(real: Int, checker: Int, CheckOutcome)
    /// ha_suspend: this node lost (true) or gained (false) the virtual server's address.
    case suspend(Bool)
    /// The real servers may have changed outside the checks (the node agent's monitor saw the
    /// group's master change): every checker checks at once, and one whose check is under way
    /// (its result may predate the change) again as soon as it ends. Not keepalived's: only the
    /// node agent sends it.
    case checkSoon
    /// The daemon stops.
    case shutdown
}

/// What the shell carries out.
public enum VirtualServerAction: Sendable, Hashable {
    /// Run this checker now and report `checkFinished`.
    case runCheck(real: Int, checker: Int)
    /// The real server came up (all its checkers up): log it, run notify_up.
    case realServerUp(Int)
    /// The real server went down (a checker failed after its retries): log it, run notify_down.
    /// `reason`: the failing check's.
    case realServerDown(Int, reason: String)
    /// A checker failed and will be retried (`attempt` of `retry`): log it.
    case retrying(real: Int, checker: Int, attempt: Int, of: Int, reason: String)
    /// misc_dynamic changed the server's weight.
    case weightChanged(real: Int, weight: Int)
    /// The live servers' weights reached quorum + hysteresis: run quorum_up.
    case quorumUp
    /// They fell below quorum − hysteresis: run quorum_down (the sorry server takes over).
    case quorumDown
}

/// Where a new connection goes.
public enum Destination: Sendable, Hashable {
    case real(Int)
    case sorry
}

/// One virtual server's decisions: keepalived's checker state machine (delay_loop, retry with
/// delay_before_retry, alpha, inhibit_on_failure, misc_dynamic weights, quorum with hysteresis,
/// ha_suspend, omega) and IPVS's choice of a real server (scheduler, persistence, weight 0 =
/// drained, sorry server). No I/O, no clock: `now` comes with every call.
public struct VirtualServerState: Sendable {
    struct Checker: Sendable {
        var policy: CheckerPolicy
        var up: Bool
        var hasRun = false
        var retries = 0
        /// nil while the check runs (or while suspended).
        var nextRun: Duration?
        /// `checkSoon` came while the check ran: the next one runs as soon as it ends.
        var recheck = false
    }

    struct RealServer: Sendable {
        var settings: RealServerSettings
        var checkers: [Checker]
        var dynamicWeight: Int?
        var activeConnections = 0
        var alive: Bool { checkers.allSatisfy(\.up) }
    }

    struct Persistent: Sendable {
        var real: Int
        var activeConnections: Int
        var expires: Duration
    }

    public internal(set) var settings: VirtualServerSettings
    var servers: [RealServer]
    var scheduler: Scheduler
    var persistent: [[UInt8]: Persistent] = [:]
    /// Whether the quorum is reached (keepalived's quorum_state_up).
    public private(set) var quorumUp: Bool
    public private(set) var suspended = false
    public private(set) var sorryConnections = 0

    public init(settings: VirtualServerSettings, now: Duration) {
        self.settings = settings
        servers = settings.realServers.map { real in
            RealServer(settings: real, checkers: real.checkers.map { policy in
                Checker(policy: policy, up: !policy.alpha, nextRun: now + policy.firstCheck)
            })
        }
        scheduler = Scheduler(algorithm: settings.algorithm, fallback: settings.hashFallback, hashPort: settings.hashPort)
        quorumUp = false
        quorumUp = aliveWeight >= settings.quorum
    }

    // MARK: what the shell reads

    /// Whether real server `i` is up (every checker up; a server without checkers always is).
    public func isAlive(_ i: Int) -> Bool { servers[i].alive }

    /// Real server `i`'s weight for new connections now (0: takes none).
    public func weight(_ i: Int) -> Int {
        let server = servers[i]
        return server.alive ? (server.dynamicWeight ?? server.settings.weight) : 0
    }

    /// Connections open to real server `i`.
    public func activeConnections(_ i: Int) -> Int { servers[i].activeConnections }

    /// The earliest time a check is due (the shell's next timer), nil if none.
    public var nextDeadline: Duration? {
        guard !suspended else { return nil }
        return servers.flatMap { $0.checkers.compactMap(\.nextRun) }.min()
    }

    /// Sum of the weights of the live servers (what quorum is measured on).
    public var aliveWeight: Int { servers.indices.reduce(0) { $0 + weight($1) } }

    // MARK: events

    public mutating func handle(_ event: VirtualServerEvent, now: Duration) -> [VirtualServerAction] {
        var actions: [VirtualServerAction] = []
        switch event {
        case .tick:
            guard !suspended else { break }
            for r in servers.indices {
                for c in servers[r].checkers.indices {
                    if let due = servers[r].checkers[c].nextRun, due <= now {
                        servers[r].checkers[c].nextRun = nil
                        actions.append(.runCheck(real: r, checker: c))
                    }
                }
            }
            prunePersistence(now: now)
        case .checkFinished(let r, let c, let outcome):
            guard servers.indices.contains(r), servers[r].checkers.indices.contains(c) else { break }
            finished(r, c, outcome, now: now, into: &actions)
        case .suspend(let suspend):
            guard suspend != suspended else { break }
            suspended = suspend
            if !suspend {
                // Resumed: every idle checker checks at once.
                for r in servers.indices {
                    for c in servers[r].checkers.indices where servers[r].checkers[c].nextRun != nil {
                        servers[r].checkers[c].nextRun = now
                    }
                }
            }
        case .checkSoon:
            guard !suspended else { break }  // resuming checks every checker anyway
            for r in servers.indices {
                for c in servers[r].checkers.indices {
                    if servers[r].checkers[c].nextRun != nil {
                        servers[r].checkers[c].nextRun = now
                    } else {
                        servers[r].checkers[c].recheck = true
                    }
                }
            }
        case .shutdown:
            guard settings.omega else { break }
            for r in servers.indices where servers[r].alive && !servers[r].checkers.isEmpty {
                actions.append(.realServerDown(r, reason: "shutdown"))
            }
            if quorumUp {
                quorumUp = false
                actions.append(.quorumDown)
            }
        }
        return actions
    }

    /// keepalived's tcp_epilog (the same rule for every checker kind): a success brings the
    /// checker up; a failure of an up (or never-run) checker is retried `retry` times,
    /// `delay_before_retry` apart, before it goes down; a down checker is checked every delay_loop.
    private mutating func finished(_ r: Int, _ c: Int, _ outcome: CheckOutcome, now: Duration, into actions: inout [VirtualServerAction]) {
        var checker = servers[r].checkers[c]
        let wasAlive = servers[r].alive
        let oldWeight = weight(r)
        var delay = checker.policy.delayLoop
        var failureReason: String?
        switch outcome {
        case .success, .successWithWeight:
            checker.retries = 0
            checker.up = true
            if case .successWithWeight(let w) = outcome { servers[r].dynamicWeight = w }
        case .failure(let reason):
            failureReason = reason
            if checker.up || !checker.hasRun {
                if checker.retries >= checker.policy.retry {
                    checker.retries = 0
                    checker.up = false
                } else {
                    checker.retries += 1
                    delay = checker.policy.delayBeforeRetry
                    actions.append(.retrying(real: r, checker: c, attempt: checker.retries, of: checker.policy.retry, reason: reason))
                }
            }
        }
        checker.hasRun = true
        checker.nextRun = checker.recheck ? now : now + delay
        checker.recheck = false
        servers[r].checkers[c] = checker
        let alive = servers[r].alive
        if alive && !wasAlive {
            actions.append(.realServerUp(r))
        } else if !alive && wasAlive {
            actions.append(.realServerDown(r, reason: failureReason ?? "check failed"))
        } else if alive && oldWeight != weight(r) {
            actions.append(.weightChanged(real: r, weight: weight(r)))
        }
        updateQuorum(into: &actions)
    }

    mutating func updateQuorum(into actions: inout [VirtualServerAction]) {
        let sum = aliveWeight
        if quorumUp && sum < settings.quorum - settings.hysteresis {
            quorumUp = false
            actions.append(.quorumDown)
        } else if !quorumUp && sum >= settings.quorum + settings.hysteresis {
            quorumUp = true
            actions.append(.quorumUp)
        }
    }

    // MARK: connections

    /// The servers IPVS would have in the service now: live ones, and down ones kept with
    /// weight 0 by inhibit_on_failure. With the quorum lost and a sorry server, none (keepalived
    /// brings them all down and puts the sorry server in).
    var pool: [SchedulingCandidate] {
        if !quorumUp && settings.hasSorryServer { return [] }
        return servers.indices.compactMap { i in
            let server = servers[i]
            guard server.alive || server.settings.inhibitOnFailure else { return nil }
            return SchedulingCandidate(index: i, weight: weight(i), activeConnections: server.activeConnections, identity: server.settings.identity)
        }
    }

    /// Where a new connection from `client` goes, counted as open until `connectionClosed`.
    /// nil: nowhere (the shell closes it).
    public mutating func connect(client: ClientKey, now: Duration) -> Destination? {
        let pool = pool
        if pool.isEmpty || !pool.contains(where: { $0.weight > 0 }) {
            guard settings.hasSorryServer else { return nil }
            sorryConnections += 1
            return .sorry
        }
        if let timeout = settings.persistence {
            if let entry = persistent[client.address], entry.activeConnections > 0 || now < entry.expires,
               pool.contains(where: { $0.index == entry.real && $0.weight > 0 }) {
                persistent[client.address]!.activeConnections += 1
                persistent[client.address]!.expires = now + timeout
                servers[entry.real].activeConnections += 1
                return .real(entry.real)
            }
            guard let chosen = scheduler.choose(from: pool, client: client) else { return nil }
            persistent[client.address] = Persistent(real: chosen, activeConnections: 1, expires: now + timeout)
            servers[chosen].activeConnections += 1
            return .real(chosen)
        }
        guard let chosen = scheduler.choose(from: pool, client: client) else { return nil }
        servers[chosen].activeConnections += 1
        return .real(chosen)
    }

    /// A connection `connect` placed has ended (or its real server could not be reached).
    public mutating func connectionClosed(_ destination: Destination, client: ClientKey, now: Duration) {
        switch destination {
        case .sorry:
            sorryConnections = max(0, sorryConnections - 1)
        case .real(let r):
            guard servers.indices.contains(r) else { return }
            servers[r].activeConnections = max(0, servers[r].activeConnections - 1)
            if let timeout = settings.persistence, var entry = persistent[client.address], entry.real == r {
                entry.activeConnections = max(0, entry.activeConnections - 1)
                entry.expires = max(entry.expires, now + timeout)
                persistent[client.address] = entry
            }
        }
    }

    /// Client addresses with a live persistence entry.
    public func persistentClients(now: Duration) -> Int {
        persistent.values.filter { $0.activeConnections > 0 || now < $0.expires }.count
    }

    private mutating func prunePersistence(now: Duration) {
        guard !persistent.isEmpty else { return }
        persistent = persistent.filter { $0.value.activeConnections > 0 || now < $0.value.expires }
    }
}
