import NIOCore
@testable import Proxy
import RESP
import Testing

/// A clock the test advances by hand.
struct SimulatedClock {
    private(set) var now: Millis = 0
    mutating func advance(by milliseconds: Millis) { now += milliseconds }
}

/// Three nodes n1..n3, each with a server and a sentinel, as the proxy sees them.
private struct Group {
    static let s1 = ProxyEndpoint(host: "10.0.0.1", port: 26379)
    static let s2 = ProxyEndpoint(host: "10.0.0.2", port: 26379)
    static let s3 = ProxyEndpoint(host: "10.0.0.3", port: 26379)
    static let m1 = ProxyEndpoint(host: "10.0.0.1", port: 6379)
    static let m2 = ProxyEndpoint(host: "10.0.0.2", port: 6379)
    static let m3 = ProxyEndpoint(host: "10.0.0.3", port: 6379)

    var view = SentinelView(sentinels: [s1, s2, s3], staleAfter: 1000)
    var clock = SimulatedClock()

    /// One poll of `sentinel`: it names `master` at `epoch` and reaches `peers` of its 2 peers.
    mutating func poll(_ sentinel: ProxyEndpoint, master: ProxyEndpoint, epoch: UInt64, peers: Int) {
        view.report(SentinelReport(master: master, configEpoch: epoch, knownPeers: 2, reachablePeers: peers),
                    from: sentinel, now: clock.now)
    }

    /// The healthy group: every sentinel names m1 at `epoch` and sees both peers; m1 says master.
    mutating func healthy(epoch: UInt64 = 0) {
        for s in [Self.s1, Self.s2, Self.s3] { poll(s, master: Self.m1, epoch: epoch, peers: 2) }
        view.role(.master(offset: 100), of: Self.m1, now: clock.now)
    }

    func route() -> ProxyEndpoint? { view.choice(now: clock.now).route }
}

@Suite("Whom the proxy believes in a Sentinel group")
struct SentinelViewTests {
    @Test("partition: the first sentinel, cut off with the old master, keeps the old epoch; the majority's newer epoch wins")
    func firstSentinelCutOffWithOldMaster() {
        var g = Group()
        g.healthy(epoch: 4)
        #expect(g.route() == Group.m1)
        // The cut: n1 (server and sentinel) loses n2 and n3; the proxy still reaches all three.
        // After down-after, each side marks the other's sentinels s_down.
        for step in 0..<10 {
            g.clock.advance(by: 150)
            g.poll(Group.s1, master: Group.m1, epoch: 4, peers: step < 7 ? 2 : 0)
            g.poll(Group.s2, master: Group.m1, epoch: 4, peers: step < 7 ? 2 : 1)
            g.poll(Group.s3, master: Group.m1, epoch: 4, peers: step < 7 ? 2 : 1)
            g.view.role(.master(offset: 200 + Int64(step)), of: Group.m1, now: g.clock.now)
            #expect(g.route() == Group.m1, "nothing newer yet at step \(step)")
        }
        // The majority promotes m3 at epoch 5; m1 still answers ROLE with master.
        g.clock.advance(by: 150)
        g.poll(Group.s1, master: Group.m1, epoch: 4, peers: 0)
        g.poll(Group.s2, master: Group.m3, epoch: 5, peers: 1)
        g.view.role(.master(offset: 300), of: Group.m1, now: g.clock.now)
        var choice = g.view.choice(now: g.clock.now)
        #expect(choice.master == Group.m3)
        #expect(choice.sentinel == Group.s2)
        #expect(choice.configEpoch == 5)
        #expect(choice.reason == .newestMajorityEpoch)
        #expect(choice.route == nil, "m3 has not answered ROLE since it was named, and m1 is never routed to")
        #expect(choice.needsRoleCheck)
        g.view.role(.master(offset: 0), of: Group.m3, now: g.clock.now)
        choice = g.view.choice(now: g.clock.now)
        #expect(choice.route == Group.m3)
        // s1 keeps naming m1 for the rest of the partition: it changes nothing.
        for _ in 0..<20 {
            g.clock.advance(by: 150)
            g.poll(Group.s1, master: Group.m1, epoch: 4, peers: 0)
            g.poll(Group.s2, master: Group.m3, epoch: 5, peers: 1)
            g.poll(Group.s3, master: Group.m3, epoch: 5, peers: 1)
            #expect(g.route() == Group.m3)
        }
        #expect(g.view.choice(now: g.clock.now).agreeing == 2)
    }

