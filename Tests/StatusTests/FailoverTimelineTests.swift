import Foundation
import Status
import Testing

/// The status page's failovers from a sentinel's own events (FailoverTimeline), and the
/// /status.json document (StatusPage).
@Suite struct FailoverTimelineTests {
    /// A leader's events of a crash-fast failover of mymaster 127.0.0.1:6379 to :6380, as
    /// tandem publishes them, one millisecond apart from t = 1000.
    static let leaderEvents: [(String, String)] = [
        ("+crash-down", "master mymaster 127.0.0.1 6379"),
        ("+sdown", "master mymaster 127.0.0.1 6379"),
        ("+odown", "master mymaster 127.0.0.1 6379 #quorum 2/2"),
        ("+new-epoch", "1"),
        ("+try-failover", "master mymaster 127.0.0.1 6379"),
        ("+vote-for-leader", "me0000 1"),
        ("+elected-leader", "master mymaster 127.0.0.1 6379"),
        ("+failover-state-select-slave", "master mymaster 127.0.0.1 6379"),
        ("+selected-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"),
        ("+failover-state-send-slaveof-noone", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"),
        ("+failover-state-wait-promotion", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"),
        ("+promoted-slave", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"),
        ("+failover-state-reconf-slaves", "master mymaster 127.0.0.1 6379"),
        ("+failover-end", "master mymaster 127.0.0.1 6379"),
        ("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380"),
        ("+slave", "slave 127.0.0.1:6379 127.0.0.1 6379 @ mymaster 127.0.0.1 6380"),
        ("+sdown", "slave 127.0.0.1:6379 127.0.0.1 6379 @ mymaster 127.0.0.1 6380"),
    ]

    static func timeline(_ events: [(String, String)], myID: String = "me0000", from start: Int64 = 1000) -> FailoverTimeline {
        var t = FailoverTimeline(myID: myID)
        for (i, (type, payload)) in events.enumerated() { t.observe(type: type, payload: payload, at: start + Int64(i)) }
        return t
    }

    @Test func theLeadersFailoverHasEveryStepInOrderWithItsPhase() throws {
        let t = Self.timeline(Self.leaderEvents)
        let f = try #require(t.failovers.first)
        #expect(t.failovers.count == 1)
        #expect(f.master == "mymaster")
        #expect(f.from == "127.0.0.1:6379")
        #expect(f.to == "127.0.0.1:6380")
        #expect(f.outcome == "switched")
        #expect(f.leader == "self")
        #expect(f.epoch == 1)
        #expect(f.startedAt == 1000)
        #expect(f.endedAt == 1014)
        // The replica entries after the switch (+slave, the old master's +sdown) are no steps.
        #expect(f.steps.map(\.event) == Self.leaderEvents.prefix(15).map(\.0))
        #expect(f.steps.map(\.phase) == ["sdown", "sdown", "odown", "election", "election", "election", "election",
                                         "promotion", "promotion", "promotion", "promotion", "promotion", "promotion",
                                         "promotion", "switch"])
        #expect(f.steps.map(\.at) == Array(1000...1014))
        #expect(f.steps[2].detail == "master mymaster 127.0.0.1 6379 #quorum 2/2")
    }

    @Test func aFollowerSeesTheVoteAndTheSwitchLearntFromTheLeader() throws {
        let events: [(String, String)] = [
            ("+sdown", "master mymaster 127.0.0.1 6379"),
            ("+odown", "master mymaster 127.0.0.1 6379 #quorum 3/2"),
            ("+new-epoch", "1"),
            ("+vote-for-leader", "leader42 1"),
            ("+try-failover", "master mymaster 127.0.0.1 6379"),
            ("-failover-abort-not-elected", "master mymaster 127.0.0.1 6379"),
            ("+config-update-from", "sentinel leader42 127.0.0.1 26380 @ mymaster 127.0.0.1 6379"),
            ("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6381"),
        ]
        let f = try #require(Self.timeline(events).failovers.first)
        #expect(f.outcome == "switched")
        #expect(f.leader == "leader42")
        #expect(f.to == "127.0.0.1:6381")
        #expect(f.steps.map(\.phase) == ["sdown", "odown", "election", "election", "election", "election", "promotion", "switch"])
    }

    /// A split vote: this sentinel stood in epoch 1 and voted for itself, the election ended
    /// split, and another won epoch 2. It was never the leader.
    @Test func aCandidateOfASplitVoteIsNoLeader() throws {
        let events: [(String, String)] = [
            ("+crash-down", "master mymaster 127.0.0.1 6379"),
            ("+sdown", "master mymaster 127.0.0.1 6379"),
            ("+odown", "master mymaster 127.0.0.1 6379 #quorum 2/2"),
            ("+new-epoch", "1"),
            ("+try-failover", "master mymaster 127.0.0.1 6379"),
            ("+vote-for-leader", "me0000 1"),
            ("-failover-abort-split-vote", "master mymaster 127.0.0.1 6379"),
            ("+new-epoch", "2"),
            ("+config-update-from", "sentinel peer111 127.0.0.1 26380 @ mymaster 127.0.0.1 6379"),
            ("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380"),
        ]
        let f = try #require(Self.timeline(events).failovers.last)
        #expect(f.outcome == "switched")
        #expect(f.leader == "peer111")
        // Standing again in epoch 2 and winning it: the leader after all.
        let won = events.prefix(8) + [("+vote-for-leader", "me0000 2"), ("+elected-leader", "master mymaster 127.0.0.1 6379"),
                                       ("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380")]
        #expect(try #require(Self.timeline(Array(won)).failovers.last).leader == "self")
    }

    @Test func aCandidateThatLearntTheWinnersConfigurationBeforeItsAbortIsNoLeader() throws {
        // It voted for itself; the winner's hello came before its own election timed out.
        let events: [(String, String)] = [
            ("+crash-down", "master mymaster 127.0.0.1 6379"),
            ("+sdown", "master mymaster 127.0.0.1 6379"),
            ("+odown", "master mymaster 127.0.0.1 6379 #quorum 2/2"),
            ("+new-epoch", "1"),
            ("+try-failover", "master mymaster 127.0.0.1 6379"),
            ("+vote-for-leader", "me0000 1"),
            ("+config-update-from", "sentinel peer111 127.0.0.1 26380 @ mymaster 127.0.0.1 6379"),
            ("+switch-master", "mymaster 127.0.0.1 6379 127.0.0.1 6380"),
        ]
        let f = try #require(Self.timeline(events).failovers.last)
        #expect(f.outcome == "switched")
        #expect(f.leader == "peer111")
    }

    @Test func aMasterBackBeforeAnyFailoverStepLeavesNoFailover() {
        let t = Self.timeline([
            ("+sdown", "master mymaster 127.0.0.1 6379"),
            ("-sdown", "master mymaster 127.0.0.1 6379"),
        ])
        #expect(t.failovers.isEmpty)
    }

    @Test func replicasAndPeersGoingDownAreNoFailover() {
        let t = Self.timeline([
            ("+sdown", "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"),
            ("+sdown", "sentinel abc 127.0.0.1 26380 @ mymaster 127.0.0.1 6379"),
            ("+new-epoch", "3"),
        ])
        #expect(t.failovers.isEmpty)
    }

    @Test func anAbortAfterTheElectionEndsTheFailoverAndARetryIsANewOne() throws {
        var t = Self.timeline([
            ("+sdown", "master m 10.0.0.1 6379"),
            ("+odown", "master m 10.0.0.1 6379 #quorum 2/2"),
            ("+try-failover", "master m 10.0.0.1 6379"),
            ("+elected-leader", "master m 10.0.0.1 6379"),
            ("+failover-state-select-slave", "master m 10.0.0.1 6379"),
            ("-failover-abort-no-good-slave", "master m 10.0.0.1 6379"),
        ])
        #expect(t.failovers.map(\.outcome) == ["aborted"])
        #expect(t.failovers[0].steps.last?.phase == "abort")
        t.observe(type: "+try-failover", payload: "master m 10.0.0.1 6379", at: 5000)
        #expect(t.failovers.map(\.outcome) == ["aborted", "running"])
        #expect(t.failovers[1].startedAt == 5000)
        #expect(t.failovers[1].from == "10.0.0.1:6379")
    }

    @Test func mastersFailOverApart() {
        let t = Self.timeline([
            ("+sdown", "master a 10.0.0.1 6379"),
            ("+sdown", "master b 10.0.0.2 6379"),
            ("+switch-master", "b 10.0.0.2 6379 10.0.0.3 6379"),
        ])
        #expect(t.failovers.map(\.master) == ["a", "b"])
        #expect(t.failovers.map(\.outcome) == ["running", "switched"])
        #expect(t.failovers[0].steps.count == 1)
    }

    @Test func aForcedFailoverBeginsAtTryFailover() throws {
        let f = try #require(Self.timeline([
            ("+new-epoch", "7"),  // before the failover opens: no step of it
            ("+try-failover", "master m 10.0.0.1 6379"),
            ("+vote-for-leader", "me0000 7"),
            ("+elected-leader", "master m 10.0.0.1 6379"),
            ("+switch-master", "m 10.0.0.1 6379 10.0.0.2 6379"),
        ]).failovers.first)
        #expect(f.steps.map(\.event) == ["+try-failover", "+vote-for-leader", "+elected-leader", "+switch-master"])
        #expect(f.epoch == 7)
        #expect(f.leader == "self")
    }

    @Test func theVIPJoinsTheFailoverThatEndedJustBeforeOnly() {
        var t = Self.timeline(Self.leaderEvents)
        t.observeVIP(holder: "n2", at: 1014 + 500)
        #expect(t.failovers[0].steps.last == FailoverTimeline.Step(phase: "vip", event: "vip", at: 1514, detail: "VIP on n2"))
        #expect(t.failovers[0].endedAt == 1514)
        // Long after: a VIP move of its own, no step of that failover.
        t.observeVIP(holder: "n3", at: 1514 + 60_000)
        #expect(t.failovers[0].steps.filter { $0.phase == "vip" }.count == 1)
    }

    @Test func aMasterDownForLongKeepsItsFirstStepAndTheLatestOnes() throws {
        var t = FailoverTimeline(myID: "me")
        t.observe(type: "+sdown", payload: "master m 10.0.0.1 6379", at: 0)
        for epoch in 1...300 {
            t.observe(type: "+new-epoch", payload: "\(epoch)", at: Int64(epoch))
        }
        let f = try #require(t.failovers.first)
        #expect(f.steps.count == FailoverTimeline.maxSteps)
        #expect(f.steps.first?.event == "+sdown")
        #expect(f.steps.last?.detail == "300")
        #expect(f.steps[1].detail == "\(300 - FailoverTimeline.maxSteps + 2)")
        #expect(f.epoch == 300)
        #expect(f.startedAt == 0)
    }

    @Test func onlyTheLastFailoversAreKept() {
        var t = FailoverTimeline(limit: 3)
        for i in 0..<5 {
            t.observe(type: "+switch-master", payload: "m 10.0.0.\(i) 6379 10.0.0.\(i + 1) 6379", at: Int64(i))
        }
        #expect(t.failovers.map(\.to) == ["10.0.0.3:6379", "10.0.0.4:6379", "10.0.0.5:6379"])
    }

    @Test func theDocumentKeepsTandemStatusKeysAndAddsItsOwn() throws {
        let group = StatusReport.Group(
            master: ["name": "mymaster", "ip": "127.0.0.1", "port": "6380", "flags": "master", "config-epoch": "1", "quorum": "2"],
            replicas: [["ip": "127.0.0.1", "port": "6379", "flags": "slave", "master-link-status": "ok", "slave-repl-offset": "90"]],
            sentinels: [["ip": "127.0.0.1", "port": "26380", "runid": "abc", "flags": "sentinel", "last-ok-ping-reply": "12"]],
            asked: "127.0.0.1:26379", masterOffset: 100)
        let page = StatusPage(daemon: "sentinel", time: 1_700_000_000_000, monitor: "127.0.0.1:26379", groups: [group],
                              failovers: Self.timeline(Self.leaderEvents).failovers)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(page.json())) as? [String: Any])
        #expect(Set(object.keys) == ["daemon", "time", "monitor", "groups", "failovers", "vrrp"])
        #expect(object["daemon"] as? String == "sentinel")
        // The groups are `tandem status --json`'s.
        let report = StatusReport(monitor: "127.0.0.1:26379", groups: [group])
        let statusJSON = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        #expect((object["groups"] as? NSArray) == (statusJSON["groups"] as? NSArray))
        let groups = try #require(object["groups"] as? [[String: Any]])
        #expect(groups[0]["master"] as? String == "127.0.0.1:6380")
        #expect((groups[0]["replicas"] as? [[String: Any]])?.first?["lagBytes"] as? Int == 10)
        let failovers = try #require(object["failovers"] as? [[String: Any]])
        #expect(Set(failovers[0].keys) == ["master", "from", "to", "outcome", "leader", "epoch", "startedAt", "endedAt", "steps"])
        let steps = try #require(failovers[0]["steps"] as? [[String: Any]])
        #expect(Set(steps[0].keys) == ["phase", "event", "at", "detail"])
        #expect(steps.last?["event"] as? String == "+switch-master")
        // Decodes back to the same value.
        #expect(try JSONDecoder().decode(StatusPage.self, from: Data(page.json())) == page)
    }

    @Test func proxyAndVRRPParts() throws {
        let page = StatusPage(daemon: "node", node: "n1", time: 5,
                              proxy: .init(listen: "0.0.0.0:6380", masterKnown: true, connectedClients: 3, commands: 10, masterSwitches: 1),
                              vrrp: [.init(name: "VI_1", state: "MASTER", addresses: ["10.0.0.100/24"])])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(page.json())) as? [String: Any])
        #expect(object["node"] as? String == "n1")
        #expect((object["proxy"] as? [String: Any])?["connectedClients"] as? Int == 3)
        #expect((object["vrrp"] as? [[String: Any]])?.first?["state"] as? String == "MASTER")
        #expect((object["groups"] as? [Any])?.isEmpty == true)
    }
}
