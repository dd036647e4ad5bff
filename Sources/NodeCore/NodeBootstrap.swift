/// Which Redis the group starts with as its master, decided once, when a node's agent starts
/// for the first time (no saved monitor state yet). Pure: the shell asks the other monitors and
/// every data node's Redis, and this decides from their answers.
///
/// The rules, in order (a group that already runs is never re-decided):
/// 1. A monitor of the group already names a master (`SENTINEL get-master-addr-by-name`): the
///    one most monitors name. A node that joins a running group follows it.
/// 2. A Redis is a replica: its master, the one most replicas follow (an adopted group).
/// 3. A Redis is a master with connected replicas: that one.
/// 4. Every data node's Redis answered and each is a master with no replicas (a new group):
///    the first data node in `group.nodes`. If one has not answered, wait: it may be the one
///    holding the data.
public enum NodeBootstrap {
    /// What a data node's Redis said to ROLE.
    public enum Seen: Sendable, Hashable {
        case master(replicas: Int)
        /// A replica following `master` (`host:port`).
        case replica(of: String)
        /// No answer (down, unreachable, or refusing us).
        case down
    }

    public enum Decision: Sendable, Hashable {
        /// Monitor this master (`host:port`). `replicateLocal`: make the local Redis its
        /// replica first (it is a new, empty master that is not the chosen one).
        case master(String, replicateLocal: Bool)
        /// Not decidable yet; ask again. The reason says what is missing.
        case wait(String)
    }

    /// - Parameters:
    ///   - monitorAnswers: the masters other monitors named (no entry for those that did not answer).
    ///   - dataNodes: every data node's Redis (`host:port`) in `group.nodes` order, with what it said.
    ///   - localRedis: this node's Redis (`host:port`), nil on a witness.
    public static func decide(monitorAnswers: [String], dataNodes: [(redis: String, seen: Seen)], localRedis: String?) -> Decision {
        func mostNamed(_ names: [String]) -> String? {
            var counts: [String: Int] = [:]
            for name in names { counts[name, default: 0] += 1 }
            // Ties: the first named, so every node decides the same from the same answers.
            return names.first { counts[$0] == counts.values.max() }
        }
        let local = localRedis.flatMap { me in dataNodes.first { $0.redis == me }?.seen }
        func decision(_ master: String) -> Decision {
            // Only an empty-looking master (no replicas) is turned into a replica: a local Redis
            // that is already a replica is left to the monitors, and a master with replicas is
            // never demoted by a start-up guess.
            let replicate = master != localRedis && local == .master(replicas: 0)
            return .master(master, replicateLocal: replicate)
        }
        if let named = mostNamed(monitorAnswers) { return decision(named) }
        let followed = dataNodes.compactMap { if case .replica(let of) = $0.seen { of } else { nil } }
        if let master = mostNamed(followed) { return decision(master) }
        if let leader = dataNodes.first(where: { if case .master(let n) = $0.seen { n > 0 } else { false } }) {
            return decision(leader.redis)
        }
        let silent = dataNodes.filter { $0.seen == .down }.map(\.redis)
        if !silent.isEmpty {
            return .wait("no monitor names a master, no Redis is a replica, and \(silent.joined(separator: ", ")) did not answer (it may hold the data)")
        }
        guard let first = dataNodes.first else { return .wait("the group has no data node") }
        return decision(first.redis)
    }
}
