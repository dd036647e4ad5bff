import Testing
@testable import LVSCore

/// The seed's TCP_CHECK timing, checking what `identity` says.
private func tcpCheck(_ identity: String = "tcp 10.0.0.1:6379", alpha: Bool = false) -> CheckerPolicy {
    CheckerPolicy(delayLoop: .seconds(6), retry: 3, delayBeforeRetry: .seconds(3), alpha: alpha, identity: identity)
}

/// A real server 10.0.0.N:6379 with one checker of its own.
private func real(_ n: UInt8, weight: Int = 1, inhibit: Bool = false, check: CheckerPolicy? = nil) -> RealServerSettings {
    RealServerSettings(weight: weight, inhibitOnFailure: inhibit, checkers: [check ?? tcpCheck("tcp 10.0.0.\(n):6379")],
                       identity: [10, 0, 0, n, 0x18, 0xEB])
}

private func settings(_ reals: [RealServerSettings], algorithm: SchedulingAlgorithm = .rr, persistence: Duration? = nil,
                      sorry: Bool = false, quorum: Int = 1) -> VirtualServerSettings {
    VirtualServerSettings(algorithm: algorithm, persistence: persistence, hasSorryServer: sorry, quorum: quorum, realServers: reals)
}

private func client(_ n: Int) -> ClientKey { ClientKey(address: [192, 168, 1, UInt8(n)], port: 40000) }

/// Where `count` new connections from distinct clients go (left open).
private func place(_ state: inout VirtualServerState, _ count: Int, from first: Int = 1, now: Duration = .seconds(1)) -> [Destination?] {
    (0..<count).map { state.connect(client: client(first + $0), now: now) }
}

/// Answers every check the core asks for until `t`: `healthy[r]` says how real server r answers.
private func run(_ state: inout VirtualServerState, from start: Duration, until t: Duration, healthy: [Bool]) -> [VirtualServerAction] {
    var log: [VirtualServerAction] = []
    var now = start
    while true {
        var pending = state.handle(.tick, now: now)
        while !pending.isEmpty {
            let action = pending.removeFirst()
            log.append(action)
            if case .runCheck(let r, let c) = action {
                pending += state.handle(.checkFinished(real: r, checker: c, healthy[r] ? .success : .failure(reason: "refused")), now: now)
            }
        }
        guard let due = state.nextDeadline, due <= t else { break }
        now = max(now, due)
    }
    return log
}

