import ClusterCore
import NIOCore
import RESP
import Testing

@Suite struct ClusterRoutingTests {
    @Test func singleSlotCommands() {
        #expect(ClusterRouting.route(command("GET foo")) == .slot(12182))
        #expect(ClusterRouting.route(command("MGET {u}a {u}b")) == .slot(HashSlot.slot(of: "u")))
        #expect(ClusterRouting.route(command("PING")) == .anyMaster)
        #expect(ClusterRouting.route(command("EVAL s 0")) == .anyMaster)
        #expect(ClusterRouting.route(command("EVAL s 2 {t}1 {t}2")) == .slot(HashSlot.slot(of: "t")))
        #expect(ClusterRouting.route(command("DBSIZE")) == .allMasters(.sum))
        #expect(ClusterRouting.route(command("FLUSHALL")) == .allMasters(.allOK))
        #expect(ClusterRouting.route(command("KEYS *")) == .allMasters(.concatenate))
    }

    /// Exactly Redis Cluster's error text (compared with a real node in the integration test).
    @Test(arguments: ["RENAME foo bar", "MSETNX foo 1 bar 2", "EVAL s 2 foo bar", "SINTER foo bar", "BLPOP foo bar 0",
                      "ZUNIONSTORE foo 1 bar", "XREAD STREAMS foo bar 0 0"])
    func crossSlot(text: String) {
        #expect(ClusterRouting.route(command(text)) == .error("CROSSSLOT Keys in request don't hash to the same slot"))
    }

    @Test func mgetSplitAndMerge() throws {
        guard case .split(let plan) = ClusterRouting.route(command("MGET foo bar hello foo")) else {
            Issue.record("not split"); return
        }
        #expect(plan.merge == .positions)
        #expect(plan.keyCount == 4)
        #expect(plan.parts.map(\.slot) == [12182, 5061, 866])
        #expect(plan.parts.map { $0.arguments.map { String(buffer: $0) } } == [["MGET", "foo", "foo"], ["MGET", "bar"], ["MGET", "hello"]])
        #expect(plan.parts.map(\.positions) == [[0, 3], [1], [2]])
        let merged = ClusterRouting.merge(plan.merge, replies: [
            .array([.bulkString("F"), .bulkString("F")]), .array([.nullBulkString]), .array([.bulkString("H")]),
        ], positions: plan.parts.map(\.positions), keyCount: plan.keyCount)
        #expect(merged == .array([.bulkString("F"), .nullBulkString, .bulkString("H"), .bulkString("F")]))
    }

    @Test func msetSplitKeepsPairs() {
        guard case .split(let plan) = ClusterRouting.route(command("MSET foo 1 bar 2 {foo}x 3")) else {
            Issue.record("not split"); return
        }
        #expect(plan.merge == .allOK)
        #expect(plan.parts.map { $0.arguments.map { String(buffer: $0) } } == [["MSET", "foo", "1", "{foo}x", "3"], ["MSET", "bar", "2"]])
        #expect(ClusterRouting.merge(.allOK, replies: [.simpleString("OK"), .simpleString("OK")]) == .simpleString("OK"))
        let failed = ClusterRouting.merge(.allOK, replies: [.simpleString("OK"), .simpleError("OOM command not allowed")])
        #expect(failed == .simpleError("OOM command not allowed"))
    }

    @Test(arguments: ["DEL", "UNLINK", "EXISTS", "TOUCH"])
    func countingSplits(name: String) {
        guard case .split(let plan) = ClusterRouting.route(command("\(name) foo bar foo")) else {
            Issue.record("not split"); return
        }
        #expect(plan.merge == .sum)
        #expect(plan.parts.count == 2)
        #expect(ClusterRouting.merge(.sum, replies: [.integer(2), .integer(1)]) == .integer(3))
        #expect(ClusterRouting.merge(.sum, replies: [.integer(2), .bulkString("x")]).errorMessage?.contains("unexpected reply") == true)
    }

    @Test func concatenate() {
        #expect(ClusterRouting.merge(.concatenate, replies: [.array([.bulkString("a")]), .array([]), .array([.bulkString("b")])])
                == .array([.bulkString("a"), .bulkString("b")]))
    }

    @Test func redirects() {
        #expect(ClusterRedirect(.simpleError("MOVED 3999 127.0.0.1:6381"), defaultHost: "h") == .moved(slot: 3999, to: ClusterNodeAddress(host: "127.0.0.1", port: 6381)))
        #expect(ClusterRedirect(.simpleError("ASK 3999 :6381"), defaultHost: "h") == .ask(slot: 3999, to: ClusterNodeAddress(host: "h", port: 6381)))
        #expect(ClusterRedirect(.simpleError("ERR MOVED 1 h:1"), defaultHost: "h") == nil)
        #expect(ClusterRedirect(.simpleError("MOVED 99999 h:1"), defaultHost: "h") == nil)
        #expect(ClusterRedirect(.simpleString("MOVED 1 h:1"), defaultHost: "h") == nil)
        #expect(ClusterRedirect(.simpleError("TRYAGAIN Multiple keys request during rehashing of slot"), defaultHost: "h") == nil)
    }
}
