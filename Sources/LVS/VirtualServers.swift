import KeepalivedConfig
import LVSCore
import NIOCore
import NIOPosix
import Spawn
import Synchronization
import VRRP
import Alerts
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// Errors starting the virtual servers: a listener that cannot bind, a script user that does
/// not exist.
public struct VirtualServerError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// keepalived's `virtual_server`s served in user space: a TCP listener on each virtual server's
/// address and port (IP_FREEBIND, so both nodes listen whether or not they hold the VIP), every
/// connection forwarded to the real server `VirtualServerState` picks, the checkers run here and
/// their verdicts fed back. The decisions run on one event loop, each connection's bytes on one
/// of a group of loops (one per core); `start` and `stop` may be called from any thread.
public final class VirtualServers: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    private let scripts: ChildScripts
    private let mail: CheckerMail
    private let defaultUser: ScriptUser?
    private let log: @Sendable (String) -> Void
    private let addressHeld: @Sendable (IPAddress) -> Bool?
    /// The running virtual servers, in configuration order (replaced by `reload`).
    private let servers: Mutex<[VirtualServerLoop]>

    /// Event-loop threads for the connections by default: two per core. The byte path shares
    /// its cores with the real servers and the clients, and the kernel shares CPU out per
    /// thread: with one thread per core it got less of it than they did under load
    /// (Benchmarks/lvs.sh, docs/benchmarks.md). Idle loops cost nothing.
    public static var defaultThreads: Int { 2 * System.coreCount }

    /// `addressHeld`: for ha_suspend, whether this node holds an address now (nil: no
    /// vrrp_instance carries it, the checks run). Called on the virtual servers' loop every second.
    /// `threads`: event-loop threads (0: `defaultThreads`).
    public init(configuration: KeepalivedConfiguration, log: @escaping @Sendable (String) -> Void,
                addressHeld: @escaping @Sendable (IPAddress) -> Bool? = { _ in nil }, threads: Int = 0) throws {
        // One loop for the decisions (the first), every loop for connections' bytes.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads > 0 ? threads : Self.defaultThreads)
        self.group = group
        let loop = group.next()
        self.loop = loop
        var defaultUser: ScriptUser?
        if let (name, groupName) = configuration.global.scriptUser {
            guard let user = ScriptUser.resolve(name, group: groupName) else {
                try? group.syncShutdownGracefully()
                throw VirtualServerError("script_user \(name): no such user or group")
            }
            defaultUser = user
        } else {
            defaultUser = ScriptUser.resolve("keepalived_script", group: nil)
        }
        self.defaultUser = defaultUser
        self.log = log
        self.addressHeld = addressHeld
        let scripts = ChildScripts(loop: loop, enableScriptSecurity: configuration.global.enableScriptSecurity, log: log)
        self.scripts = scripts
        let mail = CheckerMail(global: configuration.global, log: log)
        self.mail = mail
        servers = Mutex(configuration.virtualServers.map {
            VirtualServerLoop(config: $0, loop: loop, connections: group, scripts: scripts, mail: mail, defaultUser: defaultUser, log: log, addressHeld: addressHeld)
        })
    }

    /// Binds every listener and starts the checkers. Throws (after closing what it bound) if one cannot bind.
    public func start() throws {
        do {
            for server in servers.withLock({ $0 }) { try server.loop.flatSubmit { server.start() }.wait() }
        } catch {
            stop()
            throw error
        }
    }

    /// Applies a re-read configuration's virtual servers (SIGHUP), as keepalived's reload: a
    /// virtual server is matched by its address and port; one whose block reads the same is left
    /// alone; a changed one is reconfigured in place (listener, open connections and checker
    /// states kept: `VirtualServerState.reconfigure`); a new one starts listening (a bind that
    /// fails is logged with its file:line and the others go on); one no longer there stops
    /// (listener and its connections closed, omega's scripts run). Call from one thread at a time.
    public func reload(_ configuration: KeepalivedConfiguration) {
        let running = servers.withLock { $0 }
        let steps = VirtualServerReload.plan(
            old: running.map { (key: $0.key, fingerprint: $0.fingerprint) },
            new: configuration.virtualServers.map { (key: $0.name, fingerprint: $0.fingerprint) })
        var next: [VirtualServerLoop] = []
        var counts = (unchanged: 0, changed: 0, added: 0, removed: 0)
        for step in steps {
            switch step {
            case .removed(let o):
                let server = running[o]
                log("VS \(server.key): removed by reload: stops listening, its connections closed")
                try? server.loop.submit { server.stop() }.wait()
                counts.removed += 1
            case .unchanged(let o, _):
                next.append(running[o])
                counts.unchanged += 1
            case .changed(let o, let n):
                let server = running[o]
                let config = configuration.virtualServers[n]
                try? server.loop.submit { server.reconfigure(config) }.wait()
                next.append(server)
                counts.changed += 1
            case .added(let n):
                let server = VirtualServerLoop(config: configuration.virtualServers[n], loop: loop, connections: group, scripts: scripts,
                                               mail: mail, defaultUser: defaultUser, log: log, addressHeld: addressHeld)
                do {
                    try server.loop.flatSubmit { server.start() }.wait()
                    next.append(server)
                    counts.added += 1
                } catch {
                    log("reload: \(error): not added")
                }
            }
        }
        servers.withLock { $0 = next }
        log("reload: virtual servers: \(counts.unchanged) unchanged, \(counts.changed) changed, \(counts.added) added, \(counts.removed) removed")
    }

    /// Every virtual server's checkers check at once (`VirtualServerEvent.checkSoon`): the node
    /// agent's monitor saw the group's master change. Safe from any thread.
    public func checkSoon() {
        for server in servers.withLock({ $0 }) {
            server.loop.execute { server.checkSoon() }
        }
    }

    /// Stops accepting, runs omega's notify_down/quorum_down, closes every connection.
    public func stop() {
        let servers = servers.withLock { $0 }
        for server in servers { try? server.loop.submit { server.stop() }.wait() }
        // omega's scripts get a moment to run before the loop goes.
        let deadline = NIODeadline.now() + .seconds(2)
        while NIODeadline.now() < deadline, mail.sending || (try? loop.submit({ self.scripts.isRunning }).wait()) == true {
            usleep(20_000)
        }
        try? group.syncShutdownGracefully()
    }

    /// The port each virtual server listens on, in configuration order (tests bind port 0).
    public var boundPorts: [Int] {
        servers.withLock { $0 }.map { server in (try? server.loop.submit { server.boundPort }.wait()) ?? 0 }
    }
}

