import Logging
import RESP
import NIOCore

/// The master as one event loop sees it: where it is and which switch it came from.
struct MasterTarget: Sendable, Equatable {
    var endpoint: ProxyEndpoint
    var address: SocketAddress
    /// Grows by one each time the router names a different master.
    var generation: UInt64
}

/// Counters one event loop keeps for `INFO proxy` (summed over loops when asked).
struct ProxyCounters: Sendable {
    var connectionsReceived = 0
    var connectionsRejected = 0
    var connectedClients = 0
    var dedicatedClients = 0
    var commands = 0
    var proxyErrors = 0
    var retriedCommands = 0
    var unconfirmedWrites = 0
    var heldTimeouts = 0
    var bytesIn = 0
    var bytesOut = 0
    var backendConnects = 0
    var backendConnectFailures = 0

    static func + (a: ProxyCounters, b: ProxyCounters) -> ProxyCounters {
        var r = a
        r.connectionsReceived += b.connectionsReceived
        r.connectionsRejected += b.connectionsRejected
        r.connectedClients += b.connectedClients
        r.dedicatedClients += b.dedicatedClients
        r.commands += b.commands
        r.proxyErrors += b.proxyErrors
        r.retriedCommands += b.retriedCommands
        r.unconfirmedWrites += b.unconfirmedWrites
        r.heldTimeouts += b.heldTimeouts
        r.bytesIn += b.bytesIn
        r.bytesOut += b.bytesOut
        r.backendConnects += b.backendConnects
        r.backendConnectFailures += b.backendConnectFailures
        return r
    }
}

/// Per-event-loop routing state: the master, the shared backend connection, the sessions.
/// Confined to its event loop (reached from elsewhere through `NIOLoopBound`).
final class ProxyLoop {
    let eventLoop: any EventLoop
    let context: ProxyContext
    private(set) var master: MasterTarget?
    /// A connection to the master failed or it answered -READONLY: hold commands until the
    /// router confirms a master again.
    private(set) var suspect = false
    private var sharedLink: BackendLink?
    /// Shared links to replaced masters still owing replies: when the next master is named they
    /// are closed if TCP shows theirs cut off (`closeIfStalled`), also when the group went
    /// through "no master" between the two (the link was retired then, with nobody to compare).
    private var retiredLinks: [BackendLink] = []
    var sessions: [ObjectIdentifier: ClientSession] = [:]
    /// A master refused the PUBLISH sent before the WAIT after a blocking write (durability):
    /// logged once per loop, not per client connection.
    var warnedOffsetRefresh = false
    var counters = ProxyCounters()
    /// Commands held now over this loop's clients (asked at a scrape; walks every session).
    var heldCommands: Int { sessions.values.reduce(0) { $0 + $1.heldCommands } }
    /// Which loop this is, to spread loops over replicas.
    let index: Int
    private(set) var replicas: [MasterTarget] = []
    private var replicaLink: BackendLink?
    private var badReplicas: Set<ProxyEndpoint> = []

    /// Copies of settings read for every command (reading them through `context` would copy
    /// or rebuild them each time).
    let proxyCredentials: [[UInt8]]?
    let readFromReplicas: Bool
    /// `--wait-replicas` > 0: commands are classified as writes or not.
    let durable: Bool

    init(eventLoop: any EventLoop, context: ProxyContext, index: Int = 0) {
        self.eventLoop = eventLoop
        self.context = context
        self.index = index
        self.proxyCredentials = context.proxyCredentials
        self.readFromReplicas = context.settings.readFromReplicas
        self.durable = context.settings.waitReplicas > 0
    }

    /// The router's list of healthy replicas (for `--read-from replicas`).
    func setReplicas(_ targets: [MasterTarget]) {
        guard targets.map(\.endpoint) != replicas.map(\.endpoint) || !badReplicas.isEmpty else { return }
        replicas = targets
        badReplicas = []
        if let link = replicaLink, !targets.contains(where: { $0.endpoint == link.target.endpoint }) {
            replicaLink = nil
            link.retire()
        }
    }

    /// A shared connection to a replica for reads, or nil (reads then go to the master).
    func replicaLinkForSending() -> BackendLink? {
        guard context.settings.readFromReplicas else { return nil }
        if let link = replicaLink, !link.isClosed { return link }
        let candidates = replicas.filter { !badReplicas.contains($0.endpoint) }
        guard !candidates.isEmpty else { return nil }
        let target = candidates[index % candidates.count]
        let link = BackendLink(loop: self, target: target, owner: nil, handshake: context.handshake(),
                               handshakeReplies: context.handshakeReplies, isReplica: true)
        replicaLink = link
        link.connect()
        return link
    }

    /// The master commands may go to now, or nil while none is known or it is in doubt.
    var usableMaster: MasterTarget? { suspect ? nil : master }

