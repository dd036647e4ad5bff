import Prometheus
import Sentinel
import SentinelCore
import Synchronization

extension MetricsRegistry {
    /// `tandem_sentinel_*` for a running sentinel: per-master state read from the core at
    /// scrape time; failovers counted from the events the core publishes.
    public func addSentinel(_ runtime: SentinelRuntime) async {
        let info = GaugeSet(self, "tandem_sentinel_master_info", "1 for the address (ip:port) this sentinel names as the master's now; the series of an old master goes away after a failover.")
        let sdown = GaugeSet(self, "tandem_sentinel_master_sdown", "1 while this sentinel sees the master as subjectively down.")
        let odown = GaugeSet(self, "tandem_sentinel_master_odown", "1 while the master is objectively down (quorum agrees).")
        let failing = GaugeSet(self, "tandem_sentinel_failover_in_progress", "1 while a failover of the master is in progress here.")
        let replicas = GaugeSet(self, "tandem_sentinel_replicas", "Replicas of the master this sentinel knows.")
        let replicasDown = GaugeSet(self, "tandem_sentinel_replicas_down", "Replicas of the master this sentinel sees as down.")
        let sentinels = GaugeSet(self, "tandem_sentinel_other_sentinels", "Other sentinels watching the master.")
        let configEpoch = GaugeSet(self, "tandem_sentinel_master_config_epoch", "The configuration epoch of the master's current address.")
        let lag = GaugeSet(self, "tandem_sentinel_replica_lag_seconds", "Seconds since the replica's last acknowledgement, as the master's last INFO reports it.")
        let epoch = gauge("tandem_sentinel_epoch", "This sentinel's current epoch.")
        let tilt = gauge("tandem_sentinel_tilt", "1 while this sentinel is in TILT mode.")
        let clients = gauge("tandem_sentinel_connected_clients", "Clients connected to the sentinel port.")
        let masters = gauge("tandem_sentinel_masters", "Masters this sentinel monitors.")

        let failovers = FailoverCounters(self)
        await runtime.addEventObserver { event in failovers.observe(event) }
        addCollector {
            let s = await runtime.metricsSnapshot()
            func each(_ value: (SentinelMetricsSnapshot.Master) -> Double) -> [(labels: [(String, String)], value: Double)] {
                s.masters.map { ([("master", $0.name)], value($0)) }
            }
            info.update(s.masters.map { ([("master", $0.name), ("address", $0.address)], 1) })
            sdown.update(each { $0.sdown ? 1 : 0 })
            odown.update(each { $0.odown ? 1 : 0 })
            failing.update(each { $0.failoverInProgress ? 1 : 0 })
            replicas.update(each { Double($0.replicas) })
            replicasDown.update(each { Double($0.replicasDown) })
            sentinels.update(each { Double($0.sentinels) })
            configEpoch.update(each { Double($0.configEpoch) })
            lag.update(s.masters.flatMap { m in m.replicaLag.map { ([("master", m.name), ("replica", $0.replica)], $0.seconds) } })
            epoch.set(to: Double(s.currentEpoch))
            tilt.set(to: s.tilt ? 1 : 0)
            clients.set(to: Double(s.connectedClients))
            masters.set(to: Double(s.masters.count))
            failovers.prepare(s.masters.map(\.name))
        }
    }
}

/// `tandem_sentinel_failovers_total{master,outcome}` and the duration histogram, fed by the
/// core's events through `FailoverTracker`.
final class FailoverCounters: Sendable {
    private let metrics: MetricsRegistry
    private let tracker = Mutex(FailoverTracker())
    private let origin = ContinuousClock.now
    static let buckets: [Duration] = [.milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
                                      .seconds(20), .seconds(30), .seconds(60), .seconds(120), .seconds(300)]

    init(_ metrics: MetricsRegistry) { self.metrics = metrics }

    func observe(_ event: SentinelEvent) {
        let elapsed = (ContinuousClock.now - origin).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        guard let outcome = tracker.withLock({ $0.observe(type: event.type, payload: event.payload, now: seconds) }) else { return }
        switch outcome {
        case .attempt(let master):
            attempts(master).increment()
        case .success(let master, let duration):
            total(master, "success").increment()
            histogram(master).record(.nanoseconds(Int64(duration * 1e9)))
        case .abort(let master, _):
            total(master, "abort").increment()
        }
    }

    /// Every monitored master shows both outcomes (0 until one happens), so a rate over them
    /// has a series from the start.
    func prepare(_ masters: [String]) {
        for master in masters {
            _ = total(master, "success")
            _ = total(master, "abort")
            _ = histogram(master)
            _ = attempts(master)
        }
    }

    private func total(_ master: String, _ outcome: String) -> Counter {
        metrics.counter("tandem_sentinel_failovers_total", "Failovers this sentinel led (was elected for), by outcome (success: +switch-master; abort: -failover-abort-*).",
                        [("master", master), ("outcome", outcome)])
    }

    private func attempts(_ master: String) -> Counter {
        metrics.counter("tandem_sentinel_failover_attempts_total", "Failovers this sentinel tried to lead (+try-failover), elected or not.",
                        [("master", master)])
    }

    private func histogram(_ master: String) -> DurationHistogram {
        metrics.histogram("tandem_sentinel_failover_duration_seconds", "Seconds from +try-failover to +switch-master of the failovers this sentinel led.",
                          [("master", master)], buckets: Self.buckets)
    }
}
