import Foundation
import Status
import Testing

/// `tandem status`: the report read from a monitor's field maps, its table and its JSON.
@Suite("tandem status: the report")
struct StatusReportTests {
    static let master: [String: String] = [
        "name": "mymaster", "ip": "10.0.0.1", "port": "6379", "flags": "master", "config-epoch": "3", "quorum": "2",
        "failover-state": "none",
    ]
    static let replicas: [[String: String]] = [
        ["ip": "10.0.0.2", "port": "6379", "flags": "slave", "master-link-status": "ok", "slave-repl-offset": "1000",
         "slave-priority": "100", "master-link-down-time": "0"],
        ["ip": "10.0.0.3", "port": "6379", "flags": "slave,s_down,disconnected", "master-link-status": "err",
         "slave-repl-offset": "400", "slave-priority": "0", "master-link-down-time": "5000"],
    ]
    static let sentinels: [[String: String]] = [
        ["ip": "10.0.0.2", "port": "26379", "runid": "b", "flags": "sentinel", "last-ok-ping-reply": "42"],
        ["ip": "10.0.0.3", "port": "26379", "runid": "c", "flags": "s_down,sentinel,disconnected", "last-ok-ping-reply": "9000"],
    ]
    static let nodeInfo = """
        # Node\r\nnode_name:n1\r\nnode_role:data\r\ngroup_name:mymaster\r\nlocal_redis:master\r\nmajority_contact:1\r\n\
        fenced:0\r\nvip_mode:direct\r\nvip_eligible:1\r\nvip_state:MASTER\r\nproxy:none\r\n
        """

    @Test("read from SENTINEL MASTER / REPLICAS / SENTINELS: lag against the master's offset, or the furthest replica's")
    func reading() {
        let g = StatusReport.Group(master: Self.master, replicas: Self.replicas, sentinels: Self.sentinels,
                                   asked: "10.0.0.1:26379", masterOffset: 1_500)
        #expect(g.name == "mymaster" && g.master == "10.0.0.1:6379" && g.configEpoch == 3 && g.quorum == 2)
        #expect(g.failoverState == nil && g.masterHealthy)
        #expect(g.replicas.map(\.lagBytes) == [500, 1_100])
        #expect(g.replicas.map(\.linkUp) == [true, false])
        #expect(g.replicas[1].flags == ["slave", "s_down", "disconnected"])
        #expect(g.monitors.map(\.address) == ["10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"])
        #expect(g.monitors.map(\.lastOkPingMilliseconds) == [0, 42, 9_000])
        // The master could not be asked: lag against the replica furthest on.
        let unknown = StatusReport.Group(master: Self.master, replicas: Self.replicas, sentinels: [], asked: "x:1", masterOffset: nil)
        #expect(unknown.replicas.map(\.lagBytes) == [0, 600])
        var failing = Self.master
        failing["flags"] = "master,s_down,o_down,failover_in_progress"
        failing["failover-state"] = "wait_promotion"
        let f = StatusReport.Group(master: failing, replicas: [], sentinels: [], asked: "x:1", masterOffset: nil)
        #expect(!f.masterHealthy && f.failoverState == "wait_promotion")
    }

    @Test("INFO node of a node agent; nil for a plain sentinel's empty section")
    func nodeInfo() throws {
        let n = try #require(StatusReport.NodeInfo(info: Self.nodeInfo))
        #expect(n.name == "n1" && n.role == "data" && n.localRedis == "master" && !n.fenced && n.majorityContact)
        #expect(n.vipState == "MASTER" && n.proxy == nil)
        #expect(StatusReport.NodeInfo(info: "") == nil)
        #expect(StatusReport.NodeInfo(info: "# Sentinel\r\nsentinel_masters:1\r\n") == nil)
    }

    @Test("the table: every line within 100 columns, the VIP holder named, down monitors and replicas marked")
    func table() throws {
        var g = StatusReport.Group(master: Self.master, replicas: Self.replicas, sentinels: Self.sentinels,
                                   asked: "10.0.0.1:26379", masterOffset: 1_500)
        g.monitors[0].node = StatusReport.NodeInfo(info: Self.nodeInfo)
        let text = StatusReport(monitor: "10.0.0.1:26379", groups: [g]).table()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.count <= 100 }, "\(text)")
        #expect(lines[0] == "group mymaster: master 10.0.0.1:6379 ok  epoch 3  quorum 2  VIP on n1")
        #expect(lines.contains { $0.hasPrefix("  10.0.0.2:6379") && $0.contains("up") && $0.contains("500 B") })
        #expect(lines.contains { $0.hasPrefix("  10.0.0.3:6379") && $0.contains("down") && $0.contains("1 KiB") && $0.hasSuffix("slave,s_down,disconnected") })
        #expect(lines.contains { $0.hasPrefix("  10.0.0.1:26379") && $0.contains("asked") && $0.contains("n1") && $0.contains("MASTER") })
        #expect(lines.contains { $0.hasPrefix("  10.0.0.3:26379") && $0.contains("down") && $0.contains("9000 ms") })
        // A narrower terminal: still cut, never wrapped.
        #expect(StatusReport(monitor: "m", groups: [g]).table(width: 40).split(separator: "\n").allSatisfy { $0.count <= 40 })
        #expect(StatusReport(monitor: "m:1", groups: [], failovers: []).table()
                == "monitor m:1 watches no group\nfailovers: none since monitor m:1 started")
    }

    @Test("JSON: the documented keys, and it reads back to the same report")
    func json() throws {
        let g = StatusReport.Group(master: Self.master, replicas: Self.replicas, sentinels: Self.sentinels,
                                   asked: "10.0.0.1:26379", masterOffset: 1_500)
        let report = StatusReport(monitor: "10.0.0.1:26379", groups: [g])
        let data = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(StatusReport.self, from: data) == report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let group = try #require((object["groups"] as? [[String: Any]])?.first)
        #expect(Set(group.keys) == ["name", "master", "masterFlags", "configEpoch", "quorum", "masterOffset", "replicas", "monitors"])
        let replica = try #require((group["replicas"] as? [[String: Any]])?.first)
        #expect(Set(replica.keys) == ["address", "flags", "linkUp", "offset", "lagBytes", "priority", "linkDownMilliseconds"])
    }
}
