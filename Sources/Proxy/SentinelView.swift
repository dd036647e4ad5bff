/// Milliseconds on the proxy's monotonic clock. The shells read the clock; the cores take
/// the time as a value, so tests drive them with a simulated one.
typealias Millis = Int64

/// What one sentinel said in one poll: `SENTINEL MASTER <name>` plus `SENTINEL SENTINELS <name>`.
struct SentinelReport: Sendable, Equatable {
    /// The master of the configuration this sentinel holds.
    var master: ProxyEndpoint
    /// `config-epoch`: which failover produced that configuration (higher is newer).
    var configEpoch: UInt64
    /// `num-other-sentinels`: the peers it knows.
    var knownPeers: Int
    /// Of those, the peers it can reach (listed by `SENTINEL SENTINELS` without s_down or
    /// disconnected); nil when it did not say.
    var reachablePeers: Int?
    /// Its healthy replicas of that master (only asked for with `--read-from replicas`).
    var replicas: [ProxyEndpoint] = []
    /// It is carrying out a failover (`failover_in_progress`): once the promoted replica
    /// answers as master it reports the new epoch but still the old address, until its
    /// `+switch-master`. Such a report names no master while any settled one exists.
    var failoverInProgress = false

    /// True when this sentinel and the peers it reaches are more than half of the group it knows:
    /// the side of a partition that can elect a leader and fail over.
    var seesMajority: Bool {
        guard let reachablePeers else { return false }
        return (reachablePeers + 1) * 2 > knownPeers + 1
    }
}

/// A server's own answer to ROLE, as the proxy's check saw it.
enum ServerRole: Sendable, Equatable {
    case master(offset: Int64)
    case replica
    case unreachable(String)
}

/// Which sentinel the proxy believes, and the master that follows from it.
struct MasterChoice: Sendable, Equatable {
    /// Why the proxy believes what it believes (or holds commands).
    enum Reason: Sendable, Equatable, CustomStringConvertible {
        /// No sentinel answered recently.
        case noSentinelReachable
        /// Sentinels answer but none monitors the master name.
        case masterUnknown
        /// The highest config epoch among sentinels that see a majority of their peers.
        case newestMajorityEpoch
        /// No reachable sentinel sees a majority of its peers: the highest epoch among the rest.
        case newestEpochWithoutMajority

        var description: String {
            switch self {
            case .noSentinelReachable: return "no sentinel reachable"
            case .masterUnknown: return "no reachable sentinel monitors the master name"
            case .newestMajorityEpoch: return "highest config epoch among sentinels that see a majority of their peers"
            case .newestEpochWithoutMajority: return "no reachable sentinel sees a majority of its peers; highest config epoch among the rest"
            }
        }
    }

    /// The master of the configuration believed; nil when there is none.
    var master: ProxyEndpoint?
    /// Where commands go: `master` once it has answered ROLE with master since it was named; else nil (held).
    var route: ProxyEndpoint?
    /// The sentinel believed (the first, in list order, reporting the chosen configuration).
    var sentinel: ProxyEndpoint?
    var configEpoch: UInt64?
    /// The believed sentinel's reachable and known peers.
    var reachablePeers: Int?
    var knownPeers: Int?
    /// How many reachable sentinels name the chosen master, and how many are reachable.
    var agreeing = 0
    var reachableSentinels = 0
    var reason: Reason
    /// The believed sentinel's healthy replicas.
    var replicas: [ProxyEndpoint] = []
    /// The named master has not answered ROLE since it was named, or answered something else:
    /// the shell should ask it.
    var needsRoleCheck = false
    /// What the master last answered, when that stops it being routed to.
    var masterRole: ServerRole?
}

/// The proxy's picture of a Sentinel group: every sentinel's last report, and what the
/// servers themselves say. Pure: the shell feeds it replies, events and the time.
///
/// Rules: believe the sentinels that see a majority of their peers over those that do not;
/// among the believed, the highest config epoch wins; route to that configuration's master
/// only once it answers ROLE with master (a server still claiming master while a newer
/// configuration names another is never routed to).
struct SentinelView: Sendable {
    /// A report older than this counts as unreachable (a sentinel that hangs, not only one
    /// whose connection fails).
    var staleAfter: Millis

