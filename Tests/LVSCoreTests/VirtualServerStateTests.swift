import Testing
@testable import LVSCore

/// The seed's TCP_CHECK: delay_loop 6, nb_get_retry 3, delay_before_retry 3.
private let seedCheck = CheckerPolicy(delayLoop: .seconds(6), retry: 3, delayBeforeRetry: .seconds(3))

private func client(_ n: Int) -> ClientKey { ClientKey(address: [10, 1, 0, UInt8(n)], port: 50000) }

/// A virtual server on a simulated clock: events in, actions out, the checks the core asks
/// for answered by a table of which servers are healthy.
private struct Harness {
    var state: VirtualServerState
    var now: Duration = .zero
    var healthy: [Bool]
    var log: [(Duration, VirtualServerAction)] = []

    init(_ settings: VirtualServerSettings) {
        state = VirtualServerState(settings: settings, now: .zero)
        healthy = Array(repeating: true, count: settings.realServers.count)
    }

    /// Advances the clock to `t`, stopping at every deadline and answering every check at once.
    mutating func run(until t: Duration, outcome: ((Int) -> CheckOutcome)? = nil) {
        while let due = state.nextDeadline, due <= t {
            now = max(now, due)
            step(outcome: outcome)
        }
        now = t
        step(outcome: outcome)
    }

    mutating func step(outcome: ((Int) -> CheckOutcome)?) {
        var pending = state.handle(.tick, now: now)
        while !pending.isEmpty {
            let action = pending.removeFirst()
            log.append((now, action))
            if case .runCheck(let r, let c) = action {
                let result = outcome?(r) ?? (healthy[r] ? .success : .failure(reason: "connection refused"))
                pending += state.handle(.checkFinished(real: r, checker: c, result), now: now)
            }
        }
    }

    func times(of wanted: VirtualServerAction) -> [Duration] { log.filter { $0.1 == wanted }.map(\.0) }
    func checks(of r: Int) -> [Duration] { log.filter { $0.1 == .runCheck(real: r, checker: 0) }.map(\.0) }
    var transitions: [VirtualServerAction] {
        log.map(\.1).filter {
            switch $0 {
            case .realServerUp, .realServerDown, .quorumUp, .quorumDown, .weightChanged: true
            default: false
            }
        }
    }
}

private func twoServers(persistence: Duration? = nil, sorry: Bool = true, inhibit: Bool = false, algorithm: SchedulingAlgorithm = .rr,
                        check: CheckerPolicy = seedCheck, weights: [Int] = [1, 1]) -> VirtualServerSettings {
    VirtualServerSettings(
        algorithm: algorithm, persistence: persistence, hasSorryServer: sorry,
        realServers: weights.map { RealServerSettings(weight: $0, inhibitOnFailure: inhibit, checkers: [check]) })
}

@Suite("virtual server: checkers, quorum and connections on a simulated clock")
struct VirtualServerStateTests {
    @Test("healthy servers are checked every delay_loop, first at the warmup the shell drew")
    func delayLoop() {
        var check = seedCheck
        check.firstCheck = .milliseconds(1500)
        var h = Harness(twoServers(check: check))
        h.run(until: .seconds(20))
        #expect(h.checks(of: 0) == [.milliseconds(1500), .milliseconds(7500), .milliseconds(13500), .milliseconds(19500)])
        #expect(h.transitions.isEmpty)
        #expect(h.state.isAlive(0) && h.state.isAlive(1) && h.state.quorumUp)
    }

    @Test("a failing server is retried nb_get_retry times delay_before_retry apart, then down")
    func retriesThenDown() {
        var h = Harness(twoServers())
        h.run(until: .seconds(7))       // checked at 0 and 6: up
        h.healthy[1] = false
        h.run(until: .seconds(40))
        // Fails at 12; retries at 15, 18, 21; down at 21; then checked every 6 s.
        #expect(h.checks(of: 1) == [0, 6, 12, 15, 18, 21, 27, 33, 39].map { .seconds($0) })
        #expect(h.times(of: .realServerDown(1, reason: "connection refused")) == [.seconds(21)])
        let retries = h.log.compactMap { entry -> Int? in
            if case .retrying(1, 0, let attempt, 3, _) = entry.1 { return attempt } else { return nil }
        }
        #expect(retries == [1, 2, 3])
        #expect(!h.state.isAlive(1) && h.state.weight(1) == 0)
        #expect(h.state.quorumUp)
    }

