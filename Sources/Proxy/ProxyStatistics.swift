import NIOCore

/// The proxy's counters summed over its event loops, and the router's switch count: what
/// `INFO proxy` shows, as numbers for `/metrics`.
public struct ProxyMetricsSnapshot: Sendable {
    public var connectedClients = 0
    public var dedicatedClients = 0
    public var connectionsReceived = 0
    public var connectionsRejected = 0
    public var commands = 0
    public var proxyErrors = 0
    public var retriedCommands = 0
    public var unconfirmedWrites = 0
    public var heldTimeouts = 0
    public var bytesIn = 0
    public var bytesOut = 0
    public var backendConnects = 0
    public var backendConnectFailures = 0
    public var masterSwitches = 0
    /// Commands held now: received, waiting for a master (or for a connection to it) to take them.
    public var heldCommands = 0
    /// Whether a master is known (commands are held while none is).
    public var masterKnown = false
    public var eventLoops = 0
}

/// `tandem proxy --cluster`'s numbers for `/metrics`.
public struct ClusterMetricsSnapshot: Sendable {
    public var connectedClients = 0
    /// Times the slot map was read from the cluster (at start, on the timer, after MOVED or a connection error).
    public var mapRefreshes = 0
    public var movedFollowed = 0
    public var askFollowed = 0
    /// Writes answered -NOREPLICAS (`--wait-replicas`).
    public var unconfirmedWrites = 0
    public var masters = 0
    public var slotsCovered = 0
    /// Connections open to each node (`host:port`): shared ones and clients' own.
    public var backendConnections: [(node: String, count: Int)] = []
}

/// Reads a running cluster proxy's numbers (handed out by `runProxy`'s `onClusterStatistics`);
/// they are kept under the slot map's lock, so reading costs no event-loop hop.
public final class ClusterStatistics: Sendable {
    let topology: ClusterTopology

    init(topology: ClusterTopology) { self.topology = topology }

    public func snapshot() -> ClusterMetricsSnapshot { topology.metricsSnapshot() }
}

/// Reads a running proxy's counters (handed out by `runProxy`'s `onStatistics`). Reading costs
/// one task per event loop and nothing on the byte path: the loops keep these counters for
/// `INFO proxy` anyway.
public final class ProxyStatistics: Sendable {
    let router: ProxyRouter

    init(router: ProxyRouter) { self.router = router }

    /// The counters now, summed over every event loop.
    public func snapshot() async throws -> ProxyMetricsSnapshot {
        let loops = router.attachedLoops
        var c = ProxyCounters()
        var held = 0
        for loop in loops {
            let (counters, heldHere) = try await loop.eventLoop.submit { (loop.value.counters, loop.value.heldCommands) }.get()
            c = c + counters
            held += heldHere
        }
        var s = ProxyMetricsSnapshot()
        s.connectedClients = c.connectedClients
        s.dedicatedClients = c.dedicatedClients
        s.connectionsReceived = c.connectionsReceived
        s.connectionsRejected = c.connectionsRejected
        s.commands = c.commands
        s.proxyErrors = c.proxyErrors
        s.retriedCommands = c.retriedCommands
        s.unconfirmedWrites = c.unconfirmedWrites
        s.heldTimeouts = c.heldTimeouts
        s.bytesIn = c.bytesIn
        s.bytesOut = c.bytesOut
        s.backendConnects = c.backendConnects
        s.backendConnectFailures = c.backendConnectFailures
        s.heldCommands = held
        s.masterSwitches = router.switchCount
        s.masterKnown = router.currentMaster != nil
        s.eventLoops = loops.count
        return s
    }
}
