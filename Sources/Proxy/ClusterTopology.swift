import ClusterCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RESP
import RedisConnection

/// The cluster's slot map as the proxy knows it, and its refreshes: at start, on a timer, and
/// soon after a MOVED or a connection error (`requestRefresh`). Read from every event loop.
final class ClusterTopology: Sendable {
    private struct State {
        var map = SlotMap()
        var refreshRequested = false
        var lastRefresh: NIODeadline = .uptimeNanoseconds(0)
        var refreshes = 0
        var moved = 0
        var answeredBy: ClusterNodeAddress?
        var nextAnyMaster = 0
        var clients = 0
        var asks = 0
        /// Writes answered -NOREPLICAS (`--wait-replicas`).
        var unconfirmedWrites = 0
        /// Connections open to each node: shared ones and clients' own (`/metrics`).
        var backendConnections: [ClusterNodeAddress: Int] = [:]
    }

    private let state = NIOLockedValueBox(State())
    let seeds: [ClusterNodeAddress]
    let settings: ProxySettings
    let logger: Logger

    init(seeds: [ClusterNodeAddress], settings: ProxySettings, logger: Logger) {
        self.seeds = seeds
        self.settings = settings
        self.logger = logger
    }

    var map: SlotMap { state.withLockedValue { $0.map } }

    func master(forSlot slot: Int) -> ClusterNodeAddress? {
        state.withLockedValue { $0.map.master(forSlot: slot) }
    }

    /// A master for commands without keys, taken in turn.
    func anyMaster() -> ClusterNodeAddress? {
        state.withLockedValue { state in
            let masters = state.map.masters
            guard !masters.isEmpty else { return nil }
            state.nextAnyMaster = (state.nextAnyMaster + 1) % masters.count
            return masters[state.nextAnyMaster]
        }
    }

    /// A replica of the slot's master for a read (`--read-from replicas`), taken in turn; nil
    /// when it has none that is online.
    func replica(forSlot slot: Int) -> ClusterNodeAddress? {
        state.withLockedValue { state in
            let replicas = state.map.replicas(forSlot: slot)
            guard !replicas.isEmpty else { return nil }
            state.nextAnyMaster &+= 1
            return replicas[state.nextAnyMaster % replicas.count]
        }
    }

    func masters() -> [ClusterNodeAddress] { state.withLockedValue { $0.map.masters } }

    /// A MOVED reply: the slot is served elsewhere; the whole map is read again soon.
    func moved(slot: Int, to node: ClusterNodeAddress) {
        state.withLockedValue {
            $0.map.moved(slot: slot, to: node)
            $0.refreshRequested = true
            $0.moved += 1
        }
    }

    /// Counts a new client; false (and not counted) when `--max-connections` are already open.
    func admitClient() -> Bool {
        let limit = settings.maxConnections
        return state.withLockedValue { state in
            guard state.clients < limit else { return false }
            state.clients += 1
            return true
        }
    }

    func clientLeft() {
        state.withLockedValue { $0.clients -= 1 }
    }

    /// An ASK reply followed (a slot being migrated).
    func asked() {
        state.withLockedValue { $0.asks += 1 }
    }

    /// A write answered -NOREPLICAS: too few replicas had it within `--wait-timeout-ms`.
    func unconfirmedWrite() {
        state.withLockedValue { $0.unconfirmedWrites += 1 }
    }

    /// A connection to `node` (shared, or a client's own) opened or closed.
    func backendConnection(to node: ClusterNodeAddress, opened: Bool) {
        state.withLockedValue { state in
            let count = state.backendConnections[node, default: 0] + (opened ? 1 : -1)
            state.backendConnections[node] = count > 0 ? count : nil
        }
    }

    /// What `/metrics` shows: every node of the map (0 when no connection is open to it) and
    /// any other node a connection is still open to.
    func metricsSnapshot() -> ClusterMetricsSnapshot {
        state.withLockedValue { state in
            var s = ClusterMetricsSnapshot()
            s.connectedClients = state.clients
            s.mapRefreshes = state.refreshes
            s.movedFollowed = state.moved
            s.askFollowed = state.asks
            s.unconfirmedWrites = state.unconfirmedWrites
            s.masters = state.map.masters.count
            s.slotsCovered = state.map.coveredSlots
            var nodes = state.map.allNodes
            for node in state.backendConnections.keys where !nodes.contains(node) { nodes.append(node) }
            s.backendConnections = nodes.map { (node: $0.description, count: state.backendConnections[$0] ?? 0) }
            return s
        }
    }

    func requestRefresh() {
        state.withLockedValue { $0.refreshRequested = true }
    }

    /// Counters for INFO and the logs.
    var counters: (refreshes: Int, moved: Int, answeredBy: ClusterNodeAddress?) {
        state.withLockedValue { ($0.refreshes, $0.moved, $0.answeredBy) }
    }

