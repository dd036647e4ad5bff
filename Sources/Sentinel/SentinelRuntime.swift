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
    var renames: [String: [String: String]] = [:]
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
    var timer: Scheduled<Void>?
    var timerStopped = true
    var nextTick = ContinuousClock.now
    var lastDeadline: Millis?
    /// Background lookups of configured masters' names (`lookUpConfiguredName`).
    private var nameLookups: [Task<Void, Never>] = []
    var nextLinkID: UInt64 = 0
    /// Transactions (SLAVEOF …) waiting for their replies, per connection. A link dropped or
    /// replaced meanwhile (a +switch-master resets every link of the master) is closed only
    /// once they are answered: closed under them, a demote could be lost while writes are paused.
    var transactionsInFlight: [ObjectIdentifier: Int] = [:]
    var retiring: [ObjectIdentifier: RedisConnection] = [:]
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

    func input(_ input: SentinelInput) {
        perform(state.handle(input, now: now))
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
