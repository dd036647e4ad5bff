import NIOCore
import RedisConnection
import Status
import Synchronization

/// `tandem status`'s ear on the groups' `__sentinel__:hello` channels: every sentinel
/// (redis-sentinel, `tandem sentinel`, a node agent's monitor) publishes a hello with its
/// current epoch and its config epoch of the master on the master and on each replica every
/// 2 s; no command reply of a redis-sentinel carries its current epoch. Kept subscribed across
/// `--watch`'s screens, so only the first waits for the hellos. Used by one task at a time.
final class HelloListener: @unchecked Sendable {
    private let redisUser: String?
    private let redisPassword: String?
    /// The newest hello per sentinel and master, with its arrival number; written on the
    /// connections' event loops.
    private final class Heard: Sendable {
        let state = Mutex<(count: Int, hellos: [String: (Int, StatusReport.SentinelHello)])>((0, [:]))

        func add(_ hello: StatusReport.SentinelHello) {
            state.withLock {
                $0.count += 1
                $0.hellos[hello.runID + "\u{0}" + hello.masterName] = ($0.count, hello)
            }
        }

        var inOrder: [StatusReport.SentinelHello] {
            state.withLock { $0.hellos.values.sorted { $0.0 < $1.0 }.map(\.1) }
        }
    }

    private let heard = Heard()
    private var connections: [String: RedisConnection] = [:]

    init(redisUser: String?, redisPassword: String?) {
        self.redisUser = redisUser
        self.redisPassword = redisPassword
    }

    /// The hellos heard so far, one per sentinel and master, in the order they came.
    var hellos: [StatusReport.SentinelHello] { heard.inOrder }

    /// Subscribes on every instance of `groups` not subscribed yet (or whose connection closed),
    /// closes the others, then waits until every monitor not marked down has been heard about its
    /// group, or `within` has passed.
    func hear(_ groups: [StatusReport.Group], within: Duration = .milliseconds(2500)) async {
        var instances: Set<String> = []
        for g in groups { instances.formUnion([g.master] + g.replicas.map(\.address)) }
        for (address, c) in connections where !instances.contains(address) || !c.isActive {
            connections[address] = nil
            await c.close()
        }
        let heard = self.heard
        let (user, password) = (redisUser, redisPassword)
        let wanted = instances.filter { connections[$0] == nil }.compactMap { address in
            MonitorOptions.hostPort(address).map { (address, $0.0, $0.1) }
        }
        let opened = await withTaskGroup(of: (String, RedisConnection)?.self) { tasks in
            for (address, host, port) in wanted {
                tasks.addTask {
                    guard let c = try? await RedisConnection.connect(
                        RedisConnectionConfiguration(host: host, port: port, username: user, password: password,
                                                     connectTimeout: .milliseconds(500), commandTimeout: .seconds(1)),
                        onMessage: { message in
                            if let hello = StatusReport.SentinelHello(payload: message.text) { heard.add(hello) }
                        }) else { return nil }
                    guard (try? await c.subscribe(["__sentinel__:hello"])) != nil else {
                        await c.close()
                        return nil
                    }
                    return (address, c)
                }
            }
            var opened: [(String, RedisConnection)] = []
            for await pair in tasks { if let pair { opened.append(pair) } }
            return opened
        }
        for (address, c) in opened { connections[address] = c }
        let deadline = ContinuousClock.now + within
        while !connections.isEmpty && ContinuousClock.now < deadline {
            let sofar = hellos
            let waiting = groups.contains { g in
                var heard = g
                heard.apply(hellos: sofar)
                return heard.monitors.contains { $0.currentEpoch == nil && !$0.flags.contains("s_down") && !$0.flags.contains("disconnected") }
            }
            if !waiting { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    func close() async {
        for c in connections.values { await c.close() }
        connections = [:]
    }
}
