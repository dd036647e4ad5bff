import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

extension SentinelSurfaceSerial {
    /// notification-script and client-reconfig-script, run by tandem sentinel and by redis-sentinel.
    @Suite("Sentinel scripts", .serialized, .timeLimit(.minutes(3)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelScriptTests {
        /// A script that appends its arguments (and, with `fds`, its open descriptors) to `log`, then exits `code`.
        static func script(in dir: URL, name: String, log: URL, exitCode: Int = 0, fds: Bool = false) throws -> String {
            let path = dir.appendingPathComponent(name).path
            var body = "#!/bin/sh\necho \"$*\" >> \(log.path)\n"
            if fds { body += "for f in /proc/$$/fd/*; do readlink $f; done >> \(log.path).fds\n" }
            body += "exit \(exitCode)\n"
            try body.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
            return path
        }

        static func lines(_ url: URL) -> [String] {
            ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        @Test("a failover runs client-reconfig-script (leader) and notification-script (WARNING events), like redis-sentinel, with no descriptor leaked")
        func failoverScripts() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-scripts-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            for kind in [SentinelProcess.Kind.tandem, .redis] {
                try await withReplicationGroup(replicas: 1) { master, replicas in
                    let notifyLog = dir.appendingPathComponent("\(kind)-notify.log")
                    let reconfigLog = dir.appendingPathComponent("\(kind)-reconfig.log")
                    let notify = try Self.script(in: dir, name: "\(kind)-notify.sh", log: notifyLog, fds: true)
                    let reconfig = try Self.script(in: dir, name: "\(kind)-reconfig.sh", log: reconfigLog)
                    let s = try await SentinelProcess(kind: kind, monitoring: master, quorum: 1, extraLines: [
                        "sentinel notification-script mymaster \(notify)", "sentinel client-reconfig-script mymaster \(reconfig)",
                    ])
                    defer { s.stop() }
                    try await waitUntil("\(kind) to know the replica") { try await s.known().replicas == 1 }
                    // The replica is a candidate once the sentinel has its INFO (redis-sentinel polls every 10 s).
                    try await waitUntil("\(kind) to accept SENTINEL FAILOVER", timeout: .seconds(30)) {
                        // redis-sentinel can exit before its OK is written: the timer that runs the
                        // election comes in the same event-loop pass as the command, before the
                        // replies are flushed (seen once in the full run). Gone is accepted.
                        if !s.isRunning { return true }
                        if try await s.command(["SENTINEL", "FAILOVER", "mymaster"]) == .simpleString("OK") { return true }
                        try await Task.sleep(for: .milliseconds(200))
                        return false
                    }
                    let old = "127.0.0.1 \(master.port)", new = "127.0.0.1 \(replicas[0].port)"
                    let expected = ["+new-epoch", "+try-failover", "+elected-leader", "+failover-state-select-slave", "+selected-slave",
                                    "+promoted-slave", "+failover-state-reconf-slaves", "+failover-end", "+switch-master"]
                    // Scripts run concurrently (up to 16), so their lines may land in any order:
                    // wait for all of them.
                    try await waitUntil("\(kind): the scripts to have run (notified: \(Self.lines(notifyLog)))", timeout: .seconds(30)) {
                        let events = Set(Self.lines(notifyLog).map { String($0.split(separator: " ").first ?? "") })
                        return Self.lines(reconfigLog).contains("mymaster leader start \(old) \(new)")
                            && Self.lines(notifyLog).contains("+switch-master mymaster \(old) \(new)")
                            && expected.allSatisfy(events.contains)
                    }
                    let events = Self.lines(notifyLog).map { String($0.split(separator: " ").first ?? "") }
                    #expect(!events.contains("+slave-reconf-sent"), "NOTICE events are not passed to the script")
                    if kind == .tandem {
                        let fds = Self.lines(URL(fileURLWithPath: notifyLog.path + ".fds"))
                        #expect(!fds.isEmpty)
                        #expect(!fds.contains { $0.hasPrefix("socket:") || $0.hasPrefix("anon_inode:") }, "leaked into the script: \(Set(fds))")
                    }
                }
            }
        }

        @Test("exit 1 is retried after script-retry-delay, exit 2 is not and gives -script-error; PENDING-SCRIPTS shows the queue")
        func exitCodes() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-scripts-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let retryLog = dir.appendingPathComponent("retry.log"), failLog = dir.appendingPathComponent("fail.log")
            let retry = try Self.script(in: dir, name: "retry.sh", log: retryLog, exitCode: 1)
            let fail = try Self.script(in: dir, name: "fail.sh", log: failLog, exitCode: 2)
            try await withRedisServers(1) { servers in
                let s = try await SentinelProcess(kind: .tandem, monitoring: servers[0], extraLines: ["sentinel deny-scripts-reconfig no"])
                defer { s.stop() }
                let watcher = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: s.port))
                try await watcher.subscribe(["-script-error"])
                #expect(try await s.command(["SENTINEL", "DEBUG", "script-retry-delay", "1500"]) == .simpleString("OK"))
                #expect(try await s.command(["SENTINEL", "SET", "mymaster", "notification-script", retry]) == .simpleString("OK"))
                try await waitUntil("the first run") { Self.lines(retryLog).count == 1 }
                try await waitUntil("PENDING-SCRIPTS to show the retry") {
                    let jobs = try await s.command(["SENTINEL", "PENDING-SCRIPTS"]).array ?? []
                    guard let job = jobs.first?.array else { return false }
                    let f = Dictionary(uniqueKeysWithValues: stride(from: 0, to: job.count - 1, by: 2).map { (job[$0].string ?? "", job[$0 + 1]) })
                    return f["flags"]?.string == "scheduled" && f["retry-num"]?.string == "1"
                        && f["argv"]?.array?.map { $0.string ?? "" } == [retry, "+set", "master mymaster 127.0.0.1 \(servers[0].port) notification-script \(retry)"]
                }
                #expect(Self.lines(retryLog).count == 1, "not retried before the delay")
                try await waitUntil("the retry", timeout: .seconds(10)) { Self.lines(retryLog).count == 2 }
                #expect(try await s.command(["SENTINEL", "SET", "mymaster", "notification-script", fail]) == .simpleString("OK"))
                try await waitUntil("the failing script to run once") { Self.lines(failLog).count >= 1 }
                try await waitUntil("the queue to be empty of it") {
                    let jobs = try await s.command(["SENTINEL", "PENDING-SCRIPTS"]).array ?? []
                    return !jobs.contains { "\($0)".contains(fail) }
                }
                let messages = await closeAndDrain(watcher).map(\.text)
                #expect(messages.contains("\(fail) 0 2"), "got \(messages)")
                #expect(Self.lines(failLog).count == 1)
            }
        }

