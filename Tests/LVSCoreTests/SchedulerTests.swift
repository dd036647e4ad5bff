import Testing
@testable import LVSCore

private func candidates(_ weights: [Int], active: [Int]? = nil) -> [SchedulingCandidate] {
    weights.enumerated().map { i, w in
        SchedulingCandidate(index: i, weight: w, activeConnections: active?[i] ?? 0, identity: [10, 0, 0, UInt8(i + 1), 0x18, 0xEB])
    }
}

private func client(_ n: Int, port: UInt16 = 40000) -> ClientKey {
    ClientKey(address: [192, 168, UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)], port: port)
}

/// Picks `count` times from a fixed pool and counts the picks per server.
private func distribution(_ algorithm: SchedulingAlgorithm, weights: [Int], count: Int, clients: Bool = false) -> [Int] {
    var scheduler = Scheduler(algorithm: algorithm)
    var counts = Array(repeating: 0, count: weights.count)
    let pool = candidates(weights)
    for n in 0..<count {
        if let i = scheduler.choose(from: pool, client: client(clients ? n : 1)) { counts[i] += 1 }
    }
    return counts
}

@Suite("IPVS schedulers in user space")
struct SchedulerTests {
    @Test("rr takes each server in turn, in configuration order, skipping weight 0")
    func roundRobin() {
        var scheduler = Scheduler(algorithm: .rr)
        let pool = candidates([1, 0, 5])
        let picks = (0..<6).compactMap { _ in scheduler.choose(from: pool, client: client(1)) }
        #expect(picks == [0, 2, 0, 2, 0, 2])
    }

    @Test("wrr gives each server its weight's share, interleaved as IPVS does")
    func weightedRoundRobin() {
        var scheduler = Scheduler(algorithm: .wrr)
        let pool = candidates([4, 3, 2])
        let picks = (0..<9).compactMap { _ in scheduler.choose(from: pool, client: client(1)) }
        // IPVS wrr with weights 4,3,2 (gcd 1): cw 4 → a; 3 → a b; 2 → a b c; 1 → a b c.
        #expect(picks == [0, 0, 1, 0, 1, 2, 0, 1, 2])
        #expect(distribution(.wrr, weights: [4, 3, 2], count: 900) == [400, 300, 200])
        #expect(distribution(.wrr, weights: [2, 0, 2], count: 10) == [5, 0, 5])
    }

    @Test("lc picks the fewest active connections, the first on a tie")
    func leastConnections() {
        var scheduler = Scheduler(algorithm: .lc)
        #expect(scheduler.choose(from: candidates([1, 1, 1], active: [3, 1, 1]), client: client(1)) == 1)
        #expect(scheduler.choose(from: candidates([1, 1, 1], active: [0, 0, 0]), client: client(1)) == 0)
        // Weight 0: drained, never picked however idle.
        #expect(scheduler.choose(from: candidates([1, 0, 1], active: [5, 0, 4]), client: client(1)) == 2)
    }

    @Test("wlc picks the fewest active connections per unit of weight")
    func weightedLeastConnections() {
        var scheduler = Scheduler(algorithm: .wlc)
        // 4/4 = 1 against 3/1 = 3 and 1/2 = 0.5.
        #expect(scheduler.choose(from: candidates([4, 1, 2], active: [4, 3, 1]), client: client(1)) == 2)
        // Simulated load: opening connections one by one fills servers in proportion to weight.
        var active = [0, 0, 0]
        for _ in 0..<60 {
            let i = scheduler.choose(from: candidates([3, 2, 1], active: active), client: client(1))!
            active[i] += 1
        }
        #expect(active == [30, 20, 10])
    }

    @Test("sh sends a client address always to the same server, spreads many clients by weight")
    func sourceHash() {
        var scheduler = Scheduler(algorithm: .sh)
        let pool = candidates([1, 1, 1])
        let first = scheduler.choose(from: pool, client: client(7, port: 1000))
        for port in [UInt16(1001), 2000, 65000] {
            #expect(scheduler.choose(from: pool, client: client(7, port: port)) == first)
        }
        let spread = distribution(.sh, weights: [1, 1, 2], count: 4000, clients: true)
        #expect(spread.allSatisfy { $0 > 500 }, "\(spread)")
        #expect(spread[2] > spread[0] && spread[2] > spread[1], "\(spread)")
    }

    @Test("sh: a drained hashed server refuses the client unless sh-fallback")
    func sourceHashFallback() {
        var strict = Scheduler(algorithm: .sh)
        var lenient = Scheduler(algorithm: .sh, fallback: true)
        let all = candidates([1, 1])
        // Find a client that hashes to server 1, then drain server 1.
        let c = (0..<100).map { client($0) }.first { strict.choose(from: all, client: $0) == 1 }!
        let drained = candidates([1, 0])
        #expect(strict.choose(from: drained, client: c) == nil)
        #expect(lenient.choose(from: drained, client: c) == 0)
    }

    @Test("mh spreads clients by weight and moves few clients when a server leaves")
    func maglev() {
        let spread = distribution(.mh, weights: [1, 1, 2], count: 4000, clients: true)
        #expect(spread.allSatisfy { $0 > 600 }, "\(spread)")
        #expect(spread[2] > spread[0] + 300 && spread[2] > spread[1] + 300, "\(spread)")
        var scheduler = Scheduler(algorithm: .mh)
        let three = candidates([1, 1, 1])
        let two = Array(three.prefix(2))
        var moved = 0
        var onThird = 0
        for n in 0..<3000 {
            let before = scheduler.choose(from: three, client: client(n))!
            let after = scheduler.choose(from: two, client: client(n))!
            if before == 2 { onThird += 1 } else if before != after { moved += 1 }
        }
        // Maglev's promise: only the clients of the server that left move (a few others may).
        #expect(onThird > 700)
        #expect(moved < 150, "\(moved) of \(3000 - onThird) clients of the remaining servers moved")
    }

    @Test("mh table holds every slot and each server close to its weight's share")
    func maglevTable() {
        let table = Scheduler.maglevPopulate(candidates([1, 3]))
        #expect(table.count == Scheduler.maglevTableSize)
        let share = Double(table.filter { $0 == 1 }.count) / Double(table.count)
        #expect(share > 0.74 && share < 0.76)
    }

    @Test("no server with weight: no choice, whatever the algorithm", arguments: SchedulingAlgorithm.allCases)
    func nothingToChoose(algorithm: SchedulingAlgorithm) {
        var scheduler = Scheduler(algorithm: algorithm, fallback: true)
        #expect(scheduler.choose(from: candidates([0, 0]), client: client(1)) == nil)
        #expect(scheduler.choose(from: [], client: client(1)) == nil)
    }
}
