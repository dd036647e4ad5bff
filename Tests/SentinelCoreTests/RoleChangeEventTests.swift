import SentinelCore
import Testing

/// ±role-change as 7.0 publishes it: each entry starts out reporting the role it is listed
/// with (`role_reported` in sentinel.c), so the first INFO can already be a change.
@Suite("Sentinel core: role-change events")
struct RoleChangeEventTests {
    static let master = InstanceAddress(ip: "10.0.0.1", port: 6379)
    static let replica = InstanceAddress(ip: "10.0.0.3", port: 6380)
    static let replicaRef = InstanceRef.replica(master: "m", replica)

    /// A sentinel that knows the master (INFO seen) and, from it, one replica not yet INFOed.
    static func monitored() -> SentinelState {
        var s = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        _ = s.monitor(name: "m", address: master, quorum: 2, downAfter: 5_000, now: 0)
        _ = s.handle(.linkUp(.master("m")), now: 0)
        _ = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: false, replicas: [replica])), now: 10)
        _ = s.handle(.linkUp(replicaRef), now: 20)
        return s
    }

    static func published(_ actions: [SentinelAction]) -> [SentinelEvent] {
        actions.compactMap { if case .publish(let e) = $0 { return e } else { return nil } }
    }

    @Test("a replica entry whose first INFO says master (an old master back) is -role-change, then +role-change once it replicates")
    func replicaEntryFirstReportsMaster() {
        var s = Self.monitored()
        let first = s.handle(.info(Self.replicaRef, InfoReport(runID: "b", isReplica: false)), now: 30)
        #expect(Self.published(first) == [SentinelEvent(
            level: .verbose, type: "-role-change",
            payload: "slave 10.0.0.3:6380 10.0.0.3 6380 @ m 10.0.0.1 6379 new reported role is master")])
        let second = s.handle(.info(Self.replicaRef, InfoReport(runID: "b", isReplica: true, masterHost: "10.0.0.1",
                                                                 masterPort: 6379, masterLinkUp: true)), now: 40)
        #expect(Self.published(second) == [SentinelEvent(
            level: .verbose, type: "+role-change",
            payload: "slave 10.0.0.3:6380 10.0.0.3 6380 @ m 10.0.0.1 6379 new reported role is slave")])
    }

    @Test("a replica entry whose first INFO says slave publishes nothing")
    func replicaEntryFirstReportsSlave() {
        var s = Self.monitored()
        let first = s.handle(.info(Self.replicaRef, InfoReport(runID: "b", isReplica: true, masterHost: "10.0.0.1",
                                                                masterPort: 6379, masterLinkUp: true)), now: 30)
        #expect(Self.published(first).isEmpty)
    }

    @Test("a master entry whose first INFO says slave is -role-change")
    func masterEntryFirstReportsSlave() {
        var s = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        _ = s.monitor(name: "m", address: Self.master, quorum: 2, now: 0)
        _ = s.handle(.linkUp(.master("m")), now: 0)
        let first = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: true, masterHost: "10.0.0.9", masterPort: 6379)), now: 10)
        #expect(Self.published(first) == [SentinelEvent(
            level: .verbose, type: "-role-change", payload: "master m 10.0.0.1 6379 new reported role is slave")])
    }
}

/// Tandem converts a replica entry that claims master after 500 ms (7.0: 8 s) — but only once a
/// majority of the sentinels have been heard from (a hello) since the claim began: a sentinel back
/// from a partition holds the configuration from before it until the first hello brings the new
/// one (the fault lab's `link_down`: the stale sentinel converted the replica the others had
/// promoted 0.5 s after the link came back, the peers' first hello came 0.7 s after it).
@Suite("Sentinel core: converting a replica that claims master")
struct ConvertClaimingReplicaTests {
    static let master = InstanceAddress(ip: "10.0.0.1", port: 6379)
    static let replica = InstanceAddress(ip: "10.0.0.3", port: 6380)
    static let replicaRef = InstanceRef.replica(master: "m", replica)

