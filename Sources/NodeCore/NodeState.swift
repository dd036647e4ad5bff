/// The node agent's decisions, pure: what this node's virtual IP, fence and local Redis should
/// do, from what the node observes. No I/O and no clock reads: every input carries `now`
/// (milliseconds on any monotonic clock), and the output is a list of actions for the shell.
///
/// The rules (docs/node.md has the timing argument):
/// - *Majority contact*: this node and the monitors it heard from within `contactWindow` make a
///   majority of the group.
/// - *Fence*: a node whose Redis is master and which has not heard from a majority of the
///   group for `fenceAfter` refuses writes (CLIENT PAUSE WRITE, renewed while isolated) before
///   the majority can promote (that takes down-after), and gives the VIP up — in `direct`
///   placement by handing it over: kept at the base priority until the promoted replica's
///   node takes it (at most `fencedHandoverHold`), in `proxy` placement at once. `fenceAfter` is
///   down-after × 0.4 counted from the last heartbeat heard; heartbeats come every down-after / 10 or more often,
///   so the fence is set at most down-after / 2 after the cut. Contact back: unfenced; if the
///   group has moved on to another master, the local Redis is first made its replica.
/// - *A voted failover of unknown outcome*: a master in majority contact whose failover a monitor
///   in contact voted for, its leader out of reach, is fenced until the outcome is known, and
///   after down-after a switchover to a replica in the majority is asked (a newer epoch).
/// - *VIP*: in `direct` placement, only the node whose Redis is the confirmed master, unfenced
///   and in majority contact, may claim it (a holder hands it over as above); in `proxy` placement any unfenced node in majority
///   contact whose proxy is up may, the master's node preferred.
public struct NodeState: Sendable, Hashable {
    public let settings: Settings
    /// The group's master as last decided: the newest view (highest epoch) among the local
    /// monitor's and the in-contact peers'.
    public private(set) var groupMaster: String?
    public private(set) var localView = View(master: nil, epoch: 0)
    public private(set) var peerViews: [String: View] = [:]
    public private(set) var localRedis: RedisRole = .down
    public private(set) var proxyUp = false
    public private(set) var lastHeard: [String: Int64] = [:]
    /// Since when each node's agent has refused the heartbeat's connection without being heard
    /// in between (`refusedBy`; cleared when it is heard again).
    public private(set) var refusedSince: [String: Int64] = [:]
    /// When each node's agent last refused the heartbeat's connection.
    public private(set) var lastRefused: [String: Int64] = [:]
    /// When majority contact was last seen (nil: never yet).
    public private(set) var lastMajority: Int64?
    /// Since when majority contact has held without a break (nil: not now). A peer's silence
    /// counts only from then: while this node heard nobody it cannot tell who was silent.
    public private(set) var majoritySince: Int64?
    /// The last instant at which this node had heard from a majority (itself included): the
    /// `needed`-th most recent heartbeat among the peers.
    public var lastMajorityHeard: Int64? {
        let needed = settings.members.count / 2  // peers, besides this node
        if needed == 0 { return Int64.max }
        let times = settings.members.filter { $0 != settings.myName }.compactMap { lastHeard[$0] }.sorted(by: >)
        return times.count >= needed ? times[needed - 1] : nil
    }
    /// The first input's time: a node that starts cut off counts as isolated from then.
    public private(set) var startedAt: Int64?
    /// Until when the current fence holds (nil: not fenced).
    public private(set) var fencedUntil: Int64?
    /// When the fence's pause was last sent.
    public private(set) var fenceSentAt: Int64?
    /// When the current fence was set (nil: not fenced).
    public private(set) var fencedSince: Int64?
    /// Why the fence was set (nil: not fenced).
    public private(set) var fenceReason: FenceReason?
    /// When a vote for another's failover of this node's Redis last had no known outcome
    /// (`awaitingFailoverOutcome`): a fence is kept while a failover runs up to
    /// `switchoverPauseHold` after it.
    public private(set) var fencedForVoteAt: Int64?
    /// Since when a monitor in contact has reported a vote for another's failover of the local
    /// Redis (`votedFailoverOfMe`), without a break.
    public private(set) var voteSeenAt: Int64?
    /// Since when `awaitingFailoverOutcome` has held without a break.
    public private(set) var awaitingOutcomeSince: Int64?
    /// The local Redis answered as master after answering otherwise (or not at all): a restart
    /// clears its pause, so a fence is sent again at once.
    private var localRedisCameBack = false
    /// A monitor in contact is failing this node's Redis over and it did not answer meanwhile
    /// (or shortly before: `lastLocalDown`).
    public private(set) var downDuringFailover = false
    /// When the local Redis was last seen `.down` (not answering).
    public private(set) var lastLocalDown: Int64?
    private var localRedisSeen = false
    /// The VIP decision last sent, so it is sent only when it changes.
    public private(set) var vip: Action?
    /// direct: since when this holder has been handing the VIP over to a new master's node.
    public private(set) var handoverSince: Int64?
    public private(set) var groupMasterHealthy = true
    /// When the group's master last answered the local monitor (nil: not known).
    public private(set) var groupMasterAnsweredAt: Int64?
    /// When this node last asked for a failover away from a silent master's node.
    public private(set) var failoverRequestedAt: Int64?
    /// When this agent last asked the monitors to move its fenced master away (`votedFailoverUnknown`).
    public private(set) var moveRequestedAt: Int64?
    /// Since when this node's clients are to be closed (`closeClients`), once the VIP's next
    /// holder is heard; nil: nothing pending.
    public private(set) var closeClientsSince: Int64?
    /// When another node was last heard advertising itself as the VIP's holder.
    public private(set) var lastHolderHeard: Int64?

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Deliberate bugs, switched on only by tests (through `@testable import`), to show that the
    /// randomized schedules catch a broken rule. Never set outside tests.
    enum DeliberateBug: Sendable, Hashable {
        /// An isolated master never fences itself.
        case neverFences
    }
    var brokenForTesting: DeliberateBug?

