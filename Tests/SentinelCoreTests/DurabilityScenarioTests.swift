import SentinelCore
import Testing

/// `sentinel durability <master> replicated`: the proxy acknowledges a write only once a
/// replica has it, so the failover of a master that went down must promote the replica that is
/// furthest ahead, judged by INFO read after the master went down, whatever the priorities say.
@Suite("Sentinel core: durability replicated")
struct DurabilityScenarioTests {
    typealias G = SimulatedGroup
    static let master = G.addr(6379)
    static let preferred = G.addr(6380)
    static let ahead = G.addr(6381)

    static func group(durable: Bool, crashDetection: Bool = true, seed: UInt64 = 1) -> G {
        var g = G(sentinelCount: 3, downAfter: 5_000, failoverTimeout: 30_000, seed: seed)
        for i in g.sentinels.indices {
            g.sentinels[i].state.setReplicatedDurability(master: G.masterName, durable)
            g.sentinels[i].state.setCrashDetection(master: G.masterName, crashDetection)
        }
        g.servers[preferred]!.priority = 10  // the operator prefers 6380
        g.run(for: 12_000)
        return g
    }

    @Test("a preferred replica that fell behind is passed over for the one that has every write",
          arguments: [UInt64(1), 2, 3, 4])
    func offsetBeforePriority(seed: UInt64) throws {
        for durable in [true, false] {
            var g = Self.group(durable: durable, seed: seed)
            g.servers[Self.preferred]!.lagging = true  // stands still: it lacks the last writes
            g.run(for: 2_000)
            g.crash(6379)
            let final = g.servers[Self.ahead]!.offset
            #expect(g.servers[Self.preferred]!.offset < final)
            try #require(g.run(until: 20_000) { $0.promotions.count == 1 } != nil)
            if durable {
                #expect(g.promotions[0].address == Self.ahead, "durability: the replica with every write (seed \(seed))")
            } else {
                #expect(g.promotions[0].address == Self.preferred, "without it, priority first, as redis-sentinel (seed \(seed))")
            }
        }
    }

    @Test("offsets read before the master went down are not trusted: the choice waits for INFO read after",
          arguments: [UInt64(1), 2, 3, 4])
    func staleOffsetsAreNotTrusted(seed: UInt64) throws {
        var g = Self.group(durable: true, crashDetection: false, seed: seed)
        for address in [Self.preferred, Self.ahead] { g.servers[address]!.priority = 100 }
        // 6381 falls behind and the sentinels see it behind; then 6380 stops and 6381 catches
        // up just before the master hangs: the sentinels' last reading of 6381 is stale.
        g.servers[Self.ahead]!.lagging = true
        g.run(for: 12_000)
        g.servers[Self.preferred]!.lagging = true
        g.servers[Self.ahead]!.lagging = false
        g.run(for: 100)
        g.pause(6379)
        #expect(g.servers[Self.ahead]!.offset > g.servers[Self.preferred]!.offset)
        let promoted = g.run(until: 30_000) { $0.promotions.count == 1 }
        try #require(promoted != nil)
        #expect(g.promotions[0].address == Self.ahead, "seed \(seed)")
    }

    @Test("a replica whose INFO cannot be read after the master went down is waited for, then the failover goes on without it")
    func unreadableReplica() throws {
        var g = Self.group(durable: true)
        for address in [Self.preferred, Self.ahead] { g.servers[address]!.priority = 100 }
        g.crash(6379)
        // 6380 hangs at the same moment: its link stays up, its INFO never comes.
        g.pause(6380)
        let took = try #require(g.run(until: 20_000) { $0.promotions.count == 1 })
        #expect(g.promotions[0].address == Self.ahead)
        #expect(took < 10_000)
    }

    @Test("a forced failover (SENTINEL FAILOVER) of a reachable master is unchanged")
    func forcedFailoverUnchanged() throws {
        var g = Self.group(durable: true)
        let actions = try g.sentinels[0].state.forceFailover(G.masterName, now: g.now)
        g.perform(actions, by: 0)
        try #require(g.run(until: 10_000) { $0.promotions.count == 1 } != nil)
        #expect(g.promotions[0].address == Self.preferred, "the coordinated switchover catches the chosen replica up first")
    }
}
