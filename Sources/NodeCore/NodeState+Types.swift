// The node agent's inputs, actions, settings and views (`NodeState`'s vocabulary); the
// decisions are in NodeState.swift.

extension NodeState {
    public enum Placement: Sendable, Hashable { case direct, proxy }

    /// How the local Redis answered its last check.
    public enum RedisRole: Sendable, Hashable { case master, replica, down }

    /// What the shell tells the core.
    public enum Input: Sendable, Hashable {
        /// The periodic timer.
        case tick
        /// The local monitor's view of the group: the confirmed master's address (nil: none yet)
        /// and the configuration epoch it was learned in.
        /// `inFailover`: the monitor is failing that master over (SENTINEL MASTER's
        /// `failover_in_progress`).
        /// `votedEpoch`: the monitor voted in that epoch for another sentinel's failover of that
        /// master and has not heard its outcome (SENTINEL MASTER's `failover-vote-epoch`).
        case groupMaster(String?, epoch: Int64 = 0, inFailover: Bool = false, votedEpoch: Int64? = nil)
        /// A peer's monitor's view, from its reply to the heartbeat. The view with the highest
        /// epoch among this node's monitor and the peers in contact is the group's master: a
        /// node back from a cut trusts the majority's newer view over its own monitor's stale one.
        case peerView(node: String, master: String?, epoch: Int64, inFailover: Bool = false, votedEpoch: Int64? = nil)
        /// A heartbeat arrived from that node's agent, at `at` (default: the input's `now`).
        case heardFrom(node: String, at: Int64? = nil)
        /// That node's host refused the heartbeat's connection (TCP RST, ECONNREFUSED) at `at`
        /// (default: the input's `now`): its host is up and reachable, but its agent (whose
        /// monitor the heartbeat asks) is not running — killed, crashed or stopped, not frozen
        /// and not cut off (those are silent).
        case refusedBy(node: String, at: Int64? = nil)
        /// The local Redis's role, from its last INFO/ROLE (or `.down` when it did not answer).
        case localRedis(RedisRole)
        /// Whether the local monitor sees the group's master healthy (no s_down/o_down, no
        /// failover in progress), and when it last answered the monitor's PING (SENTINEL
        /// MASTER's `last-ok-ping-reply`, on this clock; nil: not known).
        case groupMasterHealthy(Bool, answeredAt: Int64? = nil)
        /// The local proxy is (not) serving.
        case proxyUp(Bool)
        /// Another node advertised itself as the VIP's holder (a VRRP advert with a priority
        /// above 0) at `at` (default: the input's `now`).
        case vipHolderHeard(at: Int64? = nil)
    }

    /// Why a switchover is asked for (`Action.requestFailover`).
    public enum FailoverRequest: Sendable, Hashable {
        /// direct: the master's node agent is gone while its Redis runs on, so no node may
        /// hold the VIP.
        case masterAgentSilent
        /// A vote for another's failover of the local Redis has had no known outcome for
        /// down-after, its leader out of reach: a switchover to a replica in the majority, whose
        /// newer epoch supersedes whatever that leader did where nobody here could see it.
        case votedFailoverUnknown
    }

    /// Why the local Redis was fenced (`fenceReason`, for the shell's log).
    public enum FenceReason: Sendable, Hashable {
        /// No contact with a majority for `fenceAfter`.
        case isolated
        /// It did not answer while (or shortly before) a monitor in contact failed it over.
        case wokenDuringFailover
        /// A vote for another's failover of it has no known outcome, the leader out of reach.
        case votedFailoverUnknown
    }

    /// What the core tells the shell to do.
    public enum Action: Sendable, Hashable {
        /// Take part in the VRRP election for the VIP with this priority.
        case vipEligible(priority: Int)
        /// Do not hold the VIP: leave at once (priority-0 advert) if holding it, never claim it.
        case vipIneligible
        /// Refuse writes on the local Redis for `milliseconds` (CLIENT PAUSE … WRITE), and stop the
        /// local proxy forwarding writes. Sent again before it runs out while the fence holds.
        case fence(milliseconds: Int64)
        /// Writes are allowed again (CLIENT UNPAUSE; the proxy forwards writes).
        case unfence
        /// Make the local Redis a replica of the group's master (`REPLICAOF host port`).
        case replicate(to: String)
        /// Ask the local monitor for a (zero-loss) switchover (`SENTINEL FAILOVER`), for `why`.
        case requestFailover(why: FailoverRequest)
        /// Close the clients that reached this node through the VIP, so they reconnect to the
        /// address's next holder. proxy placement: the proxy's clients, once that holder is heard
        /// (a SYN sent while nobody holds the address is lost and retried only after TCP's 1 s),
        /// or after `closeClientsAfter` without hearing it. direct: the local Redis's clients on
        /// the VIP's address, at the fence, before the address leaves (Redis's FIN to a client
        /// needs the address it was sent from; after it is gone the client learns only from a
        /// retransmission reaching the next holder: 0.7 s later in the lab).
        case closeClients
    }

