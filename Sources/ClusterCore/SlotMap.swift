import NIOCore
import RESP

/// A cluster node's address, `host:port`.
public struct ClusterNodeAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, `[v6]:port` or `v6:port` (the last colon separates the port, as in Redis's
    /// MOVED replies). An empty host takes `defaultHost` (Redis sends `:port` when a node does not
    /// know its own address).
    public init?(parsing text: Substring, defaultHost: String? = nil) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty {
            guard let defaultHost else { return nil }
            host = defaultHost
        }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A master and its replicas, and the slots they serve.
public struct ClusterShard: Sendable, Hashable {
    public var master: ClusterNodeAddress
    public var replicas: [ClusterNodeAddress]

    public init(master: ClusterNodeAddress, replicas: [ClusterNodeAddress] = []) {
        self.master = master
        self.replicas = replicas
    }
}

/// A reply to CLUSTER SHARDS or CLUSTER SLOTS that cannot be read as a slot map.
public struct SlotMapError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Which shard serves each of the 16384 slots.
public struct SlotMap: Sendable, Hashable {
    public private(set) var shards: [ClusterShard] = []
    /// Index into `shards` per slot; -1 for a slot no master serves.
    private var owner: [Int16] = Array(repeating: -1, count: HashSlot.count)

    public init() {}

    /// Shards with their slots as inclusive ranges.
    public init(_ assignments: [(ClusterShard, [ClosedRange<Int>])]) {
        for (shard, ranges) in assignments {
            let index = shardIndex(for: shard)
            for range in ranges { assign(range, to: index) }
        }
    }

    /// The master serving `slot`, if any.
    public func master(forSlot slot: Int) -> ClusterNodeAddress? {
        let index = owner[slot]
        return index < 0 ? nil : shards[Int(index)].master
    }

    /// The replicas of the master serving `slot`.
    public func replicas(forSlot slot: Int) -> [ClusterNodeAddress] {
        let index = owner[slot]
        return index < 0 ? [] : shards[Int(index)].replicas
    }

    /// Masters that serve at least one slot, in shard order.
    public var masters: [ClusterNodeAddress] {
        let used = Set(owner)
        return shards.indices.filter { used.contains(Int16($0)) }.map { shards[$0].master }
    }

    /// Every node named, masters first.
    public var allNodes: [ClusterNodeAddress] {
        var seen = Set<ClusterNodeAddress>()
        var nodes: [ClusterNodeAddress] = []
        for node in shards.map(\.master) + shards.flatMap(\.replicas) where seen.insert(node).inserted {
            nodes.append(node)
        }
        return nodes
    }

    /// Each serving master's lowest slot, in slot order (the order SCAN visits masters in).
    public var lowestSlots: [(master: ClusterNodeAddress, slot: Int)] {
        var seen = Set<Int16>()
        var result: [(master: ClusterNodeAddress, slot: Int)] = []
        for (slot, index) in owner.enumerated() where index >= 0 && seen.insert(index).inserted {
            result.append((shards[Int(index)].master, slot))
        }
        return result
    }

    /// The number of slots some master serves.
    public var coveredSlots: Int { owner.lazy.filter { $0 >= 0 }.count }

    /// The slots `master` serves, as ranges.
    public func slotRanges(of master: ClusterNodeAddress) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        var start: Int?
        for slot in 0...HashSlot.count {
            let mine = slot < HashSlot.count && self.master(forSlot: slot) == master
            if mine && start == nil { start = slot }
            if !mine, let s = start { ranges.append(s...slot - 1); start = nil }
        }
        return ranges
    }

    /// A MOVED reply: `slot` is served by `master` now (a master not yet known becomes a shard
    /// of its own until the next refresh says more).
    public mutating func moved(slot: Int, to master: ClusterNodeAddress) {
        guard (0..<HashSlot.count).contains(slot) else { return }
        let index = shards.firstIndex { $0.master == master } ?? shardIndex(for: ClusterShard(master: master))
        owner[slot] = Int16(index)
    }

    private mutating func shardIndex(for shard: ClusterShard) -> Int {
        if let index = shards.firstIndex(where: { $0.master == shard.master }) {
            for replica in shard.replicas where !shards[index].replicas.contains(replica) {
                shards[index].replicas.append(replica)
            }
            return index
        }
        shards.append(shard)
        return shards.count - 1
    }

    private mutating func assign(_ range: ClosedRange<Int>, to index: Int) {
        for slot in range where (0..<HashSlot.count).contains(slot) { owner[slot] = Int16(index) }
    }
}