/// One virtual server: its core, listener, timers and checks, touched only on `loop` (hence
/// @unchecked Sendable); connections run on `connections`' loops and hop to `loop` to decide.
final class VirtualServerLoop: @unchecked Sendable {
    private(set) var config: VirtualServerConfig
    /// What a reload matches it by (`IP:PORT` or `group NAME`; never changes).
    let key: String
    /// Its block's fingerprint, read by a reload from another thread.
    private let currentFingerprint: Mutex<String>
    var fingerprint: String { currentFingerprint.withLock { $0 } }
    let loop: any EventLoop
    let connections: any EventLoopGroup
    private let scripts: ChildScripts
    private let mail: CheckerMail
    private let defaultUser: ScriptUser?
    let log: @Sendable (String) -> Void
    private let addressHeld: @Sendable (IPAddress) -> Bool?
    private let origin = NIODeadline.now()
    var state: VirtualServerState
    /// One per address it listens on (a virtual_server_group has several).
    var listeners: [ServiceAddress: any Channel] = [:]
    private var timer: Scheduled<Void>?
    private var timerDeadline: Duration?
    private var suspendPoll: RepeatedTask?
    private(set) var stopped = false
    /// Bumped by a reload: a check started before it reports to nobody (the core runs it again).
    private var generation = 0
    var openChannels: [ObjectIdentifier: OpenConnection] = [:]
    var refused = 0
    var lastRefusalLog: Duration?
    /// `protocol UDP`: the open flows' idle times, their sockets, and the timer that ends idle ones.
    var udpFlows = UDPFlows<UDPFlowKey>()
    var udpSockets: [UDPFlowKey: UDPFlowSocket] = [:]
    var udpTimer: Scheduled<Void>?
    var udpTimerDeadline: Duration?