    @Test("+switch-master from a majority sentinel switches before the next poll")
    func switchMasterEvent() {
        var g = Group()
        g.healthy(epoch: 4)
        g.clock.advance(by: 1500)
        g.poll(Group.s1, master: Group.m1, epoch: 4, peers: 0)
        g.poll(Group.s2, master: Group.m1, epoch: 4, peers: 1)
        g.poll(Group.s3, master: Group.m1, epoch: 4, peers: 1)
        g.clock.advance(by: 20)
        g.view.switchMaster(to: Group.m3, from: Group.s3, now: g.clock.now)
        let choice = g.view.choice(now: g.clock.now)
        #expect(choice.master == Group.m3)
        #expect(choice.sentinel == Group.s3)
        #expect(choice.configEpoch == 5, "a switch means a newer epoch than the sentinel's last")
        // The next poll gives the exact epoch, possibly higher.
        g.clock.advance(by: 100)
        g.poll(Group.s3, master: Group.m3, epoch: 7, peers: 1)
        #expect(g.view.choice(now: g.clock.now).configEpoch == 7)
        // An event from a sentinel never heard from is ignored (there is no epoch to start from).
        var fresh = Group()
        fresh.view.switchMaster(to: Group.m2, from: Group.s2, now: 0)
        #expect(fresh.view.choice(now: 0).master == nil)
    }

    @Test("the failover's leader reports the new epoch with the old address until its +switch-master: a settled report of that epoch wins")
    func leaderMidFailover() {
        var g = Group()
        g.healthy(epoch: 4)
        g.clock.advance(by: 1200)
        var leader = SentinelReport(master: Group.m1, configEpoch: 5, knownPeers: 2, reachablePeers: 1, failoverInProgress: true)
        g.view.report(leader, from: Group.s3, now: g.clock.now)
        g.poll(Group.s2, master: Group.m1, epoch: 4, peers: 1)
        #expect(g.view.choice(now: g.clock.now).master == Group.m1, "nothing names another master yet")
        // s2 hears the leader's hello with the new configuration.
        g.clock.advance(by: 10)
        g.poll(Group.s2, master: Group.m3, epoch: 5, peers: 1)
        var choice = g.view.choice(now: g.clock.now)
        #expect(choice.master == Group.m3)
        #expect(choice.sentinel == Group.s2)
        // The leader's own +switch-master counts one more than its last epoch until its next
        // poll gives the exact one.
        g.view.switchMaster(to: Group.m3, from: Group.s3, now: g.clock.now)
        choice = g.view.choice(now: g.clock.now)
        #expect(choice.master == Group.m3)
        #expect(choice.agreeing == 2)
        leader.master = Group.m3
        leader.failoverInProgress = false
        g.clock.advance(by: 100)
        g.view.report(leader, from: Group.s3, now: g.clock.now)
        choice = g.view.choice(now: g.clock.now)
        #expect(choice.configEpoch == 5)
        #expect(choice.sentinel == Group.s2)
    }

    @Test("the leader's last poll (failing over, old epoch) then its +switch-master: the switch is immediate")
    func leaderSwitchBeforeItsEpochWasPolled() {
        var g = Group()
        g.healthy(epoch: 0)
        g.clock.advance(by: 1500)
        g.poll(Group.s1, master: Group.m1, epoch: 0, peers: 0)
        g.poll(Group.s2, master: Group.m1, epoch: 0, peers: 1)
        g.view.report(SentinelReport(master: Group.m1, configEpoch: 0, knownPeers: 2, reachablePeers: 1, failoverInProgress: true),
                      from: Group.s3, now: g.clock.now)
        g.clock.advance(by: 20)
        g.view.switchMaster(to: Group.m3, from: Group.s3, now: g.clock.now)
        #expect(g.view.choice(now: g.clock.now).master == Group.m3, "not a one-one tie in epoch 0 kept on m1")
    }

