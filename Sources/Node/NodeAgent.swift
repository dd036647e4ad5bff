import Dispatch
import Foundation
import KeepalivedConfig
import Logging
import NIOCore
import NodeConfig
import NodeCore
import Proxy
import RESP
import RedisConnection
import Sentinel
import Synchronization
import VRRP
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

public struct NodeStartError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// `tandem run node.yaml`: the node agent. Runs the monitor (a full sentinel), the proxy and
/// the virtual IP of one node in this process, and carries out `NodeState`'s decisions (VIP
/// eligibility, fencing, re-joining the group). This file is the shell: it observes (the local
/// monitor's master, the local Redis's role, the peer agents' heartbeats), feeds the core and
/// performs its actions; it decides nothing itself.
///
/// SIGTERM/SIGINT drain in order: the VIP is released (priority-0 advert), then the proxy stops
/// accepting and closes its clients, then the monitor stops.
public func runNode(configuration c: NodeConfiguration, source: String, logger: Logger) async throws {
    guard let me = c.me else { throw NodeStartError("node \(c.name) is not in group.nodes") }
    let stateDirectory = URL(fileURLWithPath: c.stateDirectory).standardizedFileURL.path
    var config = c
    config.stateDirectory = stateDirectory
    do {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
    } catch {
        throw NodeStartError("cannot create node.state-dir \(stateDirectory): \((error as NSError).localizedDescription)")
    }
    let sentinelPath = stateDirectory + "/sentinel.conf"
    let downAfter = c.group.downAfterMilliseconds
    let tick = max(10, downAfter / 10)
    // The local monitor's master and the local Redis's role are asked more often than peers are
    // pinged: a promotion reaches the VIP within this much (plus the decision period and
    // VRRP's Skew_Time). Both are on this machine; the cost is a few round trips a second.
    let localTick = max(10, downAfter / 25)
    let contactWindow = max(1, downAfter / 4)
    let status = NodeStatus()
    let signals = TerminationSignals()

    // redis.supervise: the agent starts the local redis-server (RedisSupervision decides when
    // and as what). On the very first start it runs as its file says, for the group's first
    // master to be chosen as for a server started by hand; after that, never before the
    // group's master is known.
    var supervisor: SupervisedRedis?
    var supervision: RedisSupervision?
    if c.role == .data, let redis = c.redis, redis.supervise, let file = redis.configFile {
        let s = SupervisedRedis(server: redis.server, configFile: file, port: redis.port)
        supervisor = s
        supervision = RedisSupervision(settings: RedisSupervision.Settings(
            myRedis: "\(me.address):\(redis.port)",
            holdLimit: downAfter + c.group.failoverTimeoutMilliseconds))
        if !FileManager.default.fileExists(atPath: sentinelPath) {
            try s.start(replicaOf: nil) { how in status.update { $0.redisExits.append((status.now(), how)) } }
            supervision!.started(now: status.now())
            logger.notice("node \(c.name): first start: redis-server started from \(file) as it is")
        }
    }

    // The first start: decide the group's master from what the others say.
    if !FileManager.default.fileExists(atPath: sentinelPath) {
        let master: String
        switch await bootstrap(config, timeout: contactWindow, signals: signals, logger: logger) {
        case .some(let chosen): master = chosen
        case .none: return  // stopped while waiting
        }
        let (host, port) = splitHostPort(master)
        let text = NodeFiles.sentinelConf(config, master: (host, port), source: source)
        do {
            try text.write(toFile: sentinelPath, atomically: true, encoding: .utf8)
        } catch {
            throw NodeStartError("cannot write \(sentinelPath): \((error as NSError).localizedDescription)")
        }
        logger.notice("node \(c.name): group \(c.group.name) starts with master \(master) (saved in \(sentinelPath))")
    }

    // The VIP's speaker is set up first: a missing interface or no permission stops the start
    // before anything listens.
    var daemon: VRRPDaemon?
    if let text = NodeFiles.keepalivedConf(config) {
        let vrrp = try KeepalivedConfiguration.parse(text, file: "\(source) (vip)")
        daemon = try VRRPDaemon(
            configuration: vrrp,
            externalTracked: [TrackedObject(name: NodeFiles.eligibleObject, weight: 0, up: false),
                              TrackedObject(name: NodeFiles.preferredObject, weight: NodeFiles.preferredWeight, up: false)],
            log: { [logger] in logger.notice("vip: \($0)") })
    }

    // The monitor.
    let monitorStarted = Completion()
    let monitorTask = Task {
        do {
            try await runSentinel(configPath: sentinelPath, overrides: NodeFiles.sentinelOverrides(config), logger: logger,
                                  extraInfo: [("node", { status.infoLines() })],
                                  onListening: { _ in monitorStarted.complete(nil) })
            monitorStarted.complete(nil)
        } catch {
            monitorStarted.complete("monitor: \(error)")
        }
    }
    if let error = await monitorStarted.wait() {
        throw NodeStartError(error)
    }

    // The proxy.
    var proxyTask: Task<Void, Never>?
    if let settings = try NodeFiles.proxySettings(config) {
        let proxyStarted = Completion()
        proxyTask = Task {
            do {
                try await runProxy(settings: settings, logger: logger, onListening: { _ in
                    status.update { $0.proxyUp = true }
                    proxyStarted.complete(nil)
                })
                proxyStarted.complete(nil)
            } catch {
                proxyStarted.complete("proxy: \(error)")
            }
            status.update { $0.proxyUp = false }
        }
        if let error = await proxyStarted.wait() {
            monitorTask.cancel()
            _ = await monitorTask.value
            throw NodeStartError(error)
        }
    }

    // The VIP's loop has a thread of its own (poll() on raw sockets).
    let vipDone = Completion()
    if let daemon {
        let thread = Thread {
            _ = daemon.run(handleSignals: false)
            vipDone.complete(nil)
        }
        thread.name = "tandem-vrrp"
        thread.start()
    } else {
        vipDone.complete(nil)
    }

    // Observers and the decision loop (data nodes: a witness only votes).
    var workers: [Task<Void, Never>] = []
    let peers = c.group.members.filter { $0.name != c.name }
    for peer in peers {
        workers.append(Task {
            await probeLoop(host: peer.address, port: peer.monitorPort, password: nil, user: nil, every: tick, timeout: contactWindow) { connection in
                // The heartbeat asks the peer's monitor for its view of the group: any answer
                // counts as heard; a view carries the master and its configuration epoch.
                let reply = try await connection.send(["SENTINEL", "MASTER", c.group.name], timeout: .milliseconds(contactWindow))
                let view = masterView(reply)
                status.update {
                    $0.lastPong[peer.name] = status.now()
                    if let view { $0.peerViews[peer.name] = view }
                }
            } onFailure: {}
        })
    }
    let monitorHost = c.monitor.bind.contains("0.0.0.0") || c.monitor.bind.contains(me.address) || c.monitor.bind.contains("::")
        ? me.address : (c.monitor.bind.first ?? me.address)
    workers.append(Task {
        await probeLoop(host: monitorHost, port: me.monitorPort, password: nil, user: nil, every: localTick, timeout: contactWindow) { connection in
            let reply = try await connection.send(["SENTINEL", "MASTER", c.group.name], timeout: .milliseconds(contactWindow))
            if let view = masterView(reply) {
                status.update {
                    $0.groupMaster = view.master
                    $0.groupEpoch = view.epoch
                    $0.groupMasterHealthy = view.healthy
                }
            }
        } onFailure: {}
    })
    if c.role == .data, let redis = c.redis {
        let password = redis.password ?? c.group.password
        let user = redis.user ?? c.group.user
        workers.append(Task {
            await probeLoop(host: me.address, port: redis.port, password: password, user: user, every: localTick, timeout: contactWindow) { connection in
                let role = try await connection.role()
                status.update {
                    switch role {
                    case .master: $0.localRole = .master
                    case .replica: $0.localRole = .replica
                    case .sentinel: $0.localRole = .down
                    }
                }
            } onFailure: {
                status.update { $0.localRole = .down }
            }
        })
        let placement: NodeState.Placement = c.vip?.placement == .proxy ? .proxy : .direct
        var settings = NodeState.Settings(
            myName: c.name, myRedis: "\(me.address):\(redis.port)", members: c.group.members.map(\.name),
            placement: placement, downAfter: downAfter, basePriority: c.vip?.priority ?? 100)
        settings.redisOfNode = Dictionary(uniqueKeysWithValues: c.group.members.filter { $0.role == .data }.map { ($0.name, "\($0.address):\($0.redisPort)") })
        settings.failoverRetry = c.group.failoverTimeoutMilliseconds
        let monitorActions = LocalRedisActions(host: monitorHost, port: me.monitorPort, password: nil, user: nil,
                                               timeout: contactWindow, logger: logger)
        let actor = LocalRedisActions(host: me.address, port: redis.port, password: password, user: user,
                                      timeout: contactWindow, logger: logger)
        let vip = daemon
        // Decisions run more often than heartbeats: a fence is due a fixed time after the last
        // heartbeat heard, and comes that much late at most by this period.
        let decisionPeriod = max(5, downAfter / 50)
        let nodeSettings = settings
        // direct: clients at the VIP talk to Redis itself, on the VIP's address.
        let vipClients = c.vip.flatMap { vip -> String? in
            guard vip.placement == .direct, let address = vip.address.split(separator: "/").first else { return nil }
            return address.contains(":") ? "[\(address)]:\(redis.port)" : "\(address):\(redis.port)"
        }
        let supervised = supervisor.map { ($0, supervision!) }
        workers.append(Task {
            await decisionLoop(settings: nodeSettings, every: decisionPeriod, status: status, daemon: vip, redis: actor,
                               monitorActions: monitorActions, groupName: c.group.name,
                               vipClients: vipClients, supervised: supervised, logger: logger)
        })
    }
    status.update {
        $0.name = c.name
        $0.role = c.role.rawValue
        $0.group = c.group.name
        $0.placement = c.vip.map { $0.placement.rawValue } ?? "none"
        $0.members = c.group.members.map(\.name)
    }
    let parts = "monitor on \(me.monitorPort)"
        + (config.proxy.map { ", proxy on \($0.listen.joined(separator: ", "))" } ?? "")
        + (config.vip.map { ", virtual IP \($0.address) on \($0.interface) (\($0.placement.rawValue))" } ?? "")
    logger.notice("node \(c.name) (\(c.role.rawValue)) of group \(c.group.name) running: \(parts)")

    // Until a signal, or the monitor stops by itself (SHUTDOWN on its port).
    let reason = await signals.wait(orUntil: monitorTask)
    logger.notice("node \(c.name): \(reason): releasing the virtual IP, then stopping the proxy and the monitor")
    daemon?.post(.stop)
    _ = await vipDone.wait()
    for worker in workers { worker.cancel() }
    if let proxyTask {
        proxyTask.cancel()
        await proxyTask.value
    }
    monitorTask.cancel()
    await monitorTask.value
    for worker in workers { await worker.value }
    if let supervisor, supervisor.isRunning {
        logger.notice("node \(c.name): stopping the supervised redis-server")
        await supervisor.stop()
    }
    logger.notice("node \(c.name): stopped")
}

