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
}
