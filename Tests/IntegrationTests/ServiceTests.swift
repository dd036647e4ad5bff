import Foundation
import RedisConnection
import RedisTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let unitsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../dist/systemd").standardizedFileURL
private let units = ["tandem-sentinel@.service", "tandem-proxy@.service", "tandem-vrrp@.service", "tandem@.service"]

/// A unix datagram socket at `path`, as systemd's notify socket (receive timeout 1 s).
private func notifySocket(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0 else { throw HarnessError("bind \(path): \(String(cString: strerror(errno)))") }
    var timeout = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

/// The next datagram on `fd` (nil after the receive timeout).
private func receiveDatagram(_ fd: Int32) -> String? {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = recv(fd, &buffer, buffer.count, 0)
    return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
}

@Suite("Running as a systemd service", .timeLimit(.minutes(3)))
struct ServiceTests {
    @Test("the units pass systemd-analyze verify",
          .enabled(if: findExecutable("systemd-analyze") != nil, "systemd-analyze is not installed"))
    func verifyUnits() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // verify checks that ExecStart's program exists: point the units at the built one.
        let tandem = try tandemExecutable()
        for unit in units {
            let text = try String(contentsOf: unitsDirectory.appendingPathComponent(unit), encoding: .utf8)
            try text.replacingOccurrences(of: "/usr/local/bin/tandem", with: tandem)
                .write(to: dir.appendingPathComponent(unit), atomically: true, encoding: .utf8)
        }
        let instances = units.map { dir.appendingPathComponent($0.replacingOccurrences(of: "@.", with: "@test.")).path }
        let result = try runProgram(try #require(findExecutable("systemd-analyze")), ["verify"] + instances)
        // Unknown or malformed settings are only warnings (exit 0): require no output at all.
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.isEmpty, "\(result.output)")
    }

    @Test("the units: notify readiness, check-config first, capabilities only where VRRP runs")
    func unitContents() throws {
        for unit in units {
            let text = try String(contentsOf: unitsDirectory.appendingPathComponent(unit), encoding: .utf8)
            let lines = Set(text.split(separator: "\n").map(String.init))
            #expect(lines.contains("Type=notify"), "\(unit)")
            #expect(lines.contains("Restart=on-failure"), "\(unit)")
            for setting in ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes"] {
                #expect(lines.contains(setting), "\(unit): \(setting)")
            }
            // Only tandem vrrp reloads (its virtual servers) on SIGHUP.
            #expect(lines.contains { $0.hasPrefix("ExecReload=") } == (unit == "tandem-vrrp@.service"), "\(unit): ExecReload")
            if unit == "tandem-vrrp@.service" { #expect(lines.contains("ExecReload=/bin/kill -HUP $MAINPID")) }
            let vip = unit == "tandem-vrrp@.service" || unit == "tandem@.service"
            #expect(lines.contains(vip ? "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN" : "CapabilityBoundingSet="), "\(unit)")
            #expect(lines.contains(vip ? "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN" : "AmbientCapabilities="), "\(unit)")
            let families = try #require(lines.first { $0.hasPrefix("RestrictAddressFamilies=") })
            #expect(families.contains("AF_NETLINK") == vip && families.contains("AF_PACKET") == vip, "\(unit): \(families)")
            if unit != "tandem-proxy@.service" {
                #expect(lines.contains { $0.hasPrefix("ExecStartPre=/usr/local/bin/tandem check-config --kind ") }, "\(unit)")
            }
        }
    }

    @Test("tandem proxy sends READY=1 once it listens, ignores SIGHUP, exits 0 on SIGTERM")
    func proxyReadiness() async throws {
        try await expectReadiness(name: "proxy") { dir, port in
            ["proxy", "--listen", "127.0.0.1:\(port)", "--backend", "127.0.0.1:\(try freeLoopbackPort())"]
        }
    }

    @Test("tandem sentinel sends READY=1 once it listens, ignores SIGHUP, exits 0 on SIGTERM")
    func sentinelReadiness() async throws {
        try await expectReadiness(name: "sentinel") { dir, port in
            let conf = dir.appendingPathComponent("sentinel.conf")
            try "port \(port)\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 \(try freeLoopbackPort()) 1\n"
                .write(to: conf, atomically: true, encoding: .utf8)
            return ["sentinel", conf.path]
        }
    }

    @Test("tandem run (a witness node) sends READY=1 once its monitor listens, ignores SIGHUP, exits 0 on SIGTERM")
    func nodeReadiness() async throws {
        try await expectReadiness(name: "run") { dir, port in
            // The group's first master already chosen (the saved sentinel.conf): the agent starts
            // its monitor without waiting for the other nodes, which need not exist.
            let state = dir.appendingPathComponent("state")
            try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
            try "dir \"\(state.path)\"\nsentinel monitor mymaster 127.0.0.1 \(try freeLoopbackPort()) 2\n"
                .write(to: state.appendingPathComponent("sentinel.conf"), atomically: true, encoding: .utf8)
            let yaml = dir.appendingPathComponent("w1.yaml")
            try """
                node:
                  name: w1
                  role: witness
                  state-dir: \(state.path)
                group:
                  name: mymaster
                  down-after: 1s
                  nodes:
                    - { name: n1, address: 127.0.0.1, monitor-port: \(try freeLoopbackPort()) }
                    - { name: n2, address: 127.0.0.1, monitor-port: \(try freeLoopbackPort()) }
                    - { name: w1, address: 127.0.0.1, role: witness, monitor-port: \(port) }
                monitor:
                  bind: 127.0.0.1

                """.write(to: yaml, atomically: true, encoding: .utf8)
            return ["run", yaml.path]
        }
    }

    /// Starts `tandem` with `NOTIFY_SOCKET` set to a socket in a temporary directory and
    /// requires READY=1, then a port that answers, still after SIGHUP, then exit status 0 after SIGTERM.
    private func expectReadiness(name: String, arguments: (URL, Int) throws -> [String]) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-ready-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let socketPath = dir.appendingPathComponent("notify").path
        let fd = try notifySocket(socketPath)
        defer { close(fd) }
        let port = try freeLoopbackPort()
        let log = dir.appendingPathComponent("\(name).log")
        let child = try ChildProcess(executable: try tandemExecutable(), arguments: try arguments(dir, port), logFile: log,
                                     environment: ["NOTIFY_SOCKET": socketPath])
        defer { child.kill9() }
        var message: String?
        let deadline = ContinuousClock.now + .seconds(20)
        while message == nil && ContinuousClock.now < deadline && child.isRunning { message = receiveDatagram(fd) }
        let output = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        let ready = try #require(message, "no notification from tandem \(name): \(output())")
        #expect(ready.split(separator: "\n").contains("READY=1"), "\(ready)")
        #expect(ready.contains("MAINPID=\(child.pid)"), "\(ready)")
        // Ready means listening: the port answers at once.
        let connection = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: port))
        await connection.close()
        // SIGHUP is ignored (nothing reloads): still answering afterwards.
        child.signal(SIGHUP)
        try await Task.sleep(for: .milliseconds(200))  // an absence: give a fatal signal time to act
        #expect(child.isRunning, "tandem \(name) died of SIGHUP: \(output())")
        let again = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: port))
        await again.close()
        child.terminate(grace: .seconds(10))
        #expect(child.terminationStatus == 0, "tandem \(name) after SIGTERM: \(output())")
    }
}