/// The decision loop: every `every` ms, what the observers saw goes into `NodeState`, and its
/// actions are carried out.
private func decisionLoop(settings: NodeState.Settings, every tick: Int64, status: NodeStatus, daemon: VRRPDaemon?,
                          redis: LocalRedisActions, monitorActions: LocalRedisActions, groupName: String,
                          vipClients: String?, supervised: (SupervisedRedis, RedisSupervision)?, logger: Logger) async {
    var core = NodeState(settings: settings)
    var supervision = supervised?.1
    var lastWait = ""
    var adopted = false
    var fedPongs: [String: Int64] = [:]
    var wasFenced = false
    while !Task.isCancelled {
        let seen = status.read { $0 }
        let now = status.now()
        var actions: [NodeState.Action] = []
        for (node, at) in seen.lastPong where at > (fedPongs[node] ?? -1) {
            fedPongs[node] = at
            actions += core.handle(.heardFrom(node: node, at: at), now: now)
        }
        for (node, view) in seen.peerViews {
            actions += core.handle(.peerView(node: node, master: view.master, epoch: view.epoch), now: now)
        }
        actions += core.handle(.groupMaster(seen.groupMaster, epoch: seen.groupEpoch), now: now)
        actions += core.handle(.groupMasterHealthy(seen.groupMasterHealthy), now: now)
        actions += core.handle(.localRedis(seen.localRole), now: now)
        actions += core.handle(.proxyUp(seen.proxyUp), now: now)
        actions += core.handle(.tick, now: now)
        for action in actions {
            switch action {
            case .vipEligible(let priority):
                logger.notice("node: may hold the virtual IP (priority \(priority))")
                daemon?.post(.tracked(name: NodeFiles.preferredObject, up: priority > settings.basePriority))
                daemon?.post(.tracked(name: NodeFiles.eligibleObject, up: true))
                // direct, above the base priority: this node's Redis is the confirmed master;
                // the address moves now (at the base priority it is handing the address over).
                if settings.placement == .direct && priority > settings.basePriority { daemon?.post(.claim) }
            case .vipIneligible:
                logger.notice("node: may not hold the virtual IP")
                daemon?.post(.tracked(name: NodeFiles.eligibleObject, up: false))
            case .fence(let milliseconds):
                await redis.run(["CLIENT", "PAUSE", String(milliseconds), "WRITE"])
                if !wasFenced {
                    logger.warning("node: no contact with a majority of the group: the local Redis is fenced (writes wait, none is acknowledged)")
                    // Clients that reached Redis at the VIP would wait on their paused writes
                    // until their own timeout: closed now, they reconnect to the VIP's next holder.
                    if let vipClients { await redis.run(["CLIENT", "KILL", "LADDR", vipClients]) }
                }
                wasFenced = true
            case .unfence:
                wasFenced = false
                logger.notice("node: majority contact is back: writes allowed again")
                await redis.run(["CLIENT", "UNPAUSE"])
            case .requestFailover:
                logger.warning("node: the master's node agent has been silent while its Redis runs on: asking the monitors for a switchover")
                await monitorActions.run(["SENTINEL", "FAILOVER", groupName])
            case .replicate(let master):
                let (host, port) = splitHostPort(master)
                logger.notice("node: the group moved on to \(master): the local Redis becomes its replica")
                await redis.run(["REPLICAOF", host, String(port)])
            }
        }
        let majority = core.hasMajorityContact(now: now)
        if let supervisor = supervised?.0, var s = supervision {
            let exits = status.update { snapshot -> [(Int64, String)] in
                defer { snapshot.redisExits = [] }
                return snapshot.redisExits
            }
            for (at, how) in exits {
                logger.warning("node: \(how)")
                s.exited(now: at)
            }
            // A server already answering that this agent did not start (left by an earlier
            // agent): adopted as it is; supervision resumes once it stops.
            if !s.running && !supervisor.isRunning && seen.localRole != .down {
                if !adopted { logger.notice("node: a redis-server already answers on the local port: adopted, supervised once it stops") }
                adopted = true
            } else {
                adopted = false
                switch s.decide(groupMaster: core.groupMaster, majorityContact: majority, now: now) {
                case .start(let master):
                    do {
                        try supervisor.start(replicaOf: master ?? "") { how in status.update { $0.redisExits.append((status.now(), how)) } }
                        s.started(now: now)
                        logger.notice("node: redis-server started as \(master.map { "a replica of \($0)" } ?? "the master (no replica was promoted in its place)")")
                    } catch {
                        s.startFailed(now: now)
                        logger.error("node: \(error)")
                    }
                    lastWait = ""
                case .wait(let why):
                    if why != lastWait { logger.notice("node: redis-server not started: \(why)") }
                    lastWait = why
                case .running:
                    lastWait = ""
                }
            }
            supervision = s
        }
        let fenced = core.isFenced
        let vip = core.vip
        let vipStates = daemon?.states ?? []
        status.update {
            $0.fenced = fenced
            $0.majority = majority
            $0.vipEligible = vip.map { if case .vipEligible = $0 { true } else { false } } ?? false
            $0.vipState = vipStates.first?.rawValue ?? "none"
            $0.decidedAt = now
        }
        try? await Task.sleep(for: .milliseconds(tick))
    }
}

