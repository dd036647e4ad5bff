import SentinelCore
import Testing

/// `SENTINEL SET`, `CONFIG SET announce-*` and `DEBUG` as core calls: the settings live in the core.
@Suite("Sentinel core: runtime settings")
struct AdminTests {
    static let master = InstanceAddress(ip: "10.0.0.1", port: 6379)

    static func monitored(learnsAnnounceIP: Bool = false) -> SentinelState {
        var s = SentinelState(myID: "me", announce: InstanceAddress(ip: "127.0.0.1", port: 26379), learnsAnnounceIP: learnsAnnounceIP)
        _ = s.monitor(name: "m", address: master, quorum: 2, now: 0)
        return s
    }

    @Test("SENTINEL SET: the core's master changes and +set is published; the quorum check follows")
    func set() throws {
        var s = Self.monitored()
        let actions = s.set(master: "m", .quorum(1), option: "quorum", value: "1")
        let set = SentinelEvent(level: .warning, type: "+set", payload: "master m 10.0.0.1 6379 quorum 1")
        #expect(actions == [.publish(set), .notificationScript(master: "m", set)])
        #expect(s.masters["m"]!.quorum == 1)
        #expect(try #require(s.quorumCheck("m")).quorumReachable, "alone, quorum 1 is reachable")
        _ = s.set(master: "m", .downAfter(5_000), option: "down-after-milliseconds", value: "5000")
        _ = s.set(master: "m", .crashDetection(false), option: "crash-detection", value: "no")
        #expect(s.masters["m"]!.downAfter == 5_000 && s.masters["m"]!.crashDetection == false)
        #expect(s.set(master: "nosuch", .quorum(1), option: "quorum", value: "1").isEmpty)
    }

    @Test("a master monitored by a name moves to the address the lookup gave, unless it moved meanwhile; no address changes nothing")
    func nameResolved() {
        let byName = InstanceAddress(ip: "db.example", port: 6379)
        var s = SentinelState(myID: "me", announce: InstanceAddress(ip: "127.0.0.1", port: 26379))
        _ = s.monitor(name: "n", address: byName, quorum: 2, now: 0)
        #expect(s.handle(.nameResolved(master: "n", from: byName, address: nil), now: 10).isEmpty)
        #expect(s.masters["n"]!.address == byName)
        let actions = s.handle(.nameResolved(master: "n", from: byName, address: "10.0.0.7"), now: 20)
        let moved = InstanceAddress(ip: "10.0.0.7", port: 6379)
        #expect(s.masters["n"]!.address == moved)
        #expect(actions == [.disconnect(.master("n")), .connect(.master("n"), moved), .saveConfig])
        // A late answer for the old name (a second lookup) and an unknown master change nothing.
        #expect(s.handle(.nameResolved(master: "n", from: byName, address: "10.0.0.8"), now: 30).isEmpty)
        #expect(s.masters["n"]!.address == moved)
        #expect(s.handle(.nameResolved(master: "nosuch", from: byName, address: "10.0.0.8"), now: 30).isEmpty)
    }

