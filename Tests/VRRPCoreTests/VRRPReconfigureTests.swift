import Testing
@testable import VRRPCore

private let me = IPAddress("10.99.0.2")!
private let peer = IPAddress("10.99.0.1")!

private func settings(priority: UInt8 = 100, interval: Int = 100, preempt: Bool = true, garpRepeat: Int = 5,
                      garpRefresh: Duration? = nil, tracked: [TrackedObject] = []) -> VRRPInstanceSettings {
    VRRPInstanceSettings(name: "VI_1", vrid: 51, priority: priority, intervalCentiseconds: interval, primaryAddress: me,
                         preempt: preempt, garpRepeat: garpRepeat, garpRefresh: garpRefresh, addressRefresh: .seconds(1),
                         tracked: tracked)
}

/// One instance on a simulated clock: every deadline fired at its exact time.
private struct Clocked {
    var instance: VRRPInstance
    var now: Duration = .zero

    init(_ settings: VRRPInstanceSettings) { instance = VRRPInstance(settings: settings) }

    @discardableResult
    mutating func send(_ event: VRRPEvent) -> [VRRPAction] { instance.handle(event, now: now) }

    @discardableResult
    mutating func advance(to t: Duration) -> [VRRPAction] {
        var out: [VRRPAction] = []
        while let next = instance.nextDeadline, next <= t {
            now = max(now, next)
            out += send(.timer)
        }
        now = t
        return out
    }

    @discardableResult
    mutating func reconfigure(_ s: VRRPInstanceSettings, addressesAdded: Bool = false) -> [VRRPAction] {
        instance.reconfigure(s, addressesAdded: addressesAdded, now: now)
    }

    func advert(_ priority: UInt8) -> VRRPEvent {
        .advert(VRRPAdvert(version: .v2, vrid: 51, priority: priority, intervalCentiseconds: 100, addresses: []), from: peer)
    }

    /// A master at 150 (started alone, Master_Down_Interval passed).
    static func master(_ s: VRRPInstanceSettings = settings(priority: 150)) -> Clocked {
        var c = Clocked(s)
        c.send(.start)
        c.advance(to: .seconds(5))
        return c
    }
}

private func transitions(_ actions: [VRRPAction]) -> [VRRPState] {
    actions.compactMap { if case .transition(_, let to, _) = $0 { to } else { nil } }
}

@Suite("VRRP instance: reload's new settings in place (keepalived 2.2.7's restore_vrrp_state)")
struct VRRPReconfigureTests {
    @Test("unchanged settings: a master stays master, advertises once at once, nothing else (no priority 0, no GARP)")
    func unchangedMaster() {
        var c = Clocked.master()
        #expect(c.instance.state == .master)
        let actions = c.reconfigure(settings(priority: 150))
        #expect(actions == [.sendAdvert(priority: 150)])
        #expect(c.instance.state == .master)
        // It goes on advertising every interval from the reload.
        #expect(c.advance(to: c.now + .seconds(1)).contains(.sendAdvert(priority: 150)))
    }

    @Test("unchanged settings: a backup stays backup, its Master_Down_Timer unchanged, no action")
    func unchangedBackup() {
        var c = Clocked(settings(priority: 100))
        c.send(.start)
        c.advance(to: .seconds(1))
        c.send(c.advert(150))
        let due = c.instance.masterDownDeadline
        #expect(c.reconfigure(settings(priority: 100)).isEmpty)
        #expect(c.instance.state == .backup)
        #expect(c.instance.masterDownDeadline == due)
    }

    @Test("a master's priority lowered below the backup's: it stays master advertising the new priority; the backup's advert then sends it to backup")
    func lowerPriority() {
        var c = Clocked.master()
        let actions = c.reconfigure(settings(priority: 50))
        #expect(actions.contains(.sendAdvert(priority: 50)))
        #expect(!actions.contains(.removeVirtualAddresses))
        #expect(c.instance.state == .master && c.instance.effectivePriority == 50)
        let heard = c.send(c.advert(100))
        #expect(transitions(heard) == [.backup])
        #expect(heard.contains(.removeVirtualAddresses))
    }

    @Test("a backup's priority raised above the master's: it preempts when the master's lower adverts no longer hold it")
    func raiseBackup() {
        var c = Clocked(settings(priority: 100))
        c.send(.start)
        c.advance(to: .seconds(1))
        c.send(c.advert(150))
        #expect(c.reconfigure(settings(priority: 200)).contains(.log("reload: priority 100 -> 200")))
        // The master goes on at 150: lower now, so ignored; Master_Down_Interval later we take over.
        var became: [VRRPState] = []
        for k in 1...4 {
            became += transitions(c.advance(to: .seconds(1) + .milliseconds(900 * k)))
            if became.isEmpty { c.send(c.advert(150)) }
        }
        #expect(became == [.master])
    }

    @Test("addresses added to a master: added and all announced (garp_master_repeat); a backup does nothing")
    func addressesAdded() {
        var c = Clocked.master()
        let actions = c.reconfigure(settings(priority: 150, garpRepeat: 3), addressesAdded: true)
        #expect(actions == [.sendAdvert(priority: 150), .addVirtualAddresses, .sendGratuitous(count: 3)])
        var b = Clocked(settings(priority: 100))
        b.send(.start)
        #expect(b.reconfigure(settings(priority: 100), addressesAdded: true).isEmpty)
    }

    @Test("a weight-0 tracked object down in the new settings: a master leaves for FAULT (priority 0, addresses removed)")
    func newTrackedDown() {
        var c = Clocked.master()
        let actions = c.reconfigure(settings(priority: 150, tracked: [TrackedObject(name: "script chk", weight: 0, up: false)]))
        #expect(transitions(actions) == [.fault])
        #expect(actions.contains(.sendAdvert(priority: 0)) && actions.contains(.removeVirtualAddresses))
    }

    @Test("the tracked object that held it in FAULT no longer configured: back to backup")
    func faultCleared() {
        var c = Clocked(settings(priority: 100, tracked: [TrackedObject(name: "script chk", weight: 0, up: false)]))
        c.send(.start)
        #expect(c.instance.state == .fault)
        #expect(transitions(c.reconfigure(settings(priority: 100))) == [.backup])
    }

    @Test("a tracked weight changed: the effective priority follows at once")
    func trackedWeight() {
        var c = Clocked.master(settings(priority: 150, tracked: [TrackedObject(name: "script chk", weight: 10, up: true)]))
        #expect(c.instance.effectivePriority == 160)
        #expect(c.reconfigure(settings(priority: 150, tracked: [TrackedObject(name: "script chk", weight: 30, up: true)]))
            .contains(.sendAdvert(priority: 180)))
    }

    @Test("a shorter advert_int on a backup shortens its wait; a master advertises at the new interval")
    func interval() throws {
        var b = Clocked(settings(priority: 100))
        b.send(.start)
        b.advance(to: .seconds(1))
        b.send(b.advert(150))
        b.reconfigure(settings(priority: 100, interval: 20))
        let due = try #require(b.instance.masterDownDeadline)
        #expect(due <= b.now + .milliseconds(3 * 200 + 200))
        var m = Clocked.master()
        m.reconfigure(settings(priority: 150, interval: 20))
        #expect(m.instance.nextDeadline.map { $0 <= m.now + .milliseconds(200) } == true)
    }
}
