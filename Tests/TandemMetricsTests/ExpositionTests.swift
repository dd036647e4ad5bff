import Foundation
import Prometheus
import Testing
@testable import Sentinel
@testable import TandemMetrics

/// The text /metrics serves: names, TYPE and HELP lines, label escaping, counters that follow
/// totals kept elsewhere, series that go away.
@Suite struct ExpositionTests {
    private func render(_ metrics: MetricsRegistry) async -> String {
        String(decoding: await metrics.render(), as: UTF8.self)
    }

    @Test func typeAndHelpLinesOncePerName() async {
        let metrics = MetricsRegistry()
        metrics.counter("tandem_proxy_commands_total", "Commands received from clients.").increment(by: Int64(3))
        metrics.gauge("tandem_sentinel_replicas", "Replicas.", [("master", "a")]).set(to: 2)
        metrics.gauge("tandem_sentinel_replicas", "Replicas.", [("master", "b")]).set(to: 1)
        let text = await render(metrics)
        #expect(text.contains("# TYPE tandem_proxy_commands_total counter\n"))
        #expect(text.contains("# HELP tandem_proxy_commands_total Commands received from clients.\n"))
        #expect(text.contains("tandem_proxy_commands_total 3\n"))
        #expect(text.components(separatedBy: "# TYPE tandem_sentinel_replicas gauge\n").count == 2)
        #expect(text.contains("tandem_sentinel_replicas{master=\"a\"} 2.0\n"))
        #expect(text.contains("tandem_sentinel_replicas{master=\"b\"} 1.0\n"))
    }

    @Test func labelValuesAreEscaped() async {
        let metrics = MetricsRegistry()
        metrics.gauge("tandem_sentinel_master_sdown", "SDOWN.", [("master", "a\"b\\c\nd")]).set(to: 1)
        let text = await render(metrics)
        #expect(text.contains(#"tandem_sentinel_master_sdown{master="a\"b\\c\nd"} 1.0"#))
    }

    @Test func histogramInSecondsWithBucketsSumAndCount() async {
        let metrics = MetricsRegistry()
        let h = metrics.histogram("tandem_sentinel_failover_duration_seconds", "Failover time.", [("master", "m")],
                                  buckets: [.seconds(1), .seconds(5)])
        h.record(.milliseconds(2500))
        let text = await render(metrics)
        #expect(text.contains("# TYPE tandem_sentinel_failover_duration_seconds histogram\n"))
        #expect(text.contains("tandem_sentinel_failover_duration_seconds_bucket{master=\"m\",le=\"1.0\"} 0\n"))
        #expect(text.contains("tandem_sentinel_failover_duration_seconds_bucket{master=\"m\",le=\"5.0\"} 1\n"))
        #expect(text.contains("tandem_sentinel_failover_duration_seconds_bucket{master=\"m\",le=\"+Inf\"} 1\n"))
        #expect(text.contains("tandem_sentinel_failover_duration_seconds_sum{master=\"m\"} 2.5\n"))
        #expect(text.contains("tandem_sentinel_failover_duration_seconds_count{master=\"m\"} 1\n"))
    }

    @Test func counterMirrorFollowsATotalAndItsReset() async {
        let metrics = MetricsRegistry()
        let mirror = CounterMirror(metrics.counter("tandem_proxy_bytes_sent_total", "Bytes."))
        mirror.follow(100)
        mirror.follow(250)
        #expect(await render(metrics).contains("tandem_proxy_bytes_sent_total 250\n"))
        mirror.follow(40)  // the source restarted
        #expect(await render(metrics).contains("tandem_proxy_bytes_sent_total 40\n"))
    }

    @Test func collectorsRunBeforeEachScrape() async {
        let metrics = MetricsRegistry()
        let g = metrics.gauge("tandem_proxy_connections", "Open.")
        let n = Counted()
        metrics.addCollector { g.set(to: Double(n.next())) }
        #expect(await render(metrics).contains("tandem_proxy_connections 1.0\n"))
        #expect(await render(metrics).contains("tandem_proxy_connections 2.0\n"))
    }

    @Test func gaugeSetDropsSeriesThatWentAway() async {
        let metrics = MetricsRegistry()
        let set = GaugeSet(metrics, "tandem_sentinel_replica_lag_seconds", "Lag.")
        set.update([([("master", "m"), ("replica", "r1")], 0), ([("master", "m"), ("replica", "r2")], 3)])
        var text = await render(metrics)
        #expect(text.contains("replica=\"r1\""))
        #expect(text.contains("tandem_sentinel_replica_lag_seconds{master=\"m\",replica=\"r2\"} 3.0\n"))
        set.update([([("master", "m"), ("replica", "r2")], 1)])
        text = await render(metrics)
        #expect(!text.contains("replica=\"r1\""))
        #expect(text.contains("tandem_sentinel_replica_lag_seconds{master=\"m\",replica=\"r2\"} 1.0\n"))
    }