    public var isFenced: Bool { fencedUntil != nil }

    /// Whether this node and the monitors heard from within the window are a majority.
    public func hasMajorityContact(now: Int64) -> Bool {
        Self.majorityHeard(settings: settings, lastHeard: lastHeard, now: now, window: settings.contactWindow)
    }

    /// Whether this node and the monitors heard from (`lastHeard`, by node) within `window` of
    /// `now` are a majority of the group.
    public static func majorityHeard(settings: Settings, lastHeard: [String: Int64], now: Int64, window: Int64) -> Bool {
        let heard = settings.members.filter { $0 != settings.myName && (lastHeard[$0].map { now - $0 <= window } ?? false) }
        return heard.count + 1 >= settings.members.count / 2 + 1
    }

    /// Whether VRRP may make this node the VIP's holder now (asked when its timers would): a
    /// majority heard within `claimWindow`. Heartbeats come every 100 ms at most and VRRP's
    /// Master_Down_Interval (3 × 100 ms + skew) runs at least 200 ms + skew after a cut, so a node
    /// cut off from the majority fails this before its timers could claim — while its fence and
    /// eligibility wait for `fenceAfter` so that a blip moves nothing. In `direct` placement a
    /// fenced node never claims (`fenced`): one that holds the address for the handover may
    /// stay in the election after being preempted, and must not win it back.
    public static func mayClaim(settings: Settings, lastHeard: [String: Int64], now: Int64, fenced: Bool = false) -> Bool {
        if fenced && settings.placement == .direct { return false }
        return majorityHeard(settings: settings, lastHeard: lastHeard, now: now, window: settings.claimWindow)
    }

