import Testing
@testable import VRRPCore

/// A simulated clock driving one instance: events at chosen instants, timers fired exactly at
/// their deadlines.
private struct Harness {
    var instance: VRRPInstance
    var now: Duration = .zero
    var log: [(Duration, VRRPAction)] = []

    init(_ settings: VRRPInstanceSettings) { instance = VRRPInstance(settings: settings) }

    @discardableResult
    mutating func send(_ event: VRRPEvent) -> [VRRPAction] {
        let actions = instance.handle(event, now: now)
        log += actions.map { (now, $0) }
        return actions
    }

    /// Advances to `t`, firing every deadline on the way at its exact time.
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

    mutating func advance(by d: Duration) -> [VRRPAction] { advance(to: now + d) }

    func advert(priority: UInt8, interval: Int? = nil) -> VRRPEvent {
        .advert(VRRPAdvert(version: instance.settings.version, vrid: instance.settings.vrid, priority: priority,
                           intervalCentiseconds: interval ?? instance.settings.intervalCentiseconds, addresses: []), from: peer)
    }
}

private let me = IPAddress("10.99.0.2")!
private let peer = IPAddress("10.99.0.1")!
private let higherPeer = IPAddress("10.99.0.3")!

private func settings(
    priority: UInt8 = 100, version: VRRPVersion = .v2, interval: Int = 100, initialMaster: Bool = false,
    preempt: Bool = true, preemptDelay: Duration = .zero, tracked: [TrackedObject] = []
) -> VRRPInstanceSettings {
    VRRPInstanceSettings(name: "VI_1", version: version, vrid: 51, priority: priority, intervalCentiseconds: interval,
                         primaryAddress: me, initialMaster: initialMaster, preempt: preempt, preemptDelay: preemptDelay,
                         addressRefresh: .seconds(1), tracked: tracked)
}

private func becameMaster(_ actions: [VRRPAction]) -> Bool {
    actions.contains { if case .transition(_, .master, _) = $0 { true } else { false } }
}

@Suite("VRRP instance state machine (simulated clock)")
struct VRRPInstanceTests {
    @Test("timers follow the RFC: v2 prio 100 skew 0.609 s, MDI 3.609 s; v3 0.1 s skew 0.061 s, MDI 0.361 s")
    func timers() {
        let v2 = VRRPInstance(settings: settings())
        #expect(v2.skewTime == .microseconds(609_375))
        #expect(v2.masterDownInterval == .microseconds(3_609_375))
        let v3 = VRRPInstance(settings: settings(version: .v3, interval: 10))
        #expect(v3.skewTime == .microseconds(60_937))
        #expect(v3.masterDownInterval == .microseconds(360_937))
    }