    @Test("a poll sent before a +switch-master but answered after it does not undo the switch")
    func pollOlderThanTheEvent() {
        var g = Group()
        g.healthy(epoch: 4)
        g.clock.advance(by: 1500)
        for s in [Group.s1, Group.s2, Group.s3] { g.poll(s, master: Group.m1, epoch: 4, peers: s == Group.s1 ? 0 : 1) }
        g.view.switchMaster(to: Group.m3, from: Group.s2, now: g.clock.now)
        g.clock.advance(by: 30)
        g.poll(Group.s2, master: Group.m1, epoch: 4, peers: 1)
        #expect(g.view.choice(now: g.clock.now).master == Group.m3)
        // The leader: new epoch with the old address while failing over, then its own switch.
        let leader = SentinelReport(master: Group.m1, configEpoch: 5, knownPeers: 2, reachablePeers: 1, failoverInProgress: true)
        g.view.report(leader, from: Group.s3, now: g.clock.now)
        g.view.switchMaster(to: Group.m3, from: Group.s3, now: g.clock.now)
        g.clock.advance(by: 30)
        g.view.report(leader, from: Group.s3, now: g.clock.now)
        #expect(g.view.choice(now: g.clock.now).agreeing == 2)
        // Polls confirm; from then on a poll is taken as it comes.
        g.clock.advance(by: 100)
        g.poll(Group.s2, master: Group.m3, epoch: 5, peers: 1)
        g.poll(Group.s3, master: Group.m3, epoch: 5, peers: 1)
        g.clock.advance(by: 100)
        g.poll(Group.s2, master: Group.m1, epoch: 4, peers: 1)
        #expect(g.view.choice(now: g.clock.now).sentinel == Group.s3)
        // A switch no poll confirms within staleAfter gives way to the polls.
        var h = Group()
        h.healthy(epoch: 4)
        h.view.switchMaster(to: Group.m2, from: Group.s1, now: h.clock.now)
        #expect(h.view.choice(now: h.clock.now).master == Group.m2)
        h.clock.advance(by: 1100)
        for s in [Group.s1, Group.s2, Group.s3] { h.poll(s, master: Group.m1, epoch: 4, peers: 2) }
        #expect(h.view.choice(now: h.clock.now).master == Group.m1)
    }

    @Test("the first sentinel cut off alone (same epoch everywhere): no switch")
    func firstSentinelCutOffAlone() {
        var g = Group()
        g.healthy(epoch: 2)
        for _ in 0..<30 {
            g.clock.advance(by: 150)
            g.poll(Group.s1, master: Group.m1, epoch: 2, peers: 0)
            g.poll(Group.s2, master: Group.m1, epoch: 2, peers: 1)
            g.poll(Group.s3, master: Group.m1, epoch: 2, peers: 1)
            let choice = g.view.choice(now: g.clock.now)
            #expect(choice.route == Group.m1)
            #expect(choice.sentinel == Group.s2, "s1 sees no majority, so s2 is believed")
            #expect(choice.agreeing == 3)
        }
    }

    @Test("a sentinel that sees no majority is not trusted, even with a higher epoch")
    func staleSentinelWithoutMajority() {
        var g = Group()
        g.poll(Group.s1, master: Group.m1, epoch: 8, peers: 0)
        g.poll(Group.s2, master: Group.m2, epoch: 7, peers: 1)
        g.poll(Group.s3, master: Group.m2, epoch: 7, peers: 1)
        var choice = g.view.choice(now: g.clock.now)
        #expect(choice.master == Group.m2)
        #expect(choice.reason == .newestMajorityEpoch)
        // Its peer count unknown counts as not seeing a majority too.
        g.view.report(SentinelReport(master: Group.m1, configEpoch: 9, knownPeers: 2, reachablePeers: nil), from: Group.s1, now: g.clock.now)
        #expect(g.view.choice(now: g.clock.now).master == Group.m2)
        // When no reachable sentinel sees a majority, the newest epoch among the rest is used.
        g.poll(Group.s2, master: Group.m2, epoch: 7, peers: 0)
        g.poll(Group.s3, master: Group.m2, epoch: 7, peers: 0)
        choice = g.view.choice(now: g.clock.now)
        #expect(choice.master == Group.m1)
        #expect(choice.reason == .newestEpochWithoutMajority)
        // A single sentinel that knows no peers is its own majority.
        #expect(SentinelReport(master: Group.m1, configEpoch: 0, knownPeers: 0, reachablePeers: 0).seesMajority)
        #expect(!SentinelReport(master: Group.m1, configEpoch: 0, knownPeers: 4, reachablePeers: 1).seesMajority)
        #expect(SentinelReport(master: Group.m1, configEpoch: 0, knownPeers: 4, reachablePeers: 2).seesMajority)
    }