    public struct Settings: Sendable, Hashable {
        public var myName: String
        /// This node's Redis as the group's monitors name it (`host:port`).
        public var myRedis: String
        /// Every node of the group that runs a monitor, this one included.
        public var members: [String]
        public var placement: Placement
        /// A monitor not heard from for this long no longer counts as in contact.
        public var contactWindow: Int64
        /// Claiming the VIP needs a majority heard within this (`mayClaim`): 1.5 heartbeats.
        public var claimWindow: Int64 = 150
        /// The agents' heartbeats to each other: every `heartbeatInterval`, at most 100 ms.
        public var peerProbeInterval: Int64 { min(heartbeatInterval, 100) }
        /// down-after / 10: the decision period, and the heartbeat period's upper bound
        /// (`peerProbeInterval`).
        public var heartbeatInterval: Int64
        /// This long after it last heard from a majority, a master fences itself
        /// (down-after / 2 minus one heartbeat interval: at most down-after / 2 after a cut).
        public var fenceAfter: Int64
        public var basePriority: Int
        /// direct: how long a holder whose Redis is no longer the group's master stays in the
        /// election (at the base priority) for the new master's node to preempt it.
        public var handoverHold: Int64
        /// direct: how long a holder fenced for isolation keeps the address (at the base
        /// priority) for the promoted replica's node to preempt it: twice down-after. The fence
        /// comes at most down-after / 2 after the cut; the majority promotes down-after after its
        /// last reply from the master plus up to a PING period, ODOWN and a vote, and its node
        /// claims after VRRP's skew time — 1.2–1.5 × down-after after the cut in the lab on a loaded
        /// machine. A hold of down-after ran out before the claim in 2 of 3 lab runs, and the
        /// clients reconnected into an address nobody held.
        public var fencedHandoverHold: Int64
        /// Every member's Redis (`host:port`) by node name (data nodes).
        public var redisOfNode: [String: String] = [:]
        /// direct: a master's node agent silent this long (its Redis still healthy) has the
        /// master moved away: down-after, as for a silent Redis. The silent node's address goes
        /// when the new master's node claims it: a killed agent's address guard removed it
        /// already (Master_Down_Interval after the kill), a frozen one's takes it away, with its
        /// clients reset, once it hears the claim (until 2026-12-06 this waited for the address's
        /// 3 s lifetime: kill -9 of the agent cost 3.4 s).
        public var agentLossFailoverAfter: Int64
        /// direct: a master's node whose agent's port has refused every heartbeat for this long
        /// (the host answers, nothing listens: the agent is gone, not frozen or cut off) has the
        /// master moved away without waiting `agentLossFailoverAfter`: two heartbeats, so that
        /// one refusal is confirmed by the next.
        public var agentRefusedFailoverAfter: Int64
        /// The group's down-after: how long before a failover was seen a master that did not
        /// answer counts as woken during it, and how long a vote's unknown outcome is waited
        /// for before a switchover is asked.
        public var downAfter: Int64
        /// How long after a failover request another may be made (failover-timeout).
        public var failoverRetry: Int64 = 60_000
        /// The longest a monitor's switchover keeps a master's writes paused (Sentinel's
        /// `switchoverPauseLimit` + 1 s, its CLIENT PAUSE timeout): how long a fence is kept
        /// after contact is back while a failover is under way.
        public var switchoverPauseHold: Int64 = 6_000
        /// proxy placement: how long a node that left the VIP waits to hear the address's next
        /// holder before it closes its proxy's clients anyway (`closeClients`): a backup takes
        /// over within Master_Down_Interval, 4 adverts at most. The default assumes 100 ms
        /// adverts; the shell sets it from the configured interval.
        public var closeClientsAfter: Int64

        public init(myName: String, myRedis: String, members: [String], placement: Placement,
                    downAfter: Int64, basePriority: Int = 100) {
            self.myName = myName
            self.myRedis = myRedis
            self.members = members
            self.placement = placement
            // Monitors hear from each other several times per down-after (hellos, PINGs); a
            // quarter of it without a word is already a sign, half of it is the decision.
            self.contactWindow = max(1, downAfter / 4)
            self.heartbeatInterval = max(1, downAfter / 10)
            self.fenceAfter = max(1, downAfter / 2 - downAfter / 10)
            self.basePriority = basePriority
            self.handoverHold = max(1, downAfter)
            self.fencedHandoverHold = max(1, 2 * downAfter)
            self.agentLossFailoverAfter = downAfter
            self.agentRefusedFailoverAfter = min(downAfter, 2 * min(max(1, downAfter / 10), 100))
            self.downAfter = downAfter
            self.closeClientsAfter = Self.closeClientsAfter(advertInterval: 100)
        }

        /// `closeClientsAfter` for this VRRP advert interval.
        public static func closeClientsAfter(advertInterval: Int64) -> Int64 {
            4 * advertInterval
        }
    }

    public struct View: Sendable, Hashable {
        public var master: String?
        public var epoch: Int64
        /// Its monitor is failing this master over: the leader's view names the old master in
        /// the failover's epoch until the failover ends (Sentinel sets the config epoch at the
        /// promotion and the address only once the replicas are reconfigured), while the other
        /// monitors already name the promoted one in that epoch.
        public var inFailover = false
        /// Its monitor voted in this epoch for another sentinel's failover of `master` and has
        /// not heard the outcome (up to failover-timeout after the vote).
        public var votedEpoch: Int64?

        public init(master: String?, epoch: Int64, inFailover: Bool = false, votedEpoch: Int64? = nil) {
            self.master = master
            self.epoch = epoch
            self.inFailover = inFailover
            self.votedEpoch = votedEpoch
        }

        /// Whether this view is newer than `other`: a higher epoch, or the same epoch named
        /// by a monitor that is not in the middle of failing `other`'s master over.
        public func isNewer(than other: View) -> Bool {
            epoch > other.epoch || (epoch == other.epoch && other.inFailover && !inFailover && master != other.master)
        }
    }
}