    public mutating func handle(_ input: Input, now: Int64) -> [Action] {
        if startedAt == nil { startedAt = now }
        switch input {
        case .tick: break
        case .groupMaster(let master, let epoch, let inFailover, let voted):
            localView = View(master: master, epoch: epoch, inFailover: inFailover, votedEpoch: voted)
        case .peerView(let node, let master, let epoch, let inFailover, let voted):
            peerViews[node] = View(master: master, epoch: epoch, inFailover: inFailover, votedEpoch: voted)
        case .heardFrom(let node, let at):
            let heard = min(at ?? now, now)
            // Back in contact after a silence: what it said before is stale (the group may have
            // moved on meanwhile); its view counts again once it says it anew.
            if let last = lastHeard[node], heard - last > settings.contactWindow { peerViews[node] = nil }
            lastHeard[node] = max(lastHeard[node] ?? Int64.min, heard)
            if let since = refusedSince[node], since <= heard { refusedSince[node] = nil }
        case .refusedBy(let node, let at):
            let refused = min(at ?? now, now)
            if refusedSince[node] == nil, refused > (lastHeard[node] ?? Int64.min) { refusedSince[node] = refused }
            lastRefused[node] = max(lastRefused[node] ?? Int64.min, refused)
        case .localRedis(let role):
            if role == .master && localRedis != .master { localRedisCameBack = true }
            // (`.down` before the first answer is no observation.)
            if role == .down || (localRedis == .down && localRedisSeen) { lastLocalDown = now }
            localRedisSeen = true
            localRedis = role
        case .proxyUp(let up): proxyUp = up
        case .groupMasterHealthy(let healthy, let answeredAt):
            groupMasterHealthy = healthy
            if let answeredAt { groupMasterAnsweredAt = max(groupMasterAnsweredAt ?? Int64.min, min(answeredAt, now)) }
        case .vipHolderHeard(let at): lastHolderHeard = max(lastHolderHeard ?? Int64.min, min(at ?? now, now))
        }
        return decide(now: now)
    }

    /// Whether the peers have said anew what the group's master is since contact came back, so
    /// that an unfence is decided on every view that counts: each other member in contact with a
    /// fresh view, or — once `contactWindow` has passed since majority contact came back, for a
    /// peer still cut off or whose monitor does not answer — at least one. Deciding on the first
    /// view to arrive unfenced a master while the peer whose monitor led its failover had not yet
    /// answered (the simulator's seed 3313: writes then acknowledged by the third replica, lost).
    func peersHaveReported(now: Int64) -> Bool {
        let peers = settings.members.filter { $0 != settings.myName }
        let reported = peers.filter { node in
            peerViews[node] != nil && (lastHeard[node].map { now - $0 <= settings.contactWindow } ?? false)
        }
        if reported.isEmpty { return false }
        return reported.count == peers.count || (majoritySince.map { now - $0 >= settings.contactWindow } ?? false)
    }

    /// Whether a monitor in contact voted for another sentinel's failover of this node's Redis,
    /// the outcome unknown, and the leader may be out of reach: some other member has been
    /// silent for `fenceAfter`, and no monitor in contact is failing over
    /// (`failoverUnderWay`: a leader in contact pauses the master itself).
    /// `untilFreshViews`: also while some peer's view may predate the leader's failover — only
    /// one heard at least `contactWindow` (the probe's timeout) after the vote was first seen
    /// (`voteSeenAt`) says the leader is not failing over. That keeps a fence; it sets none (in
    /// a switchover with everyone in contact the vote is seen before the leader's view says it
    /// is failing over). (Found by the simulator, seed 4434: a view from before the election
    /// unfenced the master in the instant its leader paused it for a switchover, and the
    /// fence's CLIENT UNPAUSE lifted that pause.)
    func awaitingFailoverOutcome(now: Int64, failoverUnderWay: Bool, untilFreshViews: Bool) -> Bool {
        guard localRedis == .master, !failoverUnderWay, let seen = voteSeenAt else { return false }
        return settings.members.contains { node in
            guard node != settings.myName else { return false }
            // Out of reach: silent for the isolation fence's delay (a heartbeat late by a contact
            // window under load, as in the fault lab's switchovers, is no sign; the leader's
            // switchover pause covers the master for seconds meanwhile).
            guard let heard = lastHeard[node], now - heard < settings.fenceAfter else { return true }
            return untilFreshViews
                && (peerViews[node] == nil || now - heard > settings.contactWindow || heard < seen + settings.contactWindow)
        }
    }