    @Test func processSampleFromStat() throws {
        // comm with a space and a ')' in it; utime 250, stime 50 ticks; rss 1000 pages.
        let stat = "4242 (tan dem) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1234 100000000 1000 18446744073709551615"
        let parsed = try #require(ProcessSample.parseStat(stat, ticksPerSecond: 100, pageSize: 4096))
        #expect(parsed.cpuSeconds == 3.0)
        #expect(parsed.residentBytes == 4_096_000)
        let now = try #require(ProcessSample.read())
        #expect(now.residentBytes > 0)
        #expect(now.openFDs > 0)
    }

    @Test func replicaLagFromAMastersInfo() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n"
            + "slave0:ip=127.0.0.1,port=6380,state=online,offset=2056,lag=0\r\n"
            + "slave1:ip=10.0.0.2,port=6379,state=wait_bgsave,offset=0,lag=3\r\n"
            + "slave_read_repl_offset:1\r\nmaster_repl_offset:2070\r\n"
        let lags = SentinelRuntime.replicaLags(inInfo: info)
        #expect(lags.map(\.replica) == ["127.0.0.1:6380", "10.0.0.2:6379"])
        #expect(lags.map(\.seconds) == [0, 3])
    }

    @Test func httpEndpoints() throws {
        let v4 = try HTTPEndpoint(parsing: "127.0.0.1:9121")
        #expect(v4.host == "127.0.0.1" && v4.port == 9121)
        #expect(try HTTPEndpoint(parsing: "[::1]:9121").description == "[::1]:9121")
        #expect(throws: HTTPStartError.self) { try HTTPEndpoint(parsing: "9121") }
        #expect(throws: HTTPStartError.self) { try HTTPEndpoint(parsing: "localhost:x") }
        #expect(throws: HTTPStartError.self) { try HTTPEndpoint(parsing: ":9121") }
    }
}

/// Failover outcomes from a sentinel's own events.
@Suite struct FailoverTrackerTests {
    static let m = "master m 127.0.0.1 6379"

    @Test func electedThenSwitchedIsASuccessWithItsDuration() {
        var t = FailoverTracker()
        #expect(t.observe(type: "+sdown", payload: Self.m, now: 0) == nil)
        #expect(t.observe(type: "+try-failover", payload: Self.m, now: 1) == .attempt(master: "m"))
        #expect(t.observe(type: "+elected-leader", payload: Self.m, now: 1.1) == nil)
        #expect(t.observe(type: "+switch-master", payload: "m 127.0.0.1 6379 127.0.0.1 6380", now: 3.5)
                == .success(master: "m", seconds: 2.5))
    }

    @Test func aSwitchLearntFromAnotherSentinelIsNoOutcome() {
        var t = FailoverTracker()
        #expect(t.observe(type: "+switch-master", payload: "m 127.0.0.1 6379 127.0.0.1 6380", now: 3) == nil)
        // Tried, lost the election, then learnt the winner's switch from its hello.
        #expect(t.observe(type: "+try-failover", payload: Self.m, now: 4) == .attempt(master: "m"))
        #expect(t.observe(type: "+switch-master", payload: "m 127.0.0.1 6379 127.0.0.1 6380", now: 5) == nil)
    }

    @Test func notElectedIsNoOutcome() {
        var t = FailoverTracker()
        _ = t.observe(type: "+try-failover", payload: Self.m, now: 1)
        #expect(t.observe(type: "-failover-abort-not-elected", payload: Self.m, now: 11) == nil)
        #expect(t.observe(type: "+switch-master", payload: "m 127.0.0.1 6379 127.0.0.1 6380", now: 12) == nil)
    }

    @Test func anAbortAfterTheElectionIsAnAbort() {
        var t = FailoverTracker()
        _ = t.observe(type: "+try-failover", payload: Self.m, now: 1)
        _ = t.observe(type: "+elected-leader", payload: Self.m, now: 1.5)
        #expect(t.observe(type: "-failover-abort-no-good-slave", payload: Self.m, now: 4) == .abort(master: "m", reason: "no-good-slave"))
    }

    @Test func mastersAreTrackedApart() {
        var t = FailoverTracker()
        for (name, port) in [("a", 6379), ("b", 7379)] {
            _ = t.observe(type: "+try-failover", payload: "master \(name) 127.0.0.1 \(port)", now: 1)
            _ = t.observe(type: "+elected-leader", payload: "master \(name) 127.0.0.1 \(port)", now: 2)
        }
        #expect(t.observe(type: "+switch-master", payload: "b 127.0.0.1 7379 127.0.0.1 7380", now: 4) == .success(master: "b", seconds: 3))
        #expect(t.observe(type: "-failover-abort-slave-timeout", payload: "master a 127.0.0.1 6379", now: 5) == .abort(master: "a", reason: "slave-timeout"))
    }
}

private final class Counted: @unchecked Sendable {
    private var n = 0
    func next() -> Int { n += 1; return n }
}
