import NIOCore
import RESP

/// SCAN across every master, one after another, behind one cursor the proxy makes: the low
/// 14 bits name the master being scanned by a slot it serves (its lowest slot when the cursor
/// was made), the bits above are that master's own cursor. A master is found again by its
/// slot, so a cursor outlives a refresh of the slot map and a failover (the promoted replica
/// serves the same slots); masters are visited in the order of their lowest slots. Pure.
///
/// What Redis promises for SCAN holds per node: a key present on its master from the start to
/// the end of that master's part of the scan is returned. A failover during a master's part
/// goes on with that cursor on the promoted replica, whose table is laid out differently (Redis
/// seeds its hash per process): keys of that master may then be missed or returned twice. A
/// reshard during the scan may move keys to a master already scanned (missed) or not yet
/// scanned (returned twice).
public enum ClusterScan {
    /// Bits of the cursor that hold the slot.
    public static let slotBits = 14
    /// The largest node cursor that fits beside the slot (Redis's cursors stay far below: they
    /// are bounded by the size of the node's key table).
    public static let maxNodeCursor: UInt64 = (1 << (64 - UInt64(slotBits))) - 1

    /// Where a client's SCAN stands: the master serving `slot`, at that master's `nodeCursor`.
    public struct Position: Sendable, Hashable {
        public var slot: Int
        public var nodeCursor: UInt64
        public init(slot: Int, nodeCursor: UInt64) {
            self.slot = slot
            self.nodeCursor = nodeCursor
        }
    }

    /// The position in a client's SCAN (`SCAN cursor [MATCH p] [COUNT n] [TYPE t]`), or the
    /// error line Redis gives (without the leading `-`).
    public static func position(_ arguments: [ByteBuffer]) -> Result<Position, ScanError> {
        guard arguments.count >= 2 else { return .failure(ScanError("ERR wrong number of arguments for 'scan' command")) }
        guard let cursor = UInt64(String(decoding: arguments[1].readableBytesView, as: UTF8.self)) else {
            return .failure(ScanError("ERR invalid cursor"))
        }
        return .success(Position(slot: Int(cursor & ((1 << UInt64(slotBits)) - 1)), nodeCursor: cursor >> UInt64(slotBits)))
    }

    /// The slot whose master the command goes to: the position's, or — at the start, when no
    /// master serves slot 0 — the lowest slot any master serves.
    public static func slot(for position: Position, in map: SlotMap) -> Int {
        if position.nodeCursor == 0 && position.slot == 0 && map.master(forSlot: 0) == nil {
            return map.lowestSlots.first?.slot ?? 0
        }
        return position.slot
    }

    /// The client's SCAN with the node's cursor in place of the proxy's (options as given).
    public static func nodeArguments(_ arguments: [ByteBuffer], position: Position) -> [ByteBuffer] {
        var result = arguments
        result[1] = ByteBuffer(string: String(position.nodeCursor))
        return result
    }

    /// The client's reply from the node's (`[cursor, [keys…]]`), the node serving `slot`: the
    /// node's cursor beside its slot; when the node is done, the next master's lowest slot
    /// with cursor 0; when every master is done, 0. An error reply is passed on.
    public static func reply(_ nodeReply: RESPValue, slot: Int, map: SlotMap) -> RESPValue {
        if nodeReply.errorMessage != nil { return nodeReply }
        guard let items = nodeReply.withoutAttributes.array, items.count == 2,
              let text = items[0].string, let nodeCursor = UInt64(text), items[1].withoutAttributes.array != nil else {
            return .simpleError("ERR Tandem proxy: unexpected reply to SCAN from a cluster node: \(nodeReply)")
        }
        let order = map.lowestSlots
        let current = map.master(forSlot: slot).flatMap { master in order.first { $0.master == master }?.slot } ?? slot
        let cursor: UInt64
        if nodeCursor != 0 {
            guard nodeCursor <= maxNodeCursor else {
                return .simpleError("ERR Tandem proxy: a cluster node's SCAN cursor (\(nodeCursor)) is too large to carry")
            }
            cursor = nodeCursor << UInt64(slotBits) | UInt64(current)
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
