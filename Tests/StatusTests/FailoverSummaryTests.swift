import Foundation
import Status
import Testing

/// `INFO failovers` (a tandem monitor's history for `tandem status`), the table's failover and
/// proxy blocks, and the proxy's throughput from sampled counters.
@Suite struct FailoverSummaryTests {
    @Test func aTimelinesFailoverBecomesEachPhasesFirstStepAfterTheStart() throws {
        let t = FailoverTimelineTests.timeline(FailoverTimelineTests.leaderEvents)
        let f = FailoverSummary(try #require(t.failovers.first))
        #expect(f.master == "mymaster" && f.from == "127.0.0.1:6379" && f.to == "127.0.0.1:6380")
        #expect(f.outcome == "switched" && f.leader == "self" && f.epoch == 1)
        #expect(f.steps.map(\.phase) == ["sdown", "odown", "election", "promotion", "switch"])
        #expect(f.steps.map(\.afterMilliseconds) == [0, 2, 3, 7, 14])
        #expect(f.durationMilliseconds == 14)
    }

    @Test func infoLinesReadBackToTheSameSummaries() throws {
        var t = FailoverTimelineTests.timeline(FailoverTimelineTests.leaderEvents)
        // A second failover, of a master whose name holds the separators, still running.
        t.observe(type: "+sdown", payload: "master a,b=c;d@e 10.0.0.1 6379", at: 5000)
        t.observe(type: "+odown", payload: "master a,b=c;d@e 10.0.0.1 6379 #quorum 2/2", at: 5100)
        let lines = FailoverSummary.infoLines(t.failovers)
        #expect(lines[0] == "# Failovers" && lines[1] == "failovers:2")
        #expect(lines[2] == "failover_0:master=mymaster,from=127.0.0.1:6379,to=127.0.0.1:6380,outcome=switched,leader=self,"
                + "epoch=1,started=1000,ended=1014,steps=sdown@0;odown@2;election@3;promotion@7;switch@14")
        let parsed = try #require(FailoverSummary.parse(info: lines.joined(separator: "\r\n")))
        #expect(parsed == t.failovers.map(FailoverSummary.init))
        #expect(parsed[1].master == "a,b=c;d@e" && parsed[1].outcome == "running" && parsed[1].endedAt == 5100)
        // No history kept (redis-sentinel's empty reply to an unknown section): nil, not [].
        #expect(FailoverSummary.parse(info: "") == nil)
        #expect(FailoverSummary.parse(info: "# Failovers\r\nfailovers:0\r\n") == [])
    }

    @Test func theTableShowsTheFailoversWithTheirStepsAndSaysWhenTheMonitorKeepsNone() throws {
        let t = FailoverTimelineTests.timeline(FailoverTimelineTests.leaderEvents, from: 1_764_947_001_000)
        let g = StatusReport.Group(master: StatusReportTests.master, replicas: StatusReportTests.replicas,
                                   sentinels: StatusReportTests.sentinels, asked: "10.0.0.1:26379", masterOffset: 1_500)
        let text = StatusReport(monitor: "10.0.0.1:26379", groups: [g], failovers: t.failovers.map(FailoverSummary.init)).table()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.count <= 100 }, "\(text)")
        #expect(lines.contains("last failovers (as 10.0.0.1:26379 saw them, newest last)"))
        #expect(lines.contains("  mymaster: 127.0.0.1:6379 -> 127.0.0.1:6380  switched  14 ms  15:03:21 UTC  epoch 1  led here"))
        #expect(lines.contains("    sdown 0  odown +2 ms  election +3 ms  promotion +7 ms  switch +14 ms"))
        let redis = StatusReport(monitor: "10.0.0.1:26379", groups: [g]).table()
        #expect(redis.hasSuffix("failovers: 10.0.0.1:26379 keeps no failover history (redis-sentinel?); a tandem monitor does"))
    }

    @Test func nodeAgentsProxiesWithClientsAndThroughput() throws {
        let info = StatusReportTests.nodeInfo.replacingOccurrences(of: "proxy:none\r\n", with: "proxy:up\r\nproxy_clients:12\r\n"
            + "proxy_commands:987654\r\nproxy_commands_per_sec:45210.5\r\nproxy_input_bytes_per_sec:2200000\r\nproxy_output_bytes_per_sec:900\r\n")
        let n = try #require(StatusReport.NodeInfo(info: info))
        #expect(n.proxy == "up" && n.proxyClients == 12 && n.proxyCommands == 987_654 && n.proxyCommandsPerSecond == 45_210.5)
        var g = StatusReport.Group(master: StatusReportTests.master, replicas: [], sentinels: [], asked: "10.0.0.1:26379", masterOffset: nil)
        g.monitors[0].node = n
        let text = StatusReport(monitor: "10.0.0.1:26379", groups: [g], failovers: []).table()
        let lines = text.split(separator: "\n")
        #expect(lines.allSatisfy { $0.count <= 100 }, "\(text)")
        #expect(lines.contains("  proxy of  clients  commands     cmd/s      in/s        out/s"))
        #expect(lines.contains("  n1        12       987654       45k        2 MiB       900 B"))
        // A plain sentinel's INFO node: no proxy block.
        #expect(!StatusReport(monitor: "m:1", groups: [], failovers: []).table().contains("proxy of"))
    }

    @Test func throughputIsPerSecondBetweenTheLastTwoSamplesAndStartsOverWhenACounterGoesDown() {
        var t = ProxyThroughput()
        t.sample(commands: 100, bytesIn: 1000, bytesOut: 500, at: 0)
        #expect(t.commandsPerSecond == nil)
        t.sample(commands: 1100, bytesIn: 3000, bytesOut: 500, at: 500)
        #expect(t.commandsPerSecond == 2000 && t.bytesInPerSecond == 4000 && t.bytesOutPerSecond == 0)
        t.sample(commands: 10, bytesIn: 0, bytesOut: 0, at: 1500)
        #expect(t.commandsPerSecond == nil)
        t.sample(commands: 20, bytesIn: 0, bytesOut: 0, at: 2500)
        #expect(t.commandsPerSecond == 10)
    }
}