    @Test("a sentinel silent for longer than staleAfter no longer counts; unreachable ones neither")
    func silenceAndUnreachable() {
        var g = Group()
        g.healthy(epoch: 3)
        g.clock.advance(by: 100)
        g.poll(Group.s2, master: Group.m2, epoch: 4, peers: 2)
        #expect(g.view.choice(now: g.clock.now).master == Group.m2)
        g.clock.advance(by: 800)
        g.poll(Group.s1, master: Group.m1, epoch: 3, peers: 2)
        g.poll(Group.s3, master: Group.m1, epoch: 3, peers: 2)
        #expect(g.view.choice(now: g.clock.now).master == Group.m2, "s2 answered 800 ms ago")
        g.clock.advance(by: 300)
        #expect(g.view.choice(now: g.clock.now).master == Group.m1, "s2 silent for 1100 ms")
        #expect(g.view.problems(now: g.clock.now).map(\.0) == [Group.s2])
        g.view.unreachable(Group.s1, reason: "connection refused", now: g.clock.now)
        g.view.unreachable(Group.s3, reason: "connection refused", now: g.clock.now)
        let choice = g.view.choice(now: g.clock.now)
        #expect(choice.master == nil)
        #expect(choice.route == nil)
        #expect(choice.reason == .noSentinelReachable)
        g.view.masterUnknown(from: Group.s3, now: g.clock.now)
        #expect(g.view.choice(now: g.clock.now).reason == .masterUnknown)
    }

    @Test("a server still answering master is not routed to once a newer configuration names another; ROLE from before the switch does not count")
    func roleMustFollowTheChoice() {
        var g = Group()
        // m2 was master long ago (an old ROLE answer), then demoted.
        g.view.role(.master(offset: 5), of: Group.m2, now: 0)
        g.clock.advance(by: 500)
        g.healthy(epoch: 1)
        #expect(g.route() == Group.m1)
        g.clock.advance(by: 100)
        for s in [Group.s1, Group.s2, Group.s3] { g.poll(s, master: Group.m2, epoch: 2, peers: 2) }
        var choice = g.view.choice(now: g.clock.now)
        #expect(choice.route == nil && choice.needsRoleCheck, "m2's ROLE answer predates the switch")
        g.view.role(.replica, of: Group.m2, now: g.clock.now)
        choice = g.view.choice(now: g.clock.now)
        #expect(choice.route == nil)
        #expect(choice.masterRole == .replica)
        g.clock.advance(by: 50)
        g.view.role(.master(offset: 9), of: Group.m2, now: g.clock.now)
        #expect(g.route() == Group.m2)
        // m1 claiming master changes nothing.
        g.view.role(.master(offset: 1000), of: Group.m1, now: g.clock.now)
        #expect(g.route() == Group.m2)
        // The master stops answering: commands are held.
        g.clock.advance(by: 50)
        g.view.role(.unreachable("timeout"), of: Group.m2, now: g.clock.now)
        #expect(g.route() == nil)
    }

