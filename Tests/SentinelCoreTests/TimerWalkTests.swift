@testable import SentinelCore
import Testing

/// The timer visits replicas and peer entries where they are stored and hands on only those
/// with something to do (`handleReplicasAndPeers`, issue 19). These tests hold it to what it
/// replaces: `handleInstance` on every instance, replicas by address then peers by run id.
@Suite("Sentinel core: the timer's walk")
struct TimerWalkTests {
    typealias G = SimulatedGroup

    /// Each sentinel's state at each step, ticked both ways at an offset into the step (and
    /// once after a 2.5 s gap, which enters TILT): the same actions, the same state after.
    func compareWalks(_ g: inout G, steps: Int, faults: (inout G, Int) -> Void) -> Int {
        var compared = 0
        var offsets = SplitMix64(seed: 7)
        for step in 0..<steps {
            faults(&g, step)
            g.step()
            for s in g.sentinels where s.alive {
                let gap: Millis = step % 50 == 49 ? 2_500 : Millis(offsets.next() % 100)
                let t = g.now + s.clockSkew + gap
                var walked = s.state
                var reference = s.state
                let actions = walked.handle(.tick, now: t)
                let expected = reference.tickVisitingEveryInstance(now: t)
                #expect(actions == expected, "step \(step): \(actions) against \(expected)")
                #expect(walked.masters == reference.masters, "step \(step)")
                #expect(walked.tiltSince == reference.tiltSince && walked.currentEpoch == reference.currentEpoch)
                compared += 1
            }
        }
        return compared
    }

    @Test("the walk emits and changes what handling every instance in order does, with Tandem's timing and 7.0's",
          arguments: [SentinelBehaviour(), .redis70])
    func sameAsEveryInstance(behaviour: SentinelBehaviour) {
        var g = G(replicas: 2, behaviour: behaviour, groups: 3)
        let compared = compareWalks(&g, steps: 400) { g, step in
            switch step {
            case 40: g.crash(G.masterPort(1) + 2)              // a replica gone: SDOWN, then back
            case 90: g.restart(G.masterPort(1) + 2, asReplicaOf: G.addr(G.masterPort(1)))
            case 120: g.crash(G.masterPort(2))                 // a master: SDOWN, ODOWN, failover
            case 200: g.pause(G.masterPort(0) + 1)             // a replica that stops answering
            case 260: g.resume(G.masterPort(0) + 1)
            case 300: g.killSentinel(2)                        // a peer gone: its entries SDOWN
            default: break
            }
        }
        #expect(compared > 1_000)
        // The faults above were seen: replicas, masters and peers went SDOWN in the run.
        let events = g.sentinels[0].events.map(\.event)
        #expect(events.contains { $0.type == "+sdown" && $0.payload.hasPrefix("slave") })
        #expect(events.contains { $0.type == "+sdown" && $0.payload.hasPrefix("sentinel") })
        #expect(events.contains { $0.type == "+switch-master" })
    }
}

extension SentinelState {
    /// The timer as it was before the walk (`handleInstance` for every instance, in order).
    mutating func tickVisitingEveryInstance(now: Millis) -> [SentinelAction] {
        checkTilt(now: now)
        retryDemotions(now: now)
        for name in orderedMasterNames() {
            handleInstance(.master(name), now: now)
            guard let master = masters[name] else { continue }
            for address in master.sortedReplicaAddresses { handleInstance(.replica(master: name, address), now: now) }
            for runID in master.sortedSentinelIDs { handleInstance(.sentinel(master: name, runID: runID), now: now) }
            if masters[name]?.failoverState == .updateConfig {
                switchToPromotedReplica(name, now: now)
            }
        }
        return flush()
    }
}
