import NIOCore
import RESP

/// Where one stateless command goes in a cluster.
public enum ClusterRoute: Sendable, Hashable {
    /// No keys: any master serves it.
    case anyMaster
    /// Every key is in this slot.
    case slot(Int)
    /// Keys in several slots of a command that can be split (MGET, MSET, DEL, UNLINK, EXISTS,
    /// TOUCH): one command per slot, replies merged.
    case split(SplitPlan)
    /// Sent to every master, replies merged (FLUSHALL, FLUSHDB, DBSIZE, KEYS, RANDOMKEY…).
    case allMasters(Merge)
    /// SCAN: to the master serving the position's slot, with its own cursor (`ClusterScan`).
    case scan(ClusterScan.Position)
    /// Answered by the proxy: this error line, without the leading `-`.
    case error(String)
}

/// How the replies of a split or broadcast command become one.
public enum Merge: Sendable, Hashable {
    /// MGET: the parts' arrays, each value put back at its key's position.
    case positions
    /// MSET, FLUSHALL: `+OK` when every part said OK, else the first error.
    case allOK
    /// DEL, UNLINK, EXISTS, TOUCH, DBSIZE: the sum of the parts' integers.
    case sum
    /// KEYS: the parts' arrays one after another.
    case concatenate
    /// RANDOMKEY: the first reply that is not null (null when every master is empty).
    case firstNonNull
}

/// One command per slot and how to merge their replies.
public struct SplitPlan: Sendable, Hashable {
    public struct Part: Sendable, Hashable {
        public var slot: Int
        /// The whole command for this slot, name first.
        public var arguments: [ByteBuffer]
        /// For `.positions`: the positions (among the original keys) of this part's keys.
        public var positions: [Int]
    }
    public var merge: Merge
    public var parts: [Part]
    /// For `.positions`: how many keys the original command had.
    public var keyCount: Int
}

/// Redis Cluster's error texts the proxy gives itself.
public enum ClusterErrors {
    public static let crossSlot = "CROSSSLOT Keys in request don't hash to the same slot"
    public static let selectNotAllowed = "ERR SELECT is not allowed in cluster mode"
    public static let notInteger = "ERR value is not an integer or out of range"
}

/// Routing decisions for stateless commands; pure.
public enum ClusterRouting {
    /// Commands that may be split by slot, and how: (merge, arguments per key).
    static let splittable: [String: (Merge, Int)] = [
        "MGET": (.positions, 1), "MSET": (.allOK, 2), "DEL": (.sum, 1), "UNLINK": (.sum, 1),
        "EXISTS": (.sum, 1), "TOUCH": (.sum, 1),
    ]

    /// Keyless commands whose answer is about the whole keyspace: sent to every master.
    static let broadcast: [String: Merge] = [
        "FLUSHALL": .allOK, "FLUSHDB": .allOK, "DBSIZE": .sum, "KEYS": .concatenate, "SCRIPT|FLUSH": .allOK,
        "SCRIPT|LOAD": .allOK, "FUNCTION|FLUSH": .allOK, "RANDOMKEY": .firstNonNull,
    ]

    /// The slot every key hashes to; nil when they span slots (or there are none).
    public static func commonSlot(_ keys: [ByteBuffer]) -> Int?? {
        guard let first = keys.first else { return .some(nil) }
        let slot = HashSlot.slot(of: first.readableBytesView)
        for key in keys.dropFirst() where HashSlot.slot(of: key.readableBytesView) != slot { return nil }
        return .some(slot)
    }

    /// The route of a stateless command.
    public static func route(_ arguments: [ByteBuffer]) -> ClusterRoute {
        route(arguments, info: CommandKeys.info(for: arguments))
    }

    /// The same with the command's table entry already looked up.
    public static func route(_ arguments: [ByteBuffer], info: CommandInfo?) -> ClusterRoute {
        guard !arguments.isEmpty else { return .anyMaster }
        let keyIndices = CommandKeys.keyIndices(arguments, info: info)
        if keyIndices.isEmpty {
            if info?.name == "SCAN" {
                switch ClusterScan.position(arguments) {
                case .success(let position): return .scan(position)
                case .failure(let error): return .error(error.message)
                }
            }
            if let info, info.accepts(argumentCount: arguments.count), let merge = broadcast[info.name] {
                // SCRIPT LOAD answers the same SHA everywhere: the first reply is the one.
                return .allMasters(merge)
            }
            return .anyMaster
        }
        let keys = keyIndices.map { arguments[$0] }
        if let common = commonSlot(keys), let slot = common { return .slot(slot) }
        guard let info, let (merge, stride) = splittable[info.name] else { return .error(ClusterErrors.crossSlot) }
        return .split(split(arguments, merge: merge, stride: stride))
    }

