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
        #expect(lines[0] == "group mymaster: master 10.0.0.1:6379 ok  config epoch 3  quorum 2  VIP on n1")
        #expect(lines.contains { $0.hasPrefix("  10.0.0.2:6379") && $0.contains("up") && $0.contains("500 B") })
        #expect(lines.contains { $0.hasPrefix("  10.0.0.3:6379") && $0.contains("down") && $0.contains("1 KiB") && $0.hasSuffix("slave,s_down,disconnected") })
        #expect(lines.contains { $0.hasPrefix("  10.0.0.1:26379") && $0.contains("asked") && $0.contains("n1") && $0.contains("MASTER") })
        // No hello heard: the epochs are `?`.
        #expect(lines.contains("  monitor               state last ping epoch  cfg   node    role    redis   fenced vip     proxy"),
                "\(text)")
        #expect(lines.contains { $0.hasPrefix("  10.0.0.2:26379        ok    42 ms     ?      ?     -") }, "\(text)")
        #expect(lines.contains { $0.hasPrefix("  10.0.0.3:26379") && $0.contains("down") && $0.contains("9000 ms") })
        // A narrower terminal: still cut, never wrapped.
        #expect(StatusReport(monitor: "m", groups: [g]).table(width: 40).split(separator: "\n").allSatisfy { $0.count <= 40 })
        #expect(StatusReport(monitor: "m:1", groups: [], failovers: []).table()
                == "monitor m:1 watches no group\nfailovers: none since monitor m:1 started")
    }

    @Test("hellos: parsed as published, matched to monitors by run ID (the asked one by MYID), by address without one")
    func hellos() throws {
        let b = try #require(StatusReport.SentinelHello(payload: "10.0.0.2,26379,b,7,mymaster,10.0.0.1,6379,6"))
        #expect(b.address == "10.0.0.2:26379" && b.runID == "b" && b.currentEpoch == 7 && b.masterName == "mymaster")
        #expect(b.master == "10.0.0.1:6379" && b.masterConfigEpoch == 6)
        for bad in ["", "10.0.0.2,26379,b,7,mymaster,10.0.0.1,6379", "10.0.0.2,x,b,7,m,10.0.0.1,6379,6",
                    "10.0.0.2,26379,b,-,m,10.0.0.1,6379,6", "10.0.0.2,26379,,7,m,10.0.0.1,6379,6",
                    "10.0.0.2,26379,b,7,m,10.0.0.1,6379,6,extra"] {
            #expect(StatusReport.SentinelHello(payload: bad) == nil, "\(bad)")
        }
        var g = StatusReport.Group(master: Self.master, replicas: Self.replicas, sentinels: Self.sentinels,
                                   asked: "127.0.0.1:26379", askedRunID: "a", masterOffset: nil)
        let heard = [
            "10.0.0.1,26379,a,3,mymaster,10.0.0.1,6379,3",
            "10.0.0.2,26379,b,2,mymaster,10.0.0.9,6379,2",       // older, replaced by the next
            "10.0.0.2,26379,b,4,mymaster,10.0.0.1,6379,3",
            "10.0.0.3,26379,c,9,other,10.0.0.5,6379,9",          // another group's: not this one's
        ].compactMap { StatusReport.SentinelHello(payload: $0) }
        g.apply(hellos: heard)
        #expect(g.monitors.map(\.currentEpoch) == [3, 4, nil])
        #expect(g.monitors.map(\.configEpoch) == [3, 3, nil])
        #expect(g.monitors.map(\.helloMaster) == ["10.0.0.1:6379", "10.0.0.1:6379", nil])
        // Without MYID the asked monitor is found by its address.
        var byAddress = StatusReport.Group(master: Self.master, replicas: [], sentinels: [], asked: "10.0.0.1:26379", masterOffset: nil)
        byAddress.apply(hellos: heard)
        #expect(byAddress.monitors.first?.currentEpoch == 3)
        let text = StatusReport(monitor: "127.0.0.1:26379", groups: [g]).table()
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("  10.0.0.2:26379        ok    42 ms     4      3     -") }, "\(text)")
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
        var heard = g
        heard.apply(hellos: [StatusReport.SentinelHello(payload: "10.0.0.2,26379,b,4,mymaster,10.0.0.1,6379,3")].compactMap { $0 })
        let withEpochs = try JSONEncoder().encode(StatusReport(monitor: "10.0.0.1:26379", groups: [heard]))
        let root = try #require(try JSONSerialization.jsonObject(with: withEpochs) as? [String: Any])
        let monitors = try #require(((root["groups"] as? [[String: Any]])?.first?["monitors"]) as? [[String: Any]])
        #expect(Set(monitors[1].keys) == ["address", "runID", "flags", "lastOkPingMilliseconds", "currentEpoch", "configEpoch", "helloMaster"])
        #expect(monitors[1]["currentEpoch"] as? Int == 4 && monitors[1]["configEpoch"] as? Int == 3)
        #expect(monitors[0]["currentEpoch"] == nil, "not heard: absent")
    }
}