    /// A connection (or UDP flow) placed by the core: where it went (nil once a reload removed
    /// that real server).
    struct OpenConnection {
        let channel: any Channel
        var destination: Destination?
        let client: ClientKey
    }

    init(config: VirtualServerConfig, loop: any EventLoop, connections: any EventLoopGroup, scripts: ChildScripts, mail: CheckerMail,
         defaultUser: ScriptUser?, log: @escaping @Sendable (String) -> Void, addressHeld: @escaping @Sendable (IPAddress) -> Bool?) {
        self.config = config
        self.key = config.name
        self.currentFingerprint = Mutex(config.fingerprint)
        self.loop = loop
        self.connections = connections
        self.scripts = scripts
        self.mail = mail
        self.defaultUser = defaultUser
        self.log = log
        self.addressHeld = addressHeld
        state = VirtualServerState(settings: Self.settings(config), now: .zero)
    }

    /// The core's settings for a virtual_server block (each checker's first check drawn at
    /// random up to its warmup, as keepalived).
    static func settings(_ config: VirtualServerConfig) -> VirtualServerSettings {
        VirtualServerSettings(
            algorithm: SchedulingAlgorithm(rawValue: config.scheduler.rawValue) ?? .wlc,
            hashFallback: config.hashFallback, hashPort: config.hashPort,
            persistence: config.persistenceTimeout.map { .seconds($0) },
            hasSorryServer: config.sorryServer != nil, quorum: config.quorum, hysteresis: config.hysteresis,
            omega: config.omega,
            realServers: config.realServers.map { real in
                RealServerSettings(
                    weight: real.weight, inhibitOnFailure: real.inhibitOnFailure,
                    checkers: real.checkers.map { check in
                        CheckerPolicy(
                            delayLoop: .seconds(check.delayLoop), retry: check.retry,
                            delayBeforeRetry: .seconds(check.delayBeforeRetry),
                            firstCheck: check.warmup > 0 ? .seconds(Double.random(in: 0...check.warmup)) : .zero,
                            alpha: check.alpha,
                            identity: checkerIdentity(check))
                    },
                    identity: real.service.address.bytes + [UInt8(real.service.port >> 8), UInt8(real.service.port & 0xFF)])
            })
    }

    /// What a checker checks, for a reload to know it is the same one: its kind and parameters,
    /// where it connects from and to, and its connect timeout.
    static func checkerIdentity(_ check: CheckerConfig) -> String {
        "\(check.kind) \(check.connectAddress) from \(check.bindAddress.map { "\($0)" } ?? "-"):\(check.bindPort ?? 0) timeout \(check.connectTimeout)"
    }

    var name: String { "VS \(config.name)" }
    func now() -> Duration { .nanoseconds((NIODeadline.now() - origin).nanoseconds) }
    var boundPort: Int { config.listenAddresses.first.flatMap { listeners[$0]?.localAddress?.port } ?? 0 }
    var scriptsRunning: Bool { scripts.isRunning }

    // MARK: start and stop

    func start() -> EventLoopFuture<Void> {
        // Every address of a virtual_server_group, one after the other; the first that cannot
        // listen closes the others.
        var bound = loop.makeSucceededVoidFuture()
        for address in config.listenAddresses {
            bound = bound.flatMap { [self] in listen(on: address) }
        }
        return bound.flatMapError { [self] error in
            for channel in listeners.values { channel.close(promise: nil) }
            listeners = [:]
            return loop.makeFailedFuture(error)
        }.map { [self] in started() }
    }

