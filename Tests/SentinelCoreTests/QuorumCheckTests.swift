import SentinelCore
import Testing

/// `SENTINEL CKQUORUM`'s answer, from the rule the election itself uses.
@Suite("Sentinel core: CKQUORUM")
struct QuorumCheckTests {
    typealias G = SimulatedGroup

    @Test("every sentinel up: quorum and majority reachable")
    func allUp() throws {
        var g = G(sentinelCount: 3, quorum: 2)
        g.run(for: 12_000)
        let check = try #require(g.sentinels[0].state.quorumCheck(G.masterName))
        #expect(check.usable == 3 && check.quorumReachable && check.majorityReachable)
        #expect(g.sentinels[0].state.quorumCheck("nosuchmaster") == nil)
    }

    @Test("one of three down with quorum 3: the majority can still authorize, the quorum cannot be reached")
    func quorumOnly() throws {
        var g = G(sentinelCount: 3, quorum: 3)
        g.run(for: 12_000)
        g.sentinels[2].alive = false
        g.run(for: 3_000)  // down-after is 1 s: the stopped peer is SDOWN
        let check = try #require(g.sentinels[0].state.quorumCheck(G.masterName))
        #expect(check.usable == 2)
        #expect(!check.quorumReachable)
        #expect(check.majorityReachable)
    }

    @Test("two of three down: neither, and a crash then elects no leader, as the check said")
    func neither() throws {
        var g = G(sentinelCount: 3, quorum: 1)
        g.run(for: 12_000)
        g.sentinels[1].alive = false
        g.sentinels[2].alive = false
        g.run(for: 3_000)
        let check = try #require(g.sentinels[0].state.quorumCheck(G.masterName))
        #expect(check.usable == 1)
        #expect(check.quorumReachable, "quorum 1: this sentinel alone")
        #expect(!check.majorityReachable)
        g.crash(6379)
        g.run(for: 15_000)
        #expect(g.events("+elected-leader").isEmpty)
        #expect(g.promotions.isEmpty)
    }
}
