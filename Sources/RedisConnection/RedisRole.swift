import RESP

/// The reply to `ROLE`, parsed.
public enum RedisRole: Sendable, Hashable {
    /// A replica as a master lists it.
    public struct ConnectedReplica: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var offset: Int64

        public init(host: String, port: Int, offset: Int64) {
            self.host = host
            self.port = port
            self.offset = offset
        }
    }

    /// `["master", offset, [[ip, port, offset], …]]`
    case master(replicationOffset: Int64, replicas: [ConnectedReplica])
    /// `["slave", host, port, state, offset]`; state is connect, connecting, sync or connected.
    case replica(masterHost: String, masterPort: Int, state: String, offset: Int64)
    /// `["sentinel", [master names]]`
    case sentinel(masterNames: [String])

    /// Parses a ROLE reply; nil when it has no known shape.
    public init?(reply: RESPValue) {
        guard let elements = reply.array, let kind = elements.first?.string else { return nil }
        switch kind {
        case "master":
            guard elements.count >= 3, let offset = elements[1].int, let list = elements[2].array else { return nil }
            var replicas: [ConnectedReplica] = []
            for entry in list {
                guard let e = entry.array, e.count >= 3, let host = e[0].string,
                      let port = e[1].int, let offset = e[2].int else { return nil }
                replicas.append(ConnectedReplica(host: host, port: Int(port), offset: offset))
            }
            self = .master(replicationOffset: offset, replicas: replicas)
        case "slave", "replica":
            guard elements.count >= 5, let host = elements[1].string, let port = elements[2].int,
                  let state = elements[3].string, let offset = elements[4].int else { return nil }
            self = .replica(masterHost: host, masterPort: Int(port), state: state, offset: offset)
        case "sentinel":
            guard elements.count >= 2, let names = elements[1].array else { return nil }
            self = .sentinel(masterNames: names.compactMap(\.string))
        default:
            return nil
        }
    }

    /// The role's name.
    public var name: RedisRoleName {
        switch self {
        case .master: return .master
        case .replica: return .replica
        case .sentinel: return .sentinel
        }
    }
}
