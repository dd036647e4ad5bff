import SentinelCore
import Testing

/// Which events run the notification script, and where SIMULATE-FAILURE crashes: the core's choice.
@Suite("Sentinel core: notification script and simulated failures")
struct NotificationTests {
    typealias G = SimulatedGroup

    @Test("every WARNING event about a master's instance, and only those, goes to its notification-script")
    func warningEventsNotify() throws {
        var s = SentinelState(myID: "me", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        var actions = s.monitor(name: "m", address: G.addr(6379), quorum: 1, downAfter: 1_000, now: 0)
        actions += s.handle(.linkUp(.master("m")), now: 0)
        var t: Millis = 0
        while t < 3_000 {
            t += 100
            actions += s.handle(.tick, now: t)  // no PONG: SDOWN, ODOWN (quorum 1), a failover attempt
        }
        actions += s.handle(.tick, now: t + 5_000)  // a timer gap: +tilt, about no master
        var published: [SentinelEvent] = []
        var notified: [SentinelEvent] = []
        for (k, action) in actions.enumerated() {
            switch action {
            case .publish(let e):
                published.append(e)
                if e.level == .warning {
                    // The script run follows its event at once (nothing else in between).
                    let next = k + 1 < actions.count ? actions[k + 1] : nil
                    if e.type == "+tilt" {
                        #expect(next != .notificationScript(master: "m", e))
                    } else {
                        #expect(next == .notificationScript(master: "m", e), "\(e)")
                    }
                }
            case .notificationScript(let master, let e):
                #expect(master == "m")
                notified.append(e)
            default: break
            }
        }
        #expect(published.contains { $0.type == "+sdown" } && published.contains { $0.type == "+odown" })
        #expect(published.contains { $0.type == "+tilt" })
        #expect(notified == published.filter { $0.level == .warning && $0.type != "+tilt" })
    }

    @Test("SIMULATE-FAILURE: the shell is told to crash right after the step named, and nowhere else",
          arguments: [SimulatedFailure.crashAfterElection, .crashAfterPromotion, []])
    func simulatedCrash(flags: SimulatedFailure) throws {
        var g = G()
        g.run(for: 12_000)
        g.sentinels[0].state.setSimulatedFailure(flags)
        #expect(g.sentinels[0].state.simulatedFailure == flags)
        g.perform(try g.sentinels[0].state.forceFailover(G.masterName, now: g.time(of: 0)), by: 0)
        let took = g.run(until: 20_000) { g in g.liveMasters.count == 1 && g.liveMasters[0] != G.addr(6379) && g.converged(on: g.liveMasters[0]) }
        #expect(took != nil)
        let expected: [String] = switch flags {
        case .crashAfterElection: ["+elected-leader"]
        case .crashAfterPromotion: ["+promoted-slave"]
        default: []
        }
        #expect(g.simulatedCrashes.compactMap(\.after) == expected)
        #expect(g.simulatedCrashes.allSatisfy { $0.by == 0 })
    }
}
