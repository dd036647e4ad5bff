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