    /// `INFO proxy` in cluster mode.
    func infoLines() -> [String] {
        let (map, refreshes, moved, answeredBy, clients, unconfirmed) = state.withLockedValue {
            ($0.map, $0.refreshes, $0.moved, $0.answeredBy, $0.clients, $0.unconfirmedWrites)
        }
        var lines = ["# Proxy", "discovery:cluster", "cluster_seeds:\(seeds.map(\.description).joined(separator: ","))",
                     "cluster_masters:\(map.masters.count)", "cluster_slots_covered:\(map.coveredSlots)",
                     "cluster_map_from:\(answeredBy?.description ?? "none")", "cluster_map_refreshes:\(refreshes)",
                     "cluster_moved:\(moved)", "read_from:\(settings.readFromReplicas ? "replicas" : "master")",
                     "connected_clients:\(clients)",
                     "durability:\(settings.waitReplicas > 0 ? "replicated" : "async")"]
        if settings.waitReplicas > 0 {
            lines.append("wait_replicas:\(settings.waitReplicas)")
            lines.append("wait_timeout_ms:\(settings.waitTimeout.nanoseconds / 1_000_000)")
            lines.append("unconfirmed_writes:\(unconfirmed)")
        }
        for (index, master) in map.masters.enumerated() {
            let ranges = map.slotRanges(of: master).map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            let replicas = map.shards.first { $0.master == master }?.replicas.map(\.description).joined(separator: ",") ?? ""
            lines.append("master\(index):address=\(master),slots=\(ranges.joined(separator: " ")),replicas=\(replicas)")
        }
        return lines
    }

    func connectionConfiguration(_ node: ClusterNodeAddress, clientName: String? = nil) -> RedisConnectionConfiguration {
        var configuration = RedisConnectionConfiguration(host: node.host, port: node.port, username: settings.user,
                                                         password: settings.password, protocolVersion: .resp2,
                                                         connectTimeout: settings.connectTimeout, commandTimeout: nil,
                                                         clientName: clientName)
        configuration.tlsContext = settings.backendTLS
        return configuration
    }

    /// Reads the slot map from the first node that answers: known masters, then every other
    /// known node, then the seeds. CLUSTER SHARDS, or CLUSTER SLOTS where SHARDS is unknown
    /// (before Redis 7). Throws when no node gives a map.
    func refresh(group: any EventLoopGroup) async throws {
        let (known, last) = state.withLockedValue { ($0.map, $0.answeredBy) }
        var candidates: [ClusterNodeAddress] = []
        for node in (last.map { [$0] } ?? []) + known.masters + known.allNodes + seeds where !candidates.contains(node) { candidates.append(node) }
        var problems: [String] = []
        for node in candidates {
            do {
                let connection = try await RedisConnection.connect(connectionConfiguration(node), eventLoopGroup: group)
                defer { Task { await connection.close() } }
                var reply = try await connection.send(["CLUSTER", "SHARDS"], timeout: .seconds(2))
                let map: SlotMap
                if let message = reply.errorMessage, message.lowercased().contains("unknown subcommand") {
                    reply = try await connection.send(["CLUSTER", "SLOTS"], timeout: .seconds(2))
                    map = try SlotMap.parseSlots(reply, answeredBy: node)
                } else {
                    map = try SlotMap.parseShards(reply, answeredBy: node)
                }
                guard map.coveredSlots > 0 else {
                    problems.append("\(node): serves no slots yet")
                    continue
                }
                let changed = state.withLockedValue { state -> Bool in
                    let changed = state.map != map
                    state.map = map
                    state.refreshes += 1
                    state.answeredBy = node
                    // The start's refresh counts too: the timed loop's first pass then waits
                    // its interval instead of reading the map a second time at once.
                    state.lastRefresh = .now()
                    return changed
                }
                if changed {
                    logger.notice("cluster slot map from \(node): \(map.masters.map { "\($0) \(describe(map.slotRanges(of: $0)))" }.joined(separator: ", "))")
                }
                return
            } catch {
                problems.append("\(node): \(error)")
            }
        }
        throw ProxyStartError("no cluster node gave its slot map: \(problems.joined(separator: "; "))")
    }

    private func describe(_ ranges: [ClosedRange<Int>]) -> String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")
    }

    /// Refreshes every `interval`, and within ~50 ms of a request (at most one refresh per 100 ms),
    /// until cancelled.
    func run(group: any EventLoopGroup, interval: TimeAmount) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .milliseconds(50)) } catch { return }
            let now = NIODeadline.now()
            let due = state.withLockedValue { state -> Bool in
                let due = (state.refreshRequested && now - state.lastRefresh >= .milliseconds(100)) || now - state.lastRefresh >= interval
                if due {
                    state.refreshRequested = false
                    state.lastRefresh = now
                }
                return due
            }
            guard due else { continue }
            do {
                try await refresh(group: group)
            } catch {
                logger.warning("\(error)")
                requestRefresh()
            }
        }
    }
}
