import Foundation
import RedisConnection
import RedisTestSupport
import Testing

@Suite("--log-format json", .timeLimit(.minutes(3)), .enabled(if: RedisServer.shouldRunTests, "redis-server is not installed"))
struct LogFormatTests {
    @Test("tandem sentinel --log-format json: every line is a JSON object; +monitor and +slave carry their fields")
    func sentinelEvents() async throws {
        try await withReplicationGroup(replicas: 1) { master, replicas in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-jsonlog-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let port = try freeLoopbackPort()
            let conf = dir.appendingPathComponent("sentinel.conf")
            try """
                port \(port)
                bind 127.0.0.1
                dir \(dir.path)
                sentinel monitor mymaster \(master.host) \(master.port) 1

                """.write(to: conf, atomically: true, encoding: .utf8)
            let log = dir.appendingPathComponent("sentinel.log")
            let child = try ChildProcess(executable: try tandemExecutable(), arguments: ["sentinel", conf.path, "--log-format", "json"], logFile: log)
            defer { child.terminate() }
            let lines = { ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
            try await waitUntil("the sentinel to log +slave (log: \(log.path))", timeout: .seconds(30)) {
                guard child.isRunning else { throw HarnessError("tandem sentinel exited: \(lines().joined(separator: "\n"))") }
                return lines().contains { $0.contains("\"event\":\"+slave\"") }
            }
            var objects: [[String: Any]] = []
            for line in lines() {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "not a JSON object: \(line)")
                if let object { objects.append(object) }
            }
            for object in objects {
                for key in ["time", "level", "label", "message"] { #expect(object[key] is String, "\(key) in \(object)") }
                #expect(object["label"] as? String == "tandem.sentinel")
            }
            #expect(objects.contains { ($0["message"] as? String)?.hasPrefix("Sentinel ID is ") == true })

            let monitor = try #require(objects.first { $0["event"] as? String == "+monitor" }, "\(objects)")
            #expect(monitor["payload"] as? String == "master mymaster \(master.host) \(master.port) quorum 1")
            #expect(monitor["message"] as? String == "+monitor master mymaster \(master.host) \(master.port) quorum 1")
            #expect(monitor["instance_type"] as? String == "master")
            #expect(monitor["name"] as? String == "mymaster")
            #expect(monitor["ip"] as? String == master.host)
            #expect(monitor["port"] as? Int == master.port)
            #expect(monitor["detail"] as? String == "quorum 1")

            let replica = replicas[0]
            let slave = try #require(objects.first { $0["event"] as? String == "+slave" })
            #expect(slave["level"] as? String == "notice")
            #expect(slave["instance_type"] as? String == "slave")
            #expect(slave["name"] as? String == "\(replica.host):\(replica.port)")
            #expect(slave["port"] as? Int == replica.port)
            #expect(slave["master_name"] as? String == "mymaster")
            #expect(slave["master_ip"] as? String == master.host)
            #expect(slave["master_port"] as? Int == master.port)
            #expect(slave["detail"] == nil)
        }
    }

    @Test("tandem proxy --log-format json: its lines are JSON objects")
    func proxyLines() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-jsonlog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await withRedisServers(1) { servers in
            let port = try freeLoopbackPort()
            let log = dir.appendingPathComponent("proxy.log")
            let child = try ChildProcess(executable: try tandemExecutable(),
                                         arguments: ["proxy", "--listen", "127.0.0.1:\(port)", "--backend", "127.0.0.1:\(servers[0].port)",
                                                     "--log-format", "json", "--log-level", "info"],
                                         logFile: log)
            defer { child.terminate() }
            let lines = { ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
            try await waitUntil("the proxy to log a line (log: \(log.path))", timeout: .seconds(20)) {
                guard child.isRunning else { throw HarnessError("tandem proxy exited: \(lines().joined(separator: "\n"))") }
                return !lines().isEmpty
            }
            for line in lines() {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["label"] as? String == "tandem.proxy", "\(line)")
                #expect(object?["message"] is String, "\(line)")
            }
        }
    }

