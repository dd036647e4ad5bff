import Foundation
import NIOCore
import RESP
import RedisConnection

/// The `tandem` executable built with the tests: the one beside the test binary, never an older
/// one elsewhere (the integration tests depend on the executable target, so `swift test`
/// rebuilds it first).
public func tandemExecutable() throws -> String {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tandem")
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
        throw HarnessError("tandem executable not found beside the test binary (\(binary.path)); run `swift build --build-tests` first")
    }
    return binary.standardizedFileURL.path
}

/// A sentinel process for tests: the real `redis-sentinel`, or `tandem sentinel`, on a free
/// loopback port with its own config file in a temporary directory.
public final class SentinelProcess: @unchecked Sendable {
    public enum Kind: String, Sendable, CustomStringConvertible {
        case redis, tandem
        public var description: String { rawValue }
    }

    public static let redisSentinelBinary: String? = findExecutable("redis-sentinel")
    public static var shouldRunTests: Bool { (RedisServer.binary != nil && redisSentinelBinary != nil) || isCI }

    public let kind: Kind
    public private(set) var port: Int
    public let directory: URL
    private var child: ChildProcess?
    /// Credentials for `command` (a sentinel with requirepass or ACL users).
    public var username: String?
    public var password: String?

    public let configFile: URL
    /// Where the process's own output goes (its `logfile`, if the config names one, may be elsewhere).
    public let logFile: URL
    /// The config file as given on the command line (relative to `workingDirectory` if relative).
    private var configArgument: String
    private var extraArguments: [String] = []
    /// The directory the process is started in (nil: the test's own).
    public private(set) var workingDirectory: URL?

    /// Starts a sentinel monitoring `master` as `name` and waits until it answers PING.
    /// `extraLines` are appended to its sentinel.conf.
    /// `arguments` follow the config file on a tandem sentinel's command line (`--http ADDR:PORT`).
    public init(kind: Kind, monitoring master: RedisServer, name: String = "mymaster", quorum: Int = 2,
                downAfter: Int = 1000, failoverTimeout: Int = 10_000, extraLines: [String] = [],
                arguments: [String] = []) async throws {
        self.kind = kind
        self.extraArguments = arguments
        self.port = try freeLoopbackPort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-sentinel-\(UUID().uuidString)")
        self.configFile = directory.appendingPathComponent("sentinel.conf")
        self.logFile = directory.appendingPathComponent("sentinel.log")
        self.configArgument = configFile.path
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // Another process may take the free port before the sentinel binds it: then it is
        // tried again on another.
        for attempt in 1...5 {
            let config = ([
                "port \(port)", "bind 127.0.0.1", "dir \(directory.path)",
                "sentinel monitor \(name) \(master.host) \(master.port) \(quorum)",
                "sentinel down-after-milliseconds \(name) \(downAfter)",
                "sentinel failover-timeout \(name) \(failoverTimeout)",
            ] + extraLines).joined(separator: "\n") + "\n"
            try config.write(to: configFile, atomically: true, encoding: .utf8)
            do {
                try await launch()
                return
            } catch {
                child?.kill9()
                let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
                guard attempt < 5, log.contains("Address already in use") else { throw error }
                port = try freeLoopbackPort()
            }
        }
    }

    /// Starts a sentinel from a config file the test wrote (which must say `port port`), given
    /// as `configArgument` on the command line and started in `workingDirectory`, as a user who
    /// keeps relative paths would start it. `directory` is removed by `stop()`.
    public init(kind: Kind, port: Int, directory: URL, configFile: URL, configArgument: String, workingDirectory: URL) async throws {
        self.kind = kind
        self.port = port
        self.directory = directory
        self.configFile = configFile
        self.configArgument = configArgument
        self.workingDirectory = workingDirectory
        self.logFile = directory.appendingPathComponent("\(kind)-output.log")
        try await launch()
    }

