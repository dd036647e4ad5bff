import Foundation
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// A webhook sink and an SMTP sink, each a small Python server started by the test. Each
/// request (or accepted connection, or mail) is one JSON line in `records`.
final class AlertSink: @unchecked Sendable {
    enum Mode: String { case http, hang, smtp }

    static let script = #"""
    import sys, json, socket, threading, socketserver, http.server
    mode, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    lock = threading.Lock()
    def record(obj):
        with lock:
            with open(out, "a") as f:
                f.write(json.dumps(obj) + "\n")
    if mode == "http":
        fails = [int(sys.argv[4])]
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with lock:
                    fail = fails[0] > 0
                    if fail:
                        fails[0] -= 1
                record({"path": self.path, "type": self.headers.get("Content-Type"), "body": body, "status": 500 if fail else 200})
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            def log_message(self, *a):
                pass
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        record({"ready": True})
        server.serve_forever()
    elif mode == "hang":
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        record({"ready": True})
        held = []
        while True:
            c, _ = s.accept()
            held.append(c)
            record({"accepted": len(held)})
    else:
        class S(socketserver.StreamRequestHandler):
            def handle(self):
                w = lambda l: self.wfile.write((l + "\r\n").encode())
                w("220 sink")
                msg = {"rcpt": []}
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    l = line.decode().rstrip("\r\n")
                    u = l.upper()
                    if u.startswith("HELO") or u.startswith("EHLO"):
                        msg["helo"] = l[5:]; w("250 ok")
                    elif u.startswith("MAIL FROM:"):
                        msg["from"] = l[10:].strip("<>"); w("250 ok")
                    elif u.startswith("RCPT TO:"):
                        msg["rcpt"].append(l[8:].strip("<>")); w("250 ok")
                    elif u == "DATA":
                        w("354 go")
                        data = []
                        while True:
                            d = self.rfile.readline().decode().rstrip("\r\n")
                            if d == ".":
                                break
                            data.append(d[1:] if d.startswith("..") else d)
                        msg["data"] = data
                        record(msg)
                        msg = {"rcpt": []}
                        w("250 queued")
                    elif u == "QUIT":
                        w("221 bye"); return
                    else:
                        w("500 what")
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer(("127.0.0.1", port), S)
        record({"ready": True})
        server.serve_forever()
    """#

    let port: Int
    let directory: URL
    let records: URL
    private let child: ChildProcess

    /// `failFirst`: the HTTP sink answers 500 to that many POSTs first.
    init(_ mode: Mode, failFirst: Int = 0) async throws {
        port = try freeLoopbackPort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-alert-sink-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let scriptFile = directory.appendingPathComponent("sink.py")
        try Self.script.write(to: scriptFile, atomically: true, encoding: .utf8)
        records = directory.appendingPathComponent("records.jsonl")
        child = try ChildProcess(executable: "/usr/bin/python3",
                                 arguments: [scriptFile.path, mode.rawValue, String(port), records.path, String(failFirst)],
                                 logFile: directory.appendingPathComponent("sink.log"))
        let sink = self
        try await waitUntil("the \(mode) sink to listen", timeout: .seconds(10)) { sink.read().contains { $0["ready"] != nil } }
    }

    /// Every record so far but the readiness line.
    func read() -> [[String: Any]] {
        guard let text = try? String(contentsOf: records, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The webhook bodies, parsed.
    func alerts() -> [[String: Any]] {
        read().compactMap { r in
            (r["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
    }

    func stop() {
        child.kill9()
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite("alerts: webhook and email from tandem sentinels on a failover", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: SentinelProcess.shouldRunTests && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"),
                "redis-server, redis-sentinel or python3 is not installed"))
struct AlertTests {
    @Test("kill -9 of the master: the webhook gets odown, one failover-start and one failover-end from the leader, master-switched from every sentinel, with their fields; a 500 is retried; email goes out; the rewrite keeps the alert lines")
    func failoverAlerts() async throws {
        let webhook = try await AlertSink(.http, failFirst: 1)
        defer { webhook.stop() }
        let smtp = try await AlertSink(.smtp)
        defer { smtp.stop() }
        try await withReplicationGroup(replicas: 2) { master, replicas in
            var sentinels: [SentinelProcess] = []
            defer { sentinels.forEach { $0.stop() } }
            for _ in 0..<3 {
                sentinels.append(try await SentinelProcess(
                    kind: .tandem, monitoring: master, extraLines: ["sentinel tandem-alert-attempts 3"],
                    arguments: ["--alert-webhook", "http://127.0.0.1:\(webhook.port)/hook",
                                "--alert-email", "127.0.0.1:\(smtp.port)", "tandem@test.invalid", "oncall@test.invalid"]))
            }
            try await waitUntil("the sentinels to discover each other and the replicas", timeout: .seconds(20)) {
                for s in sentinels {
                    let k = try await s.known()
                    if k.sentinels != 2 || k.replicas != 2 { return false }
                }
                return true
            }
            master.kill9()
            let replicaAddresses = Set(replicas.map { "127.0.0.1:\($0.port)" })
            let sources = Set(sentinels.map { "127.0.0.1:\($0.port)" })
            try await waitUntil("the webhook to get failover-end and three master-switched", timeout: .seconds(30)) {
                let got = webhook.alerts()
                return got.contains { $0["event"] as? String == "failover-end" }
                    && Set(got.filter { $0["event"] as? String == "master-switched" }.compactMap { $0["source"] as? String }) == sources
            }
            let got = webhook.alerts()
            let events = got.map { $0["event"] as? String ?? "?" }
            print("alerts: webhook got \(events)")
            let starts = got.filter { $0["event"] as? String == "failover-start" }
            // One failover, led by one sentinel (on loopback a second one sometimes follows when the
            // promoted replica is briefly seen down: then its alerts come after these).
            if starts.count > 1 { print("alerts: \(starts.count) failovers ran") }
            let leader = try #require(starts.first?["source"] as? String)
            #expect(!events.contains("failover-abort"))
            // The leader's own alerts come in the order of its events: odown, start, end.
            let leaderEvents = got.filter { $0["source"] as? String == leader }.map { $0["event"] as? String ?? "?" }
                .filter { ["odown", "failover-start", "failover-end"].contains($0) }
            // (Its `-odown` — also an `odown` alert — may come before or after its start: the
            // leader's ODOWN ends when the new configuration is taken, and the test's sink answers
            // 500 once, which delays one sentinel's queue. So: an odown before the start, the end
            // after it.)
            let startAt = try #require(leaderEvents.firstIndex(of: "failover-start"), "\(events)")
            #expect(leaderEvents[..<startAt].contains("odown"), "\(events)")
            #expect(leaderEvents[startAt...].contains("failover-end"), "\(events)")
            let start = try #require(starts.first)
            #expect(start["version"] as? Int == 1)
            #expect(start["daemon"] as? String == "sentinel")
            #expect(start["severity"] as? String == "critical")
            #expect(start["group"] as? String == "mymaster")
            #expect(start["origin"] as? String == "+elected-leader")
            #expect((start["host"] as? String)?.isEmpty == false)
            #expect((start["time"] as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
            let fields = try #require(start["fields"] as? [String: String])
            #expect(fields["ip"] == master.host && fields["port"] == String(master.port))
            // Each sentinel's first master-switched: from the killed master to a replica.
            for source in sources {
                let first = try #require(got.first { $0["event"] as? String == "master-switched" && $0["source"] as? String == source })
                let f = first["fields"] as? [String: String] ?? [:]
                #expect(f["from"] == "127.0.0.1:\(master.port)")
                #expect(replicaAddresses.contains(f["to"] ?? ""))
            }
            // The sink's first POST answered 500: that alert came again as attempt 2.
            let records = webhook.read().filter { $0["body"] != nil }
            #expect(records.first?["status"] as? Int == 500)
            #expect(records.allSatisfy { $0["path"] as? String == "/hook" && $0["type"] as? String == "application/json" })
            let firstBody = try #require((records.first?["body"] as? String).flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect(firstBody["attempt"] as? Int == 1)
            #expect(got.contains { ($0["sequence"] as? Int) == (firstBody["sequence"] as? Int) && $0["source"] as? String == firstBody["source"] as? String && $0["attempt"] as? Int == 2 })

            // Email: the same alerts through the SMTP sink.
            try await waitUntil("the SMTP sink to get the failover's start", timeout: .seconds(15)) {
                smtp.read().contains { (($0["data"] as? [String]) ?? []).contains { $0.hasPrefix("Subject: [tandem] CRITICAL failover of mymaster started") } }
            }
            let mail = try #require(smtp.read().first { (($0["data"] as? [String]) ?? []).contains { $0.hasPrefix("Subject: [tandem] CRITICAL failover of mymaster started") } })
            #expect(mail["from"] as? String == "tandem@test.invalid")
            #expect(mail["rcpt"] as? [String] == ["oncall@test.invalid"])
            let lines = mail["data"] as? [String] ?? []
            #expect(lines.contains("event: failover-start"))
            #expect(lines.contains("group: mymaster"))
            #expect(lines.contains("origin: +elected-leader"))

            // The failover rewrote the config files: the alert lines are still there.
            for s in sentinels {
                let text = try s.configText()
                #expect(text.contains("sentinel tandem-alert-webhook http://127.0.0.1:\(webhook.port)/hook"))
                #expect(text.contains("sentinel tandem-alert-email 127.0.0.1:\(smtp.port) tandem@test.invalid oncall@test.invalid"))
                #expect(text.contains("sentinel tandem-alert-attempts 3"))
            }
        }
    }

    @Test("tandem run with node.yaml alerts: the agents' monitors alert the failover as daemon node, source the node's name: the leader's odown, start and end in order, every node's master-switched; email too")
    func nodeAgentAlerts() async throws {
        let webhook = try await AlertSink(.http)
        defer { webhook.stop() }
        let smtp = try await AlertSink(.smtp)
        defer { smtp.stop() }
        try await withReplicationGroup(replicas: 2) { master, replicas in
            let servers = [master] + replicas
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-alert-nodes-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let monitorPorts = try servers.map { _ in try freeLoopbackPort() }
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
                ] + members + ["monitor: { bind: 127.0.0.1 }",
                               "alerts: { webhook: \"http://127.0.0.1:\(webhook.port)/node\", timeout: 2s, attempts: 2,",
                               "          email: { server: \"127.0.0.1:\(smtp.port)\", from: n\(i + 1)@test.invalid, to: [oncall@test.invalid] } }", ""])
                    .joined(separator: "\n").write(to: yaml, atomically: true, encoding: .utf8)
                nodes.append(try ChildProcess(executable: try tandemExecutable(), arguments: ["run", yaml.path],
                                              logFile: directory.appendingPathComponent("n\(i + 1).log")))
            }
            try await waitUntil("every node's monitor to see two replicas and two peers", timeout: .seconds(30)) {
                for port in monitorPorts {
                    guard let c = try? await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: port)) else { return false }
                    defer { Task { await c.close() } }
                    let m = try await c.send(["SENTINEL", "MASTER", "mymaster"])
                    let f = Dictionary(uniqueKeysWithValues: stride(from: 0, to: (m.array ?? []).count - 1, by: 2).compactMap { i -> (String, String)? in
                        guard let k = m.array?[i].string, let v = m.array?[i + 1].string else { return nil }
                        return (k, v)
                    })
                    if f["num-slaves"] != "2" || f["num-other-sentinels"] != "2" { return false }
                }
                return true
            }
            master.kill9()
            try await waitUntil("the webhook to get failover-end and master-switched from every node", timeout: .seconds(30)) {
                let got = webhook.alerts()
                return got.contains { $0["event"] as? String == "failover-end" }
                    && Set(got.filter { $0["event"] as? String == "master-switched" }.compactMap { $0["source"] as? String }) == ["n1", "n2", "n3"]
            }
            let got = webhook.alerts()
            print("alerts (node agents): \(got.map { "\($0["source"] ?? "?") \($0["event"] ?? "?")" })")
            #expect(got.allSatisfy { $0["daemon"] as? String == "node" })
            let start = try #require(got.first { $0["event"] as? String == "failover-start" })
            #expect(start["group"] as? String == "mymaster")
            let leader = try #require(start["source"] as? String)
            #expect(["n1", "n2", "n3"].contains(leader))
            // The leader's own alerts in its events' order: an odown before its start, its end
            // after it (its -odown, also an `odown` alert, may come on either side of the start).
            let leaderEvents = got.filter { $0["source"] as? String == leader }.map { $0["event"] as? String ?? "?" }
            let startAt = try #require(leaderEvents.firstIndex(of: "failover-start"), "\(leaderEvents)")
            #expect(leaderEvents[..<startAt].contains("odown"), "\(leaderEvents)")
            #expect(leaderEvents[startAt...].contains("failover-end"), "\(leaderEvents)")
            #expect(got.first { $0["event"] as? String == "failover-end" }?["source"] as? String == leader)
            #expect(!got.contains { $0["event"] as? String == "failover-abort" })
            #expect(webhook.read().allSatisfy { $0["body"] == nil || $0["path"] as? String == "/node" })
            // Email: the leader's start, from its node's sender.
            let subject = "Subject: [tandem] CRITICAL failover of mymaster started"
            try await waitUntil("the SMTP sink to get the failover's start", timeout: .seconds(15)) {
                smtp.read().contains { (($0["data"] as? [String]) ?? []).contains { $0.hasPrefix(subject) } }
            }
            let mail = try #require(smtp.read().first { (($0["data"] as? [String]) ?? []).contains { $0.hasPrefix(subject) } })
            #expect(mail["from"] as? String == "\(leader)@test.invalid")
            #expect(mail["rcpt"] as? [String] == ["oncall@test.invalid"])
            let lines = mail["data"] as? [String] ?? []
            #expect(lines.contains("event: failover-start") && lines.contains { $0.hasPrefix("daemon: node \(leader) on ") }, "\(lines)")
        }
    }

    @Test("unreachable and reachable: a sentinel stopped then started, a replica killed; then the master killed with no replica to promote: the leader's failover-start and failover-abort (no-good-slave)")
    func unreachableAndAbortAlerts() async throws {
        let webhook = try await AlertSink(.http)
        defer { webhook.stop() }
        try await withReplicationGroup(replicas: 1) { master, replicas in
            let replica = replicas[0]
            var sentinels: [SentinelProcess] = []
            defer { sentinels.forEach { $0.stop() } }
            for _ in 0..<3 {
                sentinels.append(try await SentinelProcess(kind: .tandem, monitoring: master,
                                                           arguments: ["--alert-webhook", "http://127.0.0.1:\(webhook.port)/hook"]))
            }
            try await waitUntil("the sentinels to discover each other and the replica", timeout: .seconds(20)) {
                for s in sentinels {
                    let k = try await s.known()
                    if k.sentinels != 2 || k.replicas != 1 { return false }
                }
                return true
            }
            let address = { (s: SentinelProcess) in "127.0.0.1:\(s.port)" }
            func alerts(_ event: String, _ type: String) -> [[String: Any]] {
                webhook.alerts().filter { $0["event"] as? String == event && ($0["fields"] as? [String: String])?["instance_type"] == type }
            }
            func sources(_ list: [[String: Any]]) -> Set<String> { Set(list.compactMap { $0["source"] as? String }) }
            let others = Set(sentinels.prefix(2).map(address))

            // A sentinel stopped: the other two say it is unreachable, then reachable once it is back.
            let stopped = sentinels[2]
            stopped.kill9()
            try await waitUntil("unreachable (sentinel) from the other two (got \(webhook.alerts().map { $0["event"] ?? "?" }))", timeout: .seconds(15)) {
                sources(alerts("unreachable", "sentinel")) == others
            }
            for alert in alerts("unreachable", "sentinel") {
                let f = alert["fields"] as? [String: String] ?? [:]
                #expect(f["port"] == String(stopped.port) && f["master_name"] == "mymaster", "\(alert)")
                #expect(alert["severity"] as? String == "warning" && alert["origin"] as? String == "+sdown" && alert["group"] as? String == "mymaster")
                #expect(alert["summary"] as? String == "mymaster: sentinel 127.0.0.1:\(stopped.port) is unreachable", "\(alert)")
            }
            try await stopped.restart()
            try await waitUntil("reachable (sentinel) from the other two", timeout: .seconds(15)) {
                sources(alerts("reachable", "sentinel")) == others
            }
            #expect(alerts("reachable", "sentinel").allSatisfy { $0["severity"] as? String == "info" && $0["origin"] as? String == "-sdown" })

            // The replica killed: unreachable from the sentinels.
            replica.kill9()
            try await waitUntil("unreachable (replica) from every sentinel", timeout: .seconds(15)) {
                sources(alerts("unreachable", "slave")) == Set(sentinels.map(address))
            }
            for alert in alerts("unreachable", "slave") {
                let f = alert["fields"] as? [String: String] ?? [:]
                #expect(f["port"] == String(replica.port) && f["master_port"] == String(master.port), "\(alert)")
                #expect(alert["summary"] as? String == "mymaster: replica 127.0.0.1:\(replica.port) is unreachable", "\(alert)")
            }

            // The master killed with its only replica down: the leader is elected and gives up.
            master.kill9()
            // (A candidate that lost a split vote first sends a failover-abort of its own,
            // reason split-vote: the leader's no-good-slave one is the one looked at.)
            func isNoGoodSlave(_ a: [String: Any]) -> Bool {
                a["event"] as? String == "failover-abort" && a["origin"] as? String == "-failover-abort-no-good-slave"
            }
            try await waitUntil("failover-abort no-good-slave (got \(webhook.alerts().map { $0["event"] ?? "?" }))", timeout: .seconds(30)) {
                webhook.alerts().contains(where: isNoGoodSlave)
            }
            let got = webhook.alerts()
            print("alerts: webhook got \(got.map { "\($0["source"] ?? "?") \($0["event"] ?? "?")" })")
            let abort = try #require(got.first(where: isNoGoodSlave))
            let leader = try #require(abort["source"] as? String)
            #expect(abort["severity"] as? String == "critical")
            #expect(abort["origin"] as? String == "-failover-abort-no-good-slave")
            #expect(abort["group"] as? String == "mymaster")
            #expect(abort["summary"] as? String == "failover of mymaster aborted: no-good-slave")
            let f = abort["fields"] as? [String: String] ?? [:]
            #expect(f["reason"] == "no-good-slave" && f["port"] == String(master.port), "\(abort)")
            // Its start came first, from the same sentinel; nothing was switched.
            let leaderEvents = got.filter { $0["source"] as? String == leader }.map { $0["event"] as? String ?? "?" }
            let startAt = try #require(leaderEvents.firstIndex(of: "failover-start"), "\(leaderEvents)")
            #expect(startAt < leaderEvents.lastIndex(of: "failover-abort")!, "\(leaderEvents)")
            #expect(!got.contains { ["master-switched", "failover-end"].contains($0["event"] as? String ?? "") })
        }
    }

    @Test("a webhook try that gets no answer ends after tandem-alert-timeout, is tried again after the backoff, and is given up after tandem-alert-attempts")
    func webhookTryTimesOut() async throws {
        let sink = try await AlertSink(.hang)
        defer { sink.stop() }
        try await withReplicationGroup(replicas: 2) { master, replicas in
            var sentinels: [SentinelProcess] = []
            defer { sentinels.forEach { $0.stop() } }
            for _ in 0..<3 {
                sentinels.append(try await SentinelProcess(
                    kind: .tandem, monitoring: master,
                    extraLines: ["sentinel tandem-alert-timeout 300", "sentinel tandem-alert-attempts 2"],
                    arguments: ["--alert-webhook", "http://127.0.0.1:\(sink.port)/"]))
            }
            try await waitUntil("the sentinels to discover each other and the replicas", timeout: .seconds(20)) {
                for s in sentinels {
                    let k = try await s.known()
                    if k.sentinels != 2 || k.replicas != 2 { return false }
                }
                return true
            }
            master.kill9()
            // The first alert's first try waits 300 ms for an answer that never comes, the second
            // comes after the 1 s backoff and ends the same way: given up, and the next alert tried.
            try await waitUntil("a sentinel to give an alert up after its two timed-out tries", timeout: .seconds(30)) {
                sentinels.contains { $0.logTail(lines: 400).contains("after 2 attempts, given up: no answer within 300 ms") }
            }
            let log = try #require(sentinels.first { $0.logTail(lines: 400).contains("given up") }).logTail(lines: 400)
            #expect(log.contains("no answer within 300 ms; attempt 2 in"), "\(log.suffix(2000))")
            // Each try was a connection of its own to the sink.
            #expect(sink.read().filter { $0["accepted"] != nil }.count >= 2)
            for s in sentinels { #expect(s.isRunning) }
        }
    }

    @Test("a webhook that never answers does not hold the failover up: it completes while the first alert's try is still waiting")
    func deadWebhookDoesNotDelayFailover() async throws {
        let sink = try await AlertSink(.hang)
        defer { sink.stop() }
        try await withReplicationGroup(replicas: 2) { master, replicas in
            var sentinels: [SentinelProcess] = []
            defer { sentinels.forEach { $0.stop() } }
            for _ in 0..<3 {
                // Each try may wait 10 minutes: the whole test runs inside the first one.
                sentinels.append(try await SentinelProcess(
                    kind: .tandem, monitoring: master, extraLines: ["sentinel tandem-alert-timeout 600000"],
                    arguments: ["--alert-webhook", "http://127.0.0.1:\(sink.port)/"]))
            }
            try await waitUntil("the sentinels to discover each other and the replicas", timeout: .seconds(20)) {
                for s in sentinels {
                    let k = try await s.known()
                    if k.sentinels != 2 || k.replicas != 2 { return false }
                }
                return true
            }
            #expect(sink.read().filter { $0["accepted"] != nil }.isEmpty, "no alert before the master dies")
            master.kill9()
            let replicaAddresses = Set(replicas.map { "127.0.0.1:\($0.port)" })
            try await waitUntil("every sentinel to name a promoted replica and the leader to end the failover", timeout: .seconds(30)) {
                for s in sentinels {
                    guard let a = try await s.masterAddress(), replicaAddresses.contains(a) else { return false }
                }
                return sentinels.contains { $0.logTail(lines: 400).contains("+failover-end") }
            }
            // The order: the leader's +odown (whose alert went to the sink at once) came before
            // its +failover-end, and at the failover's end that alert's try is still open: the
            // sink holds its connection unanswered, and no try has ended (none logged).
            let leader = try #require(sentinels.first { $0.logTail(lines: 400).contains("+failover-end") })
            let log = leader.logTail(lines: 400)
            let odown = try #require(log.range(of: "+odown"))
            let end = try #require(log.range(of: "+failover-end"))
            #expect(odown.lowerBound < end.lowerBound)
            try await waitUntil("the sink to have accepted the alerts' connections", timeout: .seconds(10)) {
                !sink.read().filter { $0["accepted"] != nil }.isEmpty
            }
            let accepted = sink.read().filter { $0["accepted"] != nil }.count
            // One try in flight per sentinel at most: the others wait behind it.
            #expect(accepted >= 1 && accepted <= 3, "accepted \(accepted)")
            for s in sentinels {
                #expect(!s.logTail(lines: 400).contains("alerts: alert #"), "a try ended: \(s.logTail(lines: 5))")
            }
            for s in sentinels { #expect(s.isRunning) }
        }
    }
}
