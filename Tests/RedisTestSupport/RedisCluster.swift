import Foundation
import NIOCore
import RESP
import RedisConnection

/// A real Redis Cluster for tests: `masters` × (1 + `replicasPerMaster`) redis-server processes
/// on free loopback ports, each in its own temporary directory, joined with
/// `redis-cli --cluster create … --cluster-yes`. Stop it with `stop()` (every server by PID);
/// `withRedisCluster` does that whatever the body does.
public final class RedisCluster: @unchecked Sendable {
    public let servers: [RedisServer]
    public let nodeTimeoutMilliseconds: Int

    private init(servers: [RedisServer], nodeTimeoutMilliseconds: Int) {
        self.servers = servers
        self.nodeTimeoutMilliseconds = nodeTimeoutMilliseconds
    }

    /// Starts the servers, creates the cluster and waits until every node reports
    /// `cluster_state:ok` and every replica is in sync (so a replica can be promoted).
    public static func start(masters: Int = 3, replicasPerMaster: Int = 1, nodeTimeoutMilliseconds: Int = 1000) async throws -> RedisCluster {
        guard let cli = findExecutable("redis-cli") else { throw HarnessError("redis-cli is not installed") }
        var servers: [RedisServer] = []
        do {
            for _ in 0..<masters * (1 + replicasPerMaster) {
                servers.append(try await RedisServer.start(extraArguments: [
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", String(nodeTimeoutMilliseconds),
                    // A replica may always be promoted, however long since it heard its master.
                    "--cluster-replica-validity-factor", "0",
                    // The bus port is chosen too: port + 10000 may be taken or out of range.
                    "--cluster-port", String(try freeLoopbackPort()),
                ]))
            }
            let cluster = RedisCluster(servers: servers, nodeTimeoutMilliseconds: nodeTimeoutMilliseconds)
            let (status, output) = try runProgram(cli, ["--cluster", "create"] + servers.map { "127.0.0.1:\($0.port)" }
                                                  + ["--cluster-replicas", String(replicasPerMaster), "--cluster-yes"])
            guard status == 0 else { throw HarnessError("redis-cli --cluster create failed (\(status)): \(output.suffix(2000))") }
            try await cluster.waitUntilHealthy(servers: servers, masters: masters)
            return cluster
        } catch {
            for server in servers { server.stop() }
            throw error
        }
    }

    /// Waits until every given server reports cluster_state:ok and `masters` masters with every
    /// replica's health `online` in CLUSTER SHARDS.
    public func waitUntilHealthy(servers: [RedisServer]? = nil, masters: Int, timeout: Duration = .seconds(30)) async throws {
        for server in servers ?? self.servers.filter(\.isRunning) {
            try await waitUntil("cluster_state:ok and replicas online on port \(server.port)", timeout: timeout, pollEvery: .milliseconds(100)) {
                try await server.withConnection(commandTimeout: .seconds(1)) { connection in
                    let info = try await connection.send(["CLUSTER", "INFO"]).string ?? ""
                    guard info.contains("cluster_state:ok") else { return false }
                    let nodes = try await connection.send(["CLUSTER", "NODES"]).string ?? ""
                    let lines = nodes.split(separator: "\n")
                    let liveMasters = lines.filter { $0.contains("master") && !$0.contains("fail") && $0.split(separator: " ").count > 8 }
                    guard liveMasters.count == masters else { return false }
                    let shards = try await connection.send(["CLUSTER", "SHARDS"])
                    return !Self.strings(in: shards).contains("loading")
                }
            }
        }
    }

    /// Every string in a reply, depth first.
    static func strings(in value: RESPValue) -> [String] {
        if let items = value.array { return items.flatMap { strings(in: $0) } }
        return value.string.map { [$0] } ?? []
    }

    /// The server listening on `port`.
    public func server(port: Int) -> RedisServer? { servers.first { $0.port == port } }

    /// The server that is master of `slot` now, as `node`'s CLUSTER SLOTS says.
    public func master(ofSlot slot: Int, askingNode node: RedisServer? = nil) async throws -> RedisServer {
        let asked = node ?? servers.first(where: \.isRunning)!
        let reply = try await asked.run(["CLUSTER", "SLOTS"])
        for range in reply.array ?? [] {
            guard let entry = range.array, entry.count >= 3, let start = entry[0].int, let end = entry[1].int,
                  (Int(start)...Int(end)).contains(slot), let port = entry[2].array?[1].int, let server = server(port: Int(port)) else { continue }
            return server
        }
        throw HarnessError("no master for slot \(slot) in \(reply)")
    }

    /// The node ID of `server`.
    public func nodeID(_ server: RedisServer) async throws -> String {
        guard let id = try await server.run(["CLUSTER", "MYID"]).string else { throw HarnessError("no CLUSTER MYID") }
        return id
    }

    public var seedArguments: [String] { servers.prefix(2).flatMap { ["--cluster", "127.0.0.1:\($0.port)"] } }

    public func stop() {
        for server in servers { server.stop() }
    }
}

/// Runs `body` with a new cluster and stops every server afterwards, also when it throws.
public func withRedisCluster<T>(
    masters: Int = 3, replicasPerMaster: Int = 1, nodeTimeoutMilliseconds: Int = 1000,
    _ body: (RedisCluster) async throws -> T
) async throws -> T {
    let cluster = try await RedisCluster.start(masters: masters, replicasPerMaster: replicasPerMaster,
                                               nodeTimeoutMilliseconds: nodeTimeoutMilliseconds)
    do {
        let result = try await body(cluster)
        cluster.stop()
        return result
    } catch {
        cluster.stop()
        throw error
    }
}
