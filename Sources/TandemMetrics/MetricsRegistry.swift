import Prometheus
import Synchronization

/// Everything `/metrics` shows: a swift-prometheus registry plus the collectors that copy the
/// daemons' own state into it right before each scrape (the daemons keep their counters anyway;
/// nothing on their hot paths writes here).
public final class MetricsRegistry: Sendable {
    /// The registry the exposition is rendered from.
    public let prometheus = PrometheusCollectorRegistry()
    private let collectors = Mutex<[@Sendable () async -> Void]>([])

    public init() {}

    /// Runs `collect` before every scrape (it sets gauges and counters from current state).
    public func addCollector(_ collect: @escaping @Sendable () async -> Void) {
        collectors.withLock { $0.append(collect) }
    }

    /// The exposition (text format 0.0.4), after every collector has run.
    public func render() async -> [UInt8] {
        for collect in collectors.withLock({ $0 }) { await collect() }
        return prometheus.emitToBuffer()
    }

    /// A gauge (`help` becomes the `# HELP` line).
    public func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        prometheus.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
    }

    /// A counter.
    public func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
        prometheus.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
    }

    /// A histogram of durations, in seconds.
    public func histogram(_ name: String, _ help: String, _ labels: [(String, String)] = [], buckets: [Duration]) -> DurationHistogram {
        prometheus.makeDurationHistogram(descriptor: Self.descriptor(name, help), labels: labels, buckets: buckets)
    }

    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}

/// A counter that follows a total kept elsewhere (`INFO proxy`'s counters, /proc's CPU time):
/// each `set` adds what the total grew by since the last one.
public final class CounterMirror: Sendable {
    private let counter: Counter
    private let last = Mutex<Double>(0)

    public init(_ counter: Counter) { self.counter = counter }

    /// The source's total now. A total that went down (a restarted source) starts the counter
    /// again, as Prometheus expects of a counter reset.
    public func follow(_ total: Double) {
        last.withLock { last in
            if total < last {
                counter.reset()
                last = 0
            }
            let delta = total - last
            if delta > 0 {
                if delta == delta.rounded(), delta < 9e15 { counter.increment(by: Int64(delta)) } else { counter.increment(by: delta) }
            }
            last = total
        }
    }

    public func follow(_ total: Int) { follow(Double(total)) }
}

/// Gauges of one name whose label sets come and go (a master removed, a replica forgotten):
/// each `update` sets the current ones and unregisters the rest, so no stale series stays.
public final class GaugeSet: Sendable {
    private let metrics: MetricsRegistry
    private let name: String
    private let help: String
    private let live = Mutex<[[String]: Gauge]>([:])

    public init(_ metrics: MetricsRegistry, _ name: String, _ help: String) {
        self.metrics = metrics
        self.name = name
        self.help = help
    }

    /// Sets every series given; series not given are removed.
    public func update(_ values: [(labels: [(String, String)], value: Double)]) {
        live.withLock { live in
            var seen: Set<[String]> = []
            for (labels, value) in values {
                let key = labels.flatMap { [$0.0, $0.1] }
                seen.insert(key)
                let gauge = live[key] ?? metrics.gauge(name, help, labels)
                live[key] = gauge
                gauge.set(to: value)
            }
            for (key, gauge) in live where !seen.contains(key) {
                metrics.prometheus.unregisterGauge(gauge)
                live[key] = nil
            }
        }
    }
}
