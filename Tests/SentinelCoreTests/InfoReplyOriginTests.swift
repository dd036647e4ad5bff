import SentinelCore
import Testing

/// An INFO reply read on a link to where an instance was (before a switch or a reset) is not
/// taken for where it is: the shell asks `isCurrent` before handing it over.
@Suite("Sentinel core: INFO replies from a link that moved")
struct InfoReplyOriginTests {
    static let master = InstanceAddress(ip: "10.0.0.1", port: 6379)
    static let replica = InstanceAddress(ip: "10.0.0.3", port: 6379)

    static func monitored() -> SentinelState {
        var s = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
        _ = s.monitor(name: "m", address: master, quorum: 2, downAfter: 5_000, now: 0)
        _ = s.handle(.linkUp(.master("m")), now: 0)
        _ = s.handle(.info(.master("m"), InfoReport(runID: "a", isReplica: false, replicas: [replica])), now: 10)
        return s
    }

    @Test("a reply from the instance's address is current; one from elsewhere is not")
    func sameAddress() {
        let s = Self.monitored()
        #expect(s.isCurrent(Self.master, of: .master("m")))
        #expect(!s.isCurrent(Self.replica, of: .master("m")))
        #expect(s.isCurrent(Self.replica, of: .replica(master: "m", Self.replica)))
        #expect(!s.isCurrent(Self.master, of: .master("unknown")))
    }

    @Test("after a switch to a new master address, a reply from the old one is stale")
    func masterMoved() {
        var s = Self.monitored()
        // A peer's hello with a newer config epoch: the master is now at the replica's address.
        let newMaster = Self.replica
        _ = s.handle(.hello("10.0.0.9,26379,peer,1,m,\(newMaster.ip),\(newMaster.port),1"), now: 20)
        #expect(s.masters["m"]!.address == newMaster)
        #expect(!s.isCurrent(Self.master, of: .master("m")))
        #expect(s.isCurrent(newMaster, of: .master("m")))
    }

    @Test("after SENTINEL RESET, a reply from a forgotten replica is stale")
    func replicaForgotten() {
        var s = Self.monitored()
        _ = s.reset(where: { $0 == "m" }, now: 20)
        #expect(!s.isCurrent(Self.replica, of: .replica(master: "m", Self.replica)))
        #expect(s.isCurrent(Self.master, of: .master("m")))
    }
}

/// An INFO answered with an error (`-BUSY` while a script runs): 7.0 asks again at the next
/// period. Before `.infoFailed` the request stayed pending for as long as the link lasted.
@Suite("Sentinel core: an INFO answered with an error")
struct InfoErrorTests {
    static func infos(_ actions: [SentinelAction]) -> Int {
        actions.filter { if case .info(.master("m")) = $0 { true } else { false } }.count
    }

    @Test("after an error reply the next period asks again; a request still unanswered is not repeated")
    func askedAgain() {
        for failed in [true, false] {
            var s = SentinelState(myID: "x", announce: InstanceAddress(ip: "10.0.0.2", port: 26379))
            _ = s.monitor(name: "m", address: InstanceAddress(ip: "10.0.0.1", port: 6379), quorum: 2, downAfter: 5_000, now: 0)
            _ = s.handle(.linkUp(.master("m")), now: 0)
            var asked = 0
            var t: Millis = 0
            while asked == 0 && t < 20_000 {
                t += 100
                asked += Self.infos(s.handle(.tick, now: t))
            }
            #expect(asked == 1, "the first INFO")
            if failed { _ = s.handle(.infoFailed(.master("m")), now: t + 50) }
            var again = 0
            for _ in 0..<150 {  // 15 s: past the 10 s INFO period
                t += 100
                _ = s.handle(.pingReply(.master("m"), .pong), now: t)
                again += Self.infos(s.handle(.tick, now: t))
            }
            #expect((again >= 1) == failed, "failed: \(failed), asked again \(again) times")
        }
    }
}
