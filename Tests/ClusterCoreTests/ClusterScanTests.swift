import ClusterCore
import NIOCore
import RESP
import Testing

private let a = ClusterNodeAddress(host: "10.0.0.1", port: 6379)
private let b = ClusterNodeAddress(host: "10.0.0.2", port: 6379)
private let c = ClusterNodeAddress(host: "10.0.0.3", port: 6379)
private let promoted = ClusterNodeAddress(host: "10.0.0.4", port: 6379)

private func map(_ assignments: [(ClusterNodeAddress, [ClosedRange<Int>])]) -> SlotMap {
    SlotMap(assignments.map { (ClusterShard(master: $0.0), $0.1) })
}

private let threeMasters = map([(a, [0...5460]), (b, [5461...10922]), (c, [10923...16383])])

/// A node's SCAN reply: its cursor and keys.
private func nodeReply(_ cursor: UInt64, _ keys: [String]) -> RESPValue {
    .array([.bulkString(String(cursor)), .array(keys.map { .bulkString($0) })])
}

private func position(_ text: String) -> ClusterScan.Position? {
    try? ClusterScan.position(command("SCAN \(text)")).get()
}

private func cursor(_ reply: RESPValue) -> String? { reply.array?.first?.string }

@Suite struct ClusterScanTests {
    @Test func cursorZeroStartsAtTheMasterOfSlotZero() throws {
        let start = try #require(position("0"))
        #expect(start == ClusterScan.Position(slot: 0, nodeCursor: 0))
        #expect(ClusterScan.slot(for: start, in: threeMasters) == 0)
        #expect(ClusterScan.nodeArguments(command("SCAN 0 MATCH k* COUNT 100"), position: start, master: a).map { String(buffer: $0) }
                == ["SCAN", "0", "MATCH", "k*", "COUNT", "100"])
    }

    /// Each master in turn, in the order of their lowest slots; each node's cursor carried in
    /// the bits above the slot; 0 only when the last master is done.
    @Test func walksEveryMasterInSlotOrder() throws {
        var visited: [ClusterNodeAddress] = []
        // Each node answers two batches: cursor 5, then 0.
        var calls: [ClusterNodeAddress: Int] = [:]
        var current = "0"
        var keys: [String] = []
        for _ in 0..<20 {
            let here = try #require(position(current))
            let slot = ClusterScan.slot(for: here, in: threeMasters)
            let node = try #require(threeMasters.master(forSlot: slot))
            if visited.last != node { visited.append(node) }
            #expect(here.nodeCursor == (calls[node, default: 0] == 0 ? 0 : 5), "the node gets back its own cursor")
            calls[node, default: 0] += 1
            let next: UInt64 = calls[node] == 1 ? 5 : 0
            #expect(ClusterScan.nodeArguments(command("SCAN \(current)"), position: here, master: node)[1] == ByteBuffer(string: String(here.nodeCursor)))
            let reply = ClusterScan.reply(nodeReply(next, ["\(node.host)-\(calls[node]!)"]), slot: slot, master: node, map: threeMasters)
            keys += reply.array?[1].array?.compactMap(\.string) ?? []
            current = try #require(cursor(reply))
            if current == "0" { break }
        }
        #expect(current == "0")
        #expect(visited == [a, b, c])
        #expect(keys.count == 6 && Set(keys).count == 6)
    }

    @Test func compositeCursorLayout() {
        // b's lowest slot is 5461 (14 bits), b's tag above it (16 bits), its cursor 3 above both.
        let tagB = UInt64(ClusterScan.tag(of: b))
        let made = 3 << 30 | tagB << 14 | 5461
        #expect(cursor(ClusterScan.reply(nodeReply(3, []), slot: 6000, master: b, map: threeMasters)) == String(made))
        #expect(position(String(made)) == ClusterScan.Position(slot: 5461, tag: UInt16(tagB), nodeCursor: 3))
        // a done: on to b's lowest slot with cursor 0 (never the client's 0).
        #expect(cursor(ClusterScan.reply(nodeReply(0, []), slot: 0, master: a, map: threeMasters)) == "5461")
        // c done: the scan is over.
        #expect(cursor(ClusterScan.reply(nodeReply(0, []), slot: 10923, master: c, map: threeMasters)) == "0")
        // The largest Redis cursor (an unsigned 64-bit number) is read.
        #expect(position("18446744073709551615") == ClusterScan.Position(slot: 16383, tag: 65535, nodeCursor: ClusterScan.maxNodeCursor))
        // Tags differ between nodes and are the same in every proxy.
        #expect(Set([a, b, c, promoted].map(ClusterScan.tag(of:))).count == 4)
        #expect(ClusterScan.tag(of: ClusterNodeAddress(host: "10.0.0.2", port: 6379)) == ClusterScan.tag(of: b))
    }

    /// A failover: the promoted replica serves the same slots, so the cursor's slot finds it;
    /// it did not make the cursor (its tag differs), so that master's part starts again at 0 —
    /// keys may come twice, none is missed (Redis's promise).
    @Test func afterAFailoverThePromotedReplicaStartsThePartAgain() throws {
        let made = try #require(position(cursor(ClusterScan.reply(nodeReply(9, []), slot: 5461, master: b, map: threeMasters)) ?? ""))
        #expect(made.nodeCursor == 9)
        let failedOver = map([(a, [0...5460]), (promoted, [5461...10922]), (c, [10923...16383])])
        let slot = ClusterScan.slot(for: made, in: failedOver)
        let master = try #require(failedOver.master(forSlot: slot))
        #expect(master == promoted)
        #expect(String(buffer: ClusterScan.nodeArguments(command("SCAN x COUNT 10"), position: made, master: master)[1]) == "0")
        #expect(String(buffer: ClusterScan.nodeArguments(command("SCAN x COUNT 10"), position: made, master: b)[1]) == "9", "the same node: its cursor")
        #expect(cursor(ClusterScan.reply(nodeReply(0, []), slot: slot, master: master, map: failedOver)) == "10923")
    }

    /// Masters serving several ranges are visited once, by their lowest slot.
    @Test func mastersWithSeveralRangesAreVisitedOnce() throws {
        let split = map([(a, [0...100, 9000...9100]), (b, [101...8999]), (c, [9101...16383])])
        #expect(split.lowestSlots.map(\.slot) == [0, 101, 9101])
        #expect(cursor(ClusterScan.reply(nodeReply(0, []), slot: 9050, master: a, map: split)) == "101", "a's part is done: b next")
        #expect(cursor(ClusterScan.reply(nodeReply(0, []), slot: 101, master: b, map: split)) == "9101")
        #expect(cursor(ClusterScan.reply(nodeReply(0, []), slot: 9101, master: c, map: split)) == "0")
    }

    @Test func slotZeroUnservedStartsAtTheLowestServedSlot() throws {
        let partial = map([(b, [200...8000]), (c, [8001...16383])])
        #expect(ClusterScan.slot(for: try #require(position("0")), in: partial) == 200)
    }

    @Test func errors() {
        #expect(ClusterRouting.route(command("SCAN x")) == .error("ERR invalid cursor"))
        #expect(ClusterRouting.route(command("SCAN -1")) == .error("ERR invalid cursor"))
        #expect(ClusterRouting.route(command("SCAN 0 COUNT 10")) == .scan(ClusterScan.Position(slot: 0, nodeCursor: 0)))
        #expect(ClusterScan.reply(.simpleError("ERR syntax error"), slot: 0, master: a, map: threeMasters) == .simpleError("ERR syntax error"))
        #expect(ClusterScan.reply(.integer(1), slot: 0, master: a, map: threeMasters).errorMessage?.contains("unexpected reply") == true)
        let huge = ClusterScan.reply(nodeReply(ClusterScan.maxNodeCursor + 1, []), slot: 0, master: a, map: threeMasters)
        #expect(huge.errorMessage?.contains("too large") == true)
    }

    @Test func randomKeyTakesTheFirstMasterWithAKey() {
        #expect(ClusterRouting.route(command("RANDOMKEY")) == .allMasters(.firstNonNull))
        #expect(ClusterRouting.merge(.firstNonNull, replies: [.nullBulkString, .bulkString("k"), .bulkString("j")]) == .bulkString("k"))
        #expect(ClusterRouting.merge(.firstNonNull, replies: [.null, .nullBulkString]) == .null)
    }

    @Test func proxyRepliesInRESP3() {
        let merged = RESPValue.array([.bulkString("v"), .nullBulkString, .nullArray])
        #expect(merged.forProtocol(3) == .array([.bulkString("v"), .null, .null]))
        #expect(merged.forProtocol(2) == merged)
    }
}