        @Test("SENTINEL SIMULATE-FAILURE crash-after-election / crash-after-promotion: the sentinel exits at that step, as redis-sentinel does",
              arguments: ["crash-after-election", "crash-after-promotion"])
        func simulateFailure(_ mode: String) async throws {
            for kind in [SentinelProcess.Kind.tandem, .redis] {
                try await withReplicationGroup(replicas: 1) { master, replicas in
                    let s = try await SentinelProcess(kind: kind, monitoring: master, quorum: 1)
                    defer { s.stop() }
                    #expect(try await s.command(["SENTINEL", "SIMULATE-FAILURE", mode]) == .simpleString("OK"))
                    #expect(try await s.command(["INFO", "sentinel"]).string?.contains("sentinel_simulate_failure_flags:\(mode == "crash-after-election" ? 1 : 2)") == true)
                    try await waitUntil("\(kind) to accept SENTINEL FAILOVER", timeout: .seconds(30)) {
                        // redis-sentinel can exit before its OK is written: the timer that runs the
                        // election comes in the same event-loop pass as the command, before the
                        // replies are flushed (seen once in the full run). Gone is accepted.
                        if !s.isRunning { return true }
                        if try await s.command(["SENTINEL", "FAILOVER", "mymaster"]) == .simpleString("OK") { return true }
                        try await Task.sleep(for: .milliseconds(200))
                        return false
                    }
                    try await waitUntil("\(kind) to crash after the \(mode == "crash-after-election" ? "election" : "promotion")") { !s.isRunning }
                    let promoted = try await replicas[0].withConnection { try await $0.role() }.name == .master
                    #expect(promoted == (mode == "crash-after-promotion"), "\(kind): replica promoted: \(promoted)")
                }
            }
        }

        @Test("a script that is missing or not executable is refused at start, as redis-sentinel refuses it")
        func scriptCheckedAtStart() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-scripts-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let plain = dir.appendingPathComponent("plain.sh").path
            try "#!/bin/sh\n".write(toFile: plain, atomically: true, encoding: .utf8)
            for (binary, args) in [(try tandemExecutable(), ["sentinel"]), (SentinelProcess.redisSentinelBinary ?? "/usr/bin/redis-sentinel", [])] {
                for line in ["sentinel notification-script m \(plain)", "sentinel client-reconfig-script m \(dir.path)/missing.sh"] {
                    let path = dir.appendingPathComponent("sentinel.conf").path
                    try "port 0\nsentinel monitor m 127.0.0.1 6379 2\n\(line)\n".write(toFile: path, atomically: true, encoding: .utf8)
                    let (status, out) = try runProgram(binary, args + [path])
                    #expect(status != 0, "\(binary) accepted \(line)")
                    #expect(out.contains("seems non existing or non executable"), "\(binary): \(out)")
                }
            }
        }
    }
}