    @Test("a lone backup becomes master after Master_Down_Interval: VIP, GARPs, advert, notify, in that order (keepalived's)")
    func loneBackup() {
        var h = Harness(settings())
        #expect(h.send(.start) == [.transition(from: .initialize, to: .backup, priority: 100)])
        #expect(h.advance(to: .microseconds(3_609_374)).isEmpty)
        let actions = h.advance(to: .microseconds(3_609_375))
        #expect(actions == [.addVirtualAddresses, .sendGratuitous(count: 5), .sendAdvert(priority: 100),
                            .transition(from: .backup, to: .master, priority: 100)])
        #expect(h.instance.state == .master)
        // Adverts every interval, VIP lifetime refreshed, second GARP burst after 5 s.
        let later = h.advance(by: .seconds(5))
        #expect(later.filter { $0 == .sendAdvert(priority: 100) }.count == 5)
        #expect(later.filter { $0 == .refreshVirtualAddresses }.count == 5)
        #expect(later.filter { $0 == .sendGratuitous(count: 5) }.count == 1)
    }

    @Test("priority 255 (address owner) with state MASTER is master at once; with state BACKUP after Master_Down_Interval (keepalived 2.2.7)")
    func owner() {
        var h = Harness(settings(priority: 255, initialMaster: true))
        #expect(becameMaster(h.send(.start)))
        var backup = Harness(settings(priority: 255))
        #expect(!becameMaster(backup.send(.start)))
        #expect(backup.instance.masterDownInterval == .microseconds(3_003_906))
        #expect(!becameMaster(backup.advance(to: .milliseconds(3003))))
        #expect(becameMaster(backup.advance(to: .milliseconds(3004))))
    }

    @Test("two address owners: a 255 master hearing another 255 drops to 254 for good and yields, whatever the addresses (keepalived 2.2.7)")
    func twoOwners() {
        // From a lower address: the usual tie-break would keep us master; keepalived's rule does not.
        var h = Harness(settings(priority: 255, initialMaster: true, tracked: [TrackedObject(name: "chk", weight: 10)]))
        h.send(.start)
        #expect(h.instance.state == .master)
        let heard = h.send(h.advert(priority: 255))
        #expect(heard.contains { if case .log(let m) = $0 { m.contains("CONFIGURATION ERROR") && m.contains("address owner") } else { false } })
        #expect(heard.contains(.removeVirtualAddresses))
        #expect(h.instance.state == .backup)
        #expect(h.instance.settings.priority == 254)
        // No longer the owner: tracking weights apply and keep it within 1–254.
        #expect(h.instance.effectivePriority == 254)
        h.send(.tracked(name: "chk", up: false))
        #expect(h.instance.effectivePriority == 254)
        // Silence: it takes over again, at 254 (the other owner's adverts stay higher).
        #expect(becameMaster(h.advance(by: .seconds(4))))
        #expect(h.instance.effectivePriority == 254)
        let yielded = h.send(h.advert(priority: 255))
        #expect(yielded.contains(.transition(from: .master, to: .backup, priority: 254)))
        #expect(!yielded.contains { if case .log(let m) = $0 { m.contains("CONFIGURATION ERROR") } else { false } })
    }

    @Test("a 255 backup (after FAULT) hearing another owner just follows it; a 254 master yields to a 255 without the error")
    func ownerAdvertsOutsideTheRule() {
        var h = Harness(settings(priority: 254))
        h.send(.start)
        h.advance(to: .seconds(4))
        #expect(h.instance.state == .master)
        let yielded = h.send(h.advert(priority: 255))
        #expect(yielded.contains(.transition(from: .master, to: .backup, priority: 254)))
        #expect(!yielded.contains { if case .log(let m) = $0 { m.contains("CONFIGURATION ERROR") } else { false } })
        var owner = Harness(settings(priority: 255, initialMaster: true, tracked: [TrackedObject(name: "link", weight: 0)]))
        owner.send(.start)
        owner.send(.tracked(name: "link", up: false))
        owner.send(.tracked(name: "link", up: true))
        #expect(owner.instance.state == .master)  // keepalived: an owner leaves FAULT as master
        owner.send(.tracked(name: "link", up: false))
        #expect(owner.instance.state == .fault)
        #expect(owner.send(owner.advert(priority: 255)).isEmpty)
        #expect(owner.instance.settings.priority == 255)
    }

    @Test("state MASTER below 255 waits one interval and the minimum skew (keepalived)")
    func initialMaster() {
        var h = Harness(settings(initialMaster: true))
        h.send(.start)
        #expect(h.instance.state == .backup)
        #expect(!becameMaster(h.advance(to: .milliseconds(1003))))
        #expect(becameMaster(h.advance(to: .milliseconds(1004))))
    }

    @Test("a backup hearing a master of higher or equal priority stays backup; silence makes it master")
    func crashTakeover() {
        var h = Harness(settings())
        h.send(.start)
        for t in stride(from: 1, through: 20, by: 1) {
            #expect(!becameMaster(h.advance(to: .seconds(t))))
            h.send(h.advert(priority: 150))
        }
        // Master crashes after its advert at t=20: takeover at 20 + MDI.
        #expect(!becameMaster(h.advance(to: .seconds(20) + .microseconds(3_609_374))))
        #expect(becameMaster(h.advance(to: .seconds(20) + .microseconds(3_609_375))))
    }

    @Test("a priority-0 advert (master leaving) makes the backup master after Skew_Time")
    func gracefulTakeover() {
        var h = Harness(settings())
        h.send(.start)
        h.advance(to: .seconds(1))
        h.send(h.advert(priority: 150))
        h.advance(to: .seconds(2))
        h.send(h.advert(priority: 0))
        #expect(!becameMaster(h.advance(to: .seconds(2) + .microseconds(609_374))))
        #expect(becameMaster(h.advance(to: .seconds(2) + .microseconds(609_375))))
    }

    @Test("rejected packets are counted and never reset a timer (unlike keepalived)")
    func rejectedDoNotResetTimers() {
        // Backup: a flood of bad packets does not hold off the takeover.
        var b = Harness(settings())
        b.send(.start)
        for ms in stride(from: 100, to: 3600, by: 100) {
            #expect(!becameMaster(b.advance(to: .milliseconds(ms))))
            b.send(.rejected(.wrongPassword, from: peer))
        }
        #expect(becameMaster(b.advance(to: .microseconds(3_609_375))))
        #expect(b.instance.rejectedAdverts == 35)
        // Master: bad packets every 0.1 s do not silence its adverts.
        let masterAdverts = b.log.count
        for ms in stride(from: 3700, through: 8700, by: 100) {
            b.advance(to: .milliseconds(ms))
            b.send(.rejected(.wrongTTL(64), from: peer))
        }
        let sent = b.log[masterAdverts...].filter { if case .sendAdvert = $0.1 { true } else { false } }
        #expect(sent.count == 5)
        #expect(b.instance.lastRejection == .wrongTTL(64))
    }

    @Test("a master yields to higher priority, and to equal priority from a higher address")
    func masterYields() {
        var h = Harness(settings())
        h.send(.start)
        h.advance(to: .seconds(4))
        #expect(h.instance.state == .master)
        // Equal priority from a lower address: keep mastership (and re-advertise).
        let lower = h.send(.advert(VRRPAdvert(version: .v2, vrid: 51, priority: 100, intervalCentiseconds: 100, addresses: []), from: peer))
        #expect(lower.contains(.sendAdvert(priority: 100)))
        #expect(lower.contains(.masterReceivedLowerPriority(100, from: peer)))
        #expect(h.instance.state == .master)
        // Equal priority from a higher address: yield.
        let yielded = h.send(.advert(VRRPAdvert(version: .v2, vrid: 51, priority: 100, intervalCentiseconds: 100, addresses: []), from: higherPeer))
        #expect(yielded.contains(.removeVirtualAddresses))
        #expect(yielded.contains(.transition(from: .master, to: .backup, priority: 100)))
    }

    /// keepalived's master re-announces its addresses when it hears a lower-priority master
    /// (garp_lower_prio_repeat, default garp_master_repeat; again after garp_lower_prio_delay);
    /// tandem also re-adds them first — a frozen tandem's address guard may have taken them away.
    @Test("a master hearing a lower priority re-adds and re-announces its addresses, again after garp_lower_prio_delay")
    func lowerPriorityReannounces() {
        var base = settings()
        base.garpDelay = .zero
        var h = Harness(base)
        h.send(.start)
        h.advance(to: .seconds(4))
        #expect(h.instance.state == .master)
        let lower = VRRPAdvert(version: .v2, vrid: 51, priority: 50, intervalCentiseconds: 100, addresses: [])
        let heard = h.send(.advert(lower, from: peer))
        #expect(heard.contains(.refreshVirtualAddresses))
        #expect(heard.contains(.sendGratuitous(count: 5)))  // garp_master_repeat's default
        #expect(heard.firstIndex(of: .refreshVirtualAddresses)! < heard.firstIndex(of: .sendGratuitous(count: 5))!)
        #expect(h.instance.state == .master)

        var tuned = settings()
        tuned.garpDelay = .zero
        tuned.garpLowerPriorityRepeat = 2
        tuned.garpLowerPriorityDelay = .seconds(3)
        h = Harness(tuned)
        h.send(.start)
        h.advance(to: .seconds(4))
        #expect(h.send(.advert(lower, from: peer)).contains(.sendGratuitous(count: 2)))
        let mark = h.log.count
        h.advance(to: .milliseconds(6900))
        #expect(!h.log[mark...].contains { $0.1 == .sendGratuitous(count: 2) })
        h.advance(to: .milliseconds(7100))
        #expect(h.log[mark...].filter { $0.1 == .sendGratuitous(count: 2) }.count == 1)

        tuned.garpLowerPriorityRepeat = 0
        h = Harness(tuned)
        h.send(.start)
        h.advance(to: .seconds(4))
        let none = h.send(.advert(lower, from: peer))
        #expect(none.contains(.refreshVirtualAddresses))
        #expect(!none.contains { if case .sendGratuitous = $0 { true } else { false } })
    }

    /// The node agent's claim gate says no (no majority heard just now: back from a freeze): a
    /// master hearing a lower-priority master yields instead of re-asserting; otherwise as usual.
    @Test("a master barred by the claim gate yields to a lower-priority master; a backup, or a higher priority, as usual")
    func barredMasterYields() {
        var h = Harness(settings(priority: 150))
        h.send(.start)
        h.advance(to: .seconds(4))
        #expect(h.instance.state == .master)
        let lower = VRRPAdvert(version: .v2, vrid: 51, priority: 100, intervalCentiseconds: 100, addresses: [])
        let yielded = h.send(.advertWhileBarred(lower, from: peer))
        #expect(yielded.contains(.removeVirtualAddresses))
        #expect(yielded.contains(.transition(from: .master, to: .backup, priority: 150)))
        #expect(!yielded.contains { if case .sendAdvert = $0 { true } else { false } })
        #expect(h.instance.state == .backup)
        // A backup barred: as an advert (its claim is held by the shell's gate, not here).
        let asBackup = h.send(.advertWhileBarred(lower, from: peer))
        #expect(h.instance.state == .backup && !asBackup.contains(.removeVirtualAddresses))
        // A master barred hearing a priority-0 advert: as usual (it stays, and advertises).
        var m = Harness(settings(priority: 150))
        m.send(.start)
        m.advance(to: .seconds(4))
        let leaving = VRRPAdvert(version: .v2, vrid: 51, priority: 0, intervalCentiseconds: 100, addresses: [])
        m.send(.advertWhileBarred(leaving, from: peer))
        #expect(m.instance.state == .master)
    }

    @Test("preempt: a higher-priority backup takes over from a lower master after MDI")
    func preempt() {
        var h = Harness(settings(priority: 200))
        h.send(.start)
        for t in 1...3 {
            h.advance(to: .seconds(t))
            h.send(h.advert(priority: 100))
        }
        // Lower-priority adverts are ignored, so the down timer (started at 0) fires.
        #expect(h.instance.state == .master || becameMaster(h.advance(to: .seconds(4))))
        #expect(h.instance.state == .master)
    }

    @Test("nopreempt: a higher-priority backup defers to a lower-priority master while it advertises")
    func nopreempt() {
        var h = Harness(settings(priority: 200, preempt: false))
        h.send(.start)
        for t in 1...30 {
            #expect(!becameMaster(h.advance(to: .seconds(t))))
            h.send(h.advert(priority: 100))
        }
        #expect(h.instance.state == .backup)
    }

    @Test("preempt_delay: a higher-priority backup waits that long before preempting")
    func preemptDelay() {
        var h = Harness(settings(priority: 200, preemptDelay: .seconds(10)))
        h.send(.start)
        var tookOver: Duration?
        for t in 1...30 {
            if becameMaster(h.advance(to: .seconds(t))) { tookOver = h.now; break }
            h.send(h.advert(priority: 100))
        }
        // First lower advert at 1 s, delay ends at 11 s; adverts after that are ignored and
        // the down timer set at 10 s (3 × 1 + skew 0.22) fires at ~13.2 s.
        #expect(tookOver == .seconds(14))
        #expect(h.instance.state == .master)
    }

    @Test("v3 backups adopt the master's advert interval for Master_Down_Interval")
    func v3AdoptsInterval() {
        var h = Harness(settings(version: .v3, interval: 10))
        h.send(.start)
        h.send(h.advert(priority: 150, interval: 100))
        #expect(h.instance.masterAdverIntervalCentiseconds == 100)
        #expect(h.instance.masterDownDeadline == .microseconds(3_609_375))
    }

    @Test("a master leaving sends priority 0 and removes its addresses on shutdown")
    func shutdown() {
        var h = Harness(settings(priority: 255, initialMaster: true))
        h.send(.start)
        #expect(h.send(.shutdown) == [.sendAdvert(priority: 0), .removeVirtualAddresses,
                                      .transition(from: .master, to: .stopped, priority: 255)])
        #expect(h.instance.nextDeadline == nil)
    }

    @Test("track weights: weight > 0 added while up, < 0 subtracted while down, clamped to 1–254; 255 fixed")
    func weights() {
        var h = Harness(settings(priority: 100, tracked: [
            TrackedObject(name: "up", weight: 20), TrackedObject(name: "down", weight: -50),
        ]))
        #expect(h.instance.effectivePriority == 120)
        h.send(.tracked(name: "down", up: false))
        #expect(h.instance.effectivePriority == 70)
        h.send(.tracked(name: "up", up: false))
        #expect(h.instance.effectivePriority == 50)
        let big = VRRPInstance(settings: settings(priority: 250, tracked: [TrackedObject(name: "x", weight: 100)]))
        #expect(big.effectivePriority == 254)
        let owner = VRRPInstance(settings: settings(priority: 255, tracked: [TrackedObject(name: "x", weight: -100, up: false)]))
        #expect(owner.effectivePriority == 255)
    }

    @Test("a weight-0 tracked failure puts a master in FAULT (priority 0 advert, VIP removed); recovery goes back to BACKUP")
    func fault() {
        var h = Harness(settings(tracked: [TrackedObject(name: "chk", weight: 0)]))
        h.send(.start)
        h.advance(to: .seconds(4))
        #expect(h.instance.state == .master)
        let down = h.send(.tracked(name: "chk", up: false))
        #expect(Array(down.dropFirst()) == [.sendAdvert(priority: 0), .removeVirtualAddresses,
                                            .transition(from: .master, to: .fault, priority: 100)])
        #expect(h.advance(by: .seconds(10)).isEmpty)
        let up = h.send(.tracked(name: "chk", up: true))
        #expect(up.contains(.transition(from: .fault, to: .backup, priority: 100)))
    }

    @Test("a claim takes over after Skew_Time, not Master_Down_Interval, at once over a lower-priority master just heard or after a Master_Down_Interval of silence; a live higher-priority master still wins")
    func claim() {
        // v3, 100 ms adverts, priority 150: skew 41 ms, Master_Down_Interval 341 ms.
        var h = Harness(settings(priority: 150, version: .v3, interval: 10, tracked: [TrackedObject(name: "node", weight: 0, up: false)]))
        h.send(.start)
        #expect(h.instance.state == .fault)
        h.advance(to: .milliseconds(300))
        h.send(.tracked(name: "node", up: true))
        #expect(h.instance.state == .backup)
        // Listening for less than a Master_Down_Interval: a master may not have been heard yet.
        h.send(.claim)
        #expect(h.instance.masterDownDeadline == .milliseconds(300) + h.instance.skewTime)
        #expect(becameMaster(h.advance(by: .milliseconds(50))))
        // A claim in any other state does nothing.
        #expect(h.send(.claim).isEmpty)

        // A master heard, then silent for a Master_Down_Interval and more while listening (the
        // lab's cut where VRRP does not cross: the old holder's adverts stopped a second before):
        // at once; nothing ever heard (an interface down until now), or a priority-0 advert (a
        // master leaving) just heard: Skew_Time.
        for (last, atOnce) in [(Int?.none, false), (Int?.some(400), true), (Int?.some(0), false), (Int?.some(300), false)] {
            var q = Harness(settings(priority: 150, version: .v3, interval: 10, tracked: [TrackedObject(name: "node", weight: 0, up: false)]))
            q.send(.start)
            if let last {
                q.advance(to: .seconds(1) - .milliseconds(last))
                q.send(q.advert(priority: last == 0 ? 0 : 100))
            }
            q.advance(to: .seconds(1))
            q.send(.tracked(name: "node", up: true))
            q.send(.claim)
            #expect(q.instance.masterDownDeadline == q.now + (atOnce ? .zero : q.instance.skewTime), "last advert \(String(describing: last)) ms ago")
        }

        // Backup hearing a higher-priority master: the claim is overridden by its next advert.
        var g = Harness(settings(priority: 150, version: .v3, interval: 10))
        g.send(.start)
        g.send(g.advert(priority: 200))
        g.send(.claim)
        g.advance(by: .milliseconds(30))
        g.send(g.advert(priority: 200))
        #expect(g.instance.state == .backup)
        #expect(!becameMaster(g.advance(by: .milliseconds(200))))
        // A claim never delays a takeover that is already due sooner.
        let due = g.instance.masterDownDeadline
        g.send(g.advert(priority: 0))
        #expect(g.instance.masterDownDeadline! < due!)
        let sooner = g.instance.masterDownDeadline
        #expect(g.send(.claim).isEmpty && g.instance.masterDownDeadline == sooner)

        // A lower-priority master heard within its interval (while this instance was still in
        // FAULT): the claim takes over at once; heard longer ago than an interval, after Skew_Time.
        for (ago, atOnce) in [(Duration.milliseconds(60), true), (.milliseconds(150), false)] {
            var k = Harness(settings(priority: 150, version: .v3, interval: 10, tracked: [TrackedObject(name: "node", weight: 0, up: false)]))
            k.send(.start)
            k.advance(to: .seconds(1))
            k.send(k.advert(priority: 100))
            k.advance(by: ago)
            k.send(.tracked(name: "node", up: true))
            k.send(.claim)
            #expect(k.instance.masterDownDeadline == k.now + (atOnce ? .zero : k.instance.skewTime), "heard \(ago) ago")
        }
        // nopreempt: a lower master still defers the claim as before.
        var n = Harness(settings(priority: 150, version: .v3, interval: 10, preempt: false))
        n.send(.start)
        n.send(n.advert(priority: 100))
        n.send(.claim)
        #expect(n.instance.masterDownDeadline == n.now + n.instance.skewTime)
    }

    @Test("starting with a failed weight-0 check starts in FAULT")
    func startFault() {
        var h = Harness(settings(tracked: [TrackedObject(name: "chk", weight: 0, up: false)]))
        #expect(h.send(.start) == [.transition(from: .initialize, to: .fault, priority: 100)])
    }

    @Test("check results: fall failures make it down, rise successes make it up")
    func checkTracker() {
        var t = CheckTracker(fall: 3, rise: 2)
        #expect(t.record(success: false) == nil)
        #expect(t.record(success: false) == nil)
        #expect(t.record(success: true) == nil)
        #expect(t.record(success: false) == nil)
        #expect(t.record(success: false) == nil)
        #expect(t.record(success: false) == false)
        #expect(t.record(success: true) == nil)
        #expect(t.record(success: true) == true)
        var initFail = CheckTracker(fall: 1, rise: 1, initiallyUp: false)
        #expect(initFail.record(success: true) == true)
    }
}

