/// The schedulers IPVS has that tandem serves in user space.
public enum SchedulingAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// Round robin over the servers that take new connections.
    case rr
    /// Weighted round robin (IPVS's: a current weight stepped down by the weights' gcd).
    case wrr
    /// Least connections: fewest active connections.
    case lc
    /// Weighted least connections: fewest active connections per unit of weight.
    case wlc
    /// Source hashing: a 256-bucket table, each server in weight-many buckets.
    case sh
    /// Maglev hashing: a prime-sized lookup table filled by each server's permutation.
    case mh
}

/// A client as the scheduler sees it: its address bytes and port.
public struct ClientKey: Sendable, Hashable {
    public var address: [UInt8]
    public var port: UInt16

    public init(address: [UInt8], port: UInt16) {
        self.address = address
        self.port = port
    }
}

/// What the scheduler knows of one real server at the moment of a choice.
public struct SchedulingCandidate: Sendable, Hashable {
    /// The real server's index in the virtual server's configuration.
    public var index: Int
    /// Its weight now: 0 = takes no new connections (drained, or down with inhibit_on_failure).
    public var weight: Int
    public var activeConnections: Int
    /// The server's identity for Maglev's permutation (address bytes and port).
    public var identity: [UInt8]

    public init(index: Int, weight: Int, activeConnections: Int, identity: [UInt8]) {
        self.index = index
        self.weight = weight
        self.activeConnections = activeConnections
        self.identity = identity
    }
}

/// Picks a real server for a new connection, IPVS's way. Holds the algorithms' own state (the
/// round-robin cursor, wrr's current weight, the hash tables); pure and deterministic.
public struct Scheduler: Sendable {
    public let algorithm: SchedulingAlgorithm
    /// sh/mh: when the hashed server cannot take the connection, try the next (`sh-fallback`).
    public let fallback: Bool
    /// sh/mh: hash the client's port as well as its address (`sh-port`).
    public let hashPort: Bool

    private var lastIndex = -1
    private var currentWeight = 0
    private var shTable: (key: [SchedulingCandidate], buckets: [Int])?
    private var mhTable: (key: [SchedulingCandidate], buckets: [Int])?

    /// IPVS's sh table size.
    public static let sourceHashBuckets = 256
    /// IPVS's default mh table size (a prime).
    public static let maglevTableSize = 4093

    public init(algorithm: SchedulingAlgorithm, fallback: Bool = false, hashPort: Bool = false) {
        self.algorithm = algorithm
        self.fallback = fallback
        self.hashPort = hashPort
    }

    /// The real server (its `index`) for a new connection from `client`, among `pool`: the
    /// servers in the service (weight 0 ones included, as IPVS keeps them), in configuration
    /// order. nil: none can take it.
    public mutating func choose(from pool: [SchedulingCandidate], client: ClientKey) -> Int? {
        let usable = pool.filter { $0.weight > 0 }
        switch algorithm {
        case .rr:
            guard !usable.isEmpty else { return nil }
            let next = usable.first { $0.index > lastIndex } ?? usable[0]
            lastIndex = next.index
            return next.index
        case .wrr:
            return weightedRoundRobin(pool)
        case .lc:
            return usable.min { $0.activeConnections < $1.activeConnections }?.index
        case .wlc:
            guard var least = usable.first else { return nil }
            for candidate in usable.dropFirst()
            where least.activeConnections * candidate.weight > candidate.activeConnections * least.weight {
                least = candidate
            }
            return least.index
        case .sh:
            return sourceHash(pool, client: client)
        case .mh:
            return maglev(pool, client: client)
        }
    }

    // MARK: wrr

    private mutating func weightedRoundRobin(_ pool: [SchedulingCandidate]) -> Int? {
        let maxWeight = pool.map(\.weight).max() ?? 0
        guard maxWeight > 0 else { return nil }
        let step = pool.map(\.weight).filter { $0 > 0 }.reduce(0, gcd)
        // Position of the last pick in this pool (servers come and go between calls).
        var i = pool.lastIndex { $0.index <= lastIndex } ?? -1
        if currentWeight > maxWeight { currentWeight = maxWeight }
        // At most one full sweep per weight level.
        for _ in 0..<(pool.count * (maxWeight / step + 1)) {
            i = (i + 1) % pool.count
            if i == 0 {
                currentWeight -= step
                if currentWeight <= 0 { currentWeight = maxWeight }
            }
            if pool[i].weight >= currentWeight && pool[i].weight > 0 {
                lastIndex = pool[i].index
                return pool[i].index
            }
        }
        return nil
    }