    @Test("two configurations in one epoch: the one more sentinels name, then the current one")
    func sameEpochDisagreement() {
        var g = Group()
        g.poll(Group.s1, master: Group.m1, epoch: 3, peers: 2)
        g.poll(Group.s2, master: Group.m2, epoch: 3, peers: 2)
        g.poll(Group.s3, master: Group.m2, epoch: 3, peers: 2)
        #expect(g.view.choice(now: 0).master == Group.m2)
        g.poll(Group.s3, master: Group.m1, epoch: 3, peers: 2)
        #expect(g.view.choice(now: 0).master == Group.m1)
        g.view.unreachable(Group.s1, reason: "x", now: 0)
        #expect(g.view.choice(now: 0).master == Group.m1, "one each: keep the current")
    }

    @Test("the log line and INFO proxy say whom the proxy believes and why")
    func describeTheChoice() {
        var g = Group()
        g.healthy(epoch: 4)
        g.clock.advance(by: 1500)
        g.poll(Group.s1, master: Group.m1, epoch: 4, peers: 0)
        g.poll(Group.s2, master: Group.m3, epoch: 5, peers: 1)
        let choice = g.view.choice(now: g.clock.now)
        let text = MasterDiscovery.describe(choice)
        #expect(text.hasPrefix("believing sentinel 10.0.0.2:26379 (config epoch 5, reaches 1 of 2 peers, 1 of 2 reachable sentinels agree"), "s3 is silent: \(text)")
        #expect(text.hasSuffix("master 10.0.0.3:6379, not yet confirmed by ROLE"), "\(text)")
        let fields = Dictionary(uniqueKeysWithValues: MasterDiscovery.infoFields(choice, sentinels: 3, unreachable: ""))
        #expect(fields["believed_sentinel"] == "10.0.0.2:26379")
        #expect(fields["believed_config_epoch"] == "5")
        #expect(fields["believed_sentinel_reachable_peers"] == "1")
        #expect(fields["believed_reason"] == "highest config epoch among sentinels that see a majority of their peers")
        #expect(fields["sentinels_unreachable"] == "none")
        #expect(MasterDiscovery.describe(SentinelView(sentinels: [Group.s1]).choice(now: 0)) == "no master for now: no sentinel reachable; holding commands")
    }

    @Test("discovered sentinels join the view once, after the configured ones")
    func discovery() {
        var view = SentinelView(sentinels: [Group.s1], staleAfter: 1000)
        let added = [view.add(Group.s2), view.add(Group.s2), view.add(Group.s1)]
        #expect(added == [true, false, false])
        #expect(view.sentinels == [Group.s1, Group.s2])
    }
}

@Suite("Sentinel replies the proxy polls")
struct SentinelRepliesTests {
    static func map(_ fields: [(String, String)]) -> RESPValue {
        .array(fields.flatMap { [RESPValue.bulkString(ByteBuffer(string: $0.0)), .bulkString(ByteBuffer(string: $0.1))] })
    }

    static func peer(_ ip: String, flags: String, lastOK: Int = 100) -> RESPValue {
        map([("name", ip), ("ip", ip), ("port", "26379"), ("flags", flags), ("last-ok-ping-reply", "\(lastOK)"),
             ("down-after-milliseconds", "1000")])
    }