@Suite("VRRP sync group events")
struct VRRPSyncGroupTests {
    @Test("syncMaster makes a backup master at once; syncBackup makes a master backup; others ignore them")
    func follow() {
        var h = Harness(settings())
        h.send(.start)
        #expect(becameMaster(h.send(.syncMaster)))
        #expect(h.send(.syncMaster).isEmpty)
        let back = h.send(.syncBackup)
        #expect(back.contains(.removeVirtualAddresses))
        #expect(h.instance.state == .backup)
        #expect(h.send(.syncBackup).isEmpty)
    }

    @Test("a fault imposed by the group is told apart from the instance's own")
    func ownFault() {
        var h = Harness(settings(tracked: [TrackedObject(name: "sync group G", weight: 0), TrackedObject(name: "chk", weight: 0)]))
        h.send(.start)
        h.send(.tracked(name: "sync group G", up: false))
        #expect(h.instance.state == .fault)
        #expect(!h.instance.isFaulty(excluding: "sync group G"))
        h.send(.tracked(name: "chk", up: false))
        #expect(h.instance.isFaulty(excluding: "sync group G"))
    }
}

@Suite("VRRP sync group propagation")
struct VRRPSyncPropagationTests {
    let group = VRRPSyncGroup(name: "G", members: [0, 2, 5])

