#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOCore
import RedisConnection
import RESP

/// A real `redis-server` on a free loopback port in a temporary directory, owned by a test.
///
/// Start it with `RedisServer.start()`, or better with `withRedisServers`, which stops every
/// server when the body returns or throws.
public final class RedisServer: @unchecked Sendable {
    /// Path of redis-server, or nil when it is not installed.
    public static let binary: String? = findExecutable("redis-server")

    /// Whether integration tests should run: redis-server is installed, or this is CI (where
    /// its absence must fail loudly rather than skip).
    public static var shouldRunTests: Bool { binary != nil || isCI }

    public let port: Int
    public let directory: URL
    public let extraArguments: [String]
    private var child: ChildProcess?

    /// `127.0.0.1`.
    public let host = "127.0.0.1"

    private init(port: Int, directory: URL, extraArguments: [String]) {
        self.port = port
        self.directory = directory
        self.extraArguments = extraArguments
    }

    /// Starts a server and waits until it answers PING.
    /// `extraArguments` are redis-server command-line options such as `["--requirepass", "x"]`.
    public static func start(extraArguments: [String] = [], password: String? = nil) async throws -> RedisServer {
        guard binary != nil else {
            throw HarnessError("redis-server is not installed (apt-get install redis-server)" + (isCI ? "; CI=true requires it" : ""))
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var lastError: (any Error)?
        for _ in 0..<5 {  // another process may take the port between our check and redis binding it
            let server = RedisServer(port: try freeLoopbackPort(), directory: directory, extraArguments: extraArguments)
            do {
                try await server.launch(password: password)
                return server
            } catch {
                lastError = error
                server.child?.kill9()
            }
        }
        throw lastError ?? HarnessError("could not start redis-server")
    }

    private func launch(password: String?) async throws {
        var arguments = [
            "--port", String(port), "--bind", host, "--dir", directory.path,
            "--daemonize", "no", "--save", "", "--appendonly", "no",
            "--repl-diskless-sync-delay", "0", "--logfile", "",
        ]
        arguments += extraArguments
        child = try ChildProcess(executable: Self.binary!, arguments: arguments, logFile: logFile)
        try await waitUntil("redis-server on port \(port) to answer PING (log: \(logFile.path))", timeout: .seconds(10)) {
            guard let child = self.child, child.isRunning else {
                throw HarnessError("redis-server exited: \(self.logTail())")
            }
            let reply = try await self.withConnection(password: password, commandTimeout: .seconds(1)) { try await $0.send(["PING"]) }
            return reply.string == "PONG" || reply.errorCode == "NOAUTH"
        }
    }

    /// Where redis-server writes its log (stdout, since `--logfile ""`).
    public var logFile: URL { directory.appendingPathComponent("redis.log") }

    /// The last lines of the log, for failure messages.
    public func logTail(lines: Int = 15) -> String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    public var pid: pid_t? { child?.pid }
    public var isRunning: Bool { child?.isRunning ?? false }

    /// A connection configuration for this server.
    public func configuration(username: String? = nil, password: String? = nil,
                              protocolVersion: RedisConnectionConfiguration.ProtocolVersion = .resp2,
                              commandTimeout: TimeAmount? = .seconds(5)) -> RedisConnectionConfiguration {
        RedisConnectionConfiguration(host: host, port: port, username: username, password: password,
                                     protocolVersion: protocolVersion, connectTimeout: .seconds(2), commandTimeout: commandTimeout)
    }

    /// Opens a new connection to this server.
    public func connect(username: String? = nil, password: String? = nil,
                        protocolVersion: RedisConnectionConfiguration.ProtocolVersion = .resp2,
                        commandTimeout: TimeAmount? = .seconds(5)) async throws -> RedisConnection {
        try await RedisConnection.connect(configuration(username: username, password: password,
                                                         protocolVersion: protocolVersion, commandTimeout: commandTimeout))
    }

    /// Runs `body` with a new connection and closes it afterwards, also when `body` throws.
    public func withConnection<T>(
        password: String? = nil, commandTimeout: TimeAmount? = .seconds(5),
        _ body: (RedisConnection) async throws -> T
    ) async throws -> T {
        let connection = try await connect(password: password, commandTimeout: commandTimeout)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Runs one command on a short-lived connection; an error reply throws.
    @discardableResult
    public func run(_ arguments: [String], password: String? = nil) async throws -> RESPValue {
        try await withConnection(password: password) { try await $0.command(arguments) }
    }

    /// Makes this server a replica of `master` and waits until `master_link_status:up`.
    public func replicate(from master: RedisServer, password: String? = nil, timeout: Duration = .seconds(15)) async throws {
        try await run(["REPLICAOF", master.host, String(master.port)], password: password)
        try await waitUntil("port \(port) to sync from master \(master.port)", timeout: timeout) {
            try await self.withConnection(password: password) { try await $0.info("replication") }.replication.masterLinkUp == true
        }
    }

    /// Waits until this master's first replica has acknowledged its whole replication stream
    /// (replicas acknowledge once a second, or when a WAIT asks).
    public func waitUntilReplicaAcknowledgedEverything(timeout: Duration = .seconds(5)) async throws {
        try await waitUntil("port \(port)'s replica to acknowledge its whole stream", timeout: timeout) {
            let text = try await self.run(["INFO", "replication"]).string ?? ""
            let field = { (name: String) in text.split(separator: "\r\n").first { $0.hasPrefix(name) }.map { $0.dropFirst(name.count) } }
            guard let offset = field("master_repl_offset:"), let replica = field("slave0:") else { return false }
            return replica.contains(",offset=\(offset),")
        }
    }

    /// SIGKILL: the server dies at once, as in a crash.
    public func kill9() { child?.kill9() }

    /// SIGSTOP: the server stops answering but keeps its sockets.
    public func pause() { child?.signal(SIGSTOP) }

    /// SIGCONT after `pause()`.
    public func resume() { child?.signal(SIGCONT) }

    /// Starts the server again on the same port with the same data directory.
    public func restart(password: String? = nil) async throws {
        child?.kill9()
        var lastError: (any Error)?
        for _ in 0..<20 {  // the old process's port may linger a moment
            do {
                try await launch(password: password)
                return
            } catch {
                lastError = error
                child?.kill9()
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError ?? HarnessError("could not restart redis-server on port \(port)")
    }

    /// Kills the server and removes its directory.
    public func stop() {
        child?.kill9()
        if ProcessInfo.processInfo.environment["TANDEM_KEEP_LOGS"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

/// Starts `count` servers, runs `body`, and stops every server afterwards, also when `body` throws.
public func withRedisServers<T>(
    _ count: Int,
    extraArguments: [String] = [],
    password: String? = nil,
    _ body: ([RedisServer]) async throws -> T
) async throws -> T {
    var servers: [RedisServer] = []
    defer { servers.forEach { $0.stop() } }
    for _ in 0..<count {
        servers.append(try await RedisServer.start(extraArguments: extraArguments, password: password))
    }
    return try await body(servers)
}

/// Starts a master and `replicas` replicas of it (each synced before `body` runs).
public func withReplicationGroup<T>(
    replicas: Int,
    extraArguments: [String] = [],
    _ body: (_ master: RedisServer, _ replicas: [RedisServer]) async throws -> T
) async throws -> T {
    try await withRedisServers(replicas + 1, extraArguments: extraArguments) { servers in
        for replica in servers.dropFirst() { try await replica.replicate(from: servers[0]) }
        return try await body(servers[0], Array(servers.dropFirst()))
    }
}
