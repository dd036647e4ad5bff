/// PURE: the last failovers as one sentinel saw them, built from the events it published
/// (`+sdown`, `+odown`, `+try-failover`, `+elected-leader`, `+selected-slave`, …,
/// `+switch-master`) with the time each was published. The status page draws each failover as a
/// bar of these steps. The shell records the wall-clock time of each event; nothing here reads
/// a clock.
///
/// A failover opens at the master's `+sdown` (or `+crash-down`, `+odown`, `+try-failover`, or a
/// `+switch-master` learnt from a peer with nothing before it) and ends at `+switch-master`
/// (`switched`), at an abort of a failover this sentinel led (`aborted`), or at `-sdown`
/// before any failover step (a master that came back: the entry is dropped, it was no failover).
public struct FailoverTimeline: Sendable, Hashable {
    /// One failover: what it moved and every step with its time.
    public struct Failover: Codable, Sendable, Hashable {
        /// The master's name (the group).
        public var master: String
        /// The master's address when the failover began (`host:port`).
        public var from: String?
        /// The new master's address, from `+switch-master` (or `+selected-slave` while it runs).
        public var to: String?
        /// `running`, `switched` or `aborted`.
        public var outcome: String
        /// The leader as this sentinel knows it: `self` when it was elected, else the run ID it
        /// voted for (`+vote-for-leader`) or the peer whose new configuration it took.
        public var leader: String?
        /// The epoch of the election (`+new-epoch` / `+vote-for-leader`).
        public var epoch: Int64?
        /// Milliseconds since the Unix epoch of the first and the last step.
        public var startedAt: Int64
        public var endedAt: Int64?
        public var steps: [Step]

        public init(master: String, from: String?, to: String?, outcome: String, leader: String?, epoch: Int64?,
                    startedAt: Int64, endedAt: Int64?, steps: [Step]) {
            self.master = master
            self.from = from
            self.to = to
            self.outcome = outcome
            self.leader = leader
            self.epoch = epoch
            self.startedAt = startedAt
            self.endedAt = endedAt
            self.steps = steps
        }
    }

    /// One event of a failover.
    public struct Step: Codable, Sendable, Hashable {
        /// The phase the page colours it by: `sdown`, `odown`, `election`, `promotion`,
        /// `switch`, `vip` or `abort`.
        public var phase: String
        /// The event as published (`+odown`), or `vip` for the node agent's VIP taking over.
        public var event: String
        /// Milliseconds since the Unix epoch.
        public var at: Int64
        /// The event's payload (`master mymaster 127.0.0.1 6379 #quorum 2/2`).
        public var detail: String

        public init(phase: String, event: String, at: Int64, detail: String) {
            self.phase = phase
            self.event = event
            self.at = at
            self.detail = detail
        }
    }

    /// Finished and running failovers, oldest first; at most `limit`.
    public private(set) var failovers: [Failover] = []
    /// This sentinel's run ID: a vote for it reads as `self`.
    public var myID: String
    public let limit: Int
    /// How long after `+switch-master` a VIP takeover still belongs to the failover.
    public let vipWindowMilliseconds: Int64

    /// Steps kept per failover.
    public static let maxSteps = 200

    public init(myID: String = "", limit: Int = 20, vipWindowMilliseconds: Int64 = 30_000) {
        self.myID = myID
        self.limit = max(1, limit)
        self.vipWindowMilliseconds = vipWindowMilliseconds
    }

    /// The phase an event belongs to; nil for events that are no failover step.
    public static func phase(of type: String) -> String? {
        switch type {
        case "+sdown", "+crash-down": return "sdown"
        case "+odown": return "odown"
        case "+new-epoch", "+try-failover", "+vote-for-leader", "+elected-leader",
             "-failover-abort-not-elected", "-failover-abort-split-vote":
            return "election"
        case "+failover-state-select-slave", "+selected-slave", "+failover-state-send-slaveof-noone",
             "+failover-state-wait-promotion", "+promoted-slave", "+failover-state-reconf-slaves",
             "+slave-reconf-sent", "+slave-reconf-inprog", "+slave-reconf-done", "+failover-end",
             "+failover-end-for-timeout", "+config-update-from":
            return "promotion"
        case "+switch-master": return "switch"
        default: return type.hasPrefix("-failover-abort-") ? "abort" : nil
        }
    }