    /// Whether a monitor in contact (this node's or a peer's) reports a vote for another's
    /// failover of this node's Redis whose outcome it has not heard.
    func votedFailoverOfMe(now: Int64) -> Bool {
        let voted = { (view: View) in view.master == self.settings.myRedis && (view.votedEpoch.map { $0 > view.epoch } ?? false) }
        return voted(localView) || peerViews.contains { node, view in
            voted(view) && (lastHeard[node].map { now - $0 <= settings.contactWindow } ?? false)
        }
    }

    /// The newest view among the local monitor's and the peers' in contact (`View.isNewer`;
    /// otherwise the local one).
    public func newestView(now: Int64) -> View {
        var best = localView
        for (node, view) in peerViews.sorted(by: { $0.key < $1.key })
        where view.master != nil && view.isNewer(than: best) && (lastHeard[node].map { now - $0 <= settings.contactWindow } ?? false) {
            best = view
        }
        return best
    }

    private mutating func decide(now: Int64) -> [Action] {
        var actions: [Action] = []
        groupMaster = newestView(now: now).master
        let majority = hasMajorityContact(now: now)
        if majority { lastMajority = now; majoritySince = majoritySince ?? now } else { majoritySince = nil }
        let heard = lastMajorityHeard
        let isolatedFor = heard == Int64.max ? 0 : now - (heard ?? startedAt ?? now)
        var closeAtFence = false
        var unfencedNow = false
        let holdingVIP: Bool = if case .vipEligible = vip { true } else { false }

        // A failover under way by a monitor in contact (this node's or a peer's): a coordinated
        // switchover may hold this Redis's writes paused, and the fence's CLIENT UNPAUSE would
        // lift that pause too (Redis keeps one), letting the old master take writes the promoted
        // replica never gets. So a fence stays, renewed, until the failover ends. (Found by the
        // simulator, seeds 438 and 654 of WriteScheduleTests.)
        let failoverUnderWay = localView.inFailover || peerViews.contains { node, view in
            view.inFailover && (lastHeard[node].map { now - $0 <= settings.contactWindow } ?? false)
        }
        // At most `switchoverPauseHold` after majority contact came back: no switchover's pause
        // outlives that (a failover stuck in TILT keeps no fence for long).
        // Or after the vote rule below last held the fence: a leader heard again with its
        // failover under way must find the master still paused (the fence's CLIENT UNPAUSE would
        // lift its switchover's pause too; the simulator's seeds 3321 and 3576 lost writes so).
        let keepFence = fencedUntil != nil && failoverUnderWay
            && ((majoritySince.map { now - $0 < settings.switchoverPauseHold } ?? true)
                || (fencedForVoteAt.map { now - $0 < settings.switchoverPauseHold } ?? false))

        // A failover of this node's Redis under way while it did not answer (SIGSTOP, a stall, a
        // probe timing out): if it answers again as master before the failover ends, the writes it
        // takes meanwhile reach replicas still following it (`durability: replicated` acknowledges
        // them) and are thrown away when it is demoted. It is fenced until the failover ends, then
        // made the new master's replica (or, the failover aborted, unfenced as it was). (Found by
        // the simulator, seed 2173 of WriteScheduleTests: a woken master took 2 s of writes.)
        let failingOverMe = (localView.inFailover && localView.master == settings.myRedis)
            || peerViews.contains { node, view in
                view.inFailover && view.master == settings.myRedis
                    && (lastHeard[node].map { now - $0 <= settings.contactWindow } ?? false)
            }
        // Down shortly before the failover was seen counts too: a master back from a crash of
        // under a second whose failover the monitors started on it (elected after it answered
        // again) took writes its replicas acknowledged until the promotion (the simulator's seed
        // 8386: 4 writes lost). The window is down-after, the time a silent master is given.
        if !failingOverMe {
            downDuringFailover = false
        } else if localRedis == .down || (!downDuringFailover && lastLocalDown.map { now - $0 <= settings.downAfter } ?? false) {
            downDuringFailover = true
        }
        let fenceForFailover = failingOverMe && downDuringFailover

        // A failover of this node's Redis voted for by a monitor in contact (this node's or a
        // peer's), whose leader is out of reach: the leader may have promoted its replica where
        // nobody here can see it, and its newer configuration wins when the cut heals — the
        // writes this master takes meanwhile (acknowledged by the replicas here under
        // `durability: replicated`) are then thrown away. Fenced until the outcome is known: the
        // leader's new configuration arrives, or every other member answers again and no
        // monitor is failing over (the leader aborted), or the vote's failover-timeout passes
        // (the monitor stops reporting it). While a leader in contact runs the failover, its
        // switchover pause covers the master. (Found by the simulator, seeds 4711 and 4990 of
        // WriteScheduleTests: a switchover's leader cut off with its chosen replica after the
        // election; the old master's pause ran out and 130–155 writes were lost at the heal.)
        if votedFailoverOfMe(now: now) { voteSeenAt = voteSeenAt ?? now } else { voteSeenAt = nil }
        let awaitingOutcome = awaitingFailoverOutcome(now: now, failoverUnderWay: failoverUnderWay, untilFreshViews: false)
        let outcomeUnknown = awaitingOutcome || awaitingFailoverOutcome(now: now, failoverUnderWay: failoverUnderWay, untilFreshViews: true)
        if outcomeUnknown { fencedForVoteAt = now }
        if awaitingOutcome {
            awaitingOutcomeSince = awaitingOutcomeSince ?? now
        } else {
            awaitingOutcomeSince = nil
        }

        // Fence: a master cut off from the majority, before the majority can promote.
        let isolated = !majority && isolatedFor >= settings.fenceAfter
        // Lifted only on these terms; until then a fence whose reason has gone is still held
        // (renewed), never left to run out: the peers not all heard since contact came back, a
        // master that would lapse into taking writes its agent counts as fenced. (Found by the
        // simulator, seed 24578 of WriteScheduleTests: the isolation ended, the unfence waited
        // for the peers' views, and the pause ran out 800 ms after the last renewal: 3 writes.)
        // A move of this master that the agent asked for (below) is zero-loss only while the
        // fence's pause holds: the leader may promote without a pause of its own (a fenced master's
        // link looks down to the monitors: their PUBLISH waits out the pause). Once a monitor
        // reports the failover under way, `keepFence` holds the fence; until then — the contact
        // window after the request — it is held here, even if what set it is resolved meanwhile.
        // (Found by the simulator, seed 41094 of WriteScheduleTests: back from a cut, the agent
        // asked for the move and in the same instant, hearing the old vote's leader had aborted,
        // unfenced; the master took a write 100 ms before the promotion made it a replica. A
        // first fix held it for switchoverPauseHold whatever the monitors said: a move refused
        // then kept the master fenced, and in `direct` placement the VIP off every node, for 6 s:
        // seeds 43826, 44250, 44262, 44466.)
        let keepForMove = groupMaster == settings.myRedis && (moveRequestedAt.map { now - $0 < settings.contactWindow } ?? false)
        let mayUnfence = fencedUntil != nil && majority && !keepFence && !keepForMove && !outcomeUnknown && peersHaveReported(now: now)
        // (keepFence is one such term: a fence it keeps is held.)
        let holdFence = fencedUntil != nil && !mayUnfence
        if localRedis == .master && (isolated || fenceForFailover || awaitingOutcome || holdFence)
            && brokenForTesting != .neverFences {
            // Sent again every decision period (`heartbeatInterval`), and at once when the local
            // Redis answers again after a restart: Redis keeps one pause, which a restart or any
            // client's CLIENT UNPAUSE (a sentinel ending a switchover it abandoned) lifts, and
            // the writes taken until the next renewal would be lost. (Found by the simulator:
            // renewed only at half its length, such a lift let a fenced master take writes for
            // up to 0.4 × down-after.) The pause itself lasts twice the fence delay, so it never
            // lapses while the isolation lasts even if renewals are late.
            let length = settings.fenceAfter * 2
            if fencedUntil == nil || localRedisCameBack
                || fenceSentAt.map({ now - $0 >= settings.heartbeatInterval }) ?? true {
                // direct: clients at the VIP would wait on their paused writes: closed now, while
                // the address is still here (it leaves with the VIP decision below) — unless it
                // stays for the handover (`fenceHoldsVIP` below): they are reset as it leaves.
                if fencedUntil == nil && settings.placement == .direct && !(isolated && holdingVIP) { closeAtFence = true }
                if fencedUntil == nil {
                    fencedSince = now
                    // (holdFence, keepFence among its terms, never sets a fence: it keeps one.)
                    fenceReason = isolated ? .isolated : fenceForFailover ? .wokenDuringFailover : .votedFailoverUnknown
                }
                fencedUntil = now + length
                fenceSentAt = now
                actions.append(.fence(milliseconds: length))
                if closeAtFence { actions.append(.closeClients) }
            }
        } else if mayUnfence {
            // Unfenced only once the peers in contact have said what the group's master is: the
            // local monitor's view may be the stale one from before the cut.
            if let master = groupMaster, master != settings.myRedis, localRedis == .master {
                actions.append(.replicate(to: master))
            }
            fencedUntil = nil
            fenceSentAt = nil
            fencedSince = nil
            unfencedNow = true
            fencedForVoteAt = nil
            fenceReason = nil
            actions.append(.unfence)
        }

        localRedisCameBack = false

        // VIP.
        let wanted: Action
        // A blip shorter than the fence delay moves nothing; a node never in majority contact
        // (just started, or started cut off) holds nothing.
        // proxy placement: a fence for a failover of the local Redis (in majority contact) keeps the
        // VIP: the proxy's clients wait on the paused writes and go on with the promoted master,
        // their connections kept.
        let fenceKeepsVIP = settings.placement == .proxy && majority && fenceForFailover
        let eligible = (!isFenced || fenceKeepsVIP) && lastMajority != nil && (majority || isolatedFor < settings.fenceAfter)
        switch settings.placement {
        case .direct:
            // Claimed only by a node whose Redis answers as the confirmed master (bidding
            // base + 50); kept while the group still names this node's Redis even if it stopped
            // answering (a crash): until a replica is promoted, clients at the VIP are refused
            // at once (RST) rather than sending into an address nobody holds (SYN retried after
            // 1 s). Once the group names another master, the holder stays in the election at
            // the base priority for `handoverHold`, so the new master's node (base + 50) takes
            // the address over by preemption, with no moment in which nobody holds it — but not a
            // holder unfenced just now into a group that moved on: the new master's node has
            // had the time to claim, it leaves at once.
            //
            // A holder fenced for isolation keeps the address the same way, at the base priority,
            // for `fencedHandoverHold` after the fence (its Redis refuses writes meanwhile: they wait on
            // the pause, none is acknowledged): the promoted replica's node preempts it, and its
            // clients, reset as the address leaves (`VIPClientReset`), reconnect to the new holder,
            // whose gratuitous ARP went out before its first advert. Released at the fence instead,
            // the address was held by nobody from the fence to the claim, and clients reconnecting
            // into it waited TCP's 1 s SYN retry (lab partition_direct: resume 1.34-1.47 s). The
            // hold also ends when another holder is heard (`vipHolderHeard`: its advert, or its
            // gratuitous ARP where VRRP does not cross but the segment does), and at its end if
            // none is.
            let holding = holdingVIP
            let named = groupMaster == settings.myRedis
            let fenceHoldsVIP = holding && isFenced && fenceReason == .isolated
                && (fencedSince.map { since in
                    now - since < settings.fencedHandoverHold && !(lastHolderHeard.map { $0 > since } ?? false)
                } ?? false)
            if eligible && named && (localRedis == .master || (holding && localRedis == .down)) {
                handoverSince = nil
                wanted = .vipEligible(priority: min(254, settings.basePriority + 50))
            } else if eligible && holding && !named && groupMaster != nil && !unfencedNow
                        && now - (handoverSince ?? now) < settings.handoverHold {
                if handoverSince == nil { handoverSince = now }
                wanted = .vipEligible(priority: settings.basePriority)
            } else if fenceHoldsVIP {
                handoverSince = nil
                wanted = .vipEligible(priority: settings.basePriority)
            } else {
                handoverSince = nil
                wanted = .vipIneligible
            }
        case .proxy:
            if eligible && proxyUp {
                // The master's node is preferred: clients then reach the master with no extra hop.
                let bonus = groupMaster == settings.myRedis ? 50 : 0
                wanted = .vipEligible(priority: min(254, settings.basePriority + bonus))
            } else {
                wanted = .vipIneligible
            }
        }
        if wanted != vip {
            if settings.placement == .proxy {
                if case .vipEligible = vip, wanted == .vipIneligible { closeClientsSince = now }
                if case .vipEligible = wanted { closeClientsSince = nil }
            }
            vip = wanted
            actions.append(wanted)
        }
        if let since = closeClientsSince,
           (lastHolderHeard.map { $0 > since } ?? false) || now - since >= settings.closeClientsAfter {
            closeClientsSince = nil
            actions.append(.closeClients)
        }

        // The fenced master's outcome still unknown after down-after (the time Sentinel gives a
        // silent master): rather than wait for the cut to heal or the vote to expire (after
        // failover-timeout its monitor no longer reports it, the fence goes, and the writes taken
        // from then on are thrown away at the heal if the unseen leader did promote), the majority
        // moves the master to one of its replicas in a newer epoch: zero-loss (the master is
        // paused already), and that epoch wins over the unseen leader's at the heal. Once per
        // failover-timeout, as any failover request. (The simulator's seed 4711: a 10.5 s cut
        // outlasted the vote's 10 s failover-timeout and 63 writes were lost.)
        if let since = awaitingOutcomeSince, isFenced, majority, now - since >= settings.downAfter,
           failoverRequestedAt.map({ now - $0 >= settings.failoverRetry }) ?? true {
            failoverRequestedAt = now
            moveRequestedAt = now
            actions.append(.requestFailover(why: .votedFailoverUnknown))
        }

        // direct: a master whose node agent is gone (its Redis healthy) keeps the VIP from every
        // node; the first in-contact node by name asks for a switchover, once per failover-timeout.
        // Healthy means answering the monitor in the latter half of the agent's silence: a cut
        // of the master's node silences both at once, and its Redis is flagged down only after
        // down-after — Sentinel's own failover is for that (a switchover could not pause it).
        if settings.placement == .direct, majority, groupMasterHealthy, let master = groupMaster, master != settings.myRedis,
           let masterNode = settings.redisOfNode.first(where: { $0.value == master })?.key, masterNode != settings.myName {
            // Silent while this node was in contact: a node back from a cut has not heard the
            // new master's agent yet, which says nothing about that agent.
            let silentFor = now - max(lastHeard[masterNode] ?? startedAt ?? now, majoritySince ?? now)
            let inContact = settings.members.filter { name in
                name != masterNode && (name == settings.myName || (lastHeard[name].map { now - $0 <= settings.contactWindow } ?? false))
            }
            // An agent whose host refuses its port is gone (killed, crashed, stopped), not
            // frozen and not cut off: no need to wait out down-after to tell those apart. Its
            // Redis must have answered the monitor since the refusals began, and the agent
            // must have been heard before (one that has not started yet is not gone).
            // Refused again lately too (a refusal, then silence — the host going down after its
            // agent — is a silence).
            let agentGone = refusedSince[masterNode].map { since in
                lastHeard[masterNode] != nil && now - since >= settings.agentRefusedFailoverAfter
                    && (lastRefused[masterNode].map { $0 > since && now - $0 <= settings.contactWindow } ?? false)
                    && (groupMasterAnsweredAt.map { $0 >= since } ?? false)
            } ?? false
            let answeredLately = groupMasterAnsweredAt.map { now - $0 <= silentFor / 2 } ?? false
            if (silentFor >= settings.agentLossFailoverAfter && answeredLately) || agentGone, inContact.min() == settings.myName,
               failoverRequestedAt.map({ now - $0 >= settings.failoverRetry }) ?? true {
                failoverRequestedAt = now
                actions.append(.requestFailover(why: .masterAgentSilent))
            }
        }
        return actions
    }
}
