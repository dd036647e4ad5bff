import NodeCore
import Testing

/// Scenarios on a simulated clock: three nodes n1 (this one), n2, n3; down-after 1000 ms, so
/// monitors out of contact after 250 ms and a fence 400 ms after a majority was last heard.
@Suite("Node core: fencing and VIP placement")
struct NodeStateTests {
    static func node(_ placement: NodeState.Placement = .direct) -> NodeState {
        NodeState(settings: .init(myName: "n1", myRedis: "10.0.0.1:6379", members: ["n1", "n2", "n3"],
                                  placement: placement, downAfter: 1000))
    }

    /// Drives a node in 100 ms ticks; `heard` says which peers were heard at each tick.
    struct Run {
        var state: NodeState
        var now: Int64 = 0
        var actions: [(at: Int64, action: NodeState.Action)] = []

        mutating func input(_ input: NodeState.Input) {
            for a in state.handle(input, now: now) { actions.append((now, a)) }
        }

        /// `masterAnswering`: the local monitor's view of the group's master is healthy and it
        /// answered just now, at each tick.
        mutating func ticks(_ count: Int, hearing peers: [String], masterAnswering: Bool = false) {
            for _ in 0..<count {
                now += 100
                for p in peers { input(.heardFrom(node: p)) }
                if masterAnswering { input(.groupMasterHealthy(true, answeredAt: now)) }
                input(.tick)
            }
        }

        func times(of match: (NodeState.Action) -> Bool) -> [Int64] { actions.filter { match($0.action) }.map(\.at) }

        /// `count` ticks in which `node`'s agent refuses the heartbeat and `peer` is heard;
        /// `masterAnswering` as in `ticks`.
        mutating func refusals(_ count: Int, from node: String, hearing peer: String, masterAnswering: Bool = true) {
            for _ in 0..<count {
                now += 100
                input(.refusedBy(node: node))
                input(.heardFrom(node: peer))
                if masterAnswering { input(.groupMasterHealthy(true, answeredAt: now)) }
                input(.tick)
            }
        }
    }

    static func settledMaster(_ placement: NodeState.Placement = .direct, proxyUp: Bool = false) -> Run {
        var run = Run(state: node(placement))
        run.input(.localRedis(.master))
        run.input(.groupMaster("10.0.0.1:6379"))
        run.input(.proxyUp(proxyUp))
        run.ticks(10, hearing: ["n2", "n3"])
        return run
    }

    @Test("the confirmed master's node in majority contact is eligible for the VIP in direct placement")
    func masterHoldsVIP() {
        let run = Self.settledMaster()
        #expect(run.state.vip == .vipEligible(priority: 150))
        #expect(run.times { if case .fence = $0 { return true } else { return false } }.isEmpty)
    }

    @Test("a master cut off from both peers fences itself within down-after/2 of the cut; the VIP stays at the base priority for the new master's node to preempt, and leaves twice down-after after the fence; the fence is renewed while the cut lasts")
    func isolatedMasterFences() throws {
        var run = Self.settledMaster()
        let cut = run.now
        run.ticks(30, hearing: [])
        let fences = run.times { if case .fence = $0 { return true } else { return false } }
        let first = try #require(fences.first)
        // The fence follows the last heartbeat by fenceAfter (400 ms): at most down-after/2 after
        // the cut, whenever in the heartbeat interval it fell, and well before the majority may
        // promote (down-after, 1000 ms, after its own last reply).
        #expect(first - cut >= 400 && first - cut <= 500, "fenced \(first - cut) ms after the cut")
        // direct: the address stays, at the base priority (the promoted replica's node bids
        // base + 50), for twice down-after after the fence; then it leaves.
        #expect(run.times { $0 == .vipEligible(priority: 100) }.filter { $0 > cut } == [first])
        #expect(run.times { $0 == .vipIneligible }.filter { $0 > cut } == [first + 2000])
        #expect(run.times(of: Self.isClose).isEmpty, "clients are reset as the address leaves, not closed at the fence")
        // Renewed every decision period (down-after / 10), long before each pause (1000 ms)
        // runs out: a CLIENT UNPAUSE from elsewhere lifts it for one period at most.
        for (a, b) in zip(fences, fences.dropFirst()) { #expect(b - a == 100) }
        #expect(fences.count >= 20 && run.state.isFenced && run.state.fenceReason == .isolated)
    }

    @Test("a fenced master whose Redis restarts (answering down, then master) is fenced again at the first answer, not at the next period")
    func fenceRenewedAfterRestart() throws {
        var run = Self.settledMaster()
        run.ticks(10, hearing: [])
        #expect(run.state.isFenced)
        run.now += 30
        run.input(.localRedis(.down))
        run.now += 20
        let before = run.actions.count
        run.input(.localRedis(.master))
        #expect(run.actions[before...].contains { if case .fence = $0.action { return true } else { return false } },
                "the restarted server has no pause: fenced again on its first answer")
        // Answering master again and again is no restart: renewals keep their period.
        let after = run.actions.count
        run.now += 10
        run.input(.localRedis(.master))
        #expect(!run.actions[after...].contains { if case .fence = $0.action { return true } else { return false } })
    }