    /// A sentinel with two peers (heard at t=20) and the master's replica; from t=1,000 the replica
    /// claims master. INFO of both every 100 ms up to `until`, hellos as given; what it asked of
    /// the replica.
    static func run(until: Millis, hellos: [(Millis, String)] = [], peers: Bool = true) -> (conversions: [Millis], state: SentinelState) {
        var s = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        // (down-after longer than the run: no PING replies are fed.)
        _ = s.monitor(name: "m", address: master, quorum: 2, downAfter: 60_000, now: 0)
        _ = s.handle(.linkUp(.master("m")), now: 0)
        _ = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: false, replicas: [replica])), now: 10)
        if peers {
            _ = s.handle(.hello("10.0.0.4,26380,p1,0,m,10.0.0.1,6379,0"), now: 20)
            _ = s.handle(.hello("10.0.0.5,26381,p2,0,m,10.0.0.1,6379,0"), now: 20)
        }
        _ = s.handle(.linkUp(replicaRef), now: 30)
        _ = s.handle(.info(replicaRef, InfoReport(runID: "b", isReplica: true, masterHost: "10.0.0.1", masterPort: 6379, masterLinkUp: true)), now: 40)
        var conversions: [Millis] = []
        var pending = hellos.sorted { $0.0 < $1.0 }
        var t: Millis = 100
        while t <= until {
            while let (at, payload) = pending.first, at <= t {
                _ = s.handle(.hello(payload), now: at)
                pending.removeFirst()
            }
            _ = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: false, replicas: [replica])), now: t)
            let claims = t >= 1_000
            let report = claims ? InfoReport(runID: "b", isReplica: false)
                : InfoReport(runID: "b", isReplica: true, masterHost: "10.0.0.1", masterPort: 6379, masterLinkUp: true)
            for action in s.handle(.info(replicaRef, report), now: t) {
                if case .replicate(Self.replicaRef, to: Self.master) = action { conversions.append(t) }
            }
            t += 100
        }
        return (conversions, s)
    }

    @Test("no hello since the claim began: not converted after 500 ms; a peer's hello with the same configuration: converted at once")
    func waitsForAHello() {
        let unheard = Self.run(until: 3_000)
        #expect(unheard.conversions.isEmpty, "converted at \(unheard.conversions) with no peer heard since the claim")
        let heard = Self.run(until: 3_000, hellos: [(2_050, "10.0.0.4,26380,p1,0,m,10.0.0.1,6379,0")])
        #expect(heard.conversions.first == 2_100, "\(heard.conversions)")
        // Heard early (within the 500 ms): converted once the 500 ms have passed, as before.
        let early = Self.run(until: 3_000, hellos: [(1_150, "10.0.0.5,26381,p2,0,m,10.0.0.1,6379,0")])
        #expect(early.conversions.first == 1_600, "\(early.conversions)")
    }

    @Test("the first hello brings the newer configuration: the claiming replica is the new master, never converted")
    func helloBringsNewConfiguration() {
        let r = Self.run(until: 4_000, hellos: [(2_050, "10.0.0.4,26380,p1,1,m,10.0.0.3,6380,1")])
        #expect(r.conversions.isEmpty, "\(r.conversions)")
        #expect(r.state.currentMasterAddress("m") == Self.replica)
    }

    @Test("a replica that claimed master before its link went down (a partition) and claims it again after: the claim counts from the link's return, so the peers' hellos heard before the partition do not make it 500 ms (write simulator seed 54832)")
    func claimCountsFromLinkReturn() {
        func run(helloAfter: Millis?) -> [Millis] {
            var s = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
            _ = s.monitor(name: "m", address: Self.master, quorum: 2, downAfter: 60_000, now: 0)
            _ = s.handle(.linkUp(.master("m")), now: 0)
            _ = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: false, replicas: [Self.replica])), now: 10)
            _ = s.handle(.linkUp(Self.replicaRef), now: 30)
            _ = s.handle(.info(Self.replicaRef, InfoReport(runID: "b", isReplica: false)), now: 1_000)  // claims master
            // Both peers heard after the claim began, then the replica unreachable 12 s.
            _ = s.handle(.hello("10.0.0.4,26380,p1,0,m,10.0.0.1,6379,0"), now: 1_050)
            _ = s.handle(.hello("10.0.0.5,26381,p2,0,m,10.0.0.1,6379,0"), now: 1_060)
            _ = s.handle(.linkDown(Self.replicaRef), now: 1_200)
            _ = s.handle(.linkUp(Self.replicaRef), now: 14_000)
            var conversions: [Millis] = []
            var t: Millis = 14_100
            while t <= 17_000 {
                if let h = helloAfter, t == 14_000 + h {
                    _ = s.handle(.hello("10.0.0.4,26380,p1,0,m,10.0.0.1,6379,0"), now: t - 50)
                }
                _ = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: false, replicas: [Self.replica])), now: t)
                for action in s.handle(.info(Self.replicaRef, InfoReport(runID: "b", isReplica: false)), now: t) {
                    if case .replicate(Self.replicaRef, to: Self.master) = action { conversions.append(t) }
                }
                t += 100
            }
            return conversions
        }
        // Nothing heard since the link came back: not converted (the first hello may name it the
        // new master); 7.0's 8 s would count from the return too.
        #expect(run(helloAfter: nil).isEmpty)
        // A hello with the same configuration 1 s after the return: converted then.
        #expect(run(helloAfter: 1_000).first == 15_000, "\(run(helloAfter: 1_000))")
    }

    @Test("no peer heard since the claim began: 7.0's 8 s still convert it; a sentinel with no peers converts after 500 ms")
    func unheardFallsBackToRedis70Wait() {
        let r = Self.run(until: 10_000)
        #expect(r.conversions.first == 9_100, "\(r.conversions)")
        // A sentinel that knows no peer is its own majority: 500 ms.
        let alone = Self.run(until: 3_000, peers: false)
        #expect(alone.conversions.first == 1_600, "\(alone.conversions)")
    }
}