    private struct Entry: Sendable {
        var report: SentinelReport?
        var at: Millis = 0
        var reachable = false
        var knowsMaster = true
        var problem: String?
        /// When a `+switch-master` set this report: a poll answered after the event but sent
        /// before it must not undo it (the events come over another connection).
        var switchedAt: Millis?
    }

    /// Configured sentinels first, then discovered ones: list order breaks ties.
    private(set) var sentinels: [ProxyEndpoint]
    private var entries: [ProxyEndpoint: Entry] = [:]
    private var roles: [ProxyEndpoint: (role: ServerRole, at: Millis)] = [:]
    /// The master last chosen and since when it has been chosen.
    private var chosen: ProxyEndpoint?
    private var chosenSince: Millis = 0

    init(sentinels: [ProxyEndpoint], staleAfter: Millis = 1000) {
        self.sentinels = []
        self.staleAfter = staleAfter
        for s in sentinels { _ = add(s) }
    }

    /// Adds a sentinel (configured or discovered); false when it is already known.
    mutating func add(_ sentinel: ProxyEndpoint) -> Bool {
        guard entries[sentinel] == nil else { return false }
        sentinels.append(sentinel)
        entries[sentinel] = Entry()
        return true
    }

    /// One poll's answer.
    mutating func report(_ report: SentinelReport, from sentinel: ProxyEndpoint, now: Millis) {
        _ = add(sentinel)
        var entry = Entry(report: report, at: now, reachable: true, knowsMaster: true)
        if let old = entries[sentinel], let switched = old.switchedAt, let previous = old.report, now - switched <= staleAfter,
           report.master != previous.master,
           report.configEpoch < previous.configEpoch || (report.configEpoch == previous.configEpoch && report.failoverInProgress) {
            // Older than the switch this sentinel announced: keep the switch, take the rest.
            var kept = report
            kept.master = previous.master
            kept.configEpoch = previous.configEpoch
            kept.failoverInProgress = false
            kept.replicas = previous.replicas
            entry.report = kept
            entry.switchedAt = switched
        }
        entries[sentinel] = entry
        settle(now: now)
    }

    /// The sentinel answered but does not monitor the master name.
    mutating func masterUnknown(from sentinel: ProxyEndpoint, now: Millis) {
        _ = add(sentinel)
        entries[sentinel] = Entry(report: nil, at: now, reachable: true, knowsMaster: false)
        settle(now: now)
    }

    /// The connection failed or a command timed out.
    mutating func unreachable(_ sentinel: ProxyEndpoint, reason: String, now: Millis) {
        _ = add(sentinel)
        entries[sentinel]!.reachable = false
        entries[sentinel]!.problem = reason
        settle(now: now)
    }

    /// `+switch-master` from `sentinel`: its configuration now names `master`. The event carries
    /// no epoch, but a sentinel switches only to a newer configuration, so it counts as one more
    /// than the last it reported until a poll naming that master gives the exact value (a poll
    /// naming another master within `staleAfter` was sent before the switch and is not taken).
    mutating func switchMaster(to master: ProxyEndpoint, from sentinel: ProxyEndpoint, now: Millis) {
        guard var entry = entries[sentinel], var report = entry.report, entry.reachable else { return }
        guard report.master != master else { return }
        report.master = master
        // One more than the last reported, even from a failover's leader (whose last report may
        // or may not carry the new epoch already): the next poll naming this master gives the
        // exact value.
        report.configEpoch = report.configEpoch == .max ? .max : report.configEpoch + 1
        report.failoverInProgress = false
        report.replicas = []
        entry.report = report
        entry.at = now
        entry.switchedAt = now
        entries[sentinel] = entry
        settle(now: now)
    }

