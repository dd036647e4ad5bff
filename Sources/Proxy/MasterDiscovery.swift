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
        RedisConnectionConfiguration(host: endpoint.host, port: endpoint.port, username: user, password: password,
                                     connectTimeout: settings.connectTimeout, commandTimeout: .seconds(2))
    }

    private func connectSentinel(_ endpoint: ProxyEndpoint) async throws -> RedisConnection {
        try await RedisConnection.connect(configuration(endpoint, password: settings.sentinelPassword, user: nil), logger: logger)
    }

    private func connectBackend(_ endpoint: ProxyEndpoint) async throws -> RedisConnection {
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
        }
    }

    // MARK: Sentinel

    private func followSentinels(_ sentinels: [ProxyEndpoint], name: String) async {
        let checker = RoleChecker(discovery: self)
        var index = 0
        while !Task.isCancelled {
            let sentinel = sentinels[index % sentinels.count]
            do {
                try await follow(sentinel, name: name, checker: checker)
            } catch {
                if Task.isCancelled { break }
                logger.warning("sentinel \(sentinel): \(error); trying \(sentinels[(index + 1) % sentinels.count])")
            }
            index += 1
            try? await Task.sleep(for: .milliseconds(100))
        }
        await checker.close()
    }

    private func follow(_ sentinel: ProxyEndpoint, name: String, checker: RoleChecker) async throws {
        let query = try await connectSentinel(sentinel)
        let events: RedisConnection
        do {
            events = try await connectSentinel(sentinel)
            try await events.subscribe(["+switch-master"])
        } catch {
            await query.close()
            throw error
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Bool.self, bufferingPolicy: .bufferingNewest(16))
        let prefix = Array((name + " ").utf8)
        let watcher = Task {
            for await message in events.messages where message.payload.readableBytesView.starts(with: prefix) {
                continuation.yield(true)
            }
            continuation.finish()
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                continuation.yield(false)
            }
        }
        defer {
            watcher.cancel()
            ticker.cancel()
            continuation.finish()
            Task {
                await query.close()
                await events.close()
            }
        }
        let clock = ContinuousClock()
        let interval = Duration.nanoseconds(settings.checkInterval.nanoseconds)
        var lastCheck = clock.now
        try await check(query, name: name, checker: checker)
        for await isSwitch in stream {
            let trouble = router.takeTrouble()
            guard isSwitch || trouble || router.currentMaster == nil || clock.now - lastCheck >= interval else { continue }
            lastCheck = clock.now
            try await check(query, name: name, checker: checker)
        }
        if !Task.isCancelled { throw ProxyStartError("the connection to the sentinel closed") }
    }

    private func check(_ query: RedisConnection, name: String, checker: RoleChecker) async throws {
        let reply = try await query.send(["SENTINEL", "get-master-addr-by-name", name])
        guard let pair = reply.array, pair.count == 2, let host = pair[0].string,
              let portText = pair[1].string, let port = Int(portText) else {
            logger.error("sentinel does not know master '\(name)' (reply \(reply)); holding commands")
            router.publish(nil)
            return
        }
        let endpoint = ProxyEndpoint(host: host, port: port)
        if await checker.isMaster(endpoint) {
            router.publish(endpoint)
        } else {
            router.publish(nil)
        }
        if settings.readFromReplicas {
            let reply = try await query.send(["SENTINEL", "replicas", name])
            router.publishReplicas(Self.healthyReplicas(reply))
        }
    }

    /// Replicas in a `SENTINEL replicas` reply that are up and linked to their master.
    static func healthyReplicas(_ reply: RESPValue) -> [ProxyEndpoint] {
        guard let entries = reply.array else { return [] }
        return entries.compactMap { entry -> ProxyEndpoint? in
            var fields: [String: String] = [:]
            if let flat = entry.array {
                var i = 0
                while i + 1 < flat.count {
                    if let k = flat[i].string, let v = flat[i + 1].string { fields[k] = v }
                    i += 2
                }
            } else if let pairs = entry.pairs {
                for pair in pairs { if let k = pair.key.string, let v = pair.value.string { fields[k] = v } }
            }
            guard let ip = fields["ip"], let port = fields["port"].flatMap({ Int($0) }) else { return nil }
            let flags = (fields["flags"] ?? "").split(separator: ",")
            guard !flags.contains("s_down"), !flags.contains("o_down"), !flags.contains("disconnected"),
                  fields["master-link-status"] == "ok" else { return nil }
            return ProxyEndpoint(host: ip, port: port)
        }
    }

    // MARK: Backends

    private struct BackendState {
        var endpoint: ProxyEndpoint
        var connection: RedisConnection?
        var up: Bool?
        var successes = 0
        var failures = 0
        var lastCheckPassed = false
        var isMaster = false
        var follows: ProxyEndpoint?
    }

    private enum CheckResult: Sendable {
        case passed(isMaster: Bool, follows: ProxyEndpoint?)
        case failed(String)
    }

    private func checkBackends(_ endpoints: [ProxyEndpoint]) async {
        var states = endpoints.map { BackendState(endpoint: $0) }
        var warnedAbout: [ProxyEndpoint] = []
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let started = clock.now
            let inputs = states.map { ($0.endpoint, $0.connection) }
            let results = await withTaskGroup(of: (Int, CheckResult, RedisConnection?).self) { group in
                for (i, input) in inputs.enumerated() {
                    group.addTask { await self.checkBackend(input.0, input.1, index: i) }
                }
                var all: [(Int, CheckResult, RedisConnection?)] = []
                for await r in group { all.append(r) }
                return all
            }
            for (i, result, connection) in results {
                states[i].connection = connection
                switch result {
                case .passed(let isMaster, let follows):
                    states[i].successes += 1
                    states[i].failures = 0
                    states[i].lastCheckPassed = true
                    let roleChanged = states[i].isMaster != isMaster
                    states[i].isMaster = isMaster
                    states[i].follows = follows
                    if states[i].up == nil || (states[i].up == false && states[i].successes >= settings.rise) || roleChanged && states[i].up == true {
                        if states[i].up != true { logger.notice("backend \(states[i].endpoint) is up (\(isMaster ? "master" : "replica"))") }
                        states[i].up = true
                    }
                case .failed(let reason):
                    states[i].failures += 1
                    states[i].successes = 0
                    states[i].lastCheckPassed = false
                    if states[i].up == nil || (states[i].up == true && states[i].failures >= settings.fall) {
                        if states[i].up != false { logger.warning("backend \(states[i].endpoint) is down: \(reason)") }
                        states[i].up = false
                    }
                }
            }
            let masters = states.filter { $0.up == true && $0.isMaster }
            var chosen: BackendState?
            if masters.count == 1 {
                chosen = masters[0]
                warnedAbout = []
            } else if masters.count > 1 {
                let followed = masters.filter { m in
                    states.contains { $0.up == true && !$0.isMaster && $0.follows == m.endpoint }
                }
                if followed.count == 1 {
                    chosen = followed[0]
                } else if let current = router.currentMaster, let keep = masters.first(where: { $0.endpoint == current }) {
                    chosen = keep
                } else {
                    chosen = masters[0]
                }
                let names = masters.map(\.endpoint)
                if names != warnedAbout {
                    warnedAbout = names
                    logger.warning("\(names.count) backends claim role:master (\(names.map(\.description).joined(separator: ", "))); routing only to \(chosen!.endpoint)")
                }
            }
            if let chosen {
                if chosen.lastCheckPassed { router.publish(chosen.endpoint) }
            } else {
                router.publish(nil)
            }
            router.publishReplicas(states.filter {
                $0.up == true && $0.lastCheckPassed && !$0.isMaster && chosen != nil && $0.follows == chosen!.endpoint
            }.map(\.endpoint))
            // Sleep out the interval, but check again at once when a loop reports trouble.
            let interval = Duration.nanoseconds(settings.checkInterval.nanoseconds)
            while !Task.isCancelled && clock.now - started < interval {
                try? await Task.sleep(for: .milliseconds(50))
                if router.takeTrouble() { break }
            }
        }
        for state in states { await state.connection?.close() }
    }

    private func checkBackend(_ endpoint: ProxyEndpoint, _ existing: RedisConnection?, index: Int) async -> (Int, CheckResult, RedisConnection?) {
        var connection = existing
        do {
            if connection == nil || connection?.isActive == false {
                await connection?.close()
                connection = nil
                connection = try await connectBackend(endpoint)
            }
            try await connection!.ping(timeout: settings.checkInterval)
            let info = try await connection!.info("replication")
            guard let role = info.section("replication")?["role"] else {
                return (index, .failed("INFO replication has no role"), connection)
            }
            var follows: ProxyEndpoint?
            if let host = info.section("replication")?["master_host"], let port = info.section("replication")?["master_port"].flatMap({ Int($0) }) {
                follows = ProxyEndpoint(host: host, port: port)
            }
            return (index, .passed(isMaster: role == "master", follows: follows), connection)
        } catch {
            await connection?.close()
            return (index, .failed("\(error)"), nil)
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

    func isMaster(_ endpoint: ProxyEndpoint) async -> Bool {
        if endpoint != self.endpoint || connection?.isActive != true {
            await connection?.close()
            connection = nil
            self.endpoint = endpoint
            let s = discovery.settings
            connection = try? await RedisConnection.connect(
                RedisConnectionConfiguration(host: endpoint.host, port: endpoint.port, username: s.user, password: s.password,
                                             connectTimeout: s.connectTimeout, commandTimeout: .seconds(1)),
                logger: discovery.logger)
        }
        guard let connection else { return false }
        do {
            if case .master = try await connection.role() { return true }
            return false
        } catch {
            await connection.close()
            self.connection = nil
            return false
        }
    }

    func close() async {
        await connection?.close()
        connection = nil
    }
}