    @Test("a success during the retries keeps the server up and resets the count")
    func recoveryDuringRetries() {
        var h = Harness(twoServers())
        h.run(until: .seconds(1))
        h.healthy[0] = false
        h.run(until: .seconds(10))     // fails at 6, retry at 9
        h.healthy[0] = true
        h.run(until: .seconds(13))     // retry at 12 succeeds
        #expect(h.transitions.isEmpty)
        #expect(h.checks(of: 0) == [0, 6, 9, 12].map { .seconds($0) })
        h.healthy[0] = false
        h.run(until: .seconds(40))     // a fresh run of 3 retries: fails at 18, 21, 24, 27
        #expect(h.times(of: .realServerDown(0, reason: "connection refused")) == [.seconds(27)])
    }

    @Test("a down server comes back on its first success, notify_up")
    func upAgain() {
        var h = Harness(twoServers())
        h.healthy[0] = false
        h.run(until: .seconds(10))     // fails at 0; retries at 3, 6, 9: down at 9
        #expect(h.times(of: .realServerDown(0, reason: "connection refused")) == [.seconds(9)])
        h.healthy[0] = true
        h.run(until: .seconds(16))
        #expect(h.times(of: .realServerUp(0)) == [.seconds(15)])
    }

    @Test("alpha: servers start down and need one success; a failure at start is retried first")
    func alpha() {
        var check = seedCheck
        check.alpha = true
        var h = Harness(twoServers(check: check))
        #expect(!h.state.isAlive(0) && !h.state.quorumUp)
        #expect(h.state.connect(client: client(1), now: .zero) == .sorry)
        h.healthy[1] = false
        h.run(until: .seconds(1))
        #expect(h.transitions == [.realServerUp(0), .quorumUp])
        // Never-run checker: retried once before it counts as failed (keepalived's has_run
        // rule), then checked every delay_loop; it was never up, so no notify_down.
        h.run(until: .seconds(20))
        #expect(h.checks(of: 1) == [0, 3, 9, 15].map { .seconds($0) })
        #expect(h.transitions == [.realServerUp(0), .quorumUp])
    }

    @Test("both down: quorum lost, the sorry server takes new connections; back: quorum up")
    func sorryServer() {
        var h = Harness(twoServers(retryFree: true))
        h.healthy = [false, false]
        h.run(until: .seconds(1))
        #expect(h.transitions == [.realServerDown(0, reason: "connection refused"), .realServerDown(1, reason: "connection refused"), .quorumDown])
        #expect(h.state.connect(client: client(1), now: h.now) == .sorry)
        #expect(h.state.sorryConnections == 1)
        h.healthy[1] = true
        h.run(until: .seconds(7))
        #expect(h.transitions.suffix(2) == [.realServerUp(1), .quorumUp])
        #expect(h.state.connect(client: client(1), now: h.now) == .real(1))
        h.state.connectionClosed(.sorry, client: client(1), now: h.now)
        #expect(h.state.sorryConnections == 0)
    }

    @Test("no sorry server: with the quorum lost the live servers still serve (keepalived keeps them)")
    func quorumWithoutSorry() {
        var settings = twoServers(sorry: false, check: CheckerPolicy(delayLoop: .seconds(6), retry: 0, delayBeforeRetry: .seconds(1)))
        settings.quorum = 2
        var h = Harness(settings)
        h.healthy[0] = false
        h.run(until: .seconds(1))
        #expect(h.transitions == [.realServerDown(0, reason: "connection refused"), .quorumDown])
        #expect(h.state.connect(client: client(1), now: h.now) == .real(1))
        h.healthy[1] = false
        h.run(until: .seconds(7))
        #expect(h.state.connect(client: client(1), now: h.now) == nil)
    }