    private static func split(_ arguments: [ByteBuffer], merge: Merge, stride width: Int) -> SplitPlan {
        var parts: [SplitPlan.Part] = []
        var partBySlot: [Int: Int] = [:]
        var position = 0
        var index = 1
        while index + width - 1 < arguments.count {
            let slot = HashSlot.slot(of: arguments[index].readableBytesView)
            let partIndex: Int
            if let existing = partBySlot[slot] {
                partIndex = existing
            } else {
                partIndex = parts.count
                partBySlot[slot] = partIndex
                parts.append(SplitPlan.Part(slot: slot, arguments: [arguments[0]], positions: []))
            }
            parts[partIndex].arguments.append(contentsOf: arguments[index..<index + width])
            parts[partIndex].positions.append(position)
            position += 1
            index += width
        }
        return SplitPlan(merge: merge, parts: parts, keyCount: position)
    }

    /// One reply from the parts' replies (in part order). The first error reply wins for every
    /// merge; a reply of an unexpected kind is reported as an error naming it.
    public static func merge(_ merge: Merge, replies: [RESPValue], positions: [[Int]] = [], keyCount: Int = 0) -> RESPValue {
        if let error = replies.first(where: { $0.errorMessage != nil }) { return error }
        switch merge {
        case .allOK:
            return replies.first ?? .simpleString("OK")
        case .firstNonNull:
            return replies.first { !$0.withoutAttributes.isNull } ?? replies.first ?? .nullBulkString
        case .sum:
            var total: Int64 = 0
            for reply in replies {
                guard case .integer(let n) = reply.withoutAttributes else { return unexpected(reply) }
                total += n
            }
            return .integer(total)
        case .concatenate:
            var all: [RESPValue] = []
            for reply in replies {
                guard let items = reply.array else { return unexpected(reply) }
                all.append(contentsOf: items)
            }
            return .array(all)
        case .positions:
            var values = Array(repeating: RESPValue.nullBulkString, count: keyCount)
            for (reply, places) in zip(replies, positions) {
                guard let items = reply.array, items.count == places.count else { return unexpected(reply) }
                for (item, place) in zip(items, places) where place < keyCount { values[place] = item }
            }
            return .array(values)
        }
    }

    private static func unexpected(_ reply: RESPValue) -> RESPValue {
        .simpleError("ERR Tandem proxy: unexpected reply to a part of a split command: \(reply)")
    }
}

/// A cluster redirection in an error reply.
public enum ClusterRedirect: Sendable, Hashable {
    /// `-MOVED <slot> <host:port>`: the slot lives there now.
    case moved(slot: Int, to: ClusterNodeAddress)
    /// `-ASK <slot> <host:port>`: this once, ask there (after ASKING).
    case ask(slot: Int, to: ClusterNodeAddress)

    /// The redirection in `reply`, if it is a MOVED or ASK error. `defaultHost` stands in for an
    /// empty host (`-MOVED 3999 :6380`).
    public init?(_ reply: RESPValue, defaultHost: String) {
        guard let message = reply.errorMessage else { return nil }
        let words = message.split(separator: " ")
        guard words.count == 3, let slot = Int(words[1]), (0..<HashSlot.count).contains(slot),
              let address = ClusterNodeAddress(parsing: words[2], defaultHost: defaultHost) else { return nil }
        switch words[0] {
        case "MOVED": self = .moved(slot: slot, to: address)
        case "ASK": self = .ask(slot: slot, to: address)
        default: return nil
        }
    }
}

extension RESPValue {
    /// A reply the proxy made, as a client speaking `version` expects it: RESP3 has one null
    /// (`_`) where RESP2 has a null bulk string and a null array. Values a node sent in RESP3
    /// are unchanged.
    public func forProtocol(_ version: Int) -> RESPValue {
        guard version == 3 else { return self }
        switch self {
        case .nullBulkString, .nullArray: return .null
        case .array(let items): return .array(items.map { $0.forProtocol(version) })
        default: return self
        }
    }
}
