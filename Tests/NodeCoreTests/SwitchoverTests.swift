import NodeCore
import Testing

/// `tandem switchover`'s plan (which replicas step aside for `--to`) and its reading of the
/// monitor's events.
@Suite("Node core: planned switchover")
struct SwitchoverTests {
    typealias R = Switchover.Replica
    let a = R(address: "10.0.0.2:6379", flags: ["slave"], priority: 100, linkUp: true)
    let b = R(address: "10.0.0.3:6379", flags: ["slave"], priority: 50, linkUp: true)

    @Test("--to: every other usable replica steps aside (priority 0), its own priority kept to restore")
    func planWithTarget() throws {
        let plan = try Switchover.plan(masterFlags: ["master"], replicas: [a, b], target: b.address).get()
        #expect(plan.target == b.address)
        #expect(plan.excluded == [a])
        // An unusable one is left alone (it cannot be chosen anyway).
        let down = R(address: "10.0.0.4:6379", flags: ["slave", "s_down", "disconnected"], priority: 100, linkUp: false)
        let again = try Switchover.plan(masterFlags: ["master"], replicas: [a, down, b], target: a.address).get()
        #expect(again.excluded == [b])
        // Without --to the monitor chooses: nobody steps aside.
        #expect(try Switchover.plan(masterFlags: ["master"], replicas: [a, b], target: nil).get() == Switchover.Plan(excluded: [], target: nil))
    }

    @Test("refused with the reason: unknown target, a target that cannot be promoted, no usable replica, a failover in progress")
    func refusals() {
        func error(_ r: Result<Switchover.Plan, Switchover.PlanError>) -> String {
            if case .failure(let e) = r { return e.description }
            return "accepted"
        }
        #expect(error(Switchover.plan(masterFlags: ["master"], replicas: [a], target: "10.0.0.9:6379"))
                == "--to 10.0.0.9:6379 is not a replica of this master (its replicas: 10.0.0.2:6379)")
        let lagging = R(address: a.address, flags: ["slave"], priority: 100, linkUp: false)
        #expect(error(Switchover.plan(masterFlags: ["master"], replicas: [lagging], target: a.address))
                == "--to 10.0.0.2:6379 cannot be promoted: its replication link to the master is down")
        let never = R(address: a.address, flags: ["slave"], priority: 0, linkUp: true)
        #expect(error(Switchover.plan(masterFlags: ["master"], replicas: [never], target: a.address)).contains("replica-priority is 0"))
        #expect(error(Switchover.plan(masterFlags: ["master"], replicas: [], target: nil)) == "no replica can be promoted (the master has none)")
        #expect(error(Switchover.plan(masterFlags: ["master"], replicas: [never], target: nil)).hasPrefix("no replica can be promoted: 10.0.0.2:6379"))
        #expect(error(Switchover.plan(masterFlags: ["master", "failover_in_progress"], replicas: [a], target: nil)) == "a failover is already in progress")
    }

    @Test("events: only this group's count; +switch-master ends it with the new address, a -failover-abort-… with its reason")
    func progress() {
        var p = Switchover.Progress(group: "g1")
        do { let r = p.feed("+sdown", "slave 10.0.0.2:6379 10.0.0.2 6379 @ other 10.0.0.1 6379"); #expect(!r) }
        do { let r = p.feed("+switch-master", "other 10.0.0.1 6379 10.0.0.2 6379"); #expect(!r) }
        do { let r = p.feed("__sentinel__:hello", "10.0.0.5,26379,abc,1,g1,10.0.0.1,6379,1"); #expect(!r) }
        do { let r = p.feed("+try-failover", "master g1 10.0.0.1 6379"); #expect(r) }
        do { let r = p.feed("+selected-slave", "slave 10.0.0.2:6379 10.0.0.2 6379 @ g1 10.0.0.1 6379"); #expect(r) }
        #expect(p.outcome == nil)
        do { let r = p.feed("+switch-master", "g1 10.0.0.1 6379 10.0.0.2 6379"); #expect(r) }
        #expect(p.outcome == .switched(to: "10.0.0.2:6379"))
        // Nothing after the outcome.
        do { let r = p.feed("+failover-end", "master g1 10.0.0.1 6379"); #expect(!r) }

        var q = Switchover.Progress(group: "g1")
        q.feed("+try-failover", "master g1 10.0.0.1 6379")
        q.feed("-failover-abort-slave-timeout", "master g1 10.0.0.1 6379")
        #expect(q.outcome == .aborted("failover-abort-slave-timeout"))
    }
}
