import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// `tandem vrrp` with only virtual_server blocks (no VRRP instance: no root needed), on a free
/// loopback port, its config and scripts in a temporary directory; stopped by PID at the end.
private final class VirtualServerProcess: @unchecked Sendable {
    let directory: URL
    let port: Int
    private var child: ChildProcess?
    var logFile: URL { directory.appendingPathComponent("tandem.log") }
    var notifyLog: URL { directory.appendingPathComponent("notify.log") }

    /// `body` is the virtual_server block's inside; `PORT` and `DIR` in it are replaced.
    /// `wholeFile`: the whole keepalived.conf instead (`PORT` and `DIR` in it replaced).
    init(_ body: String, scripts: [String: String] = [:], global: String = "", wholeFile: String? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-lvs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        for (name, text) in scripts {
            let path = directory.appendingPathComponent(name).path
            try text.replacingOccurrences(of: "DIR", with: directory.path).write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
        let conf = directory.appendingPathComponent("keepalived.conf").path
        let text = wholeFile?.replacingOccurrences(of: "PORT", with: String(port))
            ?? "\(global.isEmpty ? "" : global + "\n")virtual_server 127.0.0.1 \(port) {\n\(body)\n}\n"
        try text.replacingOccurrences(of: "DIR", with: directory.path).write(toFile: conf, atomically: true, encoding: .utf8)
        child = try ChildProcess(executable: try tandemExecutable(), arguments: ["vrrp", conf], logFile: logFile)
    }

    func waitListening() async throws {
        try await waitUntil("tandem vrrp to listen on \(port) (log: \(logTail()))") {
            guard child?.isRunning == true else { throw HarnessError("tandem vrrp exited: \(logTail())") }
            return log.contains("listening")
        }
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Replaces the whole keepalived.conf (`DIR` replaced) and sends SIGHUP; waits for the
    /// reload's outcome line after it and returns it.
    func reload(_ text: String) async throws -> String {
        let conf = directory.appendingPathComponent("keepalived.conf").path
        try text.replacingOccurrences(of: "DIR", with: directory.path).write(toFile: conf, atomically: true, encoding: .utf8)
        let before = log.split(separator: "\n").count
        guard let pid = child?.pid else { throw HarnessError("tandem vrrp is not running") }
        kill(pid, SIGHUP)
        var outcome = ""
        try await waitUntil("the reload's outcome (log: \(logTail()))") {
            let lines = log.split(separator: "\n").dropFirst(before)
            guard let line = lines.first(where: { $0.contains("reload: virtual servers:") || $0.contains("reload failed:") }) else { return false }
            outcome = String(line)
            return true
        }
        return outcome
    }
    var notifications: [String] {
        ((try? String(contentsOf: notifyLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
    func logTail(lines: Int = 30) -> String { log.split(separator: "\n").suffix(lines).joined(separator: "\n") }

    /// A new client connection through the virtual server.
    func connect() async throws -> RedisConnection {
        try await RedisConnection.connect(RedisConnectionConfiguration(
            host: "127.0.0.1", port: port, connectTimeout: .seconds(2), commandTimeout: .seconds(2)))
    }

    /// SIGTERM; the exit status.
    func stop() -> Int32? {
        child?.terminate()
        let status = child?.terminationStatus
        child = nil
        if ProcessInfo.processInfo.environment["TANDEM_KEEP_LOGS"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
        return status
    }

    deinit { child?.kill9() }
}

/// The port of the Redis a connection reached.
private func servedPort(_ connection: RedisConnection) async throws -> Int {
    let reply = try await connection.send(["CONFIG", "GET", "port"])
    guard let text = reply.array?.last?.string, let port = Int(text) else { throw HarnessError("CONFIG GET port: \(reply)") }
    return port
}

/// The ports `count` new connections reach, one connection each.
private func servedPorts(_ lvs: VirtualServerProcess, count: Int) async throws -> [Int] {
    var ports: [Int] = []
    for _ in 0..<count {
        let connection = try await lvs.connect()
        ports.append(try await servedPort(connection))
        await connection.close()
    }
    return ports
}

private let notifyScript = "#!/bin/sh\necho \"$@\" >> DIR/notify.log\n"

@Suite("tandem vrrp serving virtual_server with real redis-servers", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: RedisServer.shouldRunTests, "redis-server is not installed"))
struct VirtualServerTests {
    @Test("TCP_CHECK: rr over two servers; one killed leaves within delay_loop + retries; both killed: the sorry server answers")
    func tcpCheckFailoverAndSorryServer() async throws {
        try await withRedisServers(3) { servers in
            let (a, b, sorry) = (servers[0], servers[1], servers[2])
            func real(_ server: RedisServer, _ name: String) -> String {
                """
                  real_server 127.0.0.1 \(server.port) {
                    weight 1
                    notify_up "DIR/notify.sh up \(name)"
                    notify_down "DIR/notify.sh down \(name)"
                    TCP_CHECK {
                      connect_timeout 1
                      nb_get_retry 1
                      delay_before_retry 0.5
                      warmup 0
                    }
                  }
                """
            }
            let lvs = try VirtualServerProcess("""
                  delay_loop 1
                  lb_algo rr
                  lb_kind NAT
                  protocol TCP
                  sorry_server 127.0.0.1 \(sorry.port)
                  quorum_down "DIR/notify.sh quorum_down"
                \(real(a, "A"))
                \(real(b, "B"))
                """, scripts: ["notify.sh": notifyScript])
            defer { _ = lvs.stop() }
            try await lvs.waitListening()
            #expect(lvs.log.contains("'lb_kind NAT': tandem serves virtual servers in user space as a TCP proxy"))

            // Round robin: every other connection on each server; data goes through both ways.
            let ports = try await servedPorts(lvs, count: 4)
            #expect(Set(ports) == [a.port, b.port], "\(ports)")
            #expect(ports[0] != ports[1] && ports[0] == ports[2] && ports[1] == ports[3], "\(ports)")
            let big = String(repeating: "x", count: 3 << 20)
            let connection = try await lvs.connect()
            #expect(try await connection.send(["SET", "big", big]).string == "OK")
            #expect(try await connection.send(["GET", "big"]).string?.count == big.count)
            await connection.close()

            // Kill A: down after the failed check and its one retry (delay_loop 1 + 0.5 s).
            a.kill9()
            let killed = ContinuousClock.now
            try await waitUntil("A out of the pool (log: \(lvs.logTail()))", timeout: .seconds(8)) {
                lvs.log.contains("real server 127.0.0.1:\(a.port) down")
            }
            let removedAfter = ContinuousClock.now - killed
            #expect(removedAfter < .seconds(4), "removed \(removedAfter) after the kill; delay_loop 1 + retry 1 × 0.5 s + connect_timeout 1")
            #expect(try await servedPorts(lvs, count: 6) == Array(repeating: b.port, count: 6))
            try await waitUntil("notify_down A") { lvs.notifications.contains("down A") }

            // Kill B too: quorum lost, the sorry server takes every new connection.
            b.kill9()
            try await waitUntil("quorum lost (log: \(lvs.logTail()))", timeout: .seconds(8)) { lvs.log.contains("lost quorum") }
            #expect(try await servedPorts(lvs, count: 3) == Array(repeating: sorry.port, count: 3))
            try await waitUntil("notify_down B and quorum_down") {
                lvs.notifications.contains("down B") && lvs.notifications.contains("quorum_down")
            }

            // A back: up on its first successful check, the sorry server out of use.
            try await a.restart()
            try await waitUntil("A back (log: \(lvs.logTail()))", timeout: .seconds(8)) { lvs.log.contains("gained quorum") }
            #expect(try await servedPorts(lvs, count: 3) == Array(repeating: a.port, count: 3))
            try await waitUntil("notify_up A") { lvs.notifications.contains("up A") }
            #expect(lvs.stop() == 0)
        }
    }

    @Test("SIGHUP: weight 0 drains, a new real server takes connections, a removed one keeps its open connection, a bad file keeps the running one, a new virtual server listens")
    func reloadOnSIGHUP() async throws {
        try await withRedisServers(3) { servers in
            let (a, b, c) = (servers[0], servers[1], servers[2])
            func real(_ server: RedisServer, weight: Int = 1) -> String {
                """
                  real_server 127.0.0.1 \(server.port) {
                    weight \(weight)
                    TCP_CHECK {
                      connect_timeout 1
                      warmup 0
                    }
                  }
                """
            }
            let lvs = try VirtualServerProcess("  delay_loop 1\n  lb_algo rr\n\(real(a))\n\(real(b))\n")
            let lvsPort = lvs.port
            func conf(_ reals: String, extra: String = "") -> String {
                "virtual_server 127.0.0.1 \(lvsPort) {\n  delay_loop 1\n  lb_algo rr\n\(reals)\n}\n\(extra)"
            }
            defer { _ = lvs.stop() }
            try await lvs.waitListening()
            #expect(Set(try await servedPorts(lvs, count: 2)) == [a.port, b.port])
            // One connection that stays open on B.
            var kept: RedisConnection?
            var others: [RedisConnection] = []
            for _ in 0..<4 where kept == nil {
                let connection = try await lvs.connect()
                if try await servedPort(connection) == b.port { kept = connection } else { others.append(connection) }
            }
            let onB = try #require(kept)

            // B drained to weight 0, C added: new connections go to A and C; B's open one works.
            var outcome = try await lvs.reload(conf(real(a) + "\n" + real(b, weight: 0) + "\n" + real(c)))
            #expect(outcome.contains("0 unchanged, 1 changed, 0 added, 0 removed"), "\(outcome)")
            #expect(lvs.log.contains("real server 127.0.0.1:\(c.port) added by reload"))
            #expect(lvs.log.contains("real server 127.0.0.1:\(b.port) weight 0"))
            let drained = try await servedPorts(lvs, count: 6)
            #expect(Set(drained) == [a.port, c.port], "\(drained)")
            #expect(try await onB.send(["SET", "drained", "1"]).string == "OK")

            // B removed: its open connection stays until it ends.
            outcome = try await lvs.reload(conf(real(a) + "\n" + real(c)))
            #expect(outcome.contains("1 changed"), "\(outcome)")
            #expect(lvs.log.contains("real server 127.0.0.1:\(b.port) removed by reload; its 1 open connection(s) stay until they end"), "\(lvs.logTail())")
            #expect(try await onB.send(["GET", "drained"]).string == "1")
            #expect(Set(try await servedPorts(lvs, count: 4)) == [a.port, c.port])

            // A file that does not load: reported with its line, the running configuration stays.
            outcome = try await lvs.reload(conf(real(a) + "\n" + real(c)).replacingOccurrences(of: "lb_algo rr", with: "lb_algo nosuch"))
            #expect(outcome.contains("keepalived.conf:3: 'lb_algo': 'nosuch' is not a scheduler"), "\(outcome)")
            #expect(outcome.contains("the running configuration stays"), "\(outcome)")
            #expect(Set(try await servedPorts(lvs, count: 4)) == [a.port, c.port])

            // Unchanged text with a second virtual server after it: the first untouched, the second listens.
            let second = try freeLoopbackPort()
            outcome = try await lvs.reload(conf(real(a) + "\n" + real(c), extra: "virtual_server 127.0.0.1 \(second) {\n  delay_loop 1\n\(real(b))\n}\n"))
            #expect(outcome.contains("1 unchanged, 0 changed, 1 added, 0 removed"), "\(outcome)")
            let connection = try await RedisConnection.connect(RedisConnectionConfiguration(
                host: "127.0.0.1", port: second, connectTimeout: .seconds(2), commandTimeout: .seconds(2)))
            #expect(try await servedPort(connection) == b.port)
            await connection.close()

            // The first removed: it stops listening; the second serves on.
            outcome = try await lvs.reload("virtual_server 127.0.0.1 \(second) {\n  delay_loop 1\n\(real(b))\n}\n")
            #expect(outcome.contains("1 unchanged, 0 changed, 0 added, 1 removed"), "\(outcome)")
            await #expect(throws: (any Error).self) { _ = try await lvs.connect() }
            await onB.close()
            for connection in others { await connection.close() }
            #expect(lvs.stop() == 0)
        }
    }

    @Test("global_defs tandem_http alone: tandem vrrp serves /metrics and /status.json there; keepalived's file needs no --http")
    func httpFromGlobalDefs() async throws {
        try await withRedisServers(1) { servers in
            let http = try freeLoopbackPort()
            let lvs = try VirtualServerProcess("""
                  delay_loop 1
                  lb_algo rr
                  real_server 127.0.0.1 \(servers[0].port) {
                    TCP_CHECK {
                      connect_timeout 1
                    }
                  }
                """, global: """
                global_defs {
                  router_id LVS_LAB
                  tandem_http 127.0.0.1:\(http)
                }
                """)
            defer { _ = lvs.stop() }
            try await lvs.waitListening()
            try await waitUntil("/metrics on tandem_http's address (log: \(lvs.logTail()))", timeout: .seconds(10)) {
                (try? await httpGet(port: http, path: "/metrics"))?.status == 200
            }
            let (status, body) = try await httpGet(port: http, path: "/metrics")
            #expect(status == 200)
            let e = Exposition(body)
            #expect((e.value("tandem_process_resident_memory_bytes") ?? 0) > 0)
            #expect(e.types["tandem_process_cpu_seconds_total"] == "counter")
            let page = try await httpGet(port: http, path: "/status.json")
            #expect(page.status == 200)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(page.body.utf8)) as? [String: Any])
            #expect(document["daemon"] as? String == "vrrp")
            #expect(lvs.log.contains("metrics on http://127.0.0.1:\(http)/metrics"), "\(lvs.logTail())")
            #expect(!lvs.log.contains("tandem_http"), "a warning about tandem_http: \(lvs.logTail())")
            #expect(lvs.stop() == 0)
        }
    }

    @Test("SIGHUP re-reads tandem_http: started, moved (the old port closes), kept when unchanged, moved on its own port, stopped; a port in use keeps the listener")
    func httpReload() async throws {
        try await withRedisServers(1) { servers in
            let body = """
                  delay_loop 1
                  real_server 127.0.0.1 \(servers[0].port) {
                    TCP_CHECK {
                      connect_timeout 1
                    }
                  }
                """
            let lvs = try VirtualServerProcess(body)
            defer { _ = lvs.stop() }
            try await lvs.waitListening()
            let file = { (http: Int?, host: String) in
                (http.map { "global_defs {\n  tandem_http \(host):\($0)\n}\n" } ?? "") + "virtual_server 127.0.0.1 \(lvs.port) {\n\(body)\n}\n"
            }
            let serves = { (port: Int) async in (try? await httpGet(port: port, path: "/metrics", timeout: .seconds(2)))?.status == 200 }
            let (a, b) = (try freeLoopbackPort(), try freeLoopbackPort())
            #expect(await !serves(a))

            _ = try await lvs.reload(file(a, "127.0.0.1"))
            #expect(await serves(a), "\(lvs.logTail())")
            #expect(lvs.log.contains("reload: metrics on http://127.0.0.1:\(a)/metrics"), "\(lvs.logTail())")
            let status = try await httpGet(port: a, path: "/status.json")
            #expect(status.status == 200 && status.body.contains("\"daemon\""), "\(status)")

            _ = try await lvs.reload(file(b, "127.0.0.1"))
            #expect(await serves(b), "\(lvs.logTail())")
            #expect(await !serves(a), "the old port still answers")

            // Unchanged: no new listener (one start line for b).
            _ = try await lvs.reload(file(b, "127.0.0.1"))
            #expect(lvs.log.components(separatedBy: "metrics on http://127.0.0.1:\(b)/").count == 2, "\(lvs.logTail())")
            #expect(await serves(b))

            // Another address on the same port (127.1 is 127.0.0.1 written short): the new one
            // cannot be bound beside the old, so the old closes first.
            _ = try await lvs.reload(file(b, "127.1"))
            #expect(lvs.log.contains("reload: metrics on http://127.1:\(b)/metrics"), "\(lvs.logTail())")
            #expect(await serves(b), "\(lvs.logTail())")

            // A port another process listens on (the redis-server's): an error, b serves on.
            let taken = servers[0].port
            _ = try await lvs.reload(file(taken, "127.0.0.1"))
            #expect(lvs.log.contains("reload: tandem_http: cannot listen for HTTP on 127.0.0.1:\(taken)"), "\(lvs.logTail())")
            #expect(await serves(b), "\(lvs.logTail())")
            // Back to 127.0.0.1:b: again on its own port.
            _ = try await lvs.reload(file(b, "127.0.0.1"))
            #expect(await serves(b))
            #expect(lvs.log.components(separatedBy: "reload: metrics on http://127.0.0.1:\(b)/").count == 3, "\(lvs.logTail())")

            _ = try await lvs.reload(file(nil, ""))
            #expect(lvs.log.contains("reload: tandem_http removed: no longer serving HTTP on 127.0.0.1:\(b)"), "\(lvs.logTail())")
            #expect(await !serves(b), "still serving after tandem_http was removed")
            #expect(!lvs.log.contains("not applied until"), "\(lvs.logTail())")
            #expect(lvs.stop() == 0)
        }
    }

    @Test("smtp_alert: a killed real server's DOWN mail and the lost quorum's, then UP and gained, keepalived's subjects and bodies")
    func smtpAlerts() async throws {
        try await withRedisServers(1) { servers in
            let a = servers[0]
            let sink = try MailSink()
            defer { sink.stop() }
            try await sink.waitListening()
            let lvs = try VirtualServerProcess("""
                  delay_loop 0.5
                  lb_algo rr
                  smtp_alert
                  real_server 127.0.0.1 \(a.port) {
                    TCP_CHECK {
                      connect_timeout 1
                      nb_get_retry 0
                      warmup 0
                    }
                  }
                """, global: """
                global_defs {
                  router_id LVS_LAB
                  notification_email {
                    ops@example.com
                  }
                  notification_email_from lvs@example.com
                  smtp_server 127.0.0.1 \(sink.port)
                  smtp_connect_timeout 5
                }
                """)
            defer { _ = lvs.stop() }
            try await lvs.waitListening()
            let rs = "127.0.0.1:\(a.port)", vs = "127.0.0.1:\(lvs.port)"
            a.kill9()
            try await waitUntil("the DOWN mails (log: \(lvs.logTail()); mail: \(sink.text))", timeout: .seconds(10)) {
                sink.text.contains("Subject: [LVS_LAB] Realserver \(rs) of virtual server \(vs) - DOWN")
                    && sink.text.contains("Subject: [LVS_LAB] Virtualserver \(vs) - DOWN")
            }
            #expect(sink.text.contains("=> TCP CHECK failed on service <="))
            #expect(sink.text.contains("=> Lost quorum 1+0=1 <= 0 <="))
            #expect(sink.text.contains("> MAIL FROM:<lvs@example.com>") && sink.text.contains("> RCPT TO:<ops@example.com>"))
            try await a.restart()
            try await waitUntil("the UP mails (log: \(lvs.logTail()); mail: \(sink.text))", timeout: .seconds(10)) {
                sink.text.contains("Subject: [LVS_LAB] Realserver \(rs) of virtual server \(vs) - UP")
                    && sink.text.contains("Subject: [LVS_LAB] Virtualserver \(vs) - UP")
            }
            #expect(sink.text.contains("=> TCP CHECK succeed on service <="))
            #expect(sink.text.contains("=> Gained quorum 1+0=1 <= 1 <="))
            #expect(lvs.log.contains("smtp alert sent: [LVS_LAB] Realserver \(rs) of virtual server \(vs) - DOWN"))
            #expect(lvs.stop() == 0)
        }
    }

    @Test("virtual_server_group: every entry listens, one scheduler behind them all; a reload adds and removes an entry")
    func virtualServerGroup() async throws {
        try await withRedisServers(2) { servers in
            let (a, b) = (servers[0], servers[1])
            func file(_ entries: String) -> String {
                """
                virtual_server_group REDIS {
                \(entries)
                }
                virtual_server group REDIS {
                  delay_loop 1
                  lb_algo rr
                  real_server 127.0.0.1 \(a.port) {
                    TCP_CHECK {
                      connect_timeout 1
                    }
                  }
                  real_server 127.0.0.1 \(b.port) {
                    TCP_CHECK {
                      connect_timeout 1
                    }
                  }
                }
                """
            }
            let lvs = try VirtualServerProcess("", wholeFile: file("  127.0.0.1-2 PORT"))
            defer { _ = lvs.stop() }
            try await lvs.waitListening()
            let port = lvs.port
            #expect(lvs.log.contains("VS group REDIS: listening on 127.0.0.1:\(port), 127.0.0.2:\(port) (rr, 2 real server(s))"), "\(lvs.logTail())")
            func served(via host: String) async throws -> Int {
                let connection = try await RedisConnection.connect(RedisConnectionConfiguration(
                    host: host, port: port, connectTimeout: .seconds(2), commandTimeout: .seconds(2)))
                let served = try await servedPort(connection)
                await connection.close()
                return served
            }
            // rr runs across the entries: the next connection takes the next server, whichever address it came to.
            var order: [Int] = []
            for host in ["127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.1"] { order.append(try await served(via: host)) }
            #expect(order[0] != order[1] && order[1] != order[2] && order[2] != order[3], "\(order)")
            #expect(Set(order) == [a.port, b.port])

            var outcome = try await lvs.reload(file("  127.0.0.1 PORT\n  127.0.0.3 \(port)").replacingOccurrences(of: "PORT", with: String(port)))
            #expect(outcome.contains("0 unchanged, 1 changed"), "\(outcome)")
            try await waitUntil("127.0.0.3 listening (log: \(lvs.logTail()))") { lvs.log.contains("listening on 127.0.0.3:\(port) (added by reload)") }
            #expect(lvs.log.contains("127.0.0.2:\(port) removed by reload: no longer listening there"))
            #expect([a.port, b.port].contains(try await served(via: "127.0.0.3")))
            await #expect(throws: (any Error).self) { _ = try await served(via: "127.0.0.2") }
            outcome = try await lvs.reload(file("  127.0.0.1 PORT\n  127.0.0.3 \(port)").replacingOccurrences(of: "PORT", with: String(port)))
            #expect(outcome.contains("1 unchanged, 0 changed"), "\(outcome)")
            #expect(lvs.stop() == 0)
        }
    }

    @Test("MISC_CHECK misc_dynamic weight 0 drains: open connections stay, new ones go to the other server")
    func drainWithDynamicWeight() async throws {
        try await withRedisServers(2) { servers in
            let (a, b) = (servers[0], servers[1])
            // The weight file holds exit status − 2: "3" = weight 1, "2" = weight 0.
            func real(_ server: RedisServer) -> String {
                """
                  real_server 127.0.0.1 \(server.port) {
                    weight 1
                    MISC_CHECK {
                      misc_path "DIR/weight.sh \(server.port)"
                      misc_timeout 2
                      misc_dynamic
                      warmup 0
                    }
                  }
                """
            }
            let lvs = try VirtualServerProcess("""
                  delay_loop 0.5
                  lb_algo wlc
                \(real(a))
                \(real(b))
                """, scripts: ["weight.sh": "#!/bin/sh\nexit $(cat DIR/weight-$1)\n"])
            defer { _ = lvs.stop() }
            for server in [a, b] {
                try "3".write(to: lvs.directory.appendingPathComponent("weight-\(server.port)"), atomically: true, encoding: .utf8)
            }
            try await lvs.waitListening()

            // A connection that stays open on A.
            var held: [RedisConnection] = []
            var onA: RedisConnection?
            for _ in 0..<4 where onA == nil {
                let connection = try await lvs.connect()
                if try await servedPort(connection) == a.port { onA = connection } else { held.append(connection) }
            }
            let kept = try #require(onA)
            try "2".write(to: lvs.directory.appendingPathComponent("weight-\(a.port)"), atomically: true, encoding: .utf8)
            try await waitUntil("A's weight 0 (log: \(lvs.logTail()))") { lvs.log.contains("real server 127.0.0.1:\(a.port) weight 0") }
            #expect(try await servedPorts(lvs, count: 5) == Array(repeating: b.port, count: 5))
            #expect(try await servedPort(kept) == a.port)
            #expect(try await kept.send(["SET", "still", "here"]).string == "OK")

            try "3".write(to: lvs.directory.appendingPathComponent("weight-\(a.port)"), atomically: true, encoding: .utf8)
            try await waitUntil("A's weight back") { lvs.log.contains("real server 127.0.0.1:\(a.port) weight 1") }
            // wlc, all kept open: A has 1, B 0 → B; then 1 each → A (first on a tie); then B, A.
            var next: [Int] = []
            for _ in 0..<4 {
                let connection = try await lvs.connect()
                next.append(try await servedPort(connection))
                held.append(connection)
            }
            #expect(next == [b.port, a.port, b.port, a.port], "\(next)")
            await kept.close()
            for connection in held { await connection.close() }
            #expect(lvs.stop() == 0)
        }
    }

    @Test("REDIS_CHECK: only the master is in the pool, and the pool follows a role change")
    func redisCheckFollowsMaster() async throws {
        try await withReplicationGroup(replicas: 1) { master, replicas in
            let replica = replicas[0]
            func real(_ server: RedisServer) -> String {
                """
                  real_server 127.0.0.1 \(server.port) {
                    REDIS_CHECK {
                      connect_timeout 1
                      retry 0
                      warmup 0
                    }
                  }
                """
            }
            let lvs = try VirtualServerProcess("""
                  delay_loop 0.5
                  lb_algo rr
                \(real(master))
                \(real(replica))
                """)
            defer { _ = lvs.stop() }
            try await lvs.waitListening()
            try await waitUntil("the replica out of the pool (log: \(lvs.logTail()))") {
                lvs.log.contains("real server 127.0.0.1:\(replica.port) down (role:slave, not role:master)")
            }
            #expect(try await servedPorts(lvs, count: 4) == Array(repeating: master.port, count: 4))
            // Swap the roles as a failover would.
            _ = try await replica.run(["REPLICAOF", "NO", "ONE"])
            _ = try await master.run(["REPLICAOF", "127.0.0.1", "\(replica.port)"])
            try await waitUntil("the new master alone in the pool (log: \(lvs.logTail()))") {
                lvs.log.contains("real server 127.0.0.1:\(master.port) down (role:slave")
                    && lvs.log.contains("real server 127.0.0.1:\(replica.port) up")
            }
            #expect(try await servedPorts(lvs, count: 4) == Array(repeating: replica.port, count: 4))
            // No master at all and no sorry server: connections are closed, and that is logged.
            _ = try await replica.run(["REPLICAOF", "127.0.0.1", "\(master.port)"])
            try await waitUntil("no server left (log: \(lvs.logTail()))") {
                // The second time: it was down at the start too.
                lvs.log.components(separatedBy: "real server 127.0.0.1:\(replica.port) down (role:slave").count == 3
            }
            await #expect(throws: (any Error).self) { _ = try await servedPorts(lvs, count: 1) }
            try await waitUntil("the refusal logged") { lvs.log.contains("no real server can take a connection (1 refused") }
            #expect(lvs.stop() == 0)
        }
    }
}

/// `python3 -m http.server` on a free loopback port serving `directory`; stopped by PID.
private final class HTTPServerProcess: @unchecked Sendable {
    static let python = findExecutable("python3")
    let port: Int
    private let child: ChildProcess

    init(directory: URL) async throws {
        port = try freeLoopbackPort()
        child = try ChildProcess(
            executable: HTTPServerProcess.python!,
            arguments: ["-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", directory.path],
            logFile: directory.appendingPathComponent("http-\(port).log"))
        try await waitUntil("python3 http.server on \(port)") { (try? rawExchange(port: port, request: "GET / HTTP/1.0\r\n\r\n")) != nil }
    }

    func stop() { child.kill9() }
    deinit { child.kill9() }
}

/// Connects, writes `request`, shuts the write side (a half-close), and reads to the end.
private func rawExchange(port: Int, request: String) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 3, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw HarnessError("connect to \(port): errno \(errno)") }
    let bytes = Array(request.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else { throw HarnessError("write: errno \(errno)") }
    shutdown(fd, Int32(SHUT_WR))
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n < 0 { throw HarnessError("read: errno \(errno)") }
        if n == 0 { break }
        reply += buffer[..<n]
    }
    guard !reply.isEmpty else { throw HarnessError("empty reply from \(port)") }
    return String(decoding: reply, as: UTF8.self)
}

/// An HTTPS server (python3 http.server wrapped in TLS, a test certificate) serving
/// `directory` on a free loopback port; stopped by PID.
private final class HTTPSServerProcess: @unchecked Sendable {
    let port: Int
    private let child: ChildProcess

    init(directory: URL, certificate: String, key: String) async throws {
        port = try freeLoopbackPort()
        child = try ChildProcess(
            executable: HTTPServerProcess.python!,
            arguments: ["-c", """
                import functools, http.server, ssl, sys
                port, directory, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
                handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
                httpd = http.server.HTTPServer(("127.0.0.1", port), handler)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(cert, key)
                httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
                httpd.serve_forever()
                """, "\(port)", directory.path, certificate, key],
            logFile: directory.appendingPathComponent("https-\(port).log"))
        let port = self.port
        try await waitUntil("python3 https server on \(port)") {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
    }

    func stop() { child.kill9() }
    deinit { child.kill9() }
}

@Suite("tandem vrrp serving virtual_server with HTTP servers", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: HTTPServerProcess.python != nil || isCI, "python3 is not installed"))
struct VirtualServerHTTPTests {
    @Test("SSL_GET: the url over TLS (a certificate nobody verifies, as keepalived), up on its digest, down when the page changes")
    func sslGet() async throws {
        guard TLSCertificates.opensslBinary != nil || isCI else { return }
        let certificates = try TLSCertificates()
        let site = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-https-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: site) }
        let health = site.appendingPathComponent("health")
        try "healthy\n".write(to: health, atomically: true, encoding: .utf8)
        let digest = try runProgram("/usr/bin/md5sum", [health.path]).output.prefix(32)
        let server = try await HTTPSServerProcess(directory: site, certificate: certificates.cert, key: certificates.key)
        defer { server.stop() }
        let lvs = try VirtualServerProcess("""
              delay_loop 0.5
              real_server 127.0.0.1 \(server.port) {
                SSL_GET {
                  url {
                    path /health
                    digest \(digest)
                  }
                  connect_timeout 2
                  retry 0
                  warmup 0
                  alpha
                }
              }
            """)
        defer { _ = lvs.stop() }
        try await lvs.waitListening()
        // alpha: down until the first check over TLS succeeds.
        try await waitUntil("SSL_GET up (log: \(lvs.logTail()))", timeout: .seconds(8)) {
            lvs.log.contains("real server 127.0.0.1:\(server.port) up")
        }
        try "changed\n".write(to: health, atomically: true, encoding: .utf8)
        try await waitUntil("SSL_GET down on the digest (log: \(lvs.logTail()))", timeout: .seconds(8)) {
            lvs.log.contains("real server 127.0.0.1:\(server.port) down (MD5 digest error to [/health]")
        }
        #expect(lvs.stop() == 0)
    }

    @Test("HTTP_GET's request is byte for byte keepalived 2.2.7's (its genhash): virtualhost of the url, checker, real or virtual server, else IP:port; http_protocol 1.0, 1.0C, 1.1")
    func requestAsKeepalived() async throws {
        guard let genhash = findExecutable("genhash") else {
            if isCI { Issue.record("genhash (the keepalived package) is not installed") }
            return
        }
        let recorder = try await RequestRecorder(ports: 4)
        defer { recorder.stop() }
        let (a, b, c, d) = (recorder.ports[0], recorder.ports[1], recorder.ports[2], recorder.ports[3])
        // keepalived's checker code run by genhash (its request is the checker's, User-Agent
        // included), one per real server below, with the virtualhost keepalived would pick.
        let cases: [(port: Int, arguments: [String])] = [
            (a, ["-u", "/a", "-V", "rs.example", "-P", "1.1"]),
            (b, ["-u", "/b", "-V", "vs.example", "-P", "1.0c"]),
            (c, ["-u", "/c"]),
            (d, ["-u", "/d", "-V", "url.example"]),
        ]
        for (port, arguments) in cases {
            _ = try runProgram(genhash, ["-s", "127.0.0.1", "-p", String(port)] + arguments)
        }
        let second = try freeLoopbackPort()
        let lvs = try VirtualServerProcess("", wholeFile: """
            virtual_server 127.0.0.1 PORT {
              delay_loop 0.5
              real_server 127.0.0.1 \(a) {
                virtualhost rs.example
                HTTP_GET {
                  url { path /a }
                  http_protocol 1.1
                  warmup 0
                }
              }
              real_server 127.0.0.1 \(b) {
                HTTP_GET {
                  url { path /b }
                  http_protocol 1.0C
                  warmup 0
                }
              }
              virtualhost vs.example
            }
            virtual_server 127.0.0.1 \(second) {
              delay_loop 0.5
              real_server 127.0.0.1 \(c) {
                HTTP_GET {
                  url { path /c }
                  warmup 0
                }
              }
              real_server 127.0.0.1 \(d) {
                HTTP_GET {
                  virtualhost checker.example
                  url {
                    path /d
                    virtualhost url.example
                  }
                  warmup 0
                }
              }
            }
            """)
        defer { _ = lvs.stop() }
        try await lvs.waitListening()
        for (port, arguments) in cases {
            // The readiness probe's request on the last port comes first.
            let skip = port == d ? 1 : 0
            try await waitUntil("tandem's check of \(port) (log: \(lvs.logTail()))", timeout: .seconds(8)) {
                recorder.requests(port).count >= skip + 2
            }
            let requests = recorder.requests(port).dropFirst(skip)
            let keepalived = try #require(requests.first)
            #expect(requests.dropFirst().first == keepalived, "genhash \(arguments): \(keepalived) vs tandem's \(Array(requests.dropFirst()))")
        }
        #expect(recorder.requests(c).dropFirst().first?.contains("Host: 127.0.0.1:\(c)\\r\\n") == true)
        #expect(lvs.stop() == 0)
    }

    @Test("HTTP_GET with status_code and digest; persistence holds a client address; a half-closed request is answered")
    func httpGetPersistenceHalfClose() async throws {
        let site = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: site) }
        // Each server serves its own directory: name (who answered) and health (what is checked).
        var servers: [HTTPServerProcess] = []
        defer { servers.forEach { $0.stop() } }
        for name in ["one", "two"] {
            let root = site.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try name.write(to: root.appendingPathComponent("name"), atomically: true, encoding: .utf8)
            try "healthy\n".write(to: root.appendingPathComponent("health"), atomically: true, encoding: .utf8)
            servers.append(try await HTTPServerProcess(directory: root))
        }
        // The digest of "healthy\n", as genhash would print it.
        let digest = try runProgram("/usr/bin/md5sum", [site.appendingPathComponent("one/health").path]).output.prefix(32)
        func real(_ server: HTTPServerProcess) -> String {
            """
              real_server 127.0.0.1 \(server.port) {
                HTTP_GET {
                  url {
                    path /health
                    status_code 200
                    digest \(digest)
                  }
                  connect_timeout 1
                  retry 0
                  warmup 0
                }
              }
            """
        }
        let lvs = try VirtualServerProcess("""
              delay_loop 0.5
              lb_algo rr
              persistence_timeout 50
            \(real(servers[0]))
            \(real(servers[1]))
            """)
        defer { _ = lvs.stop() }
        try await lvs.waitListening()

        // Every connection from 127.0.0.1 goes to the same server (persistence), half-closed or not.
        var names: [String] = []
        for _ in 0..<4 {
            let reply = try rawExchange(port: lvs.port, request: "GET /name HTTP/1.0\r\n\r\n")
            #expect(reply.hasPrefix("HTTP/1.0 200"), "\(reply)")
            names.append(reply.components(separatedBy: "\r\n\r\n").last ?? "")
        }
        #expect(Set(names).count == 1, "\(names)")
        let first = try #require(names.first)

        // That server's health page changes: the digest no longer matches → down → the other.
        try "sick\n".write(to: site.appendingPathComponent("\(first)/health"), atomically: true, encoding: .utf8)
        try await waitUntil("the digest failure (log: \(lvs.logTail()))") { lvs.log.contains("MD5 digest error to [/health]") }
        try await waitUntil("the other server answering") {
            let reply = try rawExchange(port: lvs.port, request: "GET /name HTTP/1.0\r\n\r\n")
            return !reply.hasSuffix(first)
        }
        // The page gone: a 404 fails status_code 200 as well.
        let other = first == "one" ? "two" : "one"
        try FileManager.default.removeItem(at: site.appendingPathComponent("\(other)/health"))
        try await waitUntil("the status code failure (log: \(lvs.logTail()))") {
            lvs.log.contains("status_code = 404")
        }
        #expect(lvs.stop() == 0)
    }
}

