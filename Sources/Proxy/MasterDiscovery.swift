import Logging
import NIOCore
import RESP
import RedisConnection

/// Why the proxy cannot start; the message names what is wrong.
public struct ProxyStartError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Finds the master — from a Sentinel group, or by checking each backend — and publishes
/// it to the router. Only a server that itself answers `role:master` is ever published.
struct MasterDiscovery: Sendable {
    let settings: ProxySettings
    let router: ProxyRouter
    let logger: Logger

    private func configuration(_ endpoint: ProxyEndpoint, password: String?, user: String?) -> RedisConnectionConfiguration {
        var c = RedisConnectionConfiguration(host: endpoint.host, port: endpoint.port, username: user, password: password,
                                             connectTimeout: settings.connectTimeout, commandTimeout: .seconds(2))
        c.tlsContext = settings.backendTLS
        return c
    }

    func connectSentinel(_ endpoint: ProxyEndpoint) async throws -> RedisConnection {
        try await RedisConnection.connect(configuration(endpoint, password: settings.sentinelPassword, user: nil), logger: logger)
    }

    func connectBackend(_ endpoint: ProxyEndpoint) async throws -> RedisConnection {
        try await RedisConnection.connect(configuration(endpoint, password: settings.password, user: settings.user), logger: logger)
    }

    /// Start-up check: a sentinel must answer and know the master name.
    func initialCheck() async throws {
        guard case .sentinel(let sentinels, let name) = settings.discovery else { return }
        var failures: [String] = []
        for sentinel in sentinels {
            let connection: RedisConnection
            do {
                connection = try await connectSentinel(sentinel)
            } catch {
                failures.append("\(sentinel): \(error)")
                continue
            }
            defer { Task { await connection.close() } }
            let reply: RESPValue
            do {
                reply = try await connection.send(["SENTINEL", "get-master-addr-by-name", name])
            } catch {
                failures.append("\(sentinel): \(error)")
                continue
            }
            if let message = reply.errorMessage {
                throw ProxyStartError("sentinel \(sentinel) answered SENTINEL get-master-addr-by-name with an error: \(message)")
            }
            guard reply.array != nil else {
                throw ProxyStartError("sentinel \(sentinel) does not monitor a master named '\(name)' (check --master-name)")
            }
            return
        }
        throw ProxyStartError("cannot reach any sentinel: \(failures.joined(separator: "; "))")
    }

    func run() async {
        switch settings.discovery {
        case .sentinel(let sentinels, let name): await followSentinels(sentinels, name: name)
        case .backends(let backends): await checkBackends(backends)
        case .cluster: return  // cluster mode has its own topology (ClusterTopology)
        }
    }

    /// Replicas in a `SENTINEL replicas` reply that are up and linked to their master.
    static func healthyReplicas(_ reply: RESPValue) -> [ProxyEndpoint] {
        guard let entries = reply.array else { return [] }
        return entries.compactMap { entry -> ProxyEndpoint? in
            guard let fields = SentinelReplies.fields(entry) else { return nil }
            guard let ip = fields["ip"], let port = fields["port"].flatMap({ Int($0) }) else { return nil }
            let flags = (fields["flags"] ?? "").split(separator: ",")
            guard !flags.contains("s_down"), !flags.contains("o_down"), !flags.contains("disconnected"),
                  fields["master-link-status"] == "ok" else { return nil }
            return ProxyEndpoint(host: ip, port: port)
        }
    }
}

/// Asks a server for its role over a connection kept between checks.
actor RoleChecker {
    private let discovery: MasterDiscovery
    private var endpoint: ProxyEndpoint?
    private var connection: RedisConnection?

    init(discovery: MasterDiscovery) {
        self.discovery = discovery
    }

    /// What `endpoint` answers to ROLE (over the kept connection, reopened when the endpoint changes).
    func role(of endpoint: ProxyEndpoint) async -> ServerRole {
        if endpoint != self.endpoint || connection?.isActive != true {
            await connection?.close()
            connection = nil
            self.endpoint = endpoint
            let s = discovery.settings
            do {
                var c = RedisConnectionConfiguration(host: endpoint.host, port: endpoint.port, username: s.user, password: s.password,
                                                     connectTimeout: s.connectTimeout, commandTimeout: .seconds(1))
                c.tlsContext = s.backendTLS
                connection = try await RedisConnection.connect(c, logger: discovery.logger)
            } catch {
                return .unreachable("\(error)")
            }
        }
        guard let connection else { return .unreachable("no connection") }
        do {
            switch try await connection.role() {
            case .master(let offset, _): return .master(offset: offset)
            default: return .replica
            }
        } catch {
            await connection.close()
            self.connection = nil
            return .unreachable("\(error)")
        }
    }

    func close() async {
        await connection?.close()
        connection = nil
    }
}