    @Test("SENTINEL MASTER and SENTINEL SENTINELS make a report; reachable peers exclude s_down and disconnected ones")
    func report() throws {
        let master = Self.map([("name", "mymaster"), ("ip", "10.0.0.3"), ("port", "6379"), ("flags", "master,failover_in_progress"),
                               ("config-epoch", "5"), ("num-other-sentinels", "3")])
        let peers = RESPValue.array([Self.peer("10.0.0.1", flags: "s_down,sentinel"), Self.peer("10.0.0.2", flags: "sentinel"),
                                     Self.peer("10.0.0.4", flags: "sentinel,disconnected"),
                                     Self.peer("10.0.0.5", flags: "sentinel", lastOK: 1500)])
        let report = try #require(try SentinelReplies.report(master: master, sentinels: peers))
        #expect(report == SentinelReport(master: Group.m3, configEpoch: 5, knownPeers: 3, reachablePeers: 2, failoverInProgress: true),
                 "10.0.0.2 and 10.0.0.5 (a ping overdue is not s_down)")
        // The failover's leader names the promoted replica in GET-MASTER-ADDR-BY-NAME: settled.
        let promoted = RESPValue.array([.bulkString(ByteBuffer(string: "10.0.0.2")), .bulkString(ByteBuffer(string: "6379"))])
        let leader = try #require(try SentinelReplies.report(master: master, sentinels: peers, address: promoted))
        #expect(leader.master == Group.m2 && !leader.failoverInProgress && leader.configEpoch == 5)
        let same = RESPValue.array([.bulkString(ByteBuffer(string: "10.0.0.3")), .bulkString(ByteBuffer(string: "6379"))])
        #expect(try SentinelReplies.report(master: master, sentinels: peers, address: same)?.failoverInProgress == true)
        #expect(try SentinelReplies.report(master: master, sentinels: peers, address: .nullArray)?.master == Group.m3)
        #expect(report.seesMajority)
        #expect(SentinelReplies.peers(peers).map(\.endpoint.host) == ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5"])
        // RESP3 maps read the same.
        let map3 = RESPValue.map([RESPPair(key: .bulkString(ByteBuffer(string: "ip")), value: .bulkString(ByteBuffer(string: "10.0.0.3"))),
                                  RESPPair(key: .bulkString(ByteBuffer(string: "port")), value: .bulkString(ByteBuffer(string: "6379"))),
                                  RESPPair(key: .bulkString(ByteBuffer(string: "config-epoch")), value: .bulkString(ByteBuffer(string: "5"))),
                                  RESPPair(key: .bulkString(ByteBuffer(string: "num-other-sentinels")), value: .bulkString(ByteBuffer(string: "0")))])
        #expect(try SentinelReplies.report(master: map3, sentinels: .array([]))?.seesMajority == true)
        // SENTINEL SENTINELS answering an error: peers unknown.
        let unknown = try SentinelReplies.report(master: master, sentinels: .simpleError(ByteBuffer(string: "ERR x")))
        #expect(unknown?.reachablePeers == nil)
    }

    @Test("a sentinel that does not know the name gives nil; malformed replies are errors naming the field")
    func malformed() throws {
        #expect(try SentinelReplies.report(master: .simpleError(ByteBuffer(string: "ERR No such master with that name")), sentinels: .array([])) == nil)
        let cases: [(RESPValue, String)] = [
            (.integer(3), "expected a map"),
            (Self.map([("ip", "10.0.0.3"), ("port", "x"), ("config-epoch", "1"), ("num-other-sentinels", "2")]), "ip/port"),
            (Self.map([("ip", "10.0.0.3"), ("port", "99999"), ("config-epoch", "1"), ("num-other-sentinels", "2")]), "ip/port"),
            (Self.map([("ip", "10.0.0.3"), ("port", "6379"), ("num-other-sentinels", "2")]), "config-epoch"),
            (Self.map([("ip", "10.0.0.3"), ("port", "6379"), ("config-epoch", "-1"), ("num-other-sentinels", "2")]), "config-epoch"),
            (Self.map([("ip", "10.0.0.3"), ("port", "6379"), ("config-epoch", "1")]), "num-other-sentinels"),
        ]
        for (reply, field) in cases {
            do {
                _ = try SentinelReplies.report(master: reply, sentinels: .array([]))
                Issue.record("no error for \(reply)")
            } catch {
                #expect(error.description.contains(field), "\(error)")
            }
        }
    }

    @Test("+switch-master payloads: only this master's, only well-formed")
    func switchMaster() {
        #expect(SentinelReplies.switchMaster("mymaster 10.0.0.1 6379 10.0.0.3 6379", name: "mymaster") == Group.m3)
        #expect(SentinelReplies.switchMaster("other 10.0.0.1 6379 10.0.0.3 6379", name: "mymaster") == nil)
        #expect(SentinelReplies.switchMaster("mymaster 10.0.0.1 6379 10.0.0.3", name: "mymaster") == nil)
        #expect(SentinelReplies.switchMaster("mymaster 10.0.0.1 6379 10.0.0.3 port", name: "mymaster") == nil)
        #expect(SentinelReplies.switchMaster("", name: "mymaster") == nil)
    }
}