    /// Every line of `log` as a JSON object (a line that is not one is an issue).
    private static func objects(_ log: URL) -> [[String: Any]] {
        let lines = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        var objects: [[String: Any]] = []
        for line in lines {
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)")
            if let object { objects.append(object) }
        }
        return objects
    }

    @Test("tandem run --log-format json: a one-node group's lines, its monitor's Sentinel events with their fields, the stop on SIGTERM")
    func nodeLines() async throws {
        try await withRedisServers(1) { servers in
            let redis = servers[0]
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-jsonlog-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let monitorPort = try freeLoopbackPort()
            let yaml = dir.appendingPathComponent("n1.yaml")
            try """
                node: { name: n1, state-dir: \(dir.appendingPathComponent("state").path) }
                group:
                  name: mymaster
                  down-after: 1000ms
                  nodes:
                    - { name: n1, address: 127.0.0.1, redis-port: \(redis.port), monitor-port: \(monitorPort) }
                monitor: { bind: 127.0.0.1 }

                """.write(to: yaml, atomically: true, encoding: .utf8)
            let log = dir.appendingPathComponent("node.log")
            let child = try ChildProcess(executable: try tandemExecutable(), arguments: ["run", yaml.path, "--log-format", "json"], logFile: log)
            defer { child.kill9() }
            let text = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
            try await waitUntil("the agent to log its monitor's +monitor and that it runs (log: \(log.path))", timeout: .seconds(30)) {
                guard child.isRunning else { throw HarnessError("tandem run exited: \(text())") }
                return text().contains("\"event\":\"+monitor\"") && text().contains("of group mymaster running")
            }
            child.terminate(grace: .seconds(10))
            #expect(child.terminationStatus == 0, "\(text())")
            let objects = Self.objects(log)
            for object in objects {
                for key in ["time", "level", "label", "message"] { #expect(object[key] is String, "\(key) in \(object)") }
                #expect((object["label"] as? String)?.hasPrefix("tandem.") == true, "\(object)")
            }
            #expect(objects.contains { $0["label"] as? String == "tandem.node" })
            let monitor = try #require(objects.first { $0["event"] as? String == "+monitor" }, "\(objects)")
            #expect(monitor["instance_type"] as? String == "master")
            #expect(monitor["name"] as? String == "mymaster")
            #expect(monitor["port"] as? Int == redis.port)
            #expect(objects.contains { ($0["message"] as? String)?.contains("node n1 (data) of group mymaster running") == true }, "\(objects)")
            #expect(objects.contains { $0["message"] as? String == "node n1: stopped" }, "\(objects.suffix(5))")
        }
    }

    @Test("tandem vrrp --log-format json: warnings at level warning, a virtual server's lines, a checker's down, the stop")
    func vrrpLines() async throws {
        try await withRedisServers(1) { servers in
            let redis = servers[0]
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-jsonlog-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let port = try freeLoopbackPort()
            // Only a virtual server on loopback: no VRRP instance, so no raw socket and no namespace.
            let conf = dir.appendingPathComponent("keepalived.conf")
            try """
                global_defs {
                  router_id JSON_LAB
                  frobnicate 1
                }
                virtual_server 127.0.0.1 \(port) {
                  delay_loop 0.5
                  lb_algo rr
                  real_server 127.0.0.1 \(redis.port) {
                    TCP_CHECK {
                      connect_timeout 1
                      nb_get_retry 0
                    }
                  }
                }

                """.write(to: conf, atomically: true, encoding: .utf8)
            let log = dir.appendingPathComponent("vrrp.log")
            let child = try ChildProcess(executable: try tandemExecutable(), arguments: ["vrrp", conf.path, "--log-format", "json"], logFile: log)
            defer { child.kill9() }
            let text = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
            try await waitUntil("tandem vrrp to listen (log: \(log.path))", timeout: .seconds(20)) {
                guard child.isRunning else { throw HarnessError("tandem vrrp exited: \(text())") }
                return text().contains("listening")
            }
            redis.kill9()
            try await waitUntil("the checker to take the real server down (log: \(text()))", timeout: .seconds(10)) {
                text().contains("real server 127.0.0.1:\(redis.port) down")
            }
            child.terminate(grace: .seconds(10))
            #expect(child.terminationStatus == 0, "\(text())")
            let objects = Self.objects(log)
            for object in objects {
                for key in ["time", "level", "label", "message"] { #expect(object[key] is String, "\(key) in \(object)") }
                #expect(object["label"] as? String == "tandem.vrrp", "\(object)")
                #expect((object["message"] as? String)?.hasPrefix("tandem vrrp: ") == false, "the prefix is the label's: \(object)")
            }
            let warning = try #require(objects.first { ($0["message"] as? String)?.contains("frobnicate") == true }, "\(objects)")
            #expect(warning["level"] as? String == "warning")
            #expect((warning["message"] as? String)?.hasPrefix("\(conf.path):3: warning: unknown global_defs keyword") == true, "\(warning)")
            #expect(objects.contains { ($0["message"] as? String)?.contains("listening") == true && $0["level"] as? String == "notice" })
            #expect(objects.contains { ($0["message"] as? String)?.contains("real server 127.0.0.1:\(redis.port) down") == true })
        }
    }
}
