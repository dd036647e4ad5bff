import NodeCore
import Testing

/// Scenarios on a simulated clock: three nodes n1 (this one), n2, n3; down-after 1000 ms, so
/// monitors out of contact after 250 ms and a fence after 500 ms.
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

        mutating func ticks(_ count: Int, hearing peers: [String]) {
            for _ in 0..<count {
                now += 100
                for p in peers { input(.heardFrom(node: p)) }
                input(.tick)
            }
        }

        func times(of match: (NodeState.Action) -> Bool) -> [Int64] { actions.filter { match($0.action) }.map(\.at) }
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
        #expect(run.state.vip == .vipEligible(priority: 100))
        #expect(run.times { if case .fence = $0 { return true } else { return false } }.isEmpty)
    }

    @Test("a master cut off from both peers fences itself after down-after/2 and leaves the VIP at once with it; the fence is renewed while the cut lasts")
    func isolatedMasterFences() throws {
        var run = Self.settledMaster()
        let cut = run.now
        run.ticks(30, hearing: [])
        let fences = run.times { if case .fence = $0 { return true } else { return false } }
        let first = try #require(fences.first)
        // Contact is lost once the window (250 ms) passes; the fence follows fenceAfter (500 ms) later,
        // well before the majority may promote (down-after, 1000 ms, after its own last reply).
        #expect(first - cut >= 500 && first - cut < 1000, "fenced \(first - cut) ms after the cut")
        #expect(run.times { $0 == .vipIneligible }.filter { $0 > cut }.first == first)
        // Renewed before each fence runs out (1000 ms long, renewed at half).
        for (a, b) in zip(fences, fences.dropFirst()) { #expect(b - a <= 500) }
        #expect(fences.count >= 4 && run.state.isFenced)
    }

    @Test("one peer lost is still a majority: no fence, the VIP stays")
    func onePeerLost() {
        var run = Self.settledMaster()
        run.ticks(50, hearing: ["n2"])
        #expect(!run.state.isFenced && run.state.vip == .vipEligible(priority: 100))
    }

    @Test("after the heal a fenced old master whose group moved on becomes a replica of the new master, then is unfenced; it never claims the VIP")
    func healAfterPromotion() {
        var run = Self.settledMaster()
        run.ticks(20, hearing: [])
        #expect(run.state.isFenced)
        run.input(.groupMaster("10.0.0.3:6379"))
        run.ticks(1, hearing: ["n2", "n3"])
        let last = run.actions.suffix(2).map(\.action)
        #expect(last == [.replicate(to: "10.0.0.3:6379"), .unfence])
        #expect(run.state.vip == .vipIneligible)
        run.input(.localRedis(.replica))
        run.ticks(5, hearing: ["n2", "n3"])
        #expect(run.state.vip == .vipIneligible && !run.state.isFenced)
    }

    @Test("a short blip (under down-after/2) fences nothing")
    func blip() {
        var run = Self.settledMaster()
        run.ticks(6, hearing: [])
        run.ticks(10, hearing: ["n2", "n3"])
        #expect(run.times { if case .fence = $0 { return true } else { return false } }.isEmpty)
        // The VIP was never given up.
        #expect(run.times { $0 == .vipIneligible }.filter { $0 > 0 }.isEmpty && run.state.vip == .vipEligible(priority: 100))
    }

    @Test("a node that starts cut off as a master fences after down-after/2 from its start")
    func startsIsolated() {
        var run = Run(state: Self.node())
        run.input(.localRedis(.master))
        run.ticks(10, hearing: [])
        #expect(run.state.isFenced)
        #expect(run.state.vip == .vipIneligible)
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
}
