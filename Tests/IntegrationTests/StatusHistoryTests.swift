import Foundation
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// `tandem status`'s failover history (INFO failovers of a tandem monitor) and a node agent's
/// proxy clients and throughput, with real processes.
@Suite("tandem status: failovers and proxy throughput", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
struct StatusHistoryTests {
    @Test("after a kill -9 failover: a tandem sentinel lists it with its steps (table and JSON); a redis-sentinel is said to keep none")
    func failoverHistory() async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            var sentinels: [SentinelProcess] = []
            defer { sentinels.forEach { $0.stop() } }
            sentinels.append(try await SentinelProcess(kind: .tandem, monitoring: master))
            sentinels.append(try await SentinelProcess(kind: .tandem, monitoring: master))
            sentinels.append(try await SentinelProcess(kind: .redis, monitoring: master))
            try await waitUntil("every sentinel to know its peers and the replicas", timeout: .seconds(30)) {
                for s in sentinels {
                    let k = try await s.known()
                    if k.sentinels != 2 || k.replicas != 2 { return false }
                }
                return true
            }
            // Before any failover.
            let before = try runProgram(try tandemExecutable(), ["status", "--monitor", "127.0.0.1:\(sentinels[0].port)"])
            #expect(before.output.contains("failovers: none since monitor 127.0.0.1:\(sentinels[0].port) started"), "\(before.output)")
            master.kill9()
            let replicaAddresses = Set(replicas.map { "127.0.0.1:\($0.port)" })
            try await waitUntil("every sentinel to name a promoted replica", timeout: .seconds(30)) {
                for s in sentinels {
                    guard let a = try await s.masterAddress(), replicaAddresses.contains(a) else { return false }
                }
                return true
            }
            let tandem = sentinels[0]
            let (status, output) = try runProgram(try tandemExecutable(), ["status", "--monitor", "127.0.0.1:\(tandem.port)"])
            #expect(status == 0, "\(output)")
            print("tandem status after the failover:\n\(output)")
            let lines = output.split(separator: "\n").map(String.init)
            #expect(lines.allSatisfy { $0.count <= 100 }, "\(output)")
            let heading = try #require(lines.firstIndex(of: "last failovers (as 127.0.0.1:\(tandem.port) saw them, newest last)"), "\(output)")
            // The failover of the killed master (on loopback a second one sometimes follows).
            let entry = try #require(lines[(heading + 1)...].first { line in
                replicaAddresses.contains { line.hasPrefix("  mymaster: 127.0.0.1:\(master.port) -> \($0)  switched  ") }
            }, "\(output)")
            let steps = try #require(lines.firstIndex(of: entry).map { lines[$0 + 1] })
            // A sentinel that did not lead may see the switch before its own ODOWN: a crash-fast
            // failover can end within ~50 ms, before its is-master-down-by-addr replies are in.
            // ODOWN in the same millisecond as SDOWN (a crash-fast detection whose peers' answers
            // were already in) is shown as `odown 0` (the CI simulation of stop 30 saw it).
            let ledHere = entry.contains("led here")
            #expect(steps.hasPrefix("    sdown 0") && steps.contains("switch +")
                    && (!ledHere || ((steps.contains("odown +") || steps.contains("odown 0")) && steps.contains("election +"))),
                    "\(entry)\n\(steps)")
            let (_, json) = try runProgram(try tandemExecutable(), ["status", "--json", "--monitor", "127.0.0.1:\(tandem.port)"])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(json)")
            let failover = try #require((object["failovers"] as? [[String: Any]])?.first { $0["from"] as? String == "127.0.0.1:\(master.port)" },
                                        "\(json)")
            #expect(failover["outcome"] as? String == "switched")
            #expect(replicaAddresses.contains(failover["to"] as? String ?? ""))
            let phases = (failover["steps"] as? [[String: Any]] ?? []).compactMap { $0["phase"] as? String }
            #expect(phases.first == "sdown" && (!ledHere || phases.contains("odown")) && phases.last == "switch", "\(phases)")
            let afters = (failover["steps"] as? [[String: Any]] ?? []).compactMap { $0["afterMilliseconds"] as? Int }
            #expect(afters == afters.sorted() && afters.first == 0, "\(afters)")

            // Every monitor's epochs, asked of a tandem sentinel and of the redis-sentinel, against
            // what each sentinel says of itself: the current epoch it saved (`sentinel current-epoch`,
            // written at once when it changes; no reply of a redis-sentinel carries it) and SENTINEL
            // MASTER's config-epoch. Retried: a second failover may follow on loopback.
            var lastEpochs = ""
            try await waitUntil("tandem status to show each monitor's own epochs", timeout: .seconds(30)) {
                var truth: [String: (current: Int, config: Int)] = [:]
                for s in sentinels {
                    let saved = try s.configText().split(separator: "\n").first { $0.hasPrefix("sentinel current-epoch ") }
                    guard let current = saved.flatMap({ Int($0.split(separator: " ").last ?? "") }) else { return false }
                    let fields = try await s.command(["SENTINEL", "MASTER", "mymaster"]).array ?? []
                    let pairs = stride(from: 0, to: fields.count - 1, by: 2).map { (fields[$0].string ?? "", fields[$0 + 1].string ?? "") }
                    guard let config = pairs.first(where: { $0.0 == "config-epoch" }).flatMap({ Int($0.1) }) else { return false }
                    truth["127.0.0.1:\(s.port)"] = (current, config)
                }
                for asked in [sentinels[0], sentinels[2]] {
                    let (status, json) = try runProgram(try tandemExecutable(), ["status", "--json", "--monitor", "127.0.0.1:\(asked.port)"])
                    lastEpochs = "truth \(truth)\n\(asked.kind) said:\n\(json)"
                    guard status == 0, let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
                          let monitors = ((object["groups"] as? [[String: Any]])?.first?["monitors"]) as? [[String: Any]],
                          monitors.count == 3 else { return false }
                    for m in monitors {
                        guard let address = m["address"] as? String, let t = truth[address],
                              m["currentEpoch"] as? Int == t.current, m["configEpoch"] as? Int == t.config else { return false }
                    }
                }
                return truth.values.allSatisfy { $0.current >= 1 && $0.config >= 1 }
            }
            print("epochs heard: \(lastEpochs)")
            // The table shows them in the monitor rows (`epoch`, `cfg`).
            let epochTable = try runProgram(try tandemExecutable(), ["status", "--monitor", "127.0.0.1:\(sentinels[2].port)"])
            print("tandem status of the redis-sentinel after the failover:\n\(epochTable.output)")
            let monitorRows = epochTable.output.split(separator: "\n").filter { row in sentinels.contains { row.hasPrefix("  127.0.0.1:\($0.port) ") } }
            #expect(monitorRows.count == 3, "\(epochTable.output)")
            for row in monitorRows {
                let cells = row.split(separator: " ")
                // address, state, then `N ms` (peers) or `-` (the one asked), then epoch and cfg.
                let epochs = cells[2] == "-" ? Array(cells[3...4]) : Array(cells[4...5])
                #expect(epochs.allSatisfy { (Int($0) ?? 0) >= 1 }, "\(row)")
            }

            // redis-sentinel keeps none, and the table says so; its JSON has no failovers key.
            let redis = try runProgram(try tandemExecutable(), ["status", "--monitor", "127.0.0.1:\(sentinels[2].port)"])
            #expect(redis.status == 0)
            #expect(redis.output.contains("failovers: 127.0.0.1:\(sentinels[2].port) keeps no failover history (redis-sentinel?)"), "\(redis.output)")
            let redisJSON = try runProgram(try tandemExecutable(), ["status", "--json", "--monitor", "127.0.0.1:\(sentinels[2].port)"])
            let redisObject = try #require(try JSONSerialization.jsonObject(with: Data(redisJSON.output.utf8)) as? [String: Any])
            #expect(redisObject["failovers"] == nil)
            // A plain tandem sentinel's INFO keeps 7.0's default sections; the history is asked by name.
            let info = try await tandem.command(["INFO"]).string ?? ""
            #expect(!info.contains("# Failovers"))
        }
    }

    @Test("three node agents with proxies on loopback: the asked node's proxy shows its clients, commands and commands per second")
    func nodeProxyThroughput() async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            let servers = [master] + replicas
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-status-proxy-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let monitorPorts = try servers.map { _ in try freeLoopbackPort() }
            let proxyPorts = try servers.map { _ in try freeLoopbackPort() }
            var nodes: [ChildProcess] = []
            defer { nodes.forEach { $0.terminate() } }
            for i in servers.indices {
                let yaml = directory.appendingPathComponent("n\(i + 1).yaml")
                let members = servers.indices.map {
                    "    - { name: n\($0 + 1), address: 127.0.0.1, redis-port: \(servers[$0].port), monitor-port: \(monitorPorts[$0]) }"
                }
                try ([
                    "node: { name: n\(i + 1), state-dir: \(directory.appendingPathComponent("state-n\(i + 1)").path) }",
                    "group:", "  name: mymaster", "  down-after: 1000ms", "  failover-timeout: 10s", "  nodes:",
                ] + members + ["proxy: { listen: [127.0.0.1:\(proxyPorts[i])] }", "monitor: { bind: 127.0.0.1 }", ""])
                    .joined(separator: "\n").write(to: yaml, atomically: true, encoding: .utf8)
                nodes.append(try ChildProcess(executable: try tandemExecutable(), arguments: ["run", yaml.path],
                                              logFile: directory.appendingPathComponent("n\(i + 1).log")))
            }
            try await waitUntil("n1's proxy to answer", timeout: .seconds(30)) {
                guard let c = try? await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: proxyPorts[0])) else { return false }
                defer { Task { await c.close() } }
                return (try? await c.send(["SET", "probe", "1"]))?.string == "OK"
            }
            // A client keeps writing through n1's proxy while status is asked.
            let client = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: proxyPorts[0]))
            let writer = Task {
                var n = 0
                while !Task.isCancelled {
                    _ = try? await client.send(["SET", "k\(n % 100)", "v"])
                    n += 1
                }
                return n
            }
            defer { writer.cancel() }
            var last = ""
            try await waitUntil("tandem status to show n1's proxy with a client and a nonzero rate", timeout: .seconds(20)) {
                let (_, output) = try runProgram(try tandemExecutable(), ["status", "--monitor", "127.0.0.1:\(monitorPorts[0])"])
                last = output
                guard let row = output.split(separator: "\n").first(where: { $0.hasPrefix("  n1 ") && !$0.contains("127.0.0.1") }) else { return false }
                let cells = row.split(separator: " ")
                return cells.count >= 4 && (Int(cells[1]) ?? 0) >= 1 && (Int(cells[2]) ?? 0) > 0 && cells[3] != "0"
            }
            print("tandem status of a node agent with its proxy:\n\(last)")
            #expect(last.split(separator: "\n").allSatisfy { $0.count <= 100 })
            #expect(last.contains("  proxy of  clients  commands     cmd/s      in/s        out/s"), "\(last)")
            let (_, json) = try runProgram(try tandemExecutable(), ["status", "--json", "--monitor", "127.0.0.1:\(monitorPorts[0])"])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let monitors = try #require(((object["groups"] as? [[String: Any]])?.first?["monitors"]) as? [[String: Any]])
            let node = try #require(monitors.first?["node"] as? [String: Any], "\(json)")
            #expect(node["name"] as? String == "n1")
            #expect((node["proxyClients"] as? Int ?? 0) >= 1)
            #expect((node["proxyCommands"] as? Int ?? 0) > 0)
            #expect(node["proxyCommandsPerSecond"] as? Double != nil || node["proxyCommandsPerSecond"] as? Int != nil)
            #expect(object["failovers"] as? [Any] != nil, "a node agent's monitor keeps the history")
            // Node agents' monitors publish hellos too: each one's epochs, heard (no failover yet: 0).
            #expect(monitors.count == 3 && monitors.allSatisfy { $0["currentEpoch"] as? Int == 0 && $0["configEpoch"] as? Int == 0 },
                    "\(json)")
            writer.cancel()
            let sent = await writer.value
            await client.close()
            #expect(sent > 0)
        }
    }
}