    /// What `server` answered to ROLE, asked at `askedAt` (the shell asks without waiting, so
    /// the answer can come after the choice changed; one asked before the server was chosen
    /// says nothing about it now). `askedAt` defaults to `now`.
    mutating func role(_ role: ServerRole, of server: ProxyEndpoint, askedAt: Millis? = nil, now: Millis) {
        settle(now: now)
        roles[server] = (role, min(askedAt ?? now, now))
    }

    /// Remembers when the chosen master changed (a ROLE answer must be newer than that).
    private mutating func settle(now: Millis) {
        let master = decide(now: now).master
        if master != chosen {
            chosen = master
            chosenSince = now
        }
    }

    /// The sentinels whose last answer is a report of the master, fresh at `now`.
    private func fresh(now: Millis) -> [(ProxyEndpoint, SentinelReport)] {
        sentinels.compactMap { s in
            guard let e = entries[s], e.reachable, now - e.at <= staleAfter, let r = e.report else { return nil }
            return (s, r)
        }
    }

    private func decide(now: Millis) -> MasterChoice {
        let reachable = sentinels.filter { s in
            guard let e = entries[s] else { return false }
            return e.reachable && now - e.at <= staleAfter
        }
        let reports = fresh(now: now)
        guard !reports.isEmpty else {
            return MasterChoice(reachableSentinels: reachable.count, reason: reachable.isEmpty ? .noSentinelReachable : .masterUnknown)
        }
        // A failover's leader reports the new epoch with the old address until it switches:
        // its address is no configuration while any sentinel reports a settled one.
        let settled = reports.filter { !$0.1.failoverInProgress }
        let usable = settled.isEmpty ? reports : settled
        let majority = usable.filter { $0.1.seesMajority }
        let candidates = majority.isEmpty ? usable : majority
        let epoch = candidates.map(\.1.configEpoch).max()!
        let newest = candidates.filter { $0.1.configEpoch == epoch }
        // One epoch names one master; should two disagree anyway, the one more of them name,
        // then the one already chosen, then list order.
        var votes: [ProxyEndpoint: Int] = [:]
        for (_, r) in newest { votes[r.master, default: 0] += 1 }
        let top = votes.values.max()!
        let master: ProxyEndpoint
        if let current = chosen, votes[current] == top {
            master = current
        } else {
            master = newest.first { votes[$0.1.master] == top }!.1.master
        }
        let believed = newest.first { $0.1.master == master }!
        return MasterChoice(master: master, sentinel: believed.0, configEpoch: epoch,
                            reachablePeers: believed.1.reachablePeers, knownPeers: believed.1.knownPeers,
                            agreeing: reports.filter { $0.1.master == master }.count,
                            reachableSentinels: reachable.count,
                            reason: majority.isEmpty ? .newestEpochWithoutMajority : .newestMajorityEpoch,
                            replicas: believed.1.replicas)
    }

    /// Reports age, so the choice can change with time alone: the shell calls this on its timer
    /// so that the time of such a change is remembered.
    mutating func tick(now: Millis) {
        settle(now: now)
    }

    /// Whom to believe at `now`, and where commands go.
    func choice(now: Millis) -> MasterChoice {
        var choice = decide(now: now)
        guard let master = choice.master else { return choice }
        // A ROLE answer from before this master was chosen says nothing about it now.
        let since = master == chosen ? chosenSince : now
        if let (role, at) = roles[master], at >= since {
            if case .master = role {
                choice.route = master
            } else {
                choice.masterRole = role
                choice.needsRoleCheck = true
            }
        } else {
            choice.needsRoleCheck = true
        }
        return choice
    }

    /// The last problem seen with each unreachable sentinel (for the log and INFO).
    func problems(now: Millis) -> [(ProxyEndpoint, String)] {
        sentinels.compactMap { s in
            guard let e = entries[s] else { return nil }
            if !e.reachable { return (s, e.problem ?? "not reached yet") }
            if now - e.at > staleAfter { return (s, "no answer for \(now - e.at) ms") }
            if !e.knowsMaster { return (s, "does not monitor the master name") }
            return nil
        }
    }
}