/// Listens on several loopback ports (python3), writes each HTTP request it receives as
/// `PORT <repr of the bytes>` lines to a file and answers `200 OK`; stopped by PID.
private final class RequestRecorder: @unchecked Sendable {
    let ports: [Int]
    let directory: URL
    private var child: ChildProcess?
    var file: URL { directory.appendingPathComponent("requests.log") }

    init(ports count: Int) async throws {
        guard let python = HTTPServerProcess.python else { throw HarnessError("python3 is not installed") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-requests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var ports: [Int] = []
        while ports.count < count {
            let port = try freeLoopbackPort()
            if !ports.contains(port) { ports.append(port) }
        }
        self.ports = ports
        let script = directory.appendingPathComponent("recorder.py")
        try """
            import selectors, socket, sys
            out = open(sys.argv[1], "a")
            sel = selectors.DefaultSelector()
            for p in sys.argv[2:]:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", int(p)))
                s.listen(16)
                sel.register(s, selectors.EVENT_READ, int(p))
            while True:
                for key, _ in sel.select():
                    c, _ = key.fileobj.accept()
                    c.settimeout(2)
                    data = b""
                    try:
                        while b"\\r\\n\\r\\n" not in data:
                            chunk = c.recv(4096)
                            if not chunk:
                                break
                            data += chunk
                    except OSError:
                        pass
                    out.write("%d %r\\n" % (key.data, data))
                    out.flush()
                    try:
                        c.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: 3\\r\\n\\r\\nok\\n")
                    except OSError:
                        pass
                    c.close()
            """.write(to: script, atomically: true, encoding: .utf8)
        child = try ChildProcess(executable: python, arguments: [script.path, file.path] + ports.map(String.init),
                                 logFile: directory.appendingPathComponent("recorder.out"))
        let last = ports.last!
        try await waitUntil("the request recorder listening") { (try? rawExchange(port: last, request: "GET / HTTP/1.0\r\n\r\n")) != nil }
    }

    /// The requests received on `port`, in order (the readiness probe's on the last port included).
    func requests(_ port: Int) -> [String] {
        ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            line.hasPrefix("\(port) ") ? String(line.dropFirst("\(port) ".count)) : nil
        }
    }

