import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import RESP
import RedisConnection
import SentinelConfig
import SentinelCore

#if canImport(Glibc)
import Glibc
#endif

/// The shell around `SentinelState`: owns the links to every instance, the timer, the config
/// file and the event channels. Every decision is the core's; this actor carries them out.
///
/// The actor runs on one event loop, and every link to an instance is made on that loop: a
/// reply is handed to the core from the connection's future callback, in the order replies
/// arrive, without a task or a thread hop per reply (issue 19: with hundreds of masters those
/// hops were most of the cost of a message).
public actor SentinelRuntime {
    public internal(set) var state: SentinelState
    public internal(set) var configuration: SentinelConfiguration {
        didSet {
            renames = Self.renames(configuration)
            state.announceHostnames = configuration.announceHostnames
        }
    }
    /// The loop the actor and all its links run on.
    nonisolated let loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    public nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }
    /// `rename-command`s by master, for the masters that have any.
    private var renames: [String: [String: String]] = [:]
    let configPath: String
    let configText: String
    let hub = PubSubHub()
    let logger: Logger
    let startedAt = ContinuousClock.now
    var links: [InstanceRef: LinkTask] = [:]
    /// Links to peer sentinels, by address: one shared by every master's entry for the peer.
    var peerLinks: [InstanceAddress: PeerLink] = [:]
    /// The address of each peer entry's shared link.
    var peerAddresses: [InstanceRef: InstanceAddress] = [:]
    var connections: [InstanceRef: RedisConnection] = [:]
    /// The timer's next wake-up on the loop (`scheduleTimer`), and its state.
    private var timer: Scheduled<Void>?
    private var timerStopped = true
    private var nextTick = ContinuousClock.now
    private var lastDeadline: Millis?
    /// Background lookups of configured masters' names (`lookUpConfiguredName`).
    private var nameLookups: [Task<Void, Never>] = []
    var nextLinkID: UInt64 = 0
    /// Transactions (SLAVEOF …) waiting for their replies, per connection. A link dropped or
    /// replaced meanwhile (a +switch-master resets every link of the master) is closed only
    /// once they are answered: closed under them, a demote could be lost while writes are paused.
    private var transactionsInFlight: [ObjectIdentifier: Int] = [:]
    private var retiring: [ObjectIdentifier: RedisConnection] = [:]
    /// Clients of the sentinel port.
    let clients = ClientRegistry()
    /// ACL users by name (the default user from `requirepass`, others from `user` lines and ACL SETUSER).
    var users: [String: ACLUser] = [:]
    var aclLog: [ACLLogEntry] = []
    /// The step SIMULATE-FAILURE names was reached: the process exits at the next timer tick,
    /// as redis-sentinel exits from its timer, so the reply to the command that led there
    /// (a SENTINEL FAILOVER that elected us at once) has gone out first.
    var simulatedCrashDue = false
    /// A `.saveConfig` not yet carried out (see `scheduleSave`, SentinelRuntime+Config.swift).
    var savePending = false
    /// When the config was last saved (`scheduleSave` spaces core-driven saves).
    var lastSave: ContinuousClock.Instant?
    /// Names the operator gave for instances (`sentinel monitor m localhost …`) and the
    /// addresses they resolved to, so replies and events show one or the other as
    /// announce-hostnames says at the time (7.0 keeps both per instance). Kept in the core,
    /// which formats the events.
    var hostnames: HostnameBook {
        get { state.hostnames }
        set { state.hostnames = newValue }
    }
    /// The last INFO text of each master and replica, with when it arrived (SENTINEL INFO-CACHE).
    var infoCache: [InstanceRef: (at: Millis, text: String)] = [:]
    /// Replicas' `master_host` names resolved (resolve-hostnames), each kept a minute.
    var reportedHostAddresses: [String: (address: String?, at: Millis)] = [:]
    /// notification-script and client-reconfig-script runs (SENTINEL DEBUG sets their
    /// script-max-runtime and script-retry-delay there).
    var scripts = ScriptQueue()
    /// `CLIENT PAUSE` in force, the clients waiting it out, and the timer that ends it.
    var clientPause: ClientPause?
    var pauseWaiters: [CheckedContinuation<Void, Never>] = []
    var pauseTimer: Task<Void, Never>?
    /// TLS for links to masters, replicas and peers (`tls-replication yes`); nil: plain TCP.
    let tlsClient: NIOSSLContext?

    /// Milliseconds since the runtime started: the core's clock.
    var now: Millis {
        let d = ContinuousClock.now - startedAt
        return Millis(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Builds the runtime from a parsed config. A missing `myid` is generated and saved at start.
    /// Sections an embedding program adds to INFO (the node agent's `# Node`): name and lines.
    var extraInfoSections: [(name: String, lines: @Sendable () -> [String])] = []
    /// See every published event (`addEventObserver`: the metrics, the status page's timeline).
    var eventObservers: [@Sendable (SentinelEvent) -> Void] = []

    public init(configuration: SentinelConfiguration, configPath: String, configText: String, logger: Logger,
                tlsClient: NIOSSLContext? = nil) {
        self.tlsClient = tlsClient
        var config = configuration
        if config.myID == nil {
            config.myID = (0..<40).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
        }
        self.configuration = config
        self.renames = Self.renames(config)
        self.configPath = configPath
        self.configText = configText
        self.logger = logger
        let announce = InstanceAddress(ip: config.announceIP ?? "127.0.0.1", port: config.helloPort)
        var users = ["default": ACLUser.defaultUser(table: .shared, password: config.requirePass)]
        for line in config.ignoredLines.sorted(by: { $0.key < $1.key }).map(\.value) {
            let words = line.split(separator: " ").map(String.init)
            guard words.first?.lowercased() == "user", words.count >= 2 else { continue }
            var user = users[words[1]] ?? ACLUser(name: words[1])
            for rule in words.dropFirst(2) { try? user.apply(rule, table: .shared) }
            users[words[1]] = user
        }
        self.users = users
        self.state = SentinelState(myID: config.myID!, announce: announce, learnsAnnounceIP: config.announceIP == nil,
                                   seed: UInt64.random(in: 0...UInt64.max),
                                   behaviour: config.tandemBehaviour == .redis70 ? .redis70 : SentinelBehaviour())
        self.state.announceHostnames = config.announceHostnames
    }

    /// `aclfile`: the users come from that file; any error in it stops the start, as in 7.0.
    public func loadACLFileAtStart() throws(SentinelStartError) {
        guard let path = configuration.aclFile else { return }
        switch ACLFile.load(path, table: .shared) {
        case .failure(let error):
            throw SentinelStartError(description: "Aborting startup because of ACL errors: \(error.message)")
        case .success(let loaded):
            users = loaded
        }
    }

    /// Saves the config (with the new myid if one was generated), loads the masters and state
    /// lines into the core, and starts the timer.
    public func start() throws {
        // The file's epoch into the core first: the save below writes the core's back (it was
        // written as 0 here before, so every restart lost the current epoch).
        state.currentEpoch = configuration.currentEpoch
        try saveConfig()
        let t = now
        var actions: [SentinelAction] = []
        // Masters given by name are monitored by that name at once and looked up in the
        // background (`lookUpConfiguredName`): a DNS server that does not answer delays no other
        // master, and not this one's links, which look the name up themselves on each connect.
        let named = configuration.masters.filter { !SentinelConfiguration.isIPLiteral($0.host) }
        for m in configuration.masters {
            if let normal = Self.normalisedAddressLiteral(m.host), normal != m.host { state.learnHostAddress(m.host, normal) }
        }
        // The state lines into the core by the core's `restore` (the simulator restarts its
        // sentinels through the same function, from what they last saved).
        actions += state.restore(Self.savedState(configuration), now: t)
        perform(actions)
        for m in named {
            nameLookups.append(Task { [weak self] in await self?.lookUpConfiguredName(master: m.name, name: m.host, port: m.port) })
        }
        timerStopped = false
        nextTick = ContinuousClock.now + .milliseconds(Int.random(in: 50...100))
        scheduleTimer()
    }

    /// Sets the timer's next wake-up on the actor's loop: the next tick (Sentinel's hz is 10 +
    /// rand()%10, re-drawn each tick, to desynchronise peers) or, sooner, a master's down-after
    /// running out before it (`SentinelBehaviour.sdownAtDeadline`: checked then, not up to
    /// 100 ms later). A deadline the last wake-up did not clear is left to the tick (no busy
    /// loop). A task scheduled on the loop, not a Swift task sleeping on the global executor:
    /// the wake-up is the loop's own epoll timeout, with no hop between threads (with hundreds
    /// of masters the sleeping task's two hops per tick were a third of the process's wake-ups).
    private func scheduleTimer() {
        guard !timerStopped else { return }
        var deadline = state.nextSDownDeadline()
        if let d = deadline, let last = lastDeadline, d <= last { deadline = nil }
        let wake = deadline.map { min(startedAt + .milliseconds($0), nextTick) } ?? nextTick
        let atDeadline = wake < nextTick ? deadline : nil
        let delay = ContinuousClock.now.duration(to: wake).components
        let nanoseconds = max(0, delay.seconds * 1_000_000_000 + delay.attoseconds / 1_000_000_000)
        timer = loop.scheduleTask(in: .nanoseconds(nanoseconds)) { [weak self] in
            self?.assumeIsolated { $0.timerFired(atDeadline: atDeadline) }
        }
    }

    /// The timer's wake-up: the SDOWN deadline `atDeadline`, or a tick; then the next one.
    private func timerFired(atDeadline: Millis?) {
        guard !timerStopped else { return }
        if let atDeadline {
            lastDeadline = atDeadline
            input(.sdownDeadline)
        } else {
            tick()
            nextTick = ContinuousClock.now + .milliseconds(Int.random(in: 50...100))
        }
        scheduleTimer()
    }

    /// Looks up the name a configured master is monitored by, off the actor, until it resolves
    /// or the master has moved away from it: the address goes into the hostname book (replies
    /// show the name or the address as announce-hostnames says) and, without announce-hostnames,
    /// the core moves the master to it (`SentinelInput.nameResolved`), as 7.0 does at load.
    func lookUpConfiguredName(master: String, name host: String, port: Int) async {
        let from = InstanceAddress(ip: host, port: port)
        var failures = 0
        while !Task.isCancelled {
            let result = await lookUp(host)
            guard state.masters[master]?.address == from else { return }
            switch result {
            case .success(let ip):
                hostnames.remember(master: master, name: host, address: ip, port: port)
                // Replicas that name their master by this name are matched to it by address.
                state.learnHostAddress(host, ip)
                if !configuration.announceHostnames {
                    input(.nameResolved(master: master, from: from, address: ip))
                    if state.masters[master]?.address.ip == ip, let i = configuration.masters.firstIndex(where: { $0.name == master }) {
                        configuration.masters[i].host = ip
                    }
                }
                if failures > 0 { logger.notice("Master \(master): \(host) resolved to \(ip)") }
                return
            case .failure(let error):
                if failures == 0 { logger.warning("Master \(master): \(error); monitoring it by name, looking it up again every second") }
                input(.nameResolved(master: master, from: from, address: nil))
                failures += 1
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Stops the timer and closes every link.
    public func stop() async {
        timerStopped = true
        timer?.cancel()
        timer = nil
        saveIfPending()  // a save spaced out by `scheduleSave` and not yet run
        for task in nameLookups { task.cancel() }
        nameLookups.removeAll()
        for (_, link) in links { link.task.cancel() }
        links.removeAll()
        for (_, link) in peerLinks { link.task.cancel() }
        peerLinks.removeAll()
        peerAddresses.removeAll()
        for (_, c) in connections { await c.close() }
        connections.removeAll()
    }

    /// An INFO reply: kept for SENTINEL INFO-CACHE and given to the core in one step, so
    /// replies are handled in the order they are taken up, as before the cache existed.
    /// An INFO reply read on a link to `address`: cached and given to the core only if the
    /// core says the instance is still there (`SentinelState.isCurrent`).
    func infoReceived(_ ref: InstanceRef, from address: InstanceAddress, _ text: String) {
        guard state.isCurrent(address, of: ref) else { return }
        infoCache[ref] = (now, text)
        let (runID, replication) = RedisInfo.scanReplication(text)
        var report = InfoReport(runID: runID, replication)
        if let host = report.masterHost { report.masterAddress = reportedAddress(host) }
        input(.info(ref, report))
    }

    /// One timer tick: the core's timer, then the scripts.
    func tick() {
        if simulatedCrashDue {
            logger.warning("Sentinel: SIMULATED failure! Crashing!")
            exit(99)
        }
        clients.update {
            let stats = $0.stats
            $0.samples.sample(stats, now: .now)
        }
        input(.tick)
        runScripts()
        closeIdleClients()
    }

    func input(_ input: SentinelInput) {
        perform(state.handle(input, now: now))
    }

    // MARK: Actions

    func perform(_ actions: [SentinelAction]) {
        // An input that changed the current epoch, a vote, a config epoch or a master's address
        // is saved once, before any of its actions goes out, with all it changed: 7.0's
        // sentinelFlushConfig runs before its buffered writes leave, so a candidate killed after
        // asking for votes cannot come back without its own vote (and give it to another
        // candidate in that epoch; the Sentinel simulator's kills found it, seed 174).
        var saved = false
        if actions.contains(.saveConfig), configurationChangedSinceSave() {
            savePending = true
            saveIfPending()
            saved = true
        }
        for action in actions where !(saved && action == .saveConfig) { perform(action) }
    }

    private func perform(_ action: SentinelAction) {
        switch action {
        case .connect(let ref, let address):
            if isSentinel(ref) { joinPeerLink(ref, address) } else { openLink(ref, address) }
        case .disconnect(let ref):
            if isSentinel(ref) {
                leavePeerLink(ref)
            } else {
                links.removeValue(forKey: ref)?.task.cancel()
                if let c = connections.removeValue(forKey: ref) { retire(c) }
            }
        case .reconnect(let ref, let address):
            if isSentinel(ref), peerAddresses[ref] == address, let c = peerLinks[address]?.connection {
                // The shared link is closed for all the peer's entries; its task reconnects.
                Task { await c.close() }
            } else {
                perform(.disconnect(ref))
                perform(.connect(ref, address))
            }
        case .ping(let ref):
            send(ref, prepared(ref, Self.ping), timeout: .seconds(60)) { runtime, reply in
                runtime.input(.pingReply(ref, PingReply(text: reply.string, errorCode: reply.errorCode)))
            }
        case .scriptKill(let ref):
            send(ref, prepared(ref, PreparedCommand(["SCRIPT", "KILL"])), timeout: .seconds(10))
        case .info(let ref):
            guard let address = links[ref]?.address else { return }
            send(ref, prepared(ref, Self.info), timeout: .seconds(60)) { runtime, reply in
                guard let text = reply.string else { return }
                runtime.infoReceived(ref, from: address, text)
            }
        case .publishHello(let ref, let payload):
            send(ref, prepared(ref, PreparedCommand(["PUBLISH", "__sentinel__:hello", payload], name: "PUBLISH")), timeout: .seconds(10))
        case .askMasterState(let ref, let master, let epoch, let runID):
            guard case .sentinel(let name, let peer) = ref else { return }
            let ask = PreparedCommand(["SENTINEL", "is-master-down-by-addr", master.ip, String(master.port), String(epoch), runID])
            send(ref, ask, timeout: .seconds(10)) { runtime, reply in
                guard let r = reply.array, r.count == 3, let down = r[0].int, let leader = r[1].string, let epoch = r[2].int else { return }
                runtime.input(.masterDownReply(master: name, sentinel: peer, down: down == 1,
                                               leader: leader == "*" ? nil : leader, leaderEpoch: UInt64(max(0, epoch))))
            }
        case .promote(let ref):
            sendTransaction(ref, slaveOf: ["NO", "ONE"])
        case .replicate(let ref, let address):
            sendTransaction(ref, slaveOf: [address.ip, String(address.port)])
        case .pauseWrites(let ref, let timeout):
            // On a connection of its own, as the demote later: a PUBLISH (a peer's hello) on the
            // link would wait out the pause and hold up the INFO behind it.
            let name = ref.masterName
            guard let address = links[ref]?.address, connections[ref] != nil else {
                input(.pauseFailed(master: name, .noLink))
                return
            }
            let pause = configuration.master(name)?.renamedCommands["CLIENT"] ?? "CLIENT"
            let config = linkConfiguration(ref, address)
            let logger = self.logger
            Task { [weak self] in
                let answer: SentinelInput
                do {
                    let offset = try await Self.withOwnConnection(config) { c in
                        let reply = try await c.send([pause, "PAUSE", String(timeout), "WRITE"], timeout: .seconds(5))
                        if let error = reply.errorMessage {
                            throw RedisConnectionError(code: .serverError, server: c.server, message: "CLIENT PAUSE: \(error)")
                        }
                        guard let offset = try await c.info("replication").replication.masterReplOffset else {
                            throw RedisConnectionError(code: .serverError, server: c.server, message: "INFO replication: no master_repl_offset")
                        }
                        return offset
                    }
                    answer = .writesPaused(master: name, offset: offset)
                } catch {
                    logger.warning("CLIENT PAUSE on \(address.ip):\(address.port) failed: \(error)")
                    answer = .pauseFailed(master: name, .failed(String(describing: error)))
                }
                await self?.input(answer)
            }
        case .unpauseWrites(let ref):
            // An abandoned switchover: also on a connection of its own, so that a hello sent on
            // the link just before cannot hold the UNPAUSE up until the pause runs out.
            guard let address = links[ref]?.address else { return }
            let client = configuration.master(ref.masterName)?.renamedCommands["CLIENT"] ?? "CLIENT"
            let config = linkConfiguration(ref, address)
            let logger = self.logger
            Task {
                do {
                    try await Self.withOwnConnection(config) { c in _ = try await c.send([client, "UNPAUSE"], timeout: .seconds(5)) }
                } catch {
                    logger.warning("CLIENT UNPAUSE on \(address.ip):\(address.port) failed: \(error)")
                }
            }
        case .demote(let name, let oldMaster, let newMaster, let attempt):
            demote(name, at: oldMaster, to: newMaster, attempt: attempt)
        case .publish(let event):
            // `loglevel verbose` is Logger's .info (SentinelMain), so VERBOSE events log there.
            let level: Logger.Level = switch event.level {
            case .warning: .warning
            case .notice: .notice
            case .verbose: .info
            case .debug: .debug
            }
            logger.log(level: level, "\(event.type) \(event.payload)", metadata: event.logMetadata)
            if event.level > .debug { hub.publish(channel: event.type, message: event.payload) }
            for observer in eventObservers { observer(event) }
        case .notificationScript(let master, let event):
            scheduleNotification(master: master, event)
        case .simulatedCrash:
            simulatedCrashDue = true
        case .saveConfig:
            // Once per pass of the event loop, after the inputs it carries: discovering 200
            // masters' replicas and peers asked for ~600 saves in a few seconds, each reading,
            // rewriting and fsyncing the whole file on the loop — the timer stalled past 2 s and
            // every sentinel entered TILT (a kill -9 then waited for TILT's end). A new epoch or
            // vote is saved before the input's actions (`perform(_:)` above), and a vote before
            // its reply by `saveIfPending` (is-master-down-by-addr).
            scheduleSave()
        case .clientReconfigScript(let master, let role, let state, let from, let to):
            scheduleReconfig(master: master, role: role, state: state, from: from, to: to)
        }
    }

    /// `MULTI; SLAVEOF …; CONFIG REWRITE; CLIENT KILL TYPE normal; CLIENT KILL TYPE pubsub; EXEC`
    /// on the instance's link, then INFO to confirm the new role at once.
    private func sendTransaction(_ ref: InstanceRef, slaveOf target: [String]) {
        guard let connection = connections[ref], let address = links[ref]?.address else { return }
        let commands = Self.slaveOfTransaction(slaveOf: target, unpause: false, rename: renamedCommands(ref))
        let logger = self.logger
        transactionStarted(connection)
        Task { [weak self] in
            do {
                try await Self.runTransaction(commands, on: connection)
                // Confirm the new role at once rather than at the next INFO period (only while
                // the link still goes to that address: a switch may have moved the ref).
                let reply = try await connection.send(["INFO"], timeout: .seconds(10))
                if let text = reply.string { await self?.infoReceived(ref, from: address, text) }
            } catch {
                logger.warning("SLAVEOF \(target.joined(separator: " ")) failed: \(error)")
            }
            await self?.transactionEnded(connection)
        }
    }

    /// Coordinated switchover: the old master (paused) follows the new one, unpausing in the same
    /// transaction. Its clients are killed only after EXEC has returned: by then the writes held
    /// by the pause have been answered -READONLY (not run), so a client or proxy can safely send
    /// them to the new master; killed while paused, their outcome would be unknown to the client.
    /// Sent on a connection of its own, never on the link: a PUBLISH there (a peer's hello) waits
    /// out the pause and would hold the demote up behind it until the old master had run the
    /// held writes. One attempt; the core decides on another (`SentinelState.Demotion`).
    private func demote(_ name: String, at oldMaster: InstanceAddress, to newMaster: InstanceAddress, attempt: Int) {
        let rename = renamedCommands(.master(name))
        let demote = Self.slaveOfTransaction(slaveOf: [newMaster.ip, String(newMaster.port)], unpause: true, rename: rename)
        let kill = [[rename["MULTI"] ?? "MULTI"]] + Self.clientKills(rename) + [[rename["EXEC"] ?? "EXEC"]]
        let config = linkConfiguration(.master(name), oldMaster)
        let logger = self.logger
        Task { [weak self] in
            var failure: String?
            do {
                try await Self.withOwnConnection(config) { c in
                    try await Self.runTransaction(demote, on: c)
                    _ = try? await c.pipeline(kill, timeout: .seconds(10))
                }
                if attempt > 1 { logger.notice("Old master \(oldMaster.ip):\(oldMaster.port) demoted on attempt \(attempt)") }
            } catch {
                logger.warning("Demoting the old master \(oldMaster.ip):\(oldMaster.port) to follow \(newMaster.ip):\(newMaster.port) failed (attempt \(attempt)): \(error)")
                failure = String(describing: error)
            }
            await self?.input(.demoteResult(master: name, at: oldMaster, failure: failure))
        }
    }

    /// `MULTI; SLAVEOF …; CONFIG REWRITE; <client kills or CLIENT UNPAUSE>; EXEC`.
    static func slaveOfTransaction(slaveOf target: [String], unpause: Bool, rename: [String: String]) -> [[String]] {
        func cmd(_ name: String) -> String { rename[name] ?? name }
        let tail = unpause ? [[cmd("CLIENT"), "UNPAUSE"]] : clientKills(rename)
        return [[cmd("MULTI")], [cmd("SLAVEOF")] + target, [cmd("CONFIG"), "REWRITE"]] + tail + [[cmd("EXEC")]]
    }

    /// `CLIENT KILL TYPE normal`, `CLIENT KILL TYPE pubsub`.
    static func clientKills(_ rename: [String: String]) -> [[String]] {
        let client = rename["CLIENT"] ?? "CLIENT"
        return [[client, "KILL", "TYPE", "normal"], [client, "KILL", "TYPE", "pubsub"]]
    }

    /// Runs `body` on a connection of its own to an instance (not its link), then closes it.
    static func withOwnConnection<T: Sendable>(_ config: RedisConnectionConfiguration,
                                               _ body: (RedisConnection) async throws -> T) async throws -> T {
        let connection = try await RedisConnection.connect(config)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Sends a transaction; throws unless EXEC ran it.
    static func runTransaction(_ commands: [[String]], on connection: RedisConnection) async throws {
        let replies = try await connection.pipeline(commands, timeout: .seconds(10))
        if let exec = replies.last, exec.array == nil {
            throw RedisConnectionError(code: .serverError, server: connection.server,
                                       message: "EXEC: \(exec.errorMessage ?? "no transaction result")")
        }
    }

    private func renamedCommands(_ ref: InstanceRef) -> [String: String] {
        configuration.master(ref.masterName)?.renamedCommands ?? [:]
    }

    private func transactionStarted(_ c: RedisConnection) {
        transactionsInFlight[ObjectIdentifier(c), default: 0] += 1
    }

    private func transactionEnded(_ c: RedisConnection) {
        let id = ObjectIdentifier(c)
        transactionsInFlight[id, default: 1] -= 1
        guard transactionsInFlight[id]! <= 0 else { return }
        transactionsInFlight[id] = nil
        if let c = retiring.removeValue(forKey: id) { Task { await c.close() } }
    }

    /// Closes a link's connection that is no longer the instance's, once its transactions are answered.
    func retire(_ c: RedisConnection) {
        if transactionsInFlight[ObjectIdentifier(c), default: 0] > 0 {
            retiring[ObjectIdentifier(c)] = c
        } else {
            Task { await c.close() }
        }
    }

    static let ping = PreparedCommand(["PING"])
    static let info = PreparedCommand(["INFO"])

    /// `command` as sent to `ref`: renamed if its master has a `rename-command` for it.
    private func prepared(_ ref: InstanceRef, _ command: PreparedCommand) -> PreparedCommand {
        guard !renames.isEmpty, !isSentinel(ref), let rename = renames[ref.masterName], let renamed = rename[command.arguments[0]]
        else { return command }
        return PreparedCommand([renamed] + command.arguments.dropFirst())
    }

    private static func renames(_ configuration: SentinelConfiguration) -> [String: [String: String]] {
        var renames: [String: [String: String]] = [:]
        for m in configuration.masters where !m.renamedCommands.isEmpty { renames[m.name] = m.renamedCommands }
        return renames
    }

    /// Sends on the instance's link. The reply is handled on the actor's loop from the future's
    /// callback: no task per command, replies taken in the order they arrive.
    private func send(_ ref: InstanceRef, _ command: PreparedCommand, timeout: TimeAmount,
                      _ handler: (@Sendable (isolated SentinelRuntime, RESPValue) -> Void)? = nil) {
        guard let connection = connections[ref] else { return }
        guard let handler else {
            connection.submit(command, timeout: timeout, onReply: nil)
            return
        }
        // Every link is made on the actor's loop, so its replies arrive there; a connection on
        // another loop (none today) would take the future's way, hopping to ours.
        guard connection.eventLoop === loop else {
            connection.submit(command, timeout: timeout).hop(to: loop).whenSuccess { [weak self] reply in
                self?.assumeIsolated { handler($0, reply) }
            }
            return
        }
        connection.submit(command, timeout: timeout) { [weak self] reply in
            self?.assumeIsolated { handler($0, reply) }
        }
    }

    func isSentinel(_ ref: InstanceRef) -> Bool {
        if case .sentinel = ref { return true }
        return false
    }

}

struct ClientPause {
    var writeOnly: Bool
    var end: ContinuousClock.Instant
}

extension InfoReport {
    /// The parts of a parsed INFO reply the core uses.
    init(runID: String?, _ r: ReplicationInfo) {
        self.init(
            runID: runID,
            isReplica: r.role == .replica,
            masterHost: r.masterHost,
            masterPort: r.masterPort,
            masterLinkUp: r.masterLinkUp ?? false,
            masterLinkDownTime: Millis(max(0, r.masterLinkDownSinceSeconds ?? 0)) * 1000,
            replicaPriority: r.replicaPriority ?? 100,
            replicationOffset: r.slaveReplOffset ?? r.masterReplOffset ?? 0,
            replicaAnnounced: r.replicaAnnounced ?? true,
            replicas: r.replicas.map { InstanceAddress(ip: $0.ip, port: $0.port) },
            keyCount: r.keys,
            loading: r.loading ?? false
        )
    }
}