    private func launch() async throws {
        switch kind {
        case .redis:
            guard let binary = Self.redisSentinelBinary else {
                throw HarnessError("redis-sentinel is not installed (apt-get install redis-sentinel)")
            }
            child = try ChildProcess(executable: binary, arguments: [configArgument, "--daemonize", "no"], logFile: logFile,
                                     workingDirectory: workingDirectory)
        case .tandem:
            child = try ChildProcess(executable: try tandemExecutable(), arguments: ["sentinel", configArgument] + extraArguments, logFile: logFile,
                                     workingDirectory: workingDirectory)
        }
        try await waitUntil("\(kind) sentinel on port \(port) to answer PING (log: \(logFile.path))") {
            guard self.child?.isRunning == true else { throw HarnessError("\(self.kind) sentinel exited: \(self.logTail())") }
            let reply = try await self.command(["PING"])
            return reply.string == "PONG" || reply.errorCode == "NOAUTH"  // up, with requirepass
        }
    }

    /// Kills the process and starts it again with the same config file (and so its saved state),
    /// first changed by `editConfig` if given (e.g. to drop `sentinel myid` for a new run id),
    /// from `workingDirectory` with the file given as `configArgument` if given.
    public func restart(editConfig: ((String) -> String)? = nil, workingDirectory: URL? = nil, configArgument: String? = nil) async throws {
        child?.kill9()
        try await waitUntil("port \(port) to be free again") {
            (try? await self.command(["PING"])) == nil
        }
        if let editConfig { try editConfig(try configText()).write(to: configFile, atomically: true, encoding: .utf8) }
        if let workingDirectory { self.workingDirectory = workingDirectory }
        if let configArgument { self.configArgument = configArgument }
        try await launch()
    }

    /// SIGSTOP / SIGCONT.
    public func pause() { child?.signal(SIGSTOP) }
    public func resume() { child?.signal(SIGCONT) }

    /// The sentinel's config file as it is now.
    public func configText() throws -> String { try String(contentsOf: configFile, encoding: .utf8) }

    /// Runs one command on a short-lived connection (error replies are returned as values).
    public func command(_ arguments: [String]) async throws -> RESPValue {
        var config = RedisConnectionConfiguration(host: "127.0.0.1", port: port, connectTimeout: .seconds(1))
        config.username = username
        config.password = password
        let c = try await RedisConnection.connect(config)
        do {
            let reply = try await c.send(arguments)
            await c.close()
            return reply
        } catch {
            await c.close()
            throw error
        }
    }

    /// `SENTINEL get-master-addr-by-name` as `host:port`, or nil.
    public func masterAddress(_ name: String = "mymaster") async throws -> String? {
        let reply = try await command(["SENTINEL", "get-master-addr-by-name", name])
        guard let parts = reply.array, parts.count == 2, let host = parts[0].string, let port = parts[1].string else { return nil }
        return "\(host):\(port)"
    }

    /// How many other sentinels and replicas it knows for `name`.
    public func known(_ name: String = "mymaster") async throws -> (sentinels: Int, replicas: Int) {
        let reply = try await command(["SENTINEL", "master", name])
        var fields: [String: String] = [:]
        for pair in reply.pairs ?? [] { if let k = pair.key.string { fields[k] = pair.value.string } }
        return (Int(fields["num-other-sentinels"] ?? "") ?? -1, Int(fields["num-slaves"] ?? "") ?? -1)
    }

    public func logTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    public var isRunning: Bool { child?.isRunning ?? false }
    public var pid: pid_t? { child?.pid }
    public func kill9() { child?.kill9() }

    public func stop() {
        child?.kill9()
        if ProcessInfo.processInfo.environment["TANDEM_KEEP_LOGS"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

/// Closes `connection` and returns the pub/sub messages it had received, giving up (and
/// returning what arrived) after `limit` rather than waiting forever for the stream to end.
public func closeAndDrain(_ connection: RedisConnection, limit: Duration = .seconds(5)) async -> [RedisPubSubMessage] {
    let drain = Task { () -> [RedisPubSubMessage] in
        var received: [RedisPubSubMessage] = []
        for await m in connection.messages { received.append(m) }
        return received
    }
    let guardTask = Task {
        try await Task.sleep(for: limit)
        drain.cancel()
    }
    await connection.close()
    let received = await drain.value
    guardTask.cancel()
    return received
}
