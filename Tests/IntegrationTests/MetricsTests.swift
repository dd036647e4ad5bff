import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// `--http ADDR:PORT` and GET /metrics with real processes: three tandem sentinels and a tandem
/// proxy, each serving /metrics; the master is killed, and after the failover the scrapes show
/// it (names, TYPE lines, values).
@Suite("metrics: GET /metrics after a failover", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
struct MetricsTests {
    static func scrape(_ port: Int) async throws -> Exposition {
        let (status, body) = try await httpGet(port: port, path: "/metrics")
        #expect(status == 200)
        return Exposition(body)
    }

    @Test("three sentinels and a proxy with --http: failovers_total{outcome=success} 1 on the leader, the duration histogram, master switches on the proxy, process metrics")
    func failoverShowsInMetrics() async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            var sentinels: [SentinelProcess] = []
            var httpPorts: [Int] = []
            defer { sentinels.forEach { $0.stop() } }
            for _ in 0..<3 {
                let port = try freeLoopbackPort()
                httpPorts.append(port)
                sentinels.append(try await SentinelProcess(kind: .tandem, monitoring: master, arguments: ["--http", "127.0.0.1:\(port)"]))
            }
            try await waitUntil("the sentinels to discover each other and the replicas", timeout: .seconds(20)) {
                for s in sentinels {
                    let k = try await s.known()
                    if k.sentinels != 2 || k.replicas != 2 { return false }
                }
                return true
            }
            let proxyHTTP = try freeLoopbackPort()
            let proxy = try await ProxyProcess(sentinels.flatMap { ["--sentinel", "127.0.0.1:\($0.port)"] }
                + ["--master-name", "mymaster", "--http", "127.0.0.1:\(proxyHTTP)"])
            defer { proxy.stop() }
            let client = try await proxy.connect()
            for i in 0..<10 { #expect(try await client.send(["SET", "k\(i)", "v"]).string == "OK") }
            await client.close()

            // Before: the master is up, nothing failed over.
            let before = try await Self.scrape(httpPorts[0])
            #expect(before.types["tandem_sentinel_master_sdown"] == "gauge")
            #expect(before.value("tandem_sentinel_master_sdown", ["master": "mymaster"]) == 0)
            #expect(before.value("tandem_sentinel_master_odown", ["master": "mymaster"]) == 0)
            #expect(before.value("tandem_sentinel_replicas", ["master": "mymaster"]) == 2)
            #expect(before.value("tandem_sentinel_failovers_total", ["master": "mymaster", "outcome": "success"]) == 0)
            #expect(before.types["tandem_sentinel_master_info"] == "gauge")
            #expect(before.samples.filter { $0.name == "tandem_sentinel_master_info" }.map(\.labels)
                    == [["master": "mymaster", "address": "127.0.0.1:\(master.port)"]])
            #expect(before.value("tandem_sentinel_master_info", ["master": "mymaster", "address": "127.0.0.1:\(master.port)"]) == 1)
            let lags = before.samples.filter { $0.name == "tandem_sentinel_replica_lag_seconds" }
            #expect(Set(lags.compactMap { $0.labels["replica"] }) == Set(replicas.map { "127.0.0.1:\($0.port)" }))

            master.kill9()
            let replicaAddresses = Set(replicas.map { "127.0.0.1:\($0.port)" })
            try await waitUntil("every sentinel to name a promoted replica", timeout: .seconds(20)) {
                for s in sentinels {
                    guard let a = try await s.masterAddress(), replicaAddresses.contains(a) else { return false }
                }
                return true
            }
            try await waitUntil("the proxy to count the master switch", timeout: .seconds(15)) {
                (try await Self.scrape(proxyHTTP).value("tandem_proxy_master_switches_total") ?? 0) >= 1
            }

            // The sentinels: exactly one ran the failover and it succeeded. The leader names the
            // promoted replica as soon as it is promoted (as 7.0 does), so the peers and the proxy
            // can switch before the leader has reconfigured the other replica and counted the
            // failover's end: wait for that count (a crash-fast failover ends well within the
            // limit), then check that no other sentinel counted one.
            let ports = httpPorts
            try await waitUntil("a sentinel to count the failover's end", timeout: .seconds(20)) {
                for port in ports {
                    let e = try await Self.scrape(port)
                    if (e.value("tandem_sentinel_failovers_total", ["master": "mymaster", "outcome": "success"]) ?? 0) >= 1 { return true }
                }
                return false
            }
            var scrapes: [Exposition] = []
            for port in httpPorts { scrapes.append(try await Self.scrape(port)) }
            let successes = scrapes.map { $0.value("tandem_sentinel_failovers_total", ["master": "mymaster", "outcome": "success"]) ?? 0 }
            #expect(successes.reduce(0, +) == 1, "successes per sentinel: \(successes)")
            let leader = try #require(scrapes.first { $0.value("tandem_sentinel_failovers_total", ["master": "mymaster", "outcome": "success"]) == 1 })
            #expect(leader.types["tandem_sentinel_failovers_total"] == "counter")
            #expect(leader.value("tandem_sentinel_failovers_total", ["master": "mymaster", "outcome": "abort"]) == 0)
            #expect(leader.value("tandem_sentinel_failover_attempts_total", ["master": "mymaster"]) == 1)
            #expect(leader.types["tandem_sentinel_failover_duration_seconds"] == "histogram")
            #expect(leader.value("tandem_sentinel_failover_duration_seconds_count", ["master": "mymaster"]) == 1)
            let took = try #require(leader.value("tandem_sentinel_failover_duration_seconds_sum", ["master": "mymaster"]))
            #expect(took > 0 && took < 20, "failover took \(took) s")
            print("metrics: failover took \(took) s by the leader's histogram; successes per sentinel \(successes)")
            #expect(leader.value("tandem_sentinel_failover_duration_seconds_bucket", ["master": "mymaster", "le": "+Inf"]) == 1)
            for s in scrapes {
                #expect((s.value("tandem_sentinel_epoch") ?? 0) >= 1)
                #expect(s.types["tandem_sentinel_epoch"] == "gauge")
                #expect(s.value("tandem_sentinel_masters") == 1)
                #expect(s.value("tandem_sentinel_master_odown", ["master": "mymaster"]) == 0)
                #expect(s.value("tandem_sentinel_other_sentinels", ["master": "mymaster"]) == 2)
                #expect((s.value("tandem_sentinel_master_config_epoch", ["master": "mymaster"]) ?? 0) >= 1)
                #expect((s.value("tandem_process_resident_memory_bytes") ?? 0) > 0)
                #expect((s.value("tandem_process_cpu_seconds_total") ?? 0) > 0)
                #expect((s.value("tandem_process_open_fds") ?? 0) > 0)
                #expect(s.types["tandem_process_cpu_seconds_total"] == "counter")
                // The master's role moved: one series, the promoted replica's address (the old one gone).
                let info = s.samples.filter { $0.name == "tandem_sentinel_master_info" }
                #expect(info.count == 1 && info.first?.value == 1, "\(info.map(\.labels))")
                #expect(replicaAddresses.contains(info.first?.labels["address"] ?? ""), "\(info.map(\.labels))")
            }

            // The proxy.
            let p = try await Self.scrape(proxyHTTP)
            #expect(p.types["tandem_proxy_commands_total"] == "counter")
            #expect(p.types["tandem_proxy_connections"] == "gauge")
            #expect((p.value("tandem_proxy_commands_total") ?? 0) >= 10)
            #expect((p.value("tandem_proxy_connections_total") ?? 0) >= 1)
            #expect((p.value("tandem_proxy_bytes_received_total") ?? 0) > 0)
            #expect((p.value("tandem_proxy_bytes_sent_total") ?? 0) > 0)
            #expect((p.value("tandem_proxy_master_switches_total") ?? 0) >= 1)
            #expect(p.value("tandem_proxy_errors_total") != nil)
            #expect(p.value("tandem_proxy_held_commands_timed_out_total") == 0)
            #expect(p.value("tandem_proxy_unconfirmed_writes_total") == 0)
            #expect(p.types["tandem_proxy_held_commands"] == "gauge")
            #expect(p.value("tandem_proxy_held_commands") == 0)
            #expect((p.value("tandem_process_resident_memory_bytes") ?? 0) > 0)

            // The proxy's /status.json: what a proxy knows (no monitor, no failovers).
            let (status, body) = try await httpGet(port: proxyHTTP, path: "/status.json")
            #expect(status == 200)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            #expect(document["daemon"] as? String == "proxy")
            let proxyPart = try #require(document["proxy"] as? [String: Any])
            #expect(proxyPart["masterKnown"] as? Bool == true)
            #expect((proxyPart["masterSwitches"] as? Int ?? 0) >= 1)
            #expect((proxyPart["commands"] as? Int ?? 0) >= 10)
            #expect((document["groups"] as? [Any])?.isEmpty == true)
            #expect(try await httpGet(port: proxyHTTP, path: "/").status == 200)

            // Other paths: 404.
            #expect(try await httpGet(port: proxyHTTP, path: "/nope").status == 404)
            #expect(try await httpGet(port: httpPorts[0], path: "/status").status == 404)
        }
    }

    @Test("tandem_proxy_held_commands: the commands a client sent while the backend is down, 0 again once it is back and they are answered")
    func heldCommandsGauge() async throws {
        try await withRedisServers(1) { servers in
            let backend = servers[0]
            let http = try freeLoopbackPort()
            let proxy = try await ProxyProcess(["--backend", "127.0.0.1:\(backend.port)", "--check-interval-ms", "100",
                                                "--hold-ms", "20000", "--http", "127.0.0.1:\(http)"])
            defer { proxy.stop() }
            let client = try await proxy.connect(timeout: .seconds(30))
            #expect(try await client.send(["SET", "k", "v"]).string == "OK")
            #expect(try await Self.scrape(http).value("tandem_proxy_held_commands") == 0)
            backend.kill9()
            try await waitUntil("the proxy to lose its master", timeout: .seconds(10)) {
                try await Self.scrape(http).value("tandem_proxy_master_known") == 0
            }
            // Three commands pipelined on one connection, all held.
            let sent = (0..<3).map { i in Task { try await client.send(["SET", "held\(i)", "v"]) } }
            try await waitUntil("three held commands", timeout: .seconds(10)) {
                try await Self.scrape(http).value("tandem_proxy_held_commands") == 3
            }
            let e = try await Self.scrape(http)
            #expect(e.types["tandem_proxy_held_commands"] == "gauge")
            #expect(e.value("tandem_proxy_held_commands_timed_out_total") == 0)
            try await backend.restart()
            for task in sent { #expect(try await task.value.string == "OK") }
            #expect(try await Self.scrape(http).value("tandem_proxy_held_commands") == 0)
            await client.close()
        }
    }

    @Test("a node agent's /metrics: the tandem_node_* gauges with their types and values, beside its monitor's, proxy's and process families")
    func nodeAgentMetrics() async throws {
        try await withRedisServers(1) { servers in
            let redis = servers[0]
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-node-metrics-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let (monitorPort, proxyPort, http) = (try freeLoopbackPort(), try freeLoopbackPort(), try freeLoopbackPort())
            let yaml = dir.appendingPathComponent("n1.yaml")
            try """
                node: { name: n1, state-dir: \(dir.appendingPathComponent("state").path), http: { listen: 127.0.0.1:\(http) } }
                group:
                  name: mymaster
                  down-after: 1000ms
                  nodes:
                    - { name: n1, address: 127.0.0.1, redis-port: \(redis.port), monitor-port: \(monitorPort) }
                proxy: { listen: [127.0.0.1:\(proxyPort)] }
                monitor: { bind: 127.0.0.1 }

                """.write(to: yaml, atomically: true, encoding: .utf8)
            let log = dir.appendingPathComponent("node.log")
            let child = try ChildProcess(executable: try tandemExecutable(), arguments: ["run", yaml.path], logFile: log)
            defer { child.terminate() }
            let text = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
            try await waitUntil("the node to serve /metrics with its proxy up and the local Redis master (log: \(text()))", timeout: .seconds(30)) {
                guard child.isRunning else { throw HarnessError("tandem run exited: \(text())") }
                guard let e = try? await Self.scrape(http) else { return false }
                // The proxy counts as up once it listens; it knows the master once that answers ROLE.
                return e.value("tandem_node_proxy_up") == 1 && e.value("tandem_node_local_redis_master") == 1
                    && e.value("tandem_node_majority_contact") == 1 && e.value("tandem_proxy_master_known") == 1
            }
            let e = try await Self.scrape(http)
            // A one-node group with its Redis up: not fenced, a majority (itself), proxy and Redis up,
            // the Redis master. (vip_eligible is only checked to be 0 or 1: this node has no vip.)
            let node: [String: Double?] = ["tandem_node_fenced": 0, "tandem_node_majority_contact": 1, "tandem_node_vip_eligible": nil,
                                           "tandem_node_proxy_up": 1, "tandem_node_local_redis_up": 1, "tandem_node_local_redis_master": 1]
            for (name, expected) in node {
                #expect(e.types[name] == "gauge", "\(name)")
                let value = e.value(name)
                if let expected { #expect(value == expected, "\(name)") } else { #expect(value == 0 || value == 1, "\(name)") }
            }
            // Exactly these node families, no other.
            #expect(Set(e.types.keys.filter { $0.hasPrefix("tandem_node_") }) == Set(node.keys))
            // The monitor's, the proxy's and the process families are there too.
            #expect(e.value("tandem_sentinel_masters") == 1)
            #expect(e.value("tandem_sentinel_master_info", ["master": "mymaster", "address": "127.0.0.1:\(redis.port)"]) == 1)
            #expect(e.types["tandem_proxy_commands_total"] == "counter")
            #expect(e.value("tandem_proxy_master_known") == 1)
            #expect((e.value("tandem_process_resident_memory_bytes") ?? 0) > 0)
            // Every family's name follows the conventions: counters end in _total, no other does.
            for (name, type) in e.types where name.hasPrefix("tandem_") {
                #expect((type == "counter") == name.hasSuffix("_total"), "\(name) is a \(type)")
            }
        }
    }

    @Test("sentinel tandem-http in sentinel.conf alone serves /metrics; a rewrite keeps the line; --http wins over it")
    func sentinelHTTPFromTheFile() async throws {
        try await withRedisServers(1) { servers in
            let master = servers[0]
            let fromFile = try freeLoopbackPort()
            let sentinel = try await SentinelProcess(kind: .tandem, monitoring: master, quorum: 1,
                                                     extraLines: ["sentinel tandem-http 127.0.0.1:\(fromFile)"])
            defer { sentinel.stop() }
            try await waitUntil("/metrics on the file's address (log: \(sentinel.logTail()))", timeout: .seconds(10)) {
                (try? await httpGet(port: fromFile, path: "/metrics"))?.status == 200
            }
            let e = try await Self.scrape(fromFile)
            #expect(e.value("tandem_sentinel_masters") == 1)
            #expect(e.types["tandem_sentinel_master_sdown"] == "gauge")
            #expect((e.value("tandem_process_resident_memory_bytes") ?? 0) > 0)
            // A config save (SENTINEL FLUSHCONFIG rewrites the file) keeps the line.
            #expect(try await sentinel.command(["SENTINEL", "FLUSHCONFIG"]).string == "OK")
            let saved = try sentinel.configText()
            #expect(saved.split(separator: "\n").contains("sentinel tandem-http 127.0.0.1:\(fromFile)"), "\(saved)")

            // The same line with --http: only --http's address serves.
            let fileAddress = try freeLoopbackPort()
            let flag = try freeLoopbackPort()
            let overridden = try await SentinelProcess(kind: .tandem, monitoring: master, quorum: 1,
                                                       extraLines: ["sentinel tandem-http 127.0.0.1:\(fileAddress)"],
                                                       arguments: ["--http", "127.0.0.1:\(flag)"])
            defer { overridden.stop() }
            try await waitUntil("/metrics on --http's address (log: \(overridden.logTail()))", timeout: .seconds(10)) {
                (try? await httpGet(port: flag, path: "/metrics"))?.status == 200
            }
            #expect((try? await httpGet(port: fileAddress, path: "/metrics")) == nil, "the file's address serves too")
            #expect(overridden.logTail(lines: 100).contains("metrics on http://127.0.0.1:\(flag)/metrics"))
        }
    }

    @Test("sentinel tandem-http with a bad address: the sentinel does not start and names file:line")
    func sentinelHTTPBadAddress() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-http-conf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let conf = dir.appendingPathComponent("sentinel.conf").path
        try "port \(try freeLoopbackPort())\nsentinel tandem-http 127.0.0.1\n".write(toFile: conf, atomically: true, encoding: .utf8)
        let result = try runProgram(try tandemExecutable(), ["sentinel", conf])
        #expect(result.status == 1)
        #expect(result.output.contains("\(conf):2: 'sentinel tandem-http 127.0.0.1': tandem-http must be ADDR:PORT"), "output: \(result.output)")
    }

    @Test("--http on a port in use: the proxy does not start and says which address")
    func bindFailureIsAStartError() async throws {
        let port = try freeLoopbackPort()
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(holder, 1) == 0)
        let result = try runProgram(try tandemExecutable(), ["proxy", "--listen", "127.0.0.1:\(try freeLoopbackPort())",
                                                             "--backend", "127.0.0.1:1", "--http", "127.0.0.1:\(port)"])
        #expect(result.status == 1)
        #expect(result.output.contains("cannot listen for HTTP on 127.0.0.1:\(port)"), "output: \(result.output)")
    }
}
