import NIOCore
import RESP

/// SCAN across every master, one after another, behind one cursor the proxy makes: the low 14
/// bits name the master being scanned by a slot it serves (its lowest slot when the cursor was
/// made), the next 16 bits are a tag of the node that made the cursor (a hash of its address),
/// the bits above are that node's own cursor. A master is found again by its slot, so a cursor
/// outlives a refresh of the slot map; masters are visited in the order of their lowest slots.
/// When the slot's master is no longer the node that made the cursor (a failover, a reshard),
/// that master's part starts again at 0: a node's cursor means nothing to another node (Redis
/// seeds its hash per process), and starting again keeps Redis's promise for SCAN — every key
/// present from start to end is returned, some possibly twice. Pure.
///
/// Not covered: a reshard during the scan may move keys to a master already scanned (missed)
/// or not yet scanned (returned twice); two nodes whose tags collide (1 in 65,536) look alike.
public enum ClusterScan {
    /// Bits of the cursor that hold the slot.
    public static let slotBits: UInt64 = 14
    /// Bits of the cursor that hold the tag of the node that made it.
    public static let tagBits: UInt64 = 16
    /// The largest node cursor that fits beside the slot and the tag (2^34 - 1: a node's
    /// cursor stays below the size of its key table, far from it).
    public static let maxNodeCursor: UInt64 = (1 << (64 - slotBits - tagBits)) - 1

    /// Where a client's SCAN stands: the master serving `slot`, at `nodeCursor` of the node
    /// tagged `tag`.
    public struct Position: Sendable, Hashable {
        public var slot: Int
        public var tag: UInt16
        public var nodeCursor: UInt64
        public init(slot: Int, tag: UInt16 = 0, nodeCursor: UInt64) {
            self.slot = slot
            self.tag = tag
            self.nodeCursor = nodeCursor
        }
    }

    /// The position in a client's SCAN (`SCAN cursor [MATCH p] [COUNT n] [TYPE t]`), or the
    /// error Redis gives.
    public static func position(_ arguments: [ByteBuffer]) -> Result<Position, ScanError> {
        guard arguments.count >= 2 else { return .failure(ScanError("ERR wrong number of arguments for 'scan' command")) }
        guard let cursor = UInt64(String(decoding: arguments[1].readableBytesView, as: UTF8.self)) else {
            return .failure(ScanError("ERR invalid cursor"))
        }
        return .success(Position(slot: Int(cursor & ((1 << slotBits) - 1)),
                                 tag: UInt16(truncatingIfNeeded: cursor >> slotBits),
                                 nodeCursor: cursor >> (slotBits + tagBits)))
    }

    /// A node's tag: FNV-1a of its address, folded to 16 bits (the same in every proxy).
    public static func tag(of node: ClusterNodeAddress) -> UInt16 {
        var hash: UInt32 = 2_166_136_261
        for byte in node.description.utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return UInt16(truncatingIfNeeded: hash ^ (hash >> 16))
    }

    /// The slot whose master the command goes to: the position's, or — at the start, when no
    /// master serves slot 0 — the lowest slot any master serves.
    public static func slot(for position: Position, in map: SlotMap) -> Int {
        if position.nodeCursor == 0 && position.slot == 0 && map.master(forSlot: 0) == nil {
            return map.lowestSlots.first?.slot ?? 0
        }
        return position.slot
    }

    /// The client's SCAN as the slot's master gets it: the node's cursor in place of the
    /// proxy's (options as given) — 0 when that master is not the node that made the cursor.
    public static func nodeArguments(_ arguments: [ByteBuffer], position: Position, master: ClusterNodeAddress?) -> [ByteBuffer] {
        var result = arguments
        let sameNode = master.map { tag(of: $0) == position.tag } ?? true
        result[1] = ByteBuffer(string: sameNode ? String(position.nodeCursor) : "0")
        return result
    }

    /// The client's reply from the node's (`[cursor, [keys…]]`); `master`, serving `slot`,
    /// answered: its cursor beside its slot and its tag; when it is done, the next master's
    /// lowest slot with cursor 0; when every master is done, 0. An error reply is passed on.
    public static func reply(_ nodeReply: RESPValue, slot: Int, master: ClusterNodeAddress?, map: SlotMap) -> RESPValue {
        if nodeReply.errorMessage != nil { return nodeReply }
        guard let items = nodeReply.withoutAttributes.array, items.count == 2,
              let text = items[0].string, let nodeCursor = UInt64(text), items[1].withoutAttributes.array != nil else {
            return .simpleError("ERR Tandem proxy: unexpected reply to SCAN from a cluster node: \(nodeReply)")
        }
        let order = map.lowestSlots
        let current = master.flatMap { master in order.first { $0.master == master }?.slot } ?? slot
        let cursor: UInt64
        if nodeCursor != 0 {
            guard nodeCursor <= maxNodeCursor, let master else {
                return .simpleError("ERR Tandem proxy: a cluster node's SCAN cursor (\(nodeCursor)) is too large to carry")
            }
            cursor = nodeCursor << (slotBits + tagBits) | UInt64(tag(of: master)) << slotBits | UInt64(current)
        } else if let next = order.map(\.slot).filter({ $0 > current }).min() {
            cursor = UInt64(next)  // never 0: the next master's lowest slot is above this one's
        } else {
            cursor = 0
        }
        return .array([.bulkString(String(cursor)), items[1]])
    }
}

/// An error line the proxy answers with (without the leading `-`).
public struct ScanError: Error, Sendable, Hashable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