    func stop() { child?.kill9(); child = nil; try? FileManager.default.removeItem(at: directory) }
    deinit { child?.kill9() }
}

/// An SMTP sink (python3) on a free loopback port/// An SMTP sink (python3) on a free loopback port: each command line as "> LINE", each
/// message's lines as they are, in one file; stopped by PID.
private final class MailSink: @unchecked Sendable {
    let port: Int
    let directory: URL
    private var child: ChildProcess?
    var file: URL { directory.appendingPathComponent("mail.log") }
    var text: String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

    init() throws {
        guard let python = HTTPServerProcess.python else { throw HarnessError("python3 is not installed") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-mail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        child = try ChildProcess(executable: python, arguments: ["-c", """
            import socket, sys
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
            out = open(sys.argv[2], "a")
            while True:
                c, _ = s.accept(); f = c.makefile("rwb")
                def say(t): f.write(t.encode() + b"\\r\\n"); f.flush()
                say("220 sink")
                data = False
                for line in f:
                    t = line.decode().rstrip("\\r\\n")
                    if data:
                        if t == ".": data = False; say("250 queued"); out.flush(); continue
                        out.write(t + "\\n"); continue
                    out.write("> " + t + "\\n"); out.flush()
                    cmd = t.split(" ")[0].upper()
                    if cmd == "DATA": data = True; say("354 go ahead")
                    elif cmd == "QUIT": say("221 bye"); break
                    else: say("250 ok")
                c.close()
            """, String(port), file.path], logFile: directory.appendingPathComponent("sink.log"))
    }

    func waitListening() async throws {
        let port = self.port
        try await waitUntil("the mail sink on \(port)") {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
    }

    func stop() {
        child?.terminate()
        child = nil
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { child?.kill9() }
}