    /// IP_FREEBIND (IPV6_FREEBIND) for the address's family: bind an address not here (yet).
    static func freebind(for service: ServiceAddress) -> ChannelOptions.Types.SocketOption {
        service.address.family == .ipv4
            ? .init(level: .init(rawValue: CInt(IPPROTO_IP)), name: .init(rawValue: 15 /* IP_FREEBIND */))
            : .init(level: .init(rawValue: CInt(IPPROTO_IPV6)), name: .init(rawValue: 78 /* IPV6_FREEBIND */))
    }

    /// Binds one listener (IP_FREEBIND: the address need not be here yet) and records it.
    private func listen(on service: ServiceAddress) -> EventLoopFuture<Void> {
        let freebind = Self.freebind(for: service)
        let bootstrap = ServerBootstrap(group: loop, childGroup: connections)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(freebind, value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 511)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                // Placed once registered and active: the initializer runs before registration,
                // which comes after a hop to the listener's loop and back.
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OnActive { [self] in accepted($0) })
                    try channel.pipeline.syncOperations.addHandler(GlueHandler())
                }
            }
        let what = config.group.map { "virtual_server group \($0): \(service)" } ?? "virtual_server \(service)"
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: service.address.description, port: service.port)
        } catch {
            return loop.makeFailedFuture(VirtualServerError("\(config.location): \(what): \(error)"))
        }
        if config.udp { return listenUDP(on: service, at: address, what: what) }
        return bootstrap.bind(to: address).flatMapErrorThrowing { [config] error in
            throw VirtualServerError("\(config.location): \(what): cannot listen: \(error)")
        }.map { [self] channel in
            listeners[service] = channel
        }
    }

    private func started() {
        let on = config.group == nil ? "" : " on \(config.listenAddresses.map(\.description).joined(separator: ", "))"
        log("\(name): listening\(on) (\(config.scheduler.rawValue), \(config.realServers.count) real server(s)\(config.sorryServer.map { ", sorry server \($0)" } ?? ""))")
        if config.haSuspend { startSuspendPoll() }
        perform(state.handle(.tick, now: now()))
    }

    private func startSuspendPoll() {
        // Before the first tick: a node without the address must not check even once.
        checkAddressHeld()
        suspendPoll = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
            checkAddressHeld()
        }
    }

    /// ha_suspend: suspends or resumes the checks as this node loses or gains the address.
    private func checkAddressHeld() {
        // A group's checks run while any of its addresses is held here.
        let answers = Set(config.listenAddresses.map(\.address)).map { addressHeld($0) }
        let held = answers.contains(true) || answers.allSatisfy { $0 == nil }
        guard held == state.suspended else { return }
        log("\(name): \(held ? "address held: checkers resume" : "address not held: checkers suspended (ha_suspend)")")
        perform(state.handle(.suspend(!held), now: now()))
    }

    func checkSoon() {
        guard !stopped else { return }
        perform(state.handle(.checkSoon, now: now()))
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        suspendPoll?.cancel()
        timer?.cancel()
        udpTimer?.cancel()
        for channel in listeners.values { channel.close(promise: nil) }
        perform(state.handle(.shutdown, now: now()))
        for open in openChannels.values { open.channel.close(promise: nil) }
    }

    /// A reload changed this virtual server's block: new settings for the core, the same listener.
    func reconfigure(_ new: VirtualServerConfig) {
        guard !stopped else { return }
        let old = config
        let wasAlive = old.realServers.indices.map { state.isAlive($0) && !old.realServers[$0].checkers.isEmpty }
        generation += 1
        let result = state.reconfigure(Self.settings(new), now: now())
        config = new
        currentFingerprint.withLock { $0 = new.fingerprint }
        for (o, n) in result.indexMap.enumerated() where n == nil {
            let real = old.realServers[o]
            let open = openChannels.values.filter { $0.destination == .real(o) }.count
            log("\(name): real server \(real.service) removed by reload\(open > 0 ? "; its \(open) open connection(s) stay until they end" : "")")
            // keepalived runs a removed live server's notify_down (its reload sets omega).
            if wasAlive[o], let notify = real.notifyDown { runNotify(notify, tag: "notify_down \(real.service)") }
            if wasAlive[o], real.smtpAlert { alert(real, up: false, reason: nil, removed: true) }
        }
        for n in result.added { log("\(name): real server \(new.realServers[n].service) added by reload\(state.isAlive(n) ? "" : " (down until its first check succeeds: alpha)")") }
        for id in Array(openChannels.keys) {
            if case .real(let o)? = openChannels[id]!.destination {
                openChannels[id]!.destination = result.indexMap[o].map { .real($0) }
            }
        }
        // A group's addresses changed: listeners for the new ones, the gone ones closed.
        for gone in old.listenAddresses where !new.listenAddresses.contains(gone) {
            listeners.removeValue(forKey: gone)?.close(promise: nil)
            log("\(name): \(gone) removed by reload: no longer listening there")
        }
        for added in new.listenAddresses where listeners[added] == nil {
            listen(on: added).whenComplete { [self] result in
                switch result {
                case .success: log("\(name): listening on \(added) (added by reload)")
                case .failure(let error): log("\(error): not added")
                }
            }
        }
        log("\(name): reloaded (\(new.scheduler.rawValue), \(new.realServers.count) real server(s)\(new.sorryServer.map { ", sorry server \($0)" } ?? ""))")
        if new.haSuspend != old.haSuspend {
            suspendPoll?.cancel()
            suspendPoll = nil
            if new.haSuspend {
                startSuspendPoll()
            } else if state.suspended {
                perform(state.handle(.suspend(false), now: now()))
            }
        }
        perform(result.actions)
    }

    // MARK: the core's actions

    private func perform(_ actions: [VirtualServerAction]) {
        for action in actions {
            switch action {
            case .runCheck(let r, let c):
                runCheck(r, c)
            case .realServerUp(let r):
                let real = config.realServers[r]
                log("\(name): real server \(real.service) up: added\(state.weight(r) == 0 ? " with weight 0" : "")")
                if let notify = real.notifyUp { runNotify(notify, tag: "notify_up \(real.service)") }
                if real.smtpAlert { alert(real, up: true, reason: nil) }
            case .realServerDown(let r, let reason):
                let real = config.realServers[r]
                log("\(name): real server \(real.service) down (\(reason)): \(real.inhibitOnFailure ? "weight set to 0 (inhibit_on_failure)" : "removed")")
                if let notify = real.notifyDown { runNotify(notify, tag: "notify_down \(real.service)") }
                if real.smtpAlert { alert(real, up: false, reason: reason) }
            case .retrying(let r, let c, let attempt, let total, let reason):
                log("\(name): \(config.realServers[r].checkers[c].name) of \(config.realServers[r].service) failed (\(reason)); retry \(attempt) of \(total)")
            case .weightChanged(let r, let weight):
                log("\(name): real server \(config.realServers[r].service) weight \(weight)")
            case .quorumUp:
                log("\(name): gained quorum \(config.quorum)+\(config.hysteresis)=\(config.quorum + config.hysteresis) <= \(state.aliveWeight)\(config.sorryServer.map { "; sorry server \($0) out of use" } ?? "")")
                if let notify = config.quorumUp { runNotify(notify, tag: "quorum_up \(config.name)") }
                if config.smtpAlert { quorumAlert(gained: true) }
            case .quorumDown:
                log("\(name): lost quorum \(config.quorum)-\(config.hysteresis)=\(config.quorum - config.hysteresis) > \(state.aliveWeight)\(config.sorryServer.map { "; sorry server \($0) in use" } ?? "")")
                if let notify = config.quorumDown { runNotify(notify, tag: "quorum_down \(config.name)") }
                if config.smtpAlert { quorumAlert(gained: false) }
            }
        }
        scheduleTimer()
    }

    /// smtp_alert: keepalived's e-mail for a real server up or down, in its checker's words.
    private func alert(_ real: RealServerConfig, up: Bool, reason: String?, removed: Bool = false) {
        let checker = stopped ? "shutdown" : removed ? "reload" : real.checkers.first?.name ?? "TCP_CHECK"
        mail.send(SMTPAlert.realServerMessage(routerID: mail.routerID, realServer: real.service.description,
                                              virtualServer: config.name, up: up, checker: checker, reason: reason))
    }

    private func quorumAlert(gained: Bool) {
        var message = SMTPAlert.quorumMessage(routerID: mail.routerID, virtualServer: config.name, gained: gained,
                                              quorum: config.quorum, hysteresis: config.hysteresis, weight: state.aliveWeight)
        if stopped { message.body = "=> Shutting down <=" }  // omega at shutdown, as keepalived
        mail.send(message)
    }

    private func runNotify(_ notify: NotifyCommand, tag: String) {
        let user = notify.user.flatMap { ScriptUser.resolve($0.user, group: $0.group) } ?? defaultUser
        scripts.notify(notify.command, as: user, tag: tag)
    }

    private func scheduleTimer() {
        guard !stopped else { return }
        guard let deadline = state.nextDeadline else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if timer != nil, timerDeadline == deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        let wait = max(.zero, deadline - now())
        timer = loop.scheduleTask(in: .nanoseconds(Int64(wait / .nanoseconds(1)))) { [self] in
            timer = nil
            timerDeadline = nil
            perform(state.handle(.tick, now: now()))
        }
    }

    // MARK: checks

    private func runCheck(_ r: Int, _ c: Int) {
        let check = config.realServers[r].checkers[c]
        let generation = self.generation
        let finish: @Sendable (CheckOutcome) -> Void = { [self] outcome in
            if loop.inEventLoop {
                checkFinished(r, c, outcome, generation: generation)
            } else {
                loop.execute { [self] in checkFinished(r, c, outcome, generation: generation) }
            }
        }
        switch check.kind {
        case .misc(let misc):
            let user = misc.user.flatMap { ScriptUser.resolve($0.user, group: $0.group) } ?? defaultUser
            let timeout = misc.timeout ?? check.delayLoop
            scripts.run(misc.path, as: user, timeout: .nanoseconds(Int64(timeout * 1e9)), tag: "MISC_CHECK \(config.realServers[r].service)") { exit in
                switch exit {
                case .exited(0)?: finish(.success)
                case .exited(let code)? where misc.dynamic && code >= 2: finish(.successWithWeight(Int(code) - 2))
                case let exit?: finish(.failure(reason: "misc_path \(exit)"))
                case nil: finish(.failure(reason: "misc_path timed out or could not run"))
                }
            }
        default:
            NetworkChecks(loop: loop).run(check).whenSuccess(finish)
        }
    }

    private func checkFinished(_ r: Int, _ c: Int, _ outcome: CheckOutcome, generation: Int) {
        guard !stopped, generation == self.generation else { return }
        perform(state.handle(.checkFinished(real: r, checker: c, outcome), now: now()))
    }
}

/// Calls back once its channel is active, then passes every event on.
private final class OnActive: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let action: (any Channel) -> Void

    init(_ action: @escaping (any Channel) -> Void) { self.action = action }

    func channelActive(context: ChannelHandlerContext) {
        action(context.channel)
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

extension SocketAddress {
    /// The address's bytes (4 for IPv4, 16 for IPv6), for hashing and persistence.
    var addressBytes: [UInt8] {
        ipAddress.flatMap { IPAddress($0) }?.bytes ?? []
    }
}
