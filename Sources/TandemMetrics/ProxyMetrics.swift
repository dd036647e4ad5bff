import Prometheus
import Proxy

extension MetricsRegistry {
    /// `tandem_proxy_*` from the proxy's own `INFO proxy` counters, read at scrape time (one
    /// task per event loop; nothing is added to the byte path).
    public func addProxy(_ statistics: ProxyStatistics) {
        let connections = gauge("tandem_proxy_connections", "Client connections open now.")
        let dedicated = gauge("tandem_proxy_dedicated_connections", "Clients on a backend connection of their own (MULTI, blocking commands, Pub/Sub, ...).")
        let masterKnown = gauge("tandem_proxy_master_known", "1 while the proxy knows a master to send commands to (0: commands are held).")
        let held = gauge("tandem_proxy_held_commands", "Commands held now, waiting for a master (or a connection to it) to take them.")
        let mirrors: [(String, String, any KeyPath<ProxyMetricsSnapshot, Int> & Sendable)] = [
            ("tandem_proxy_connections_total", "Client connections accepted.", \.connectionsReceived),
            ("tandem_proxy_rejected_connections_total", "Client connections refused (--max-connections).", \.connectionsRejected),
            ("tandem_proxy_commands_total", "Commands received from clients.", \.commands),
            ("tandem_proxy_bytes_received_total", "Bytes received from clients.", \.bytesIn),
            ("tandem_proxy_bytes_sent_total", "Bytes sent to clients.", \.bytesOut),
            ("tandem_proxy_errors_total", "Error replies the proxy made itself (-MASTERDOWN after the hold time, -NOREPLICAS, ...).", \.proxyErrors),
            ("tandem_proxy_retried_commands_total", "Commands sent again to a new master after -READONLY.", \.retriedCommands),
            ("tandem_proxy_unconfirmed_writes_total", "Batches of writes answered -NOREPLICAS: too few replicas confirmed them in time (--wait-replicas).", \.unconfirmedWrites),
            ("tandem_proxy_held_commands_timed_out_total", "Commands held for a master that got -MASTERDOWN after the hold time.", \.heldTimeouts),
            ("tandem_proxy_backend_connects_total", "Connections opened to Redis servers.", \.backendConnects),
            ("tandem_proxy_backend_connect_failures_total", "Connections to Redis servers that failed.", \.backendConnectFailures),
            ("tandem_proxy_master_switches_total", "Times the master the proxy routes to changed.", \.masterSwitches),
        ]
        let counters = mirrors.map { (CounterMirror(counter($0.0, $0.1)), $0.2) }
        addCollector {
            guard let s = try? await statistics.snapshot() else { return }
            connections.set(to: Double(s.connectedClients))
            dedicated.set(to: Double(s.dedicatedClients))
            masterKnown.set(to: s.masterKnown ? 1 : 0)
            held.set(to: Double(s.heldCommands))
            for (mirror, field) in counters { mirror.follow(s[keyPath: field]) }
        }
    }

    /// `tandem proxy --cluster`: clients, the slot map (refreshes, masters, slots covered), the
    /// MOVED and ASK replies followed inside the proxy, and the connections open to each node.
    public func addClusterProxy(_ statistics: ClusterStatistics) {
        let connections = gauge("tandem_proxy_connections", "Client connections open now.")
        let masters = gauge("tandem_proxy_cluster_masters", "Masters in the proxy's slot map.")
        let covered = gauge("tandem_proxy_cluster_slots_covered", "Hash slots with a master in the proxy's slot map (16384: all).")
        let backends = GaugeSet(self, "tandem_proxy_cluster_backend_connections",
                                "Connections open from the proxy to each cluster node: shared ones and clients' own (transactions, blocking commands).")
        let mirrors: [(String, String, any KeyPath<ClusterMetricsSnapshot, Int> & Sendable)] = [
            ("tandem_proxy_cluster_map_refreshes_total", "Times the slot map was read from the cluster (at start, on the timer, after MOVED or a connection error).", \.mapRefreshes),
            ("tandem_proxy_cluster_moved_total", "MOVED replies followed inside the proxy (the slot's new master taken, the command sent there).", \.movedFollowed),
            ("tandem_proxy_cluster_ask_total", "ASK replies followed inside the proxy (ASKING and the command sent to the node named).", \.askFollowed),
            ("tandem_proxy_unconfirmed_writes_total", "Writes answered -NOREPLICAS: too few replicas confirmed them in time (--wait-replicas).", \.unconfirmedWrites),
        ]
        let counters = mirrors.map { (CounterMirror(counter($0.0, $0.1)), $0.2) }
        addCollector {
            let s = statistics.snapshot()
            connections.set(to: Double(s.connectedClients))
            masters.set(to: Double(s.masters))
            covered.set(to: Double(s.slotsCovered))
            backends.update(s.backendConnections.map { (labels: [("node", $0.node)], value: Double($0.count)) })
            for (mirror, field) in counters { mirror.follow(s[keyPath: field]) }
        }
    }
}