    /// The claim gate VRRP asks before its timers make this node the VIP's holder: a node cut
    /// off from both peers fails it before VRRPv3's Master_Down_Interval at 100 ms adverts could
    /// end (at least 200 ms + skew after the cut: the last advert came up to 100 ms before it),
    /// wherever in the heartbeat period the cut falls; one peer heard is still a majority.
    @Test("VRRP may claim only with a majority heard within 150 ms: a node cut off fails that before VRRP's timers run out; in direct placement never while fenced")
    func claimGate() {
        let settings = NodeState.Settings(myName: "n1", myRedis: "10.0.0.1:6379", members: ["n1", "n2", "n3"],
                                          placement: .proxy, downAfter: 1000)
        #expect(settings.peerProbeInterval == 100)
        for lastHeartbeat in stride(from: Int64(0), through: 100, by: 10) {
            let cut = lastHeartbeat  // the cut right after a heartbeat, or up to a period later
            let heard = ["n2": lastHeartbeat, "n3": lastHeartbeat]
            #expect(NodeState.mayClaim(settings: settings, lastHeard: heard, now: lastHeartbeat + 100))
            let earliestVRRPClaim = cut + 200 + 1
            #expect(!NodeState.mayClaim(settings: settings, lastHeard: heard, now: earliestVRRPClaim), "cut at \(cut)")
        }
        #expect(NodeState.mayClaim(settings: settings, lastHeard: ["n2": 1000], now: 1140))
        #expect(!NodeState.mayClaim(settings: settings, lastHeard: [:], now: 1000))
        // A slower group: heartbeats still every 100 ms, so the same gate holds.
        let slow = NodeState.Settings(myName: "n1", myRedis: "10.0.0.1:6379", members: ["n1", "n2", "n3"],
                                      placement: .proxy, downAfter: 30_000)
        #expect(slow.peerProbeInterval == 100)
        #expect(!NodeState.mayClaim(settings: slow, lastHeard: ["n2": 0, "n3": 0], now: 201))
        // direct: a fenced node never claims (one preempted while holding the address for its
        // handover stays in the election at the base priority); proxy placement is not gated so.
        let direct = NodeState.Settings(myName: "n1", myRedis: "10.0.0.1:6379", members: ["n1", "n2", "n3"],
                                        placement: .direct, downAfter: 1000)
        #expect(NodeState.mayClaim(settings: direct, lastHeard: ["n2": 1000, "n3": 1000], now: 1050))
        #expect(!NodeState.mayClaim(settings: direct, lastHeard: ["n2": 1000, "n3": 1000], now: 1050, fenced: true))
        #expect(NodeState.mayClaim(settings: settings, lastHeard: ["n2": 1000, "n3": 1000], now: 1050, fenced: true))
    }