    // MARK: sh

    private mutating func sourceHash(_ pool: [SchedulingCandidate], client: ClientKey) -> Int? {
        guard !pool.isEmpty else { return nil }
        let key = pool.map { SchedulingCandidate(index: $0.index, weight: $0.weight, activeConnections: 0, identity: []) }
        if shTable?.key != key {
            // IPVS's ip_vs_sh_reassign: servers in turn, each for max(weight, 1) buckets.
            var buckets: [Int] = []
            buckets.reserveCapacity(Scheduler.sourceHashBuckets)
            var server = 0
            var count = 0
            while buckets.count < Scheduler.sourceHashBuckets {
                buckets.append(server)
                count += 1
                if count >= max(pool[server].weight, 1) {
                    count = 0
                    server = (server + 1) % pool.count
                }
            }
            shTable = (key, buckets)
        }
        let buckets = shTable!.buckets
        let hash = Int(clientHash(client) >> 24)
        for offset in 0..<(fallback ? Scheduler.sourceHashBuckets : 1) {
            let server = pool[buckets[(hash + offset) % Scheduler.sourceHashBuckets]]
            if server.weight > 0 { return server.index }
        }
        return nil
    }

    /// IPVS's multiplicative hash of the client's address (folded to 32 bits) and, with
    /// `hashPort`, its port.
    func clientHash(_ client: ClientKey) -> UInt32 {
        var folded: UInt32 = 0
        var word: UInt32 = 0
        for (i, byte) in client.address.enumerated() {
            word = word << 8 | UInt32(byte)
            if i % 4 == 3 {
                folded ^= word
                word = 0
            }
        }
        if client.address.count % 4 != 0 { folded ^= word }
        if hashPort { folded ^= UInt32(client.port) }
        return folded &* 2_654_435_761
    }

    // MARK: mh

    private mutating func maglev(_ pool: [SchedulingCandidate], client: ClientKey) -> Int? {
        let members = pool.filter { $0.weight > 0 }
        guard !members.isEmpty else { return nil }
        let key = members.map { SchedulingCandidate(index: $0.index, weight: $0.weight, activeConnections: 0, identity: $0.identity) }
        if mhTable?.key != key { mhTable = (key, Scheduler.maglevPopulate(members)) }
        let buckets = mhTable!.buckets
        let size = Scheduler.maglevTableSize
        let hash = Int(fnv1a(client.address + (hashPort ? [UInt8(client.port >> 8), UInt8(client.port & 0xFF)] : []), seed: 0) % UInt64(size))
        return members[buckets[hash]].index
    }

    /// Maglev's population (Eisenbud et al., 2016) with IPVS's weights: each server takes
    /// weight/gcd entries per round, each the next free slot of its own permutation.
    static func maglevPopulate(_ members: [SchedulingCandidate]) -> [Int] {
        let size = maglevTableSize
        let step = members.map(\.weight).reduce(0, gcd)
        let turns = members.map { $0.weight / max(step, 1) }
        let offsets = members.map { Int(fnv1a($0.identity, seed: 1) % UInt64(size)) }
        let skips = members.map { Int(fnv1a($0.identity, seed: 2) % UInt64(size - 1)) + 1 }
        var next = Array(repeating: 0, count: members.count)
        var table = Array(repeating: -1, count: size)
        var filled = 0
        while filled < size {
            for m in members.indices {
                for _ in 0..<turns[m] where filled < size {
                    var slot = (offsets[m] + next[m] * skips[m]) % size
                    while table[slot] >= 0 {
                        next[m] += 1
                        slot = (offsets[m] + next[m] * skips[m]) % size
                    }
                    table[slot] = m
                    next[m] += 1
                    filled += 1
                }
            }
        }
        return table
    }
}

func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

/// FNV-1a, 64 bits, with a seed mixed in first: stable across runs and machines (Swift's
/// `Hasher` is seeded per process, which would move every client at each restart).
func fnv1a(_ bytes: [UInt8], seed: UInt8) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in [seed] + bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return hash
}