    @Test("hysteresis: quorum lost below quorum − hysteresis, regained at quorum + hysteresis")
    func hysteresis() {
        let quick = CheckerPolicy(delayLoop: .seconds(1), retry: 0, delayBeforeRetry: .seconds(1))
        var settings = twoServers(check: quick, weights: [1, 1, 1, 1])
        settings.quorum = 3
        settings.hysteresis = 1
        var h = Harness(settings)
        h.healthy = [false, true, true, true]
        h.run(until: .milliseconds(500))
        #expect(!h.transitions.contains(.quorumDown))   // 3 ≥ 3 − 1
        h.healthy[1] = false
        h.run(until: .milliseconds(1500))
        #expect(!h.transitions.contains(.quorumDown))   // 2 ≥ 2
        h.healthy[2] = false
        h.run(until: .milliseconds(2500))
        #expect(h.times(of: .quorumDown) == [.seconds(2)]) // 1 < 2
        h.healthy = [true, true, false, true]
        h.run(until: .milliseconds(3500))
        #expect(h.times(of: .quorumUp).isEmpty)           // 3 < 3 + 1
        h.healthy[2] = true
        h.run(until: .milliseconds(4500))
        #expect(h.times(of: .quorumUp) == [.seconds(4)])  // 4 ≥ 4
    }