    /// The node whose replica the group promotes while its own monitor leads the failover: that
    /// monitor names the old master in the failover's epoch until the replicas are reconfigured
    /// (Sentinel sets the config epoch at the promotion, the address at the end: 1.1 s in the
    /// benchmark), while the other monitors already name the promoted one in that epoch.
    @Test("direct: the promoted replica's node claims the VIP on the peers' view of the failover's epoch, not after its own monitor's failover ends")
    func promotedWhileLeading() {
        var run = Run(state: Self.node(.direct))
        run.input(.localRedis(.replica))
        run.input(.groupMaster("10.0.0.2:6379", epoch: 0))
        run.ticks(10, hearing: ["n2", "n3"])
        #expect(run.state.vip == .vipIneligible)
        // Promoted by its own monitor, which still names the old master in epoch 1.
        run.input(.localRedis(.master))
        run.input(.groupMaster("10.0.0.2:6379", epoch: 1, inFailover: true))
        run.ticks(1, hearing: ["n2", "n3"])
        #expect(run.state.vip == .vipIneligible)
        // A peer has the outcome: the same epoch, not in failover.
        run.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 1))
        run.ticks(1, hearing: ["n2", "n3"])
        #expect(run.state.groupMaster == "10.0.0.1:6379")
        #expect(run.state.vip == .vipEligible(priority: 150))
        // Ties otherwise stay with the local view: a peer's different view in the same epoch,
        // neither in failover, moves nothing.
        var other = Run(state: Self.node(.direct))
        other.input(.localRedis(.master))
        other.input(.groupMaster("10.0.0.1:6379", epoch: 2))
        other.input(.peerView(node: "n2", master: "10.0.0.2:6379", epoch: 2))
        other.ticks(2, hearing: ["n2", "n3"])
        #expect(other.state.groupMaster == "10.0.0.1:6379")
        // And a peer in failover never wins a tie over a settled local view.
        #expect(!NodeState.View(master: "a", epoch: 3, inFailover: true).isNewer(than: NodeState.View(master: "b", epoch: 3)))
        #expect(NodeState.View(master: "a", epoch: 3).isNewer(than: NodeState.View(master: "b", epoch: 3, inFailover: true)))
        #expect(!NodeState.View(master: "a", epoch: 3).isNewer(than: NodeState.View(master: "a", epoch: 3, inFailover: true)))
        #expect(NodeState.View(master: "a", epoch: 4, inFailover: true).isNewer(than: NodeState.View(master: "b", epoch: 3)))
    }

    @Test("a heartbeat counts from when it was heard, not when the shell passed it on")
    func heardAt() {
        var run = Self.settledMaster()
        let cut = run.now
        // Nothing heard after the cut except one stale heartbeat delivered late: it does not postpone the fence.
        run.ticks(2, hearing: [])
        run.input(.heardFrom(node: "n2", at: cut - 50))
        run.ticks(3, hearing: [])
        #expect(run.state.isFenced)
        let first = run.times { if case .fence = $0 { return true } else { return false } }.first
        #expect(first == cut + 400)
        // A time in the future is taken as now.
        run.input(.heardFrom(node: "n2", at: run.now + 10_000))
        #expect(run.state.lastHeard["n2"] == run.now)
    }

    @Test("one peer lost is still a majority: no fence, the VIP stays")
    func onePeerLost() {
        var run = Self.settledMaster()
        run.ticks(50, hearing: ["n2"])
        #expect(!run.state.isFenced && run.state.vip == .vipEligible(priority: 150))
    }

    /// Redis keeps one CLIENT PAUSE: the fence's CLIENT UNPAUSE would also lift a coordinated
    /// switchover's pause on this master (the simulator's seeds 438 and 654).
    @Test("back in contact while a failover is under way, a fenced master keeps its fence (renewed) until it ends, at most switchoverPauseHold")
    func fenceKeptDuringFailover() {
        var run = Self.settledMaster()
        run.ticks(20, hearing: [])
        #expect(run.state.isFenced)
        // The local monitor leads a switchover of this master when contact comes back.
        run.input(.groupMaster("10.0.0.1:6379", epoch: 0, inFailover: true))
        run.ticks(1, hearing: ["n2", "n3"])
        run.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        run.ticks(10, hearing: ["n2", "n3"])
        #expect(run.state.isFenced && !run.actions.contains { $0.action == .unfence })
        let renewed = run.times { if case .fence = $0 { return true } else { return false } }
        #expect(renewed.contains { $0 > run.now - 1_000 }, "the fence is renewed while kept")
        // The failover ends: unfenced.
        let before = run.actions.count
        run.input(.groupMaster("10.0.0.1:6379", epoch: 0))
        #expect(run.actions[before...].contains { $0.action == .unfence })
        // A failover that never ends (a monitor stuck in TILT) holds the fence no longer than switchoverPauseHold.
        var stuck = Self.settledMaster()
        stuck.ticks(20, hearing: [])
        stuck.input(.groupMaster("10.0.0.1:6379", epoch: 0, inFailover: true))
        stuck.ticks(1, hearing: ["n2", "n3"])
        stuck.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        let back = stuck.now
        stuck.ticks(70, hearing: ["n2", "n3"])
        let unfenced = stuck.times { $0 == .unfence }
        #expect(unfenced.count == 1 && unfenced[0] - back >= 5_900 && unfenced[0] - back <= 6_100, "unfenced at \(unfenced.map { $0 - back })")
    }

    @Test("a vote for another's failover of this master with its leader out of reach fences the master in the majority until the outcome is known; a leader in contact failing over does not")
    func fencedWhileVotedFailoverUnknown() {
        // Write simulator seeds 4711/4990: the switchover's leader (n3) and its chosen replica are
        // cut off right after the election; n1's monitor voted in epoch 1 and knows no more.
        var run = Self.settledMaster(.proxy, proxyUp: true)
        run.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        run.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0, inFailover: true))
        run.input(.groupMaster("10.0.0.1:6379", epoch: 0, votedEpoch: 1))
        run.ticks(2, hearing: ["n2", "n3"])
        // The leader in contact runs the failover (its switchover pauses the master): no fence.
        #expect(!run.state.isFenced)
        let cut = run.now
        run.ticks(5, hearing: ["n2"])
        // n3 silent for the fence delay (400 ms): fenced though n1 keeps a majority with n2.
        let fences = run.times { if case .fence = $0 { return true } else { return false } }
        #expect(fences.first.map { $0 - cut >= 400 && $0 - cut <= 500 } == true, "fenced at \(fences.map { $0 - cut })")
        #expect(run.state.isFenced && run.state.vip == .vipIneligible && run.state.fenceReason == .votedFailoverUnknown)
        run.ticks(20, hearing: ["n2"])
        #expect(run.state.isFenced && !run.actions.contains { $0.action == .unfence })
        // After down-after of this the majority moves the master to its own replica, in a newer
        // epoch than the unseen leader's: asked once (per failover-timeout).
        let asked = run.times { $0 == .requestFailover(why: .votedFailoverUnknown) }
        #expect(asked.count == 1 && fences.first.map { asked[0] - $0 == 1_000 } == true, "asked at \(asked.map { $0 - cut })")
        // A leader in contact failing over never has it asked.
        var inContact = Self.settledMaster()
        inContact.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        inContact.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0, inFailover: true))
        inContact.input(.groupMaster("10.0.0.1:6379", epoch: 0, votedEpoch: 1))
        inContact.ticks(30, hearing: ["n2", "n3"])
        #expect(!inContact.state.isFenced && inContact.times { $0 == .requestFailover(why: .votedFailoverUnknown) }.isEmpty)
        // A peer's vote counts as the local monitor's: n1's own monitor never voted.
        var peerVoted = Self.settledMaster()
        peerVoted.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0, votedEpoch: 1))
        peerVoted.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0))
        peerVoted.ticks(5, hearing: ["n2"])
        #expect(peerVoted.state.isFenced)

        // The leader is heard again, its failover over and no newer configuration: it aborted.
        var aborted = run
        aborted.ticks(1, hearing: ["n2", "n3"])
        aborted.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0))
        aborted.ticks(1, hearing: ["n2", "n3"])
        #expect(!aborted.state.isFenced && aborted.actions.last { $0.action == .unfence } != nil && aborted.state.fenceReason == nil)
        // failover-timeout passed: the monitor no longer reports the vote; unfenced while n3 is still cut off.
        var expired = run
        expired.input(.groupMaster("10.0.0.1:6379", epoch: 0))
        expired.ticks(1, hearing: ["n2"])
        #expect(!expired.state.isFenced)
        // The leader's new configuration arrives with it (the promoted replica at epoch 1): the
        // old master replicates it, then is unfenced.
        var promoted = run
        promoted.ticks(1, hearing: ["n2", "n3"])
        promoted.input(.peerView(node: "n3", master: "10.0.0.3:6379", epoch: 1))
        promoted.input(.groupMaster("10.0.0.3:6379", epoch: 1))
        promoted.ticks(1, hearing: ["n2", "n3"])
        let tail = promoted.actions.suffix(4).map(\.action)
        #expect(tail.contains(.replicate(to: "10.0.0.3:6379")) && tail.contains(.unfence))
        // Everyone in contact when the vote is seen: no fence (the leader's view saying it is
        // failing over comes after the vote), nor for a peer silent for a contact window only
        // (a heartbeat late under load). A leader out of reach when it is seen: fenced, and
        // a view heard within a contact window of it may predate the failover: it keeps the
        // fence; a later one lifts it.
        var switchover = Self.settledMaster()
        switchover.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        switchover.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0))
        switchover.input(.groupMaster("10.0.0.1:6379", epoch: 0, votedEpoch: 1))
        switchover.ticks(1, hearing: ["n2", "n3"])
        #expect(!switchover.state.isFenced)
        switchover.ticks(3, hearing: ["n2"])
        #expect(!switchover.state.isFenced)
        var late = Self.settledMaster()
        late.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        late.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0))
        late.ticks(4, hearing: ["n2"])
        #expect(!late.state.isFenced)
        late.input(.groupMaster("10.0.0.1:6379", epoch: 0, votedEpoch: 1))
        #expect(late.state.isFenced)
        late.ticks(1, hearing: ["n2", "n3"])
        late.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0))
        late.ticks(1, hearing: ["n2", "n3"])
        #expect(late.state.isFenced, "a view heard 200 ms after the vote may predate the failover")
        late.ticks(1, hearing: ["n2", "n3"])
        #expect(!late.state.isFenced)

        // A vote that named another master (stale) fences nothing.
        var other = Self.settledMaster()
        other.input(.groupMaster("10.0.0.2:6379", epoch: 0, votedEpoch: 1))
        other.input(.peerView(node: "n2", master: "10.0.0.2:6379", epoch: 0, votedEpoch: 1))
        other.ticks(5, hearing: ["n2"])
        #expect(!other.actions.contains { if case .fence = $0.action { return true } else { return false } })
    }

    @Test("after the heal a fenced old master whose group moved on becomes a replica of the new master, then is unfenced; it never claims the VIP")
    func healAfterPromotion() {
        var run = Self.settledMaster()
        run.ticks(20, hearing: [])
        #expect(run.state.isFenced)
        run.input(.groupMaster("10.0.0.3:6379"))
        // Contact back, but no peer has said yet what the group's master is: still fenced.
        run.ticks(1, hearing: ["n2", "n3"])
        #expect(run.state.isFenced)
        run.input(.peerView(node: "n2", master: "10.0.0.3:6379", epoch: 1))
        // One peer has answered; the other, in contact too, not yet: its monitor may be the one
        // failing this master over (seed 3313), so the fence waits for its view.
        #expect(run.state.isFenced)
        run.input(.peerView(node: "n3", master: "10.0.0.3:6379", epoch: 1))
        // (It held the address for its handover since the fence; it leaves it now.)
        let last = run.actions.suffix(3).map(\.action)
        #expect(last == [.replicate(to: "10.0.0.3:6379"), .unfence, .vipIneligible])
        // A fenced node is out of the election at once: no handover stay.
        #expect(run.state.vip == .vipIneligible)
        run.input(.localRedis(.replica))
        run.ticks(5, hearing: ["n2", "n3"])
        #expect(run.state.vip == .vipIneligible && !run.state.isFenced)
    }

    @Test("back from a cut, the majority's newer view beats the local monitor's stale one: the old master replicates, never reclaims the VIP")
    func staleLocalViewAfterHeal() {
        var run = Self.settledMaster()
        run.ticks(20, hearing: [])
        #expect(run.state.isFenced)
        // The heal: the peers answer with the group's new master in a later epoch, while this
        // node's own monitor still names this node (it has not heard the peers' hellos yet).
        run.ticks(1, hearing: ["n2", "n3"])
        run.input(.peerView(node: "n2", master: "10.0.0.3:6379", epoch: 1))
        run.input(.peerView(node: "n3", master: "10.0.0.3:6379", epoch: 1))
        #expect(run.actions.suffix(3).map(\.action) == [.replicate(to: "10.0.0.3:6379"), .unfence, .vipIneligible])
        #expect(run.state.groupMaster == "10.0.0.3:6379")
        run.ticks(10, hearing: ["n2", "n3"])
        #expect(run.state.vip == .vipIneligible)
        // (At the fence it stayed at the base priority for the handover, and left after it.)
        #expect(!run.actions.contains { if case .vipEligible = $0.action { $0.at > 3000 } else { false } })
    }

    @Test("a peer's view from before a cut is not trusted after it: the fence holds until the peer says anew what the master is")
    func viewFromBeforeTheCut() {
        var run = Self.settledMaster()
        run.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        run.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0))
        run.ticks(20, hearing: [])
        #expect(run.state.isFenced)
        // The heal: heartbeats answered, but the new views not yet read. Unfencing on the old
        // views would make this node the master again (and let it claim the VIP).
        run.ticks(2, hearing: ["n2", "n3"])
        // (Still holding the address for its handover at the base priority, not bidding for it.)
        #expect(run.state.isFenced && run.state.vip == .vipEligible(priority: 100))
        run.input(.peerView(node: "n2", master: "10.0.0.3:6379", epoch: 1))
        run.input(.peerView(node: "n3", master: "10.0.0.3:6379", epoch: 1))
        #expect(run.actions.suffix(3).map(\.action) == [.replicate(to: "10.0.0.3:6379"), .unfence, .vipIneligible])
        #expect(run.state.vip == .vipIneligible)
    }

    /// Write simulator seeds 11072, 15308, 15800, 23903, 24578: the isolation ended, the unfence
    /// waited for the peers' views, and nothing renewed the pause meanwhile: it ran out 800 ms
    /// after the last renewal and the master took writes its agent counted as fenced.
    @Test("a fence whose reason has gone is held, renewed every period, until it is lifted: its pause never runs out while the peers' views are awaited")
    func fenceHeldUntilLifted() {
        var run = Self.settledMaster()
        run.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        run.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0))
        run.ticks(20, hearing: [])
        #expect(run.state.isFenced)
        // Contact is back, but the peers' views from after the cut do not come for 2 s.
        run.ticks(1, hearing: ["n2", "n3"])
        let back = run.now
        run.ticks(20, hearing: ["n2", "n3"])
        #expect(run.state.isFenced)
        #expect(!run.actions.contains { $0.action == .unfence })
        let renewals = run.times { if case .fence = $0 { true } else { false } }.filter { $0 > back }
        #expect(renewals.count >= 19, "renewed at \(renewals.map { $0 - back }) after contact came back")
        #expect(zip(renewals, renewals.dropFirst()).allSatisfy { $1 - $0 <= 100 }, "a gap in the renewals: \(renewals)")
        run.input(.peerView(node: "n2", master: "10.0.0.3:6379", epoch: 1))
        run.input(.peerView(node: "n3", master: "10.0.0.3:6379", epoch: 1))
        #expect(run.actions.suffix(2).map(\.action) == [.replicate(to: "10.0.0.3:6379"), .unfence])
    }

    /// Write simulator seed 41094: back from a cut, the agent asked for the move of its fenced
    /// master and in the same instant heard the old vote's leader had aborted; it unfenced, and
    /// the move's leader (to whom the fenced master looked down) promoted without a pause: the
    /// master took a write before its demotion.
    @Test("a fence is held for a move of its master the agent just asked for: through the failover once a monitor reports it, else for the contact window")
    func fenceHeldForRequestedMove() throws {
        var run = Self.settledMaster(.proxy, proxyUp: true)
        run.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        run.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0, inFailover: true))
        run.input(.groupMaster("10.0.0.1:6379", epoch: 0, votedEpoch: 1))
        run.ticks(2, hearing: ["n2", "n3"])
        var steps = 0
        while run.times(of: { $0 == .requestFailover(why: .votedFailoverUnknown) }).isEmpty {
            run.ticks(1, hearing: ["n2"])
            steps += 1
            try #require(steps < 100, "the move was never asked for")
        }
        let requested = run.now
        // At once the old leader is heard, its failover over and no newer configuration.
        var race = run
        race.ticks(1, hearing: ["n2", "n3"])
        race.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0))
        race.ticks(1, hearing: ["n2", "n3"])
        #expect(race.state.isFenced && !race.actions.contains { $0.action == .unfence && $0.at > requested })
        // The local monitor reports the move under way: held through it.
        var underWay = race
        underWay.input(.groupMaster("10.0.0.1:6379", epoch: 2, inFailover: true))
        underWay.ticks(10, hearing: ["n2", "n3"])
        #expect(underWay.state.isFenced)
        // Nobody reports it (the move refused): lifted once the contact window (250 ms) has passed.
        var refused = race
        refused.ticks(3, hearing: ["n2", "n3"])
        let unfenced = refused.times { $0 == .unfence }.filter { $0 > requested }
        #expect(!refused.state.isFenced && unfenced.count == 1 && unfenced[0] - requested >= 250 && unfenced[0] - requested <= 400,
                "unfenced at \(unfenced.map { $0 - requested })")
    }

    @Test("back from a cut, the fence waits for every peer in contact to say what the master is; one whose monitor does not answer holds it only for the contact window")
    func unfenceWaitsForEveryPeer() {
        var run = Self.settledMaster()
        run.ticks(20, hearing: [])
        #expect(run.state.isFenced)
        // n2 answers first and still names this node's Redis; n3, whose monitor leads the
        // failover of it, answers a moment later: the fence is kept for the failover.
        run.ticks(1, hearing: ["n2", "n3"])
        run.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        #expect(run.state.isFenced)
        run.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0, inFailover: true))
        run.ticks(3, hearing: ["n2", "n3"])
        #expect(run.state.isFenced)
        #expect(!run.actions.contains { $0.action == .unfence })

        // Without the failover: n3 heard (its agent answers) but its monitor gives no view; the
        // fence goes once the contact window (250 ms) has passed since contact came back.
        var quiet = Self.settledMaster()
        quiet.ticks(20, hearing: [])
        quiet.ticks(1, hearing: ["n2", "n3"])
        let back = quiet.now
        quiet.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        #expect(quiet.state.isFenced)
        quiet.ticks(4, hearing: ["n2", "n3"])
        let unfenced = quiet.times { $0 == .unfence }
        #expect(unfenced.count == 1 && unfenced[0] - back >= 250 && unfenced[0] - back <= 300, "unfenced at \(unfenced.map { $0 - back })")
    }

    @Test("a master that did not answer while a monitor in contact failed it over is fenced when it answers again, until the failover ends; then it replicates the new master")
    func wokenMasterDuringFailover() {
        var run = Self.settledMaster(.proxy, proxyUp: true)
        // SIGSTOP: the local Redis stops answering; n3's monitor elects itself and fails it over.
        run.input(.localRedis(.down))
        run.ticks(10, hearing: ["n2", "n3"])
        run.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 1, inFailover: true))
        run.ticks(5, hearing: ["n2", "n3"])
        #expect(!run.state.isFenced)
        // It wakes as master while the promotion is not yet confirmed: fenced at once.
        run.input(.localRedis(.master))
        #expect(run.state.isFenced)
        #expect(run.actions.last?.action == .fence(milliseconds: 800))
        // proxy placement: the VIP stays (the proxy's clients wait, then go on with the new master).
        #expect(run.state.vip == .vipEligible(priority: 150))
        run.ticks(10, hearing: ["n2", "n3"])
        #expect(run.state.isFenced)
        // The failover ends with the replica promoted: replicate, then writes allowed.
        let before = run.actions.count
        run.input(.peerView(node: "n3", master: "10.0.0.2:6379", epoch: 1))
        let ended = run.actions[before...].map(\.action).filter { $0 == .replicate(to: "10.0.0.2:6379") || $0 == .unfence }
        #expect(ended == [.replicate(to: "10.0.0.2:6379"), .unfence])
        #expect(!run.state.isFenced)

        // direct placement: the woken master's clients at the VIP are closed and the VIP leaves.
        var direct = Self.settledMaster()
        direct.input(.localRedis(.down))
        direct.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 1, inFailover: true))
        direct.ticks(3, hearing: ["n2", "n3"])
        direct.input(.localRedis(.master))
        #expect(direct.state.isFenced && direct.state.vip == .vipIneligible)
        #expect(direct.actions.contains { $0.action == .closeClients })

        // A master that answered throughout (a planned switchover, which pauses writes itself)
        // is not fenced by the failover.
        var planned = Self.settledMaster(.proxy, proxyUp: true)
        planned.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 1, inFailover: true))
        planned.ticks(10, hearing: ["n2", "n3"])
        #expect(!planned.state.isFenced)
        #expect(!planned.actions.contains { if case .fence = $0.action { true } else { false } })

        // Down shortly before the failover was seen (a crash of under a second; the monitors
        // elected a leader after it answered again, as in the simulator's seed 8386): fenced too.
        var crashed = Self.settledMaster(.proxy, proxyUp: true)
        crashed.input(.localRedis(.down))
        crashed.ticks(8, hearing: ["n2", "n3"])
        crashed.input(.localRedis(.master))
        crashed.ticks(5, hearing: ["n2", "n3"])
        #expect(!crashed.state.isFenced)
        crashed.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 1, inFailover: true))
        #expect(crashed.state.isFenced && crashed.state.fenceReason == .wokenDuringFailover)
        // Down longer ago than down-after (1000 ms): a planned switchover, not fenced.
        var earlier = Self.settledMaster(.proxy, proxyUp: true)
        earlier.input(.localRedis(.down))
        earlier.ticks(2, hearing: ["n2", "n3"])
        earlier.input(.localRedis(.master))
        earlier.ticks(11, hearing: ["n2", "n3"])
        earlier.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 1, inFailover: true))
        earlier.ticks(5, hearing: ["n2", "n3"])
        #expect(!earlier.state.isFenced)
    }

    @Test("a promotion: the new master's monitor's newer view wins over peers still naming the old master, so its node claims at once")
    func newerLocalViewWins() {
        var run = Run(state: Self.node())
        run.input(.localRedis(.replica))
        run.input(.groupMaster("10.0.0.2:6379", epoch: 3))
        run.ticks(5, hearing: ["n2", "n3"])
        run.input(.peerView(node: "n2", master: "10.0.0.2:6379", epoch: 3))
        #expect(run.state.vip == .vipIneligible)
        run.input(.localRedis(.master))
        run.input(.groupMaster("10.0.0.1:6379", epoch: 4))
        #expect(run.state.vip == .vipEligible(priority: 150))
        // A stale peer view never wins, whatever it names; a newer one from a peer out of contact neither.
        run.input(.peerView(node: "n3", master: "10.0.0.3:6379", epoch: 2))
        #expect(run.state.groupMaster == "10.0.0.1:6379")
    }

    @Test("a short blip (under the fence delay) fences nothing")
    func blip() {
        var run = Self.settledMaster()
        run.ticks(3, hearing: [])
        run.ticks(10, hearing: ["n2", "n3"])
        #expect(run.times { if case .fence = $0 { return true } else { return false } }.isEmpty)
        // The VIP was never given up.
        #expect(run.times { $0 == .vipIneligible }.filter { $0 > 0 }.isEmpty && run.state.vip == .vipEligible(priority: 150))
    }

    @Test("a node that starts cut off as a master fences after down-after/2 from its start")
    func startsIsolated() {
        var run = Run(state: Self.node())
        run.input(.localRedis(.master))
        run.ticks(10, hearing: [])
        #expect(run.state.isFenced)
        #expect(run.state.vip == .vipIneligible)
    }

    @Test("direct placement: the holder keeps the VIP while its crashed Redis is still the group's master, and leaves once a replica is promoted")
    func crashedMasterKeepsUntilPromotion() {
        var run = Self.settledMaster()
        run.input(.localRedis(.down))
        run.ticks(5, hearing: ["n2", "n3"])
        #expect(run.state.vip == .vipEligible(priority: 150))
        run.input(.groupMaster("10.0.0.3:6379"))
        // Handing over: in the election at the base priority, for n3's node (150) to preempt it,
        // then out after handoverHold (down-after, 1000 ms).
        #expect(run.state.vip == .vipEligible(priority: 100))
        run.ticks(9, hearing: ["n2", "n3"])
        #expect(run.state.vip == .vipEligible(priority: 100))
        run.ticks(1, hearing: ["n2", "n3"])
        #expect(run.state.vip == .vipIneligible)
        // Its Redis back (as a replica or even as a master): the group names another, so no claim.
        run.input(.localRedis(.master))
        run.ticks(5, hearing: ["n2", "n3"])
        #expect(run.state.vip == .vipIneligible)
    }

    @Test("direct placement: a master's node agent silent for down-after while its Redis is healthy: the first node by name in contact asks for a switchover, once per failover-timeout")
    func silentMasterAgent() {
        func replica(_ name: String) -> Run {
            var settings = NodeState.Settings(myName: name, myRedis: "10.0.0.\(name.dropFirst()):6379", members: ["n1", "n2", "n3"],
                                              placement: .direct, downAfter: 1000)
            settings.redisOfNode = ["n1": "10.0.0.1:6379", "n2": "10.0.0.2:6379", "n3": "10.0.0.3:6379"]
            settings.failoverRetry = 10_000
            var run = Run(state: NodeState(settings: settings))
            run.input(.localRedis(.replica))
            run.input(.groupMaster("10.0.0.1:6379"))
            run.ticks(10, hearing: ["n1", "n2", "n3"].filter { $0 != name })
            return run
        }
        var n2 = replica("n2"), n3 = replica("n3")
        let death = n2.now
        n2.ticks(60, hearing: ["n3"], masterAnswering: true)
        n3.ticks(60, hearing: ["n2"], masterAnswering: true)
        let asked = n2.times { $0 == .requestFailover(why: .masterAgentSilent) }
        #expect(asked.first.map { $0 - death } == 1000, "\(asked)")
        // Once per failover-timeout (10 s here): 6 s of silence asked once.
        #expect(asked.count == 1)
        #expect(n3.times { $0 == .requestFailover(why: .masterAgentSilent) }.isEmpty, "n3 leaves it to n2")
        // n2 silent too: n3 is the first in contact (with itself) — but alone it has no majority: it asks nothing.
        n3.ticks(40, hearing: [], masterAnswering: true)
        #expect(n3.times { $0 == .requestFailover(why: .masterAgentSilent) }.isEmpty)

        // A cut of the master's node: its agent and its Redis fall silent together, and the
        // monitor flags the master down only after down-after. Healthy until then, but not
        // answering: no switchover (it could not pause a master it cannot reach; Sentinel's own
        // failover is for this).
        var cutOff = replica("n2")
        cutOff.input(.groupMasterHealthy(true, answeredAt: cutOff.now))
        cutOff.ticks(15, hearing: ["n3"])
        #expect(cutOff.times { $0 == .requestFailover(why: .masterAgentSilent) }.isEmpty)
        // It answered until 0.3 s into the agent's silence and no more (the cut came a little
        // later to the Redis): never in the latter half of the silence.
        var flaky = replica("n2")
        flaky.ticks(3, hearing: ["n3"], masterAnswering: true)
        flaky.ticks(30, hearing: ["n3"])
        #expect(flaky.times { $0 == .requestFailover(why: .masterAgentSilent) }.isEmpty)
        // Not known at all (a monitor that does not say): no switchover either.
        var unknown = replica("n2")
        unknown.ticks(40, hearing: ["n3"])
        #expect(unknown.times { $0 == .requestFailover(why: .masterAgentSilent) }.isEmpty)

        // The master's Redis unhealthy (the monitors see it down, e.g. a partition): Sentinel's own
        // failover runs; no request.
        var cut = replica("n2")
        cut.input(.groupMasterHealthy(false))
        cut.ticks(60, hearing: ["n3"])
        #expect(cut.times { $0 == .requestFailover(why: .masterAgentSilent) }.isEmpty)
        // proxy placement: the proxies reach the healthy master; nothing to move.
        var proxySettings = NodeState.Settings(myName: "n2", myRedis: "10.0.0.2:6379", members: ["n1", "n2", "n3"],
                                               placement: .proxy, downAfter: 1000)
        proxySettings.redisOfNode = ["n1": "10.0.0.1:6379", "n2": "10.0.0.2:6379", "n3": "10.0.0.3:6379"]
        var proxy = Run(state: NodeState(settings: proxySettings))
        proxy.input(.groupMaster("10.0.0.1:6379"))
        proxy.ticks(60, hearing: ["n3"])
        #expect(proxy.times { $0 == .requestFailover(why: .masterAgentSilent) }.isEmpty)
    }

    @Test("direct placement: a master's node whose host refuses the heartbeat (its agent killed, the host up) has the master moved after two refused heartbeats, not down-after; not an agent never heard, not without the master answering, not a refusal followed by a heartbeat or by silence")
    func refusedMasterAgent() {
        func replica(_ name: String = "n2") -> Run {
            var settings = NodeState.Settings(myName: name, myRedis: "10.0.0.\(name.dropFirst()):6379", members: ["n1", "n2", "n3"],
                                              placement: .direct, downAfter: 1000)
            settings.redisOfNode = ["n1": "10.0.0.1:6379", "n2": "10.0.0.2:6379", "n3": "10.0.0.3:6379"]
            settings.failoverRetry = 10_000
            var run = Run(state: NodeState(settings: settings))
            run.input(.localRedis(.replica))
            run.input(.groupMaster("10.0.0.1:6379"))
            run.ticks(10, hearing: ["n1", "n2", "n3"].filter { $0 != name }, masterAnswering: true)
            return run
        }
        let asks = { (run: Run) in run.times { $0 == .requestFailover(why: .masterAgentSilent) } }
        // Killed: every heartbeat from then on refused.
        var killed = replica()
        let kill = killed.now
        killed.refusals(20, from: "n1", hearing: "n3")
        #expect(asks(killed).first.map { $0 - kill } == 300, "the first refusal at +100 ms, confirmed 200 ms later: \(asks(killed))")
        #expect(asks(killed).count == 1)
        // The same node as n3: it leaves the request to n2 (the first by name in contact).
        var other = replica("n3")
        other.refusals(20, from: "n1", hearing: "n2")
        #expect(asks(other).isEmpty)
        // The master's Redis no longer answers the monitor (the whole host going down): no
        // switchover (it could not pause it; Sentinel's failover is for that).
        var silentRedis = replica()
        silentRedis.refusals(8, from: "n1", hearing: "n3", masterAnswering: false)
        #expect(asks(silentRedis).isEmpty, "\(silentRedis.actions)")
        // A refusal then a heartbeat (the agent restarted at once): nothing.
        var restarted = replica()
        restarted.now += 100
        restarted.input(.refusedBy(node: "n1"))
        restarted.ticks(1, hearing: ["n3"], masterAnswering: true)
        restarted.ticks(8, hearing: ["n1", "n3"], masterAnswering: true)
        #expect(asks(restarted).isEmpty)
        #expect(restarted.state.refusedSince["n1"] == nil)
        // One refusal, then silence (the host going down after its agent): not gone — the
        // silence rule's down-after applies.
        var thenSilent = replica()
        thenSilent.now += 100
        thenSilent.input(.refusedBy(node: "n1"))
        thenSilent.ticks(6, hearing: ["n3"], masterAnswering: true)
        #expect(asks(thenSilent).isEmpty, "\(thenSilent.actions)")
        // An agent not heard since this one started (still starting, staggered): not gone.
        var settings = NodeState.Settings(myName: "n2", myRedis: "10.0.0.2:6379", members: ["n1", "n2", "n3"],
                                          placement: .direct, downAfter: 1000)
        settings.redisOfNode = ["n1": "10.0.0.1:6379", "n2": "10.0.0.2:6379", "n3": "10.0.0.3:6379"]
        var starting = Run(state: NodeState(settings: settings))
        starting.input(.localRedis(.replica))
        starting.input(.groupMaster("10.0.0.1:6379"))
        starting.refusals(8, from: "n1", hearing: "n3")
        #expect(asks(starting).isEmpty)
    }

    @Test("direct placement: a node back from a cut counts the new master's agent silent only from when it regained majority contact (the fault lab's one-way partition: the healed old master asked a needless switchover of the new one at once)")
    func silenceCountedInContactOnly() {
        var settings = NodeState.Settings(myName: "n1", myRedis: "10.0.0.1:6379", members: ["n1", "n2", "n3"],
                                          placement: .direct, downAfter: 1000)
        settings.redisOfNode = ["n1": "10.0.0.1:6379", "n2": "10.0.0.2:6379", "n3": "10.0.0.3:6379"]
        var run = Run(state: NodeState(settings: settings))
        run.input(.localRedis(.master))
        run.input(.groupMaster("10.0.0.1:6379"))
        run.ticks(10, hearing: ["n2", "n3"])
        // Cut off for 4 s (fenced meanwhile); the majority promotes n3's Redis.
        run.ticks(40, hearing: [])
        // The heal: n1's monitor learns the new master and n2 is heard at once; n3's agent a
        // little later (0.5 s here): no switchover of the healthy new master.
        let heal = run.now
        run.input(.groupMaster("10.0.0.3:6379", epoch: 1))
        run.ticks(5, hearing: ["n2"], masterAnswering: true)
        #expect(run.times { $0 == .requestFailover(why: .masterAgentSilent) }.isEmpty, "\(run.actions)")
        run.ticks(20, hearing: ["n2", "n3"], masterAnswering: true)
        #expect(run.times { $0 == .requestFailover(why: .masterAgentSilent) }.isEmpty)
        // n3's agent silent for real from then on: asked once it has been silent down-after (1 s)
        // while n1 was in contact (its last heartbeat was 2.5 s after the heal).
        let lastHeardN3 = run.now
        run.ticks(40, hearing: ["n2"], masterAnswering: true)
        let asked = run.times { $0 == .requestFailover(why: .masterAgentSilent) }
        #expect(asked.count == 1 && asked.first.map { $0 - lastHeardN3 } == 1000, "asked at \(asked.map { $0 - heal }) ms after the heal")
    }

    @Test("direct placement: a replica, a down Redis, or a master the group does not confirm never gets the VIP")
    func directPlacementRules() {
        for (role, master) in [(NodeState.RedisRole.replica, "10.0.0.2:6379"), (.down, "10.0.0.2:6379"), (.master, "10.0.0.2:6379"), (.master, nil)] as [(NodeState.RedisRole, String?)] {
            var run = Run(state: Self.node())
            run.input(.localRedis(role))
            run.input(.groupMaster(master))
            run.ticks(5, hearing: ["n2", "n3"])
            #expect(run.state.vip == .vipIneligible, "\(role) with group master \(master ?? "none")")
        }
    }

    @Test("proxy placement: any node whose proxy is up may hold the VIP, the master's node preferred; a fenced node or a stopped proxy may not")
    func proxyPlacement() {
        var master = Self.settledMaster(.proxy, proxyUp: true)
        #expect(master.state.vip == .vipEligible(priority: 150))
        var replica = Run(state: Self.node(.proxy))
        replica.input(.localRedis(.replica))
        replica.input(.groupMaster("10.0.0.2:6379"))
        replica.input(.proxyUp(true))
        replica.ticks(3, hearing: ["n2", "n3"])
        #expect(replica.state.vip == .vipEligible(priority: 100))
        replica.input(.proxyUp(false))
        #expect(replica.state.vip == .vipIneligible)
        master.ticks(10, hearing: [])
        #expect(master.state.isFenced && master.state.vip == .vipIneligible)
    }

    static func isClose(_ action: NodeState.Action) -> Bool { action == .closeClients }

    @Test("proxy: a holder that leaves the VIP closes its proxy's clients once the next holder is heard, not before")
    func proxyClientsClosedWhenNextHolderHeard() throws {
        var run = Self.settledMaster(.proxy, proxyUp: true)
        #expect(run.state.vip == .vipEligible(priority: 150))
        run.ticks(30, hearing: [])
        let left = try #require(run.times { $0 == .vipIneligible }.last)
        // Not closed while nobody is heard holding the address (a reconnecting client's SYN
        // would go into an address nobody holds), until the bound.
        #expect(run.times(of: Self.isClose).allSatisfy { $0 - left >= run.state.settings.closeClientsAfter })
        var heard = Self.settledMaster(.proxy, proxyUp: true)
        heard.ticks(5, hearing: [])
        let leftAt = try #require(heard.times { $0 == .vipIneligible }.last)
        #expect(heard.times(of: Self.isClose).isEmpty, "nothing heard yet, within the bound")
        heard.input(.vipHolderHeard())
        #expect(heard.times(of: Self.isClose) == [heard.now], "closed when the next holder is heard")
        #expect(heard.now - leftAt < heard.state.settings.closeClientsAfter)
        heard.input(.vipHolderHeard())
        heard.ticks(10, hearing: [])
        #expect(heard.times(of: Self.isClose).count == 1, "once per departure")
    }

    @Test("proxy: without hearing the next holder the clients are closed after closeClientsAfter (4 adverts)")
    func proxyClientsClosedAfterBound() throws {
        var run = Self.settledMaster(.proxy, proxyUp: true)
        run.ticks(30, hearing: [])
        let left = try #require(run.times { $0 == .vipIneligible }.last)
        let closed = try #require(run.times(of: Self.isClose).first)
        #expect(run.state.settings.closeClientsAfter == 400)
        #expect(closed - left >= 400 && closed - left < 500)
    }

    @Test("proxy: an advert heard before the departure does not count; coming back eligible cancels the close")
    func proxyEarlierAdvertDoesNotCount() throws {
        var run = Self.settledMaster(.proxy, proxyUp: true)
        run.input(.vipHolderHeard())
        run.ticks(5, hearing: [])
        #expect(run.state.vip == .vipIneligible)
        #expect(run.times(of: Self.isClose).isEmpty)
        // The peers are heard again and say the group's master is still this node's Redis.
        run.ticks(1, hearing: ["n2", "n3"])
        run.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        run.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0))
        run.ticks(1, hearing: ["n2", "n3"])
        #expect(run.state.vip == .vipEligible(priority: 150))
        run.ticks(10, hearing: ["n2", "n3"])
        #expect(run.times(of: Self.isClose).isEmpty, "eligible again before the bound: nothing to close")
    }

    @Test("direct: a fenced holder's hold ends when the address's next holder is heard (an advert, or its gratuitous ARP), not one heard before the fence")
    func fencedHoldEndsOnNextHolder() throws {
        var run = Self.settledMaster(.direct)
        run.input(.vipHolderHeard())  // before the cut: does not count
        run.ticks(6, hearing: [])
        let fence = try #require(run.times { if case .fence = $0 { return true } else { return false } }.first)
        #expect(run.state.vip == .vipEligible(priority: 100))
        run.ticks(3, hearing: [])
        #expect(run.state.vip == .vipEligible(priority: 100))
        run.input(.vipHolderHeard())
        #expect(run.state.vip == .vipIneligible && run.state.isFenced)
        #expect(run.times { $0 == .vipIneligible }.filter { $0 >= fence } == [run.now])
        #expect(run.now - fence < run.state.settings.fencedHandoverHold)
    }

    @Test("direct: a fenced holder keeps its clients and the address through a cut healed within down-after; a fenced master not holding the address closes its clients at the fence, once")
    func directClientsAtFence() throws {
        var run = Self.settledMaster(.direct)
        run.ticks(6, hearing: [])
        let fence = try #require(run.times { if case .fence = $0 { return true } else { return false } }.first)
        #expect(run.state.vip == .vipEligible(priority: 100) && run.times(of: Self.isClose).isEmpty)
        // The heal, 300 ms into the hold: the peers say the master is still this node's Redis.
        run.ticks(1, hearing: ["n2", "n3"])
        run.input(.peerView(node: "n2", master: "10.0.0.1:6379", epoch: 0))
        run.input(.peerView(node: "n3", master: "10.0.0.1:6379", epoch: 0))
        run.ticks(1, hearing: ["n2", "n3"])
        #expect(!run.state.isFenced && run.state.vip == .vipEligible(priority: 150))
        run.ticks(20, hearing: ["n2", "n3"])
        #expect(run.times { $0 == .vipIneligible }.filter { $0 >= fence }.isEmpty, "the address never left")
        #expect(run.times(of: Self.isClose).isEmpty)

        // A master the group does not name holds no address: its clients are closed at the fence.
        var other = Run(state: Self.node(.direct))
        other.input(.localRedis(.master))
        other.input(.groupMaster("10.0.0.2:6379"))
        other.ticks(10, hearing: ["n2", "n3"])
        #expect(other.state.vip == .vipIneligible)
        other.ticks(40, hearing: [])
        let otherFence = try #require(other.times { if case .fence = $0 { return true } else { return false } }.first)
        #expect(other.times(of: Self.isClose) == [otherFence], "at the fence, not again at each renewal")
        other.input(.vipHolderHeard())
        #expect(other.times(of: Self.isClose).count == 1)
    }
}