    @Test("SENTINEL DEBUG: every timer by its DEBUG name; a new master takes the default timeouts")
    func debugTimers() {
        var s = Self.monitored()
        for (i, name) in SentinelTimers.Name.allCases.enumerated() { s.setTimer(name, Millis(1_000 + i)) }
        for (i, name) in SentinelTimers.Name.allCases.enumerated() { #expect(s.timers[name] == Millis(1_000 + i), "\(name)") }
        #expect(s.timers.infoPeriod == 1_000 && s.timers.electionTimeout == 1_010)
        #expect(SentinelTimers.Name(rawValue: "slave-reconf-timeout") == .replicaReconfTimeout)
        s.setTimer(.defaultFailoverTimeout, 7_000)
        s.setTimer(.defaultDownAfter, 4_000)
        _ = s.monitor(name: "n", address: InstanceAddress(ip: "10.0.0.1", port: 7000), quorum: 1, now: 0)
        #expect(s.masters["n"]!.failoverTimeout == 7_000 && s.masters["n"]!.downAfter == 4_000)
        #expect(s.masters["m"]!.failoverTimeout == 180_000, "a master already monitored keeps its own")
    }

    @Test("the announce address: learned once from a link unless announce-ip was given; CONFIG SET changes it")
    func announce() {
        var s = Self.monitored(learnsAnnounceIP: true)
        s.learnAnnounceIP("10.0.0.9")
        s.learnAnnounceIP("10.0.0.8")
        #expect(s.announce.ip == "10.0.0.9" && !s.learnsAnnounceIP)
        _ = s.handle(.linkUp(.master("m")), now: 0)
        let hello = s.handle(.tick, now: 100).compactMap { if case .publishHello(_, let p) = $0 { p } else { nil } }
        #expect(hello.first?.hasPrefix("10.0.0.9,26379,me,") == true)

        var fixed = Self.monitored()
        fixed.learnAnnounceIP("10.0.0.9")
        #expect(fixed.announce.ip == "127.0.0.1", "announce-ip given: nothing learned")
        fixed.setAnnounceIP(nil)
        #expect(fixed.announce.ip == "127.0.0.1", "an empty announce-ip keeps the address in use")
        fixed.setAnnounceIP("192.0.2.1")
        fixed.setAnnouncePort(26999)
        #expect(fixed.announce == InstanceAddress(ip: "192.0.2.1", port: 26999))
    }
}

extension AdminTests {
    @Test("the timer visits the masters in name order, also after one is added and another removed between ticks")
    func timerVisitsMastersInOrder() {
        var s = SentinelState(myID: "me", announce: InstanceAddress(ip: "127.0.0.1", port: 26379))
        func pinged(_ actions: [SentinelAction]) -> [String] {
            actions.compactMap { action -> String? in
                if case .ping(.master(let name)) = action { return name }
                return nil
            }
        }
        for (i, name) in ["c", "a"].enumerated() {
            _ = s.monitor(name: name, address: InstanceAddress(ip: "10.0.0.\(i + 1)", port: 6379), quorum: 2, now: 0)
            _ = s.handle(.linkUp(.master(name)), now: 0)
        }
        #expect(pinged(s.handle(.tick, now: 1_000)) == ["a", "c"])
        // As many masters as before (the order kept for the timer must not be taken as current).
        _ = s.monitor(name: "b", address: InstanceAddress(ip: "10.0.0.3", port: 6379), quorum: 2, now: 1_100)
        _ = s.handle(.linkUp(.master("b")), now: 1_100)
        _ = s.remove(master: "a")
        #expect(pinged(s.handle(.tick, now: 2_000)) == ["b", "c"])
        _ = s.monitor(name: "a", address: InstanceAddress(ip: "10.0.0.1", port: 6379), quorum: 2, now: 2_100)
        _ = s.handle(.linkUp(.master("a")), now: 2_100)
        #expect(pinged(s.handle(.tick, now: 3_000)) == ["a", "b", "c"])
    }
}

extension AdminTests {
    @Test("the timer visits a master's replicas and peers in a stable order, also after a peer is replaced by another between ticks")
    func timerVisitsReplicasAndPeersInOrder() {
        var s = Self.monitored()
        func pinged(_ actions: [SentinelAction]) -> [String] {
            actions.compactMap { action -> String? in
                switch action {
                case .ping(.replica(_, let address)): "r\(address.port)"
                case .ping(.sentinel(_, let runID)): runID
                default: nil
                }
            }
        }
        for port in [6381, 6380] {
            let replica = InstanceAddress(ip: "10.0.0.2", port: port)
            _ = s.restoreKnownReplica(master: "m", address: replica, now: 0)
            _ = s.handle(.linkUp(.replica(master: "m", replica)), now: 0)
        }
        for (id, port) in [("p2", 26380), ("p1", 26379)] {
            _ = s.restoreKnownSentinel(master: "m", address: InstanceAddress(ip: "10.0.0.9", port: port), runID: id, now: 0)
            _ = s.handle(.linkUp(.sentinel(master: "m", runID: id)), now: 0)
        }
        #expect(pinged(s.handle(.tick, now: 1_500)) == ["r6380", "r6381", "p1", "p2"])
        // A new run id at p2's address replaces it: as many peers as before, another one.
        _ = s.handle(.hello("10.0.0.9,26380,p0,0,m,10.0.0.1,6379,0"), now: 1_600)
        _ = s.handle(.linkUp(.sentinel(master: "m", runID: "p0")), now: 1_600)
        #expect(s.masters["m"]!.sentinels.keys.sorted() == ["p0", "p1"])
        #expect(pinged(s.handle(.tick, now: 3_000)) == ["r6380", "r6381", "p0", "p1"])
    }
}