    @Test("inhibit_on_failure: a down server stays with weight 0; existing connections stay, no new ones")
    func inhibitOnFailure() {
        var h = Harness(twoServers(sorry: false, inhibit: true, check: CheckerPolicy(delayLoop: .seconds(6), retry: 0, delayBeforeRetry: .seconds(1))))
        #expect(h.state.connect(client: client(1), now: .zero) == .real(0))
        h.healthy[0] = false
        h.run(until: .seconds(1))
        #expect(h.state.weight(0) == 0 && h.state.activeConnections(0) == 1)
        #expect(h.state.pool.map(\.index) == [0, 1])
        for n in 2...5 { #expect(h.state.connect(client: client(n), now: h.now) == .real(1)) }
        h.state.connectionClosed(.real(0), client: client(1), now: h.now)
        #expect(h.state.activeConnections(0) == 0)
    }

    @Test("misc_dynamic weight 0 drains: no new connections, open ones stay; weight back, traffic back")
    func drainByDynamicWeight() {
        let misc = CheckerPolicy(delayLoop: .seconds(2), retry: 0, delayBeforeRetry: .seconds(1))
        var h = Harness(twoServers(sorry: true, check: misc))
        var exitWeight = [1, 1]
        h.run(until: .seconds(1)) { .successWithWeight(exitWeight[$0]) }
        #expect(h.state.connect(client: client(1), now: h.now) == .real(0))
        exitWeight[0] = 0
        h.run(until: .seconds(3)) { .successWithWeight(exitWeight[$0]) }
        #expect(h.transitions == [.weightChanged(real: 0, weight: 0)])
        #expect(h.state.isAlive(0) && h.state.activeConnections(0) == 1)
        for n in 2...6 { #expect(h.state.connect(client: client(n), now: h.now) == .real(1)) }
        exitWeight[0] = 3
        h.run(until: .seconds(5)) { .successWithWeight(exitWeight[$0]) }
        #expect(h.state.weight(0) == 3)
        #expect(h.state.connect(client: client(9), now: h.now) == .real(0))
    }

    @Test("persistence: a client address stays with its server while connected and persistence_timeout after")
    func persistence() {
        var h = Harness(twoServers(persistence: .seconds(50)))
        let a = client(1)
        let first = h.state.connect(client: a, now: .zero)
        #expect(first == .real(0))
        #expect(h.state.connect(client: client(2), now: .zero) == .real(1))
        // Same address, other port: same server, however many times rr moves on.
        for t in [1, 2, 3] { #expect(h.state.connect(client: ClientKey(address: a.address, port: UInt16(t)), now: .seconds(t)) == first) }
        for t in [1, 2, 3] { h.state.connectionClosed(first!, client: ClientKey(address: a.address, port: UInt16(t)), now: .seconds(100)) }
        h.state.connectionClosed(first!, client: a, now: .seconds(100))
        #expect(h.state.persistentClients(now: .seconds(149)) == 2)
        #expect(h.state.connect(client: a, now: .seconds(149)) == first)
        h.state.connectionClosed(first!, client: a, now: .seconds(149))
        // 50 s after the last connection ended: forgotten, scheduled afresh.
        _ = h.state.handle(.tick, now: .seconds(200))
        #expect(h.state.persistentClients(now: .seconds(200)) == 1)
    }

    @Test("persistence does not hold a client on a server that went down or was drained")
    func persistenceFollowsHealth() {
        var h = Harness(twoServers(persistence: .seconds(300), check: CheckerPolicy(delayLoop: .seconds(6), retry: 0, delayBeforeRetry: .seconds(1))))
        let a = client(1)
        #expect(h.state.connect(client: a, now: .zero) == .real(0))
        h.healthy[0] = false
        h.run(until: .seconds(1))
        #expect(h.state.connect(client: a, now: h.now) == .real(1))
        #expect(h.state.connect(client: a, now: h.now) == .real(1))
    }

    @Test("ha_suspend: no checks while suspended; on resume every checker checks at once")
    func haSuspend() {
        var h = Harness(twoServers())
        h.run(until: .seconds(1))
        _ = h.state.handle(.suspend(true), now: .seconds(1))
        #expect(h.state.nextDeadline == nil)
        h.run(until: .seconds(30))
        #expect(h.checks(of: 0) == [.zero])
        _ = h.state.handle(.suspend(false), now: .seconds(31))
        h.run(until: .seconds(32))
        #expect(h.checks(of: 0) == [.zero, .seconds(31)])
    }

    @Test("checkSoon (the node agent saw the master change): every idle checker checks at once; one under way checks again as soon as it ends; nothing while suspended")
    func checkSoon() {
        var h = Harness(twoServers(check: CheckerPolicy(delayLoop: .seconds(6), retry: 0, delayBeforeRetry: .seconds(1))))
        h.run(until: .seconds(2))
        #expect(h.checks(of: 0) == [.zero])
        _ = h.state.handle(.checkSoon, now: .seconds(2))
        h.run(until: .seconds(3))
        #expect(h.checks(of: 0) == [.zero, .seconds(2)] && h.checks(of: 1) == [.zero, .seconds(2)])
        #expect(h.state.nextDeadline == .seconds(8), "then every delay_loop again")
        // A check under way when it comes: run again the moment it ends, not a delay_loop later.
        var state = VirtualServerState(settings: twoServers(), now: .zero)
        let started = state.handle(.tick, now: .zero)
        #expect(started.contains(.runCheck(real: 0, checker: 0)))
        _ = state.handle(.checkSoon, now: .milliseconds(100))
        _ = state.handle(.checkFinished(real: 0, checker: 0, .success), now: .milliseconds(300))
        #expect(state.handle(.tick, now: .milliseconds(300)).contains(.runCheck(real: 0, checker: 0)))
        // Suspended (ha_suspend): nothing; resuming checks everything anyway.
        var suspended = Harness(twoServers())
        suspended.run(until: .seconds(1))
        _ = suspended.state.handle(.suspend(true), now: .seconds(1))
        _ = suspended.state.handle(.checkSoon, now: .seconds(2))
        #expect(suspended.state.nextDeadline == nil)
    }

    @Test("omega: shutdown reports every live server down and the quorum lost; without it, nothing")
    func omega() {
        var settings = twoServers()
        settings.omega = true
        var state = VirtualServerState(settings: settings, now: .zero)
        #expect(state.handle(.shutdown, now: .zero) == [.realServerDown(0, reason: "shutdown"), .realServerDown(1, reason: "shutdown"), .quorumDown])
        var plain = VirtualServerState(settings: twoServers(), now: .zero)
        #expect(plain.handle(.shutdown, now: .zero).isEmpty)
    }

    @Test("a real server with several checkers is up only while all are; a stale result is ignored")
    func severalCheckers() {
        let quick = CheckerPolicy(delayLoop: .seconds(1), retry: 0, delayBeforeRetry: .seconds(1))
        var state = VirtualServerState(settings: VirtualServerSettings(algorithm: .rr, realServers: [
            RealServerSettings(weight: 1, checkers: [quick, quick]),
        ]), now: .zero)
        #expect(state.handle(.tick, now: .zero) == [.runCheck(real: 0, checker: 0), .runCheck(real: 0, checker: 1)])
        #expect(state.handle(.checkFinished(real: 0, checker: 1, .failure(reason: "timeout")), now: .zero) == [.realServerDown(0, reason: "timeout"), .quorumDown])
        #expect(state.handle(.checkFinished(real: 0, checker: 0, .success), now: .zero).isEmpty)
        #expect(state.handle(.checkFinished(real: 7, checker: 0, .success), now: .zero).isEmpty)
        #expect(state.handle(.checkFinished(real: 0, checker: 1, .success), now: .zero) == [.realServerUp(0), .quorumUp])
    }
}

private func twoServers(retryFree: Bool) -> VirtualServerSettings {
    twoServers(check: CheckerPolicy(delayLoop: .seconds(6), retry: 0, delayBeforeRetry: .seconds(1)))
}