/// Keeps one connection to a server and runs `probe` on it every `every` ms; a failure closes
/// it (reconnected at the next round) and calls `onFailure`.
private func probeLoop(host: String, port: Int, password: String?, user: String?, every: Int64, timeout: Int64,
                       probe: @Sendable (RedisConnection) async throws -> Void, onFailure: @Sendable () -> Void) async {
    var connection: RedisConnection?
    while !Task.isCancelled {
        do {
            if connection == nil || connection?.isActive == false {
                await connection?.close()
                connection = try await RedisConnection.connect(RedisConnectionConfiguration(
                    host: host, port: port, username: user, password: password,
                    connectTimeout: .milliseconds(max(timeout, 50)), commandTimeout: .milliseconds(max(timeout, 50))))
            }
            try await probe(connection!)
        } catch {
            await connection?.close()
            connection = nil
            onFailure()
        }
        try? await Task.sleep(for: .milliseconds(every))
    }
    await connection?.close()
}

/// Commands the core asks of the local Redis (CLIENT PAUSE/UNPAUSE, REPLICAOF), over a
/// connection of their own: a write-paused server holds up later commands of a connection
/// that sent a write, and the probe's must stay free.
private actor LocalRedisActions {
    let configuration: RedisConnectionConfiguration
    let logger: Logger
    var connection: RedisConnection?

    init(host: String, port: Int, password: String?, user: String?, timeout: Int64, logger: Logger) {
        configuration = RedisConnectionConfiguration(host: host, port: port, username: user, password: password,
                                                     connectTimeout: .milliseconds(max(timeout, 50)),
                                                     commandTimeout: .milliseconds(max(timeout, 50)))
        self.logger = logger
    }

    func run(_ command: [String]) async {
        for attempt in 0..<2 {
            do {
                if connection == nil || connection?.isActive == false {
                    connection = try await RedisConnection.connect(configuration)
                }
                let reply = try await connection!.send(command)
                if let error = reply.errorMessage {
                    logger.warning("node: \(command.joined(separator: " ")) on \(configuration.serverDescription): \(error)")
                }
                return
            } catch {
                await connection?.close()
                connection = nil
                if attempt == 1 { logger.warning("node: \(command.joined(separator: " ")) on \(configuration.serverDescription) failed: \(error)") }
            }
        }
    }
}

