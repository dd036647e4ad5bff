/// What one health check of a backend found (`--backend` mode: PING, then INFO replication).
enum BackendCheck: Sendable, Equatable {
    /// It answered: its role, the master it replicates from (a replica), its replication offset.
    case passed(isMaster: Bool, follows: ProxyEndpoint?, offset: Int64?)
    case failed(String)
}

/// Which backend is the master in `--backend` mode, like HAProxy's tcp-check with rise/fall,
/// plus what to do when more than one claims `role:master`. Pure: the shell runs the checks
/// and feeds their results and the time.
struct BackendSelector: Sendable {
    /// One backend's counters and what its last passed check said.
    struct Backend: Sendable, Equatable {
        var endpoint: ProxyEndpoint
        /// nil until the first check; then changed by `rise` passes in a row or `fall` failures.
        var up: Bool?
        var successes = 0
        var failures = 0
        var lastCheckPassed = false
        var isMaster = false
        var follows: ProxyEndpoint?
        var offset: Int64?
        /// When its replication offset was last seen to grow.
        var offsetGrewAt: Millis?
    }

    /// A change worth a log line.
    enum Note: Sendable, Equatable {
        case up(ProxyEndpoint, isMaster: Bool)
        case down(ProxyEndpoint, reason: String)
        /// Several up backends claim master; `chosen` gets the traffic, decided by `rule`.
        case severalMasters([ProxyEndpoint], chosen: ProxyEndpoint, rule: TieBreak)
    }

    /// Which rule settled a two-masters tie.
    enum TieBreak: Sendable, Equatable, CustomStringConvertible {
        /// The only one the replicas follow.
        case followedByReplicas
        /// The only one(s) whose replication offset still grows.
        case offsetStillGrowing
        /// Nothing tells them apart: keep the one already routed to.
        case current
        /// Nothing tells them apart and none was routed to: the first listed.
        case firstListed

        var description: String {
            switch self {
            case .followedByReplicas: return "the one the replicas follow"
            case .offsetStillGrowing: return "the others' replication offsets stopped moving"
            case .current: return "the one already routed to"
            case .firstListed: return "the first listed"
            }
        }
    }

    /// The outcome of a round of checks.
    struct Selection: Sendable, Equatable {
        /// The master, or nil (commands are held).
        var master: ProxyEndpoint?
        /// False when the master's last check failed (still up by the fall count): the shell
        /// keeps routing but does not confirm it.
        var confirmed = false
        /// Up replicas following the master.
        var replicas: [ProxyEndpoint] = []
    }

    let rise: Int
    let fall: Int
    /// A master whose offset has not grown for this long loses to one whose offset has.
    let stallAfter: Millis
    private(set) var backends: [Backend]
    private var warnedAbout: [ProxyEndpoint] = []

    init(endpoints: [ProxyEndpoint], rise: Int, fall: Int, stallAfter: Millis) {
        self.rise = max(1, rise)
        self.fall = max(1, fall)
        self.stallAfter = stallAfter
        self.backends = endpoints.map { Backend(endpoint: $0) }
    }

    /// Counts one check of backend `index`.
    mutating func record(_ check: BackendCheck, for index: Int, now: Millis) -> [Note] {
        guard backends.indices.contains(index) else { return [] }
        var b = backends[index]
        var notes: [Note] = []
        switch check {
        case .passed(let isMaster, let follows, let offset):
            b.successes += 1
            b.failures = 0
            b.lastCheckPassed = true
            let roleChanged = b.isMaster != isMaster
            b.isMaster = isMaster
            b.follows = follows
            if let offset {
                if let old = b.offset, offset > old { b.offsetGrewAt = now }
                if let old = b.offset, offset < old { b.offsetGrewAt = nil }  // a new replication history
                b.offset = offset
            }
            if b.up == nil || (b.up == false && b.successes >= rise) || (roleChanged && b.up == true) {
                if b.up != true { notes.append(.up(b.endpoint, isMaster: isMaster)) }
                b.up = true
            }
        case .failed(let reason):
            b.failures += 1
            b.successes = 0
            b.lastCheckPassed = false
            if b.up == nil || (b.up == true && b.failures >= fall) {
                if b.up != false { notes.append(.down(b.endpoint, reason: reason)) }
                b.up = false
            }
        }
        backends[index] = b
        return notes
    }

    /// The master after a round of checks; `current` is the one routed to now.
    mutating func select(current: ProxyEndpoint?, now: Millis) -> (Selection, [Note]) {
        let masters = backends.filter { $0.up == true && $0.isMaster }
        var notes: [Note] = []
        let chosen: Backend
        switch masters.count {
        case 0:
            warnedAbout = []
            return (Selection(), [])
        case 1:
            warnedAbout = []
            chosen = masters[0]
        default:
            let (winner, rule) = tieBreak(masters, current: current, now: now)
            chosen = winner
            let names = masters.map(\.endpoint)
            if names != warnedAbout {
                warnedAbout = names
                notes.append(.severalMasters(names, chosen: winner.endpoint, rule: rule))
            }
        }
        let replicas = backends.filter {
            $0.up == true && $0.lastCheckPassed && !$0.isMaster && $0.follows == chosen.endpoint
        }.map(\.endpoint)
        return (Selection(master: chosen.endpoint, confirmed: chosen.lastCheckPassed, replicas: replicas), notes)
    }

    /// Narrows several masters down to one: the replicas' choice, then the offsets, then the
    /// current one, then list order.
    private func tieBreak(_ masters: [Backend], current: ProxyEndpoint?, now: Millis) -> (Backend, TieBreak) {
        var candidates = masters
        let followed = candidates.filter { m in
            backends.contains { $0.up == true && !$0.isMaster && $0.follows == m.endpoint }
        }
        if followed.count == 1 { return (followed[0], .followedByReplicas) }
        if !followed.isEmpty { candidates = followed }
        let growing = candidates.filter { m in m.offsetGrewAt.map { now - $0 <= stallAfter } ?? false }
        if growing.count == 1 { return (growing[0], .offsetStillGrowing) }
        if !growing.isEmpty { candidates = growing }
        if let current, let keep = candidates.first(where: { $0.endpoint == current }) { return (keep, .current) }
        return (candidates[0], .firstListed)
    }
}
