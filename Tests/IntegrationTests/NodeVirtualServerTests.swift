import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// `tandem run` with a `virtual-servers` section: its keepalived file checked by `--check`
/// (errors with file:line), and served by the running agent (a one-node group, no VIP).
@Suite("tandem run: virtual-servers", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: RedisServer.shouldRunTests, "redis-server is not installed"))
struct NodeVirtualServerTests {
    /// A one-node group on loopback ports in `dir`; `extra` is appended to node.yaml.
    static func nodeYAML(dir: URL, redisPort: Int, monitorPort: Int, extra: String) -> String {
        """
        node: { name: n1, state-dir: \(dir.appendingPathComponent("state").path) }
        group:
          name: mymaster
          down-after: 1000ms
          nodes:
            - { name: n1, address: 127.0.0.1, redis-port: \(redisPort), monitor-port: \(monitorPort) }
        monitor: { bind: 127.0.0.1 }
        \(extra)
        """
    }

    @Test("tandem run --check reads virtual-servers.config: OK with its count; its errors name its own file:line, or node.yaml's line when it cannot be used")
    func check() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-node-lvs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = dir.appendingPathComponent("n1.yaml").path
        let lvs = dir.appendingPathComponent("lvs.conf").path
        try Self.nodeYAML(dir: dir, redisPort: 6379, monitorPort: 26379, extra: "virtual-servers:\n  config: lvs.conf\n")
            .write(toFile: yaml, atomically: true, encoding: .utf8)

        try "virtual_server 127.0.0.1 6390 {\n    lb_algo rr\n    lb_kind DR\n    real_server 127.0.0.1 6379 {\n        TCP_CHECK {}\n    }\n}\n"
            .write(toFile: lvs, atomically: true, encoding: .utf8)
        let ok = try runTandem(["run", "--check", yaml])
        #expect(ok.status == 0 && ok.output.contains("configuration OK") && ok.output.contains("1 virtual server(s) from lvs.conf"), "\(ok.output)")
        #expect(ok.output.contains("\(lvs):3: warning: 'lb_kind DR'"), "\(ok.output)")

        try "virtual_server 127.0.0.1 6390 {\n    lb_algo lblc\n}\n".write(toFile: lvs, atomically: true, encoding: .utf8)
        let bad = try runTandem(["run", "--check", yaml])
        #expect(bad.status == 1 && bad.output.contains("\(lvs):2:") && bad.output.contains("lblc"), "\(bad.output)")

        try "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress { 10.9.0.100/24 }\n}\nvirtual_server 127.0.0.1 6390 {\n}\n"
            .write(toFile: lvs, atomically: true, encoding: .utf8)
        let vrrp = try runTandem(["run", "--check", yaml])
        #expect(vrrp.status == 1 && vrrp.output.contains("\(yaml):9: 'virtual-servers.config': \(lvs):1: vrrp_instance VI_1"), "\(vrrp.output)")

        try FileManager.default.removeItem(atPath: lvs)
        let missing = try runTandem(["run", "--check", yaml])
        #expect(missing.status == 1 && missing.output.contains("\(yaml):9: 'virtual-servers.config': cannot read \(lvs): no such file"), "\(missing.output)")
    }

    @Test("tandem run serves the virtual server: clients reach the real Redis through it; SIGTERM stops it after the monitor's VIP step")
    func serves() async throws {
        try await withRedisServers(1) { servers in
            let redis = servers[0]
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-node-lvs-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let (monitorPort, lvsPort) = (try freeLoopbackPort(), try freeLoopbackPort())
            try """
                virtual_server 127.0.0.1 \(lvsPort) {
                    delay_loop 1
                    lb_algo rr
                    ha_suspend
                    real_server 127.0.0.1 \(redis.port) {
                        TCP_CHECK { connect_timeout 1 }
                    }
                }

                """.write(to: dir.appendingPathComponent("lvs.conf"), atomically: true, encoding: .utf8)
            let yaml = dir.appendingPathComponent("n1.yaml")
            try Self.nodeYAML(dir: dir, redisPort: redis.port, monitorPort: monitorPort, extra: "virtual-servers: { config: lvs.conf }\n")
                .write(to: yaml, atomically: true, encoding: .utf8)
            let log = dir.appendingPathComponent("node.log")
            let child = try ChildProcess(executable: try tandemExecutable(), arguments: ["run", yaml.path], logFile: log)
            defer { child.terminate() }
            let text = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
            try await waitUntil("the node to run with its virtual server (log: \(text()))", timeout: .seconds(30)) {
                guard child.isRunning else { throw HarnessError("tandem run exited: \(text())") }
                return text().contains("virtual servers from lvs.conf")
            }
            #expect(text().contains("VS 127.0.0.1:\(lvsPort): listening"), "\(text())")
            // Through the virtual server to the real Redis (its port, as the server says).
            let connection = try await RedisConnection.connect(RedisConnectionConfiguration(
                host: "127.0.0.1", port: lvsPort, connectTimeout: .seconds(2), commandTimeout: .seconds(2)))
            #expect(try await connection.send(["SET", "through", "lvs"]).string == "OK")
            #expect(try await connection.send(["GET", "through"]).string == "lvs")
            let port = try await connection.send(["CONFIG", "GET", "port"]).array?.last?.string
            #expect(port == String(redis.port))
            await connection.close()
            // ha_suspend with no vip section: no instance carries the address, the checks run.
            #expect(!text().contains("checkers suspended"), "\(text())")
            child.terminate()
            #expect(child.terminationStatus == 0, "\(text())")
            #expect(text().contains("stopping the virtual servers"), "\(text())")
        }
    }
}