/// The first start: asks the other monitors and every data node's Redis until
/// `NodeBootstrap` can decide. nil: stopped by a signal while waiting.
private func bootstrap(_ c: NodeConfiguration, timeout: Int64, signals: TerminationSignals, logger: Logger) async -> String? {
    let me = c.me!
    let password = c.redis?.password ?? c.group.password
    let user = c.redis?.user ?? c.group.user
    let wait = max(timeout, 200)
    var lastReason = ""
    while !signals.received {
        var answers: [String] = []
        for peer in c.group.members where peer.name != c.name {
            if let reply = try? await ask(peer.address, peer.monitorPort, password: nil, user: nil, timeout: wait,
                                          ["SENTINEL", "get-master-addr-by-name", c.group.name]),
               let parts = reply.array, parts.count == 2, let host = parts[0].string, let port = parts[1].string {
                answers.append("\(host):\(port)")
            }
        }
        var seen: [(redis: String, seen: NodeBootstrap.Seen)] = []
        for node in c.group.members where node.role == .data {
            let address = "\(node.address):\(node.redisPort)"
            let reply = try? await ask(node.address, node.redisPort, password: password, user: user, timeout: wait, ["ROLE"])
            switch reply.flatMap({ RedisRole(reply: $0) }) {
            case .master(_, let replicas): seen.append((address, .master(replicas: replicas.count)))
            case .replica(let host, let port, _, _): seen.append((address, .replica(of: "\(host):\(port)")))
            case .sentinel, .none: seen.append((address, .down))
            }
        }
        let local = c.role == .data ? "\(me.address):\(me.redisPort)" : nil
        switch NodeBootstrap.decide(monitorAnswers: answers, dataNodes: seen, localRedis: local) {
        case .master(let master, let replicateLocal):
            if replicateLocal {
                let (host, port) = splitHostPort(master)
                logger.notice("node \(c.name): the local Redis is a new empty master; it becomes a replica of \(master)")
                _ = try? await ask(me.address, me.redisPort, password: password, user: user, timeout: wait, ["REPLICAOF", host, String(port)])
            }
            return master
        case .wait(let reason):
            if reason != lastReason {
                logger.notice("node \(c.name): waiting to choose the group's first master: \(reason)")
                lastReason = reason
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
    return nil
}

private func ask(_ host: String, _ port: Int, password: String?, user: String?, timeout: Int64, _ command: [String]) async throws -> RESPValue {
    let connection = try await RedisConnection.connect(RedisConnectionConfiguration(
        host: host, port: port, username: user, password: password,
        connectTimeout: .milliseconds(timeout), commandTimeout: .milliseconds(timeout)))
    defer { Task { await connection.close() } }
    return try await connection.send(command)
}

/// A monitor's `SENTINEL MASTER` reply: the master, its configuration epoch, whether healthy.
struct MasterView: Sendable {
    var master: String
    var epoch: Int64
    var healthy: Bool
}

func masterView(_ reply: RESPValue) -> MasterView? {
    guard let parts = reply.array else { return nil }
    var fields: [String: String] = [:]
    var i = 0
    while i + 1 < parts.count {
        if let key = parts[i].string, let value = parts[i + 1].string { fields[key] = value }
        i += 2
    }
    guard let host = fields["ip"], let port = fields["port"], let flags = fields["flags"] else { return nil }
    return MasterView(master: "\(host):\(port)", epoch: Int64(fields["config-epoch"] ?? "") ?? 0,
                      healthy: flags.split(separator: ",").allSatisfy { $0 == "master" })
}

func splitHostPort(_ text: String) -> (String, Int) {
    guard let colon = text.lastIndex(of: ":") else { return (text, 6379) }
    return (String(text[..<colon]), Int(text[text.index(after: colon)...]) ?? 6379)
}

/// What the observers saw and the core decided, shared between tasks; `INFO node` reads it.
final class NodeStatus: Sendable {
    struct Snapshot: Sendable {
        var name = ""
        var role = ""
        var group = ""
        var placement = ""
        var members: [String] = []
        var groupMaster: String?
        var groupEpoch: Int64 = 0
        var groupMasterHealthy = true
        var peerViews: [String: MasterView] = [:]
        var localRole: NodeState.RedisRole = .down
        var lastPong: [String: Int64] = [:]
        var proxyUp = false
        var fenced = false
        var majority = false
        var vipEligible = false
        var vipState = "none"
        var decidedAt: Int64 = 0
        /// Exits of the supervised redis-server not yet handled: when, and how.
        var redisExits: [(Int64, String)] = []
    }

    private let state = Mutex(Snapshot())
    private let origin = ContinuousClock.now

    /// Milliseconds since the agent started: the core's clock.
    func now() -> Int64 {
        let d = origin.duration(to: .now)
        return d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }

    @discardableResult
    func update<T>(_ change: (inout Snapshot) -> T) -> T { state.withLock { change(&$0) } }
    func read<T>(_ body: (Snapshot) -> T) -> T { state.withLock { body($0) } }

    func infoLines() -> [String] {
        let s = read { $0 }
        let now = now()
        let peers = s.members.filter { $0 != s.name }.map { name in
            "\(name)=" + (s.lastPong[name].map { "\(now - $0)ms" } ?? "never")
        }
        var lines = ["# Node", "node_name:\(s.name)", "node_role:\(s.role)", "group_name:\(s.group)",
                     "group_master:\(s.groupMaster ?? "")", "peers_last_heard:\(peers.joined(separator: ","))"]
        if s.role == "data" {
            lines += ["local_redis:\(s.localRole)", "majority_contact:\(s.majority ? 1 : 0)", "fenced:\(s.fenced ? 1 : 0)",
                      "vip_mode:\(s.placement)", "vip_eligible:\(s.vipEligible ? 1 : 0)", "vip_state:\(s.vipState)",
                      "proxy:\(s.proxyUp ? "up" : "none")"]
        }
        return lines
    }
}

/// A one-shot result handed from a callback to an awaiting task.
final class Completion: Sendable {
    private let state = Mutex<(done: Bool, value: String?, waiters: [CheckedContinuation<String?, Never>])>((false, nil, []))

    func complete(_ value: String?) {
        let waiters = state.withLock { s -> [CheckedContinuation<String?, Never>] in
            guard !s.done else { return [] }
            s.done = true
            s.value = value
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume(returning: value) }
    }

    func wait() async -> String? {
        await withCheckedContinuation { continuation in
            let ready: String?? = state.withLock { s in
                if s.done { return .some(s.value) }
                s.waiters.append(continuation)
                return .none
            }
            if let value = ready { continuation.resume(returning: value) }
        }
    }
}

/// SIGTERM and SIGINT, caught (not the default exit) so the agent can drain in order.
/// (`@unchecked`: the signal sources are only kept alive, never touched after `init`.)
final class TerminationSignals: @unchecked Sendable {
    private let caught = Completion()
    private let sources: [any DispatchSourceSignal]

    init() {
        signal(SIGPIPE, SIG_IGN)
        var made: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let caught = caught
            source.setEventHandler { caught.complete(number == SIGTERM ? "SIGTERM" : "SIGINT") }
            source.resume()
            made.append(source)
        }
        sources = made
    }

    var received: Bool { caught.isDone }

    /// The signal's name, or why the monitor ended.
    func wait(orUntil monitor: Task<Void, Never>) async -> String {
        let caught = caught
        Task {
            await monitor.value
            caught.complete("the monitor stopped")
        }
        return await caught.wait() ?? "stopped"
    }
}

extension Completion {
    var isDone: Bool { state.withLock { $0.done } }
}