extension SlotMap {
    /// Reads a CLUSTER SHARDS reply (Redis 7.0+, RESP2 or RESP3) from the node at `answeredBy`
    /// (whose host stands in for nodes that report no address). A shard's master is its node
    /// with role `master` (a healthy one before a failed one); its replicas are the nodes whose
    /// health is `online` (not `fail`, not `loading`).
    public static func parseShards(_ reply: RESPValue, answeredBy: ClusterNodeAddress) throws(SlotMapError) -> SlotMap {
        if let message = reply.errorMessage { throw SlotMapError("CLUSTER SHARDS answered: \(message)") }
        guard let shards = reply.array else { throw SlotMapError("CLUSTER SHARDS: expected an array, got \(reply)") }
        var assignments: [(ClusterShard, [ClosedRange<Int>])] = []
        for (number, shardValue) in shards.enumerated() {
            let fields = try pairs(shardValue, what: "CLUSTER SHARDS shard \(number + 1)")
            guard let slotValues = fields["slots"]?.array, let nodeValues = fields["nodes"]?.array else {
                throw SlotMapError("CLUSTER SHARDS shard \(number + 1): no 'slots' or 'nodes'")
            }
            var bounds: [Int] = []
            for value in slotValues {
                guard let n = value.int, (0..<HashSlot.count).contains(Int(n)) else {
                    throw SlotMapError("CLUSTER SHARDS shard \(number + 1): bad slot \(value)")
                }
                bounds.append(Int(n))
            }
            guard bounds.count % 2 == 0 else { throw SlotMapError("CLUSTER SHARDS shard \(number + 1): odd number of slot bounds") }
            let ranges = stride(from: 0, to: bounds.count, by: 2).map { bounds[$0]...max(bounds[$0], bounds[$0 + 1]) }
            var master: ClusterNodeAddress?
            var masterHealthy = false
            var replicas: [ClusterNodeAddress] = []
            for nodeValue in nodeValues {
                let node = try pairs(nodeValue, what: "CLUSTER SHARDS shard \(number + 1) node")
                guard let portValue = node["port"]?.int ?? node["tls-port"]?.int else {
                    throw SlotMapError("CLUSTER SHARDS shard \(number + 1): a node without a port")
                }
                var host = node["ip"]?.string ?? ""
                if host.isEmpty || host == "?" { host = node["endpoint"]?.string ?? "" }
                if host.isEmpty || host == "?" { host = answeredBy.host }
                let address = ClusterNodeAddress(host: host, port: Int(portValue))
                let health = node["health"]?.string
                let healthy = health != "fail"
                if node["role"]?.string == "master" {
                    // Two masters in one shard (a failed one not yet demoted): the healthy one.
                    if master == nil || (!masterHealthy && healthy) {
                        master = address
                        masterHealthy = healthy
                    }
                } else if health == nil || health == "online" {
                    // Only replicas that can serve reads (not failed, not loading a sync).
                    replicas.append(address)
                }
            }
            guard let master else {
                if ranges.isEmpty { continue }
                throw SlotMapError("CLUSTER SHARDS shard \(number + 1): slots but no master")
            }
            assignments.append((ClusterShard(master: master, replicas: replicas), ranges))
        }
        return SlotMap(assignments)
    }

    /// Reads a CLUSTER SLOTS reply: `[start, end, [host, port, id, …], replicas…]` per range.
    public static func parseSlots(_ reply: RESPValue, answeredBy: ClusterNodeAddress) throws(SlotMapError) -> SlotMap {
        if let message = reply.errorMessage { throw SlotMapError("CLUSTER SLOTS answered: \(message)") }
        guard let ranges = reply.array else { throw SlotMapError("CLUSTER SLOTS: expected an array, got \(reply)") }
        var assignments: [(ClusterShard, [ClosedRange<Int>])] = []
        for (number, rangeValue) in ranges.enumerated() {
            guard let entry = rangeValue.array, entry.count >= 3, let start = entry[0].int, let end = entry[1].int,
                  (0..<HashSlot.count).contains(Int(start)), (0..<HashSlot.count).contains(Int(end)), start <= end else {
                throw SlotMapError("CLUSTER SLOTS entry \(number + 1): expected start, end and a master, got \(rangeValue)")
            }
            var nodes: [ClusterNodeAddress] = []
            for nodeValue in entry[2...] {
                guard let fields = nodeValue.array, fields.count >= 2, let port = fields[1].int else {
                    throw SlotMapError("CLUSTER SLOTS entry \(number + 1): bad node \(nodeValue)")
                }
                var host = fields[0].string ?? ""
                if host.isEmpty || host == "?" { host = answeredBy.host }
                nodes.append(ClusterNodeAddress(host: host, port: Int(port)))
            }
            assignments.append((ClusterShard(master: nodes[0], replicas: Array(nodes.dropFirst())), [Int(start)...Int(end)]))
        }
        return SlotMap(assignments)
    }

    /// A RESP2 flat array of name/value or a RESP3 map, as a dictionary by name.
    private static func pairs(_ value: RESPValue, what: String) throws(SlotMapError) -> [String: RESPValue] {
        var result: [String: RESPValue] = [:]
        switch value.withoutAttributes {
        case .map(let entries):
            for entry in entries {
                guard let name = entry.key.string else { throw SlotMapError("\(what): a field name that is not a string") }
                result[name] = entry.value
            }
        case .array(let items):
            guard items.count % 2 == 0 else { throw SlotMapError("\(what): odd number of fields") }
            for index in stride(from: 0, to: items.count, by: 2) {
                guard let name = items[index].string else { throw SlotMapError("\(what): a field name that is not a string") }
                result[name] = items[index + 1]
            }
        default:
            throw SlotMapError("\(what): expected fields, got \(value)")
        }
        return result
    }
}
