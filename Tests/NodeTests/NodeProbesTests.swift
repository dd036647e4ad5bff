@testable import Node
import RESP
import Testing

/// What the node agent reads from its monitors' `SENTINEL MASTER` replies.
@Suite("Node: the monitors' views")
struct NodeProbesTests {
    static func reply(_ pairs: [(String, String)]) -> RESPValue {
        .array(pairs.flatMap { [RESPValue.bulkString($0.0), .bulkString($0.1)] })
    }

    static let base: [(String, String)] = [("name", "g"), ("ip", "10.0.0.1"), ("port", "6379"), ("runid", "x"),
                                           ("flags", "master"), ("last-ok-ping-reply", "120"), ("config-epoch", "3")]

    @Test("a view carries the master, its epoch, health, failover flag and, from Tandem's monitors, an awaited vote's epoch")
    func parsesView() throws {
        let plain = try #require(masterView(Self.reply(Self.base)))
        #expect(plain.master == "10.0.0.1:6379" && plain.epoch == 3 && plain.healthy && !plain.inFailover)
        #expect(plain.answeredAgo == 120 && plain.votedEpoch == nil)
        let voted = try #require(masterView(Self.reply(Self.base + [("failover-vote-epoch", "4")])))
        #expect(voted.votedEpoch == 4)
        let failing = try #require(masterView(Self.reply(Self.base.map { $0.0 == "flags" ? ($0.0, "master,failover_in_progress") : $0 })))
        #expect(failing.inFailover && !failing.healthy)
        // A malformed value is no vote; a reply without the address is no view.
        #expect(try #require(masterView(Self.reply(Self.base + [("failover-vote-epoch", "four")]))).votedEpoch == nil)
        #expect(masterView(Self.reply(Self.base.filter { $0.0 != "ip" })) == nil)
        #expect(masterView(.simpleString("OK")) == nil)
    }
}