    func describe(_ events: [(member: Int, event: VRRPEvent)]) -> [String] {
        events.map { m, e in
            switch e {
            case .syncMaster: "\(m) syncMaster"
            case .syncBackup: "\(m) syncBackup"
            case .tracked(let name, let up): "\(m) \(name) \(up ? "up" : "down")"
            default: "\(m) other"
            }
        }
    }

    @Test("to MASTER: the others follow; MASTER to BACKUP: the others follow; other moves and non-members: nothing")
    func followers() {
        #expect(describe(group.propagate(member: 2, from: .backup, to: .master) { _ in false }) == ["0 syncMaster", "5 syncMaster"])
        #expect(describe(group.propagate(member: 0, from: .master, to: .backup) { _ in false }) == ["2 syncBackup", "5 syncBackup"])
        #expect(group.propagate(member: 0, from: .initialize, to: .backup) { _ in false }.isEmpty)
        #expect(group.propagate(member: 3, from: .backup, to: .master) { _ in false }.isEmpty)
    }

    @Test("a member's own fault puts the others in FAULT through the group's object, and its recovery lifts it")
    func faults() {
        // Member 2 went to FAULT on its own: the others' group object goes down, its own stays up.
        let down = group.propagate(member: 2, from: .backup, to: .fault) { $0 == 2 }
        #expect(describe(down) == ["0 sync group G down", "2 sync group G up", "5 sync group G down"])
        // It recovered: every member's group object is up again.
        let up = group.propagate(member: 2, from: .fault, to: .backup) { _ in false }
        #expect(describe(up) == ["0 sync group G up", "2 sync group G up", "5 sync group G up"])
    }

    @Test("a check that cannot run counts as failed")
    func cannotRun() {
        var t = CheckTracker(fall: 2, rise: 1)
        #expect(t.recordCannotRun() == nil)
        #expect(t.recordCannotRun() == false)
        #expect(!t.up)
    }
}