@Suite("virtual server reload (SIGHUP): the plan and the core's reconfigure")
struct VirtualServerReloadTests {
    @Test("plan: matched by service; same block unchanged, other block changed; new added; gone removed first")
    func plan() {
        let old = [(key: "A:80", fingerprint: "a"), (key: "B:80", fingerprint: "b"), (key: "C:80", fingerprint: "c")]
        let new = [(key: "C:80", fingerprint: "c"), (key: "D:80", fingerprint: "d"), (key: "A:80", fingerprint: "a2")]
        #expect(VirtualServerReload.plan(old: old, new: new) == [
            .removed(old: 1), .unchanged(old: 2, new: 0), .added(new: 1), .changed(old: 0, new: 2),
        ])
        #expect(VirtualServerReload.plan(old: old, new: old) == [
            .unchanged(old: 0, new: 0), .unchanged(old: 1, new: 1), .unchanged(old: 2, new: 2),
        ])
        #expect(VirtualServerReload.plan(old: old, new: [(key: String, fingerprint: String)]()) == [
            .removed(old: 0), .removed(old: 1), .removed(old: 2),
        ])
    }

    @Test("weight to 0 drains: open connections stay counted, no new ones; back to 1 takes them again")
    func weightZeroDrains() {
        var state = VirtualServerState(settings: settings([real(1), real(2)]), now: .zero)
        let placed = place(&state, 4)
        #expect(placed == [.real(0), .real(1), .real(0), .real(1)])
        let result = state.reconfigure(settings([real(1), real(2, weight: 0)]), now: .seconds(2))
        #expect(result.indexMap == [0, 1] && result.added.isEmpty)
        #expect(result.actions == [.weightChanged(real: 1, weight: 0)])
        #expect(state.activeConnections(1) == 2, "draining keeps its open connections")
        #expect(place(&state, 4, from: 10) == Array(repeating: .real(0), count: 4))
        state.connectionClosed(.real(1), client: client(2), now: .seconds(3))
        #expect(state.activeConnections(1) == 1)
        let back = state.reconfigure(settings([real(1), real(2)]), now: .seconds(4))
        #expect(back.actions == [.weightChanged(real: 1, weight: 1)])
        #expect(Set(place(&state, 2, from: 20)) == [.real(0), .real(1)])
    }

    @Test("a removed real server takes no new connections; indices shift and its open ones stop counting")
    func removedServer() {
        var state = VirtualServerState(settings: settings([real(1), real(2), real(3)]), now: .zero)
        #expect(place(&state, 3) == [.real(0), .real(1), .real(2)])
        let result = state.reconfigure(settings([real(1), real(3)]), now: .seconds(2))
        #expect(result.indexMap == [0, nil, 1])
        #expect(result.actions.isEmpty)
        #expect(state.activeConnections(0) == 1 && state.activeConnections(1) == 1, "10.0.0.3's connection moved with it to index 1")
        let next = place(&state, 4, from: 10)
        #expect(next.allSatisfy { $0 == .real(0) || $0 == .real(1) } && Set(next).count == 2)
    }

    @Test("an added real server is up at once (no alpha) and takes connections; with alpha, only after its first check")
    func addedServer() {
        var state = VirtualServerState(settings: settings([real(1)]), now: .zero)
        _ = run(&state, from: .zero, until: .seconds(1), healthy: [true])
        let result = state.reconfigure(settings([real(1), real(2)]), now: .seconds(1))
        #expect(result.indexMap == [0] && result.added == [1])
        #expect(state.isAlive(1))
        #expect(Set(place(&state, 2)) == [.real(0), .real(1)])

        var alpha = VirtualServerState(settings: settings([real(1)]), now: .zero)
        _ = alpha.reconfigure(settings([real(1), real(2, check: tcpCheck("tcp 10.0.0.2:6379", alpha: true))]), now: .seconds(1))
        #expect(!alpha.isAlive(1))
        #expect(place(&alpha, 2) == [.real(0), .real(0)])
        let log = run(&alpha, from: .seconds(1), until: .seconds(2), healthy: [true, true])
        #expect(log.contains(.realServerUp(1)))
        #expect(alpha.isAlive(1))
    }

    @Test("a real server down before the reload stays down when its checker is the same; a new checker starts afresh")
    func checkerStateCarried() {
        var state = VirtualServerState(settings: settings([real(1), real(2)]), now: .zero)
        // Healthy at 0, 6; 10.0.0.2 fails from 12 on: retries at 15, 18, 21 → down at 21.
        _ = run(&state, from: .zero, until: .seconds(11), healthy: [true, true])
        let log = run(&state, from: .seconds(11), until: .seconds(22), healthy: [true, false])
        #expect(log.contains(.realServerDown(1, reason: "refused")))
        #expect(!state.isAlive(1))

        var same = state
        let kept = same.reconfigure(settings([real(1, weight: 3), real(2, weight: 5)]), now: .seconds(22))
        #expect(!same.isAlive(1), "the same checker: still down")
        #expect(kept.actions == [.weightChanged(real: 0, weight: 3)], "a down server's new weight waits for it to come up")
        #expect(same.nextDeadline! <= .seconds(28), "checked again within the new delay_loop")

        var changed = state
        let fresh = changed.reconfigure(settings([real(1), real(2, check: tcpCheck("tcp 10.0.0.2:6380"))]), now: .seconds(22))
        #expect(changed.isAlive(1), "a different checker starts up (no alpha), as keepalived's new checker")
        #expect(fresh.actions == [.realServerUp(1)])
    }

    @Test("a check running during the reload runs again at once; its old verdict is the shell's to drop")
    func runningCheckRerun() {
        var state = VirtualServerState(settings: settings([real(1)]), now: .zero)
        let asked = state.handle(.tick, now: .zero)
        #expect(asked == [.runCheck(real: 0, checker: 0)])
        #expect(state.nextDeadline == nil, "nothing due while the check runs")
        _ = state.reconfigure(settings([real(1, weight: 2)]), now: .seconds(1))
        #expect(state.nextDeadline == .seconds(1))
        #expect(state.handle(.tick, now: .seconds(1)) == [.runCheck(real: 0, checker: 0)])
    }

    @Test("persistence entries follow their real server to its new index and go with it when it is removed")
    func persistenceRemapped() {
        let p: Duration = .seconds(50)
        var state = VirtualServerState(settings: settings([real(1), real(2), real(3)], persistence: p), now: .zero)
        #expect(place(&state, 3) == [.real(0), .real(1), .real(2)])
        for n in 1...3 { state.connectionClosed(.real(n - 1), client: client(n), now: .seconds(2)) }
        _ = state.reconfigure(settings([real(3), real(1)], persistence: p), now: .seconds(3))
        #expect(state.connect(client: client(3), now: .seconds(4)) == .real(0), "10.0.0.3 is index 0 now")
        #expect(state.connect(client: client(1), now: .seconds(4)) == .real(1), "10.0.0.1 is index 1 now")
        let orphan = state.connect(client: client(2), now: .seconds(4))
        #expect(orphan == .real(0) || orphan == .real(1), "its server removed: scheduled afresh")
        #expect(state.persistentClients(now: .seconds(4)) == 3)
    }

    @Test("quorum is measured on the new weights: raising quorum above the live weight loses it (sorry server in use)")
    func quorumRecomputed() {
        var state = VirtualServerState(settings: settings([real(1), real(2)], sorry: true), now: .zero)
        #expect(state.quorumUp)
        let lost = state.reconfigure(settings([real(1), real(2)], sorry: true, quorum: 3), now: .seconds(1))
        #expect(lost.actions == [.quorumDown])
        #expect(state.connect(client: client(1), now: .seconds(1)) == .sorry)
        let gained = state.reconfigure(settings([real(1, weight: 2), real(2)], sorry: true, quorum: 3), now: .seconds(2))
        #expect(gained.actions == [.weightChanged(real: 0, weight: 2), .quorumUp])
        #expect(state.connect(client: client(2), now: .seconds(2)) != .sorry)
    }

    @Test("a scheduler change takes effect for new connections")
    func schedulerChange() {
        var state = VirtualServerState(settings: settings([real(1), real(2, weight: 3)]), now: .zero)
        #expect(place(&state, 2) == [.real(0), .real(1)])
        _ = state.reconfigure(settings([real(1), real(2, weight: 3)], algorithm: .wrr), now: .seconds(1))
        let next = place(&state, 8, from: 10).compactMap { $0 }
        #expect(next.filter { $0 == .real(1) }.count == 6, "wrr 1:3 over 8 connections: \(next)")
    }
}