    /// One event this sentinel published, at `at` (ms since the Unix epoch).
    public mutating func observe(type: String, payload: String, at: Int64) {
        guard let phase = Self.phase(of: type) else {
            if type == "-sdown" { dropIfNoFailover(payload) }
            return
        }
        let words = payload.split(separator: " ").map(String.init)
        let step = Step(phase: phase, event: type, at: at, detail: payload)
        // Which master: instance events say `master NAME IP PORT` or `… @ NAME IP PORT`;
        // +switch-master starts with the name; +new-epoch and +vote-for-leader name none.
        let master: String?
        var address: String?
        if type == "+switch-master" {
            master = words.first
        } else if let at = words.firstIndex(of: "@"), at + 1 < words.count {
            master = words[at + 1]
            if at + 3 < words.count { address = "\(words[at + 2]):\(words[at + 3])" }
        } else if words.count >= 2, words[0] == "master" {
            master = words[1]
            if words.count >= 4 { address = "\(words[2]):\(words[3])" }
        } else {
            master = nil
        }
        // Down states of replicas and peers (`+sdown slave … @ NAME …`) are no failover step.
        if phase == "sdown" || phase == "odown", words.first != "master" { return }
        let found: Int?
        if let master {
            found = openIndex(for: master, creating: type, address: address, at: at)
        } else {
            found = failovers.lastIndex(where: { $0.outcome == "running" })
        }
        guard let index = found else { return }
        var f = failovers[index]
        f.steps.append(step)
        // A master down for hours that no failover can move (no good replica) repeats its
        // election steps: keep the first step and the latest ones.
        if f.steps.count > Self.maxSteps { f.steps.remove(at: 1) }
        f.endedAt = at
        switch type {
        case "+new-epoch":
            f.epoch = words.first.flatMap { Int64($0) } ?? f.epoch
        case "+vote-for-leader":
            if words.count >= 2 {
                f.leader = words[0] == myID ? "self" : words[0]
                f.epoch = Int64(words[1]) ?? f.epoch
            }
        case "+elected-leader":
            f.leader = "self"
        case "+config-update-from":
            // `sentinel RUNID IP PORT @ …`: the peer whose configuration we took. A candidate
            // that voted for itself and lost (no abort published yet: it learnt the winner's
            // configuration first) did not lead either.
            if f.leader == nil || f.leader == "self", words.count >= 2, words[0] == "sentinel" { f.leader = words[1] }
        case "+selected-slave":
            if words.count >= 4, words[0] == "slave" { f.to = "\(words[2]):\(words[3])" }
        case "+switch-master":
            if words.count >= 5 {
                f.from = "\(words[1]):\(words[2])"
                f.to = "\(words[3]):\(words[4])"
            }
            f.outcome = "switched"
        case "-failover-abort-not-elected", "-failover-abort-split-vote":
            // The group's failover goes on under another leader or in a new epoch: this
            // sentinel's own vote for itself made it no leader.
            if f.leader == "self" { f.leader = nil }
        default:
            if phase == "abort" { f.outcome = "aborted" }
        }
        failovers[index] = f
    }

    /// The node agent's VIP came to this node (`holder` names it): a step of the failover that
    /// ended at most `vipWindowMilliseconds` before, or of the one running.
    public mutating func observeVIP(holder: String, at: Int64) {
        guard let index = failovers.lastIndex(where: {
            $0.outcome == "running" || ($0.outcome == "switched" && at - ($0.endedAt ?? $0.startedAt) <= vipWindowMilliseconds)
        }) else { return }
        failovers[index].steps.append(Step(phase: "vip", event: "vip", at: at, detail: "VIP on \(holder)"))
        failovers[index].endedAt = at
    }

    /// The running failover of `master`, or a new one when `type` may begin one.
    private mutating func openIndex(for master: String, creating type: String, address: String?, at: Int64) -> Int? {
        if let i = failovers.lastIndex(where: { $0.master == master && $0.outcome == "running" }) { return i }
        switch type {
        case "+sdown", "+crash-down", "+odown", "+try-failover", "+switch-master":
            break
        default:
            return nil
        }
        failovers.append(Failover(master: master, from: address, to: nil, outcome: "running", leader: nil, epoch: nil,
                                  startedAt: at, endedAt: at, steps: []))
        if failovers.count > limit { failovers.removeFirst(failovers.count - limit) }
        return failovers.count - 1
    }

    /// `-sdown master NAME …` before any failover step: the master is back, no failover happened.
    private mutating func dropIfNoFailover(_ payload: String) {
        let words = payload.split(separator: " ")
        guard words.count >= 2, words[0] == "master",
              let i = failovers.lastIndex(where: { $0.master == words[1] && $0.outcome == "running" }) else { return }
        if failovers[i].steps.allSatisfy({ $0.phase == "sdown" || $0.phase == "odown" }) { failovers.remove(at: i) }
    }
}