    /// The router named a master (or none). The same generation again confirms it.
    func setMaster(_ target: MasterTarget?) {
        if let target, let master, target.generation == master.generation {
            if suspect {
                suspect = false
                pumpAll()
            }
            return
        }
        if target == nil && master == nil { return }
        context.logger.info("event loop: master is now \(target.map { "\($0.endpoint) (generation \($0.generation))" } ?? "unknown")")
        master = target
        suspect = false
        if let link = sharedLink {
            sharedLink = nil
            link.retire()
            link.abandonIfConnecting()
            if !link.isClosed { retiredLinks.append(link) }
        }
        retiredLinks.removeAll { $0.isClosed }
        if let target {
            for link in retiredLinks { link.supersede(by: target.endpoint) }
            retiredLinks.removeAll()
        }
        for session in sessions.values { session.masterChanged() }
        pumpAll()
    }

    /// The shared connection to the master, opened on first use.
    func sharedLinkForSending() -> BackendLink? {
        guard let target = usableMaster else { return nil }
        if let link = sharedLink, !link.isClosed { return link }
        let link = BackendLink(loop: self, target: target, owner: nil, handshake: context.handshake(), handshakeReplies: context.handshakeReplies)
        sharedLink = link
        link.connect()
        return link
    }

    /// A connection to the master closed unexpectedly or the master said it is read-only.
    func linkTrouble(_ link: BackendLink, reason: String) {
        if link.isReplica {
            if link === replicaLink { replicaLink = nil }
            if !badReplicas.contains(link.target.endpoint) {
                badReplicas.insert(link.target.endpoint)
                context.logger.warning("replica \(link.target.endpoint): \(reason); reads go elsewhere until it is listed again")
            }
            return
        }
        if link === sharedLink { sharedLink = nil }
        guard let master, link.target.generation == master.generation, !suspect else { return }
        suspect = true
        context.logger.warning("master \(master.endpoint): \(reason); holding commands until the master is confirmed")
        context.router.reportTrouble()
    }

    private var flushList: [ClientSession] = []
    private var flushScheduled = false
    private lazy var selfBound = NIOLoopBound(self, eventLoop: eventLoop)

    /// Flushes `session` at the end of this event-loop turn (if nothing flushed it before).
    func flushLater(_ session: ClientSession) {
        flushList.append(session)
        guard !flushScheduled else { return }
        flushScheduled = true
        let bound = selfBound
        eventLoop.execute {
            let loop = bound.value
            loop.flushScheduled = false
            let sessions = loop.flushList
            loop.flushList.removeAll(keepingCapacity: true)
            for session in sessions { session.flush() }
        }
    }

    /// Clients are closed as they connect (and those connected now are closed): the node agent's
    /// proxy on a node that must not serve (cut off from the majority, or no longer holding
    /// the virtual IP), so its clients reconnect to the address's next holder at once instead of
    /// waiting on replies that cannot come.
    private(set) var refusing = false

    func setRefusing(_ on: Bool, closingClients: Bool = true) {
        guard on != refusing else { return }
        refusing = on
        context.logger.notice(on ? (closingClients ? "proxy: closing its clients and refusing new ones (this node must not serve)"
                                                   : "proxy: refusing new clients (this node must not serve)")
                                 : "proxy: taking clients again")
        if on && closingClients { closeClients() }
    }

    func closeClients() {
        guard !sessions.isEmpty else { return }
        context.logger.notice("proxy: closing its \(sessions.count) clients (they reconnect to the virtual IP's holder)")
        for session in Array(sessions.values) { session.closeNow() }
    }

    func pumpAll() {
        for session in sessions.values { session.pump() }
    }
}

/// What every loop shares: settings, the router, the connection count.
final class ProxyContext: Sendable {
    let settings: ProxySettings
    let logger: Logger
    let router: ProxyRouter
    let connectionCount: ConnectionCount

    init(settings: ProxySettings, logger: Logger, router: ProxyRouter) {
        self.settings = settings
        self.logger = logger
        self.router = router
        self.connectionCount = ConnectionCount()
    }

    /// `AUTH` with the proxy's own credentials, for the start of every backend connection.
    func handshake() -> ByteBuffer {
        var buffer = ByteBuffer()
        if let password = settings.password {
            if let user = settings.user {
                buffer.writeRESPCommand(["AUTH", user, password])
            } else {
                buffer.writeRESPCommand(["AUTH", password])
            }
        }
        return buffer
    }

    var handshakeReplies: Int { settings.password == nil ? 0 : 1 }

    /// The AUTH arguments a client may send on a shared connection without changing it.
    var proxyCredentials: [[UInt8]]? {
        guard let password = settings.password else { return nil }
        if let user = settings.user { return [Array(user.utf8), Array(password.utf8)] }
        return [Array(password.utf8)]
    }
}

import Synchronization

/// The number of client connections over all loops.
final class ConnectionCount: Sendable {
    private let value = Atomic<Int>(0)
    /// Adds one unless that would pass `limit`; false when the connection must be refused.
    func enter(limit: Int) -> Bool {
        let after = value.add(1, ordering: .relaxed).newValue
        if after > limit {
            value.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }
    func leave() { value.subtract(1, ordering: .relaxed) }
}
