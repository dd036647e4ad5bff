import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

extension SentinelSurfaceSerial {
    /// Hostile numbers in a sentinel.conf at start-up, side by side with redis-sentinel 7.0.15:
    /// for every numeric `sentinel …` directive and a sample of the server ones, each value
    /// either stops both with the same message, or both start and report the same settings.
    @Suite("Sentinel config file: hostile numbers against redis-sentinel 7.0", .serialized, .timeLimit(.minutes(8)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelConfigNumbersTests {
        static let values = ["0", "-1", "9223372036854775807", "9223372036854775808", "abc", "1.5"]
        /// `V` is the value; `PORT` a free port for the sentinel. A master `m` is monitored at a
        /// port nobody listens on, so nothing is discovered and the reports stay as read.
        static let templates = [
            "sentinel monitor m 127.0.0.1 V 2",
            "sentinel monitor m 127.0.0.1 DEAD V",
            "sentinel down-after-milliseconds m V",
            "sentinel failover-timeout m V",
            "sentinel parallel-syncs m V",
            "sentinel master-reboot-down-after-period m V",
            "sentinel config-epoch m V",
            "sentinel leader-epoch m V",
            "sentinel current-epoch V",
            "sentinel announce-port V",
            "sentinel known-replica m 127.0.0.1 V",
            "sentinel known-sentinel m 127.0.0.1 V 0123456789012345678901234567890123456789",
            "port V",
            "maxclients V",
            "timeout V",
            "hz V",
            "maxmemory V",
            "io-threads V",
        ]

        enum Outcome: Equatable, CustomStringConvertible {
            case refused(String)
            case running([String])
            var description: String {
                switch self {
                case .refused(let m): return "refused: \(m)"
                case .running(let r): return "running: " + r.joined(separator: " | ")
                }
            }
        }

        /// Starts one kind with the file for `line` and tells what became of it.
        func outcome(_ kind: SentinelProcess.Kind, line: String, dead: Int) async throws -> Outcome {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-numbers-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let port = try freeLoopbackPort()
            var lines: [String] = []
            if !line.hasPrefix("port ") { lines.append("port \(port)") }
            if !line.hasPrefix("sentinel monitor ") { lines.append("sentinel monitor m 127.0.0.1 \(dead) 2") }
            lines.append(line)
            let conf = dir.appendingPathComponent("sentinel.conf")
            try (lines.joined(separator: "\n") + "\n").write(to: conf, atomically: true, encoding: .utf8)
            let log = dir.appendingPathComponent("out.log")
            let child: ChildProcess
            switch kind {
            case .redis: child = try ChildProcess(executable: SentinelProcess.redisSentinelBinary!, arguments: [conf.path], logFile: log)
            case .tandem: child = try ChildProcess(executable: try tandemExecutable(), arguments: ["sentinel", conf.path], logFile: log)
            }
            // kill -9: a child of the test process may inherit a mask that blocks SIGTERM, and a
            // graceful stop is not what is compared here.
            defer { child.kill9() }
            let connectPort = line.hasPrefix("port ") ? nil : port
            var answered = false
            try await waitUntil("\(kind) to exit or answer PING", timeout: .seconds(10)) {
                if child.terminationStatus != nil { return true }
                guard let connectPort else { return false }
                answered = (try? await Self.command(connectPort, ["PING"])) == .simpleString("PONG")
                return answered
            }
            if !answered {
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                return .refused(Self.message(text))
            }
            guard let p = connectPort else { return .refused("?") }
            var report: [String] = []
            let master = try await Self.command(p, ["SENTINEL", "MASTER", "m"]).pairs ?? []
            for key in ["port", "quorum", "down-after-milliseconds", "failover-timeout", "parallel-syncs", "config-epoch", "master-reboot-down-after-period", "num-other-sentinels"] {
                report.append("\(key)=\(master.first { $0.key.string == key }?.value.string ?? "-")")
            }
            let replicas = try await Self.command(p, ["SENTINEL", "REPLICAS", "m"]).array ?? []
            report.append("replicas=" + replicas.map { r in
                let f = r.pairs ?? []
                return "\(f.first { $0.key.string == "ip" }?.value.string ?? "?"):\(f.first { $0.key.string == "port" }?.value.string ?? "?")"
            }.joined(separator: ","))
            let sentinels = try await Self.command(p, ["SENTINEL", "SENTINELS", "m"]).array ?? []
            report.append("sentinels=" + sentinels.map { s in
                let f = s.pairs ?? []
                return f.first { $0.key.string == "port" }?.value.string ?? "?"
            }.joined(separator: ","))
            let announce = try await Self.command(p, ["SENTINEL", "CONFIG", "GET", "announce-port"])
            report.append("announce-port=\(announce.array?.last?.string ?? "\(announce)")")
            // The epochs as the rewrite saves them.
            _ = try await Self.command(p, ["SENTINEL", "FLUSHCONFIG"])
            let saved = try String(contentsOf: conf, encoding: .utf8).split(separator: "\n")
            for prefix in ["sentinel current-epoch", "sentinel config-epoch", "sentinel leader-epoch"] {
                report.append(saved.first { $0.hasPrefix(prefix) }.map(String.init) ?? "(no \(prefix))")
            }
            #expect(child.terminationStatus == nil, "\(kind) exited while answering: \(line)")
            return .running(report)
        }

        /// The reason in a start-up failure: redis-sentinel's last line, tandem's text after the
        /// quoted directive; 7.0's "not listen anywhere" without its time stamp.
        static func message(_ output: String) -> String {
            let lines = output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            if let l = lines.first(where: { $0.contains("Configured to not listen anywhere") }) {
                return String(l[l.range(of: "Configured")!.lowerBound...])
            }
            guard let last = lines.last(where: { !$0.contains("# WARNING") }) else { return "(no output)" }
            if let r = last.range(of: "': ", options: .backwards), last.hasPrefix("tandem sentinel:") {
                return String(last[r.upperBound...])
            }
            return last
        }

        static func command(_ port: Int, _ args: [String]) async throws -> RESPValue {
            let c = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: port, connectTimeout: .milliseconds(300)))
            do {
                let reply = try await c.send(args)
                await c.close()
                return reply
            } catch {
                await c.close()
                throw error
            }
        }

        @Test("every numeric directive with 0, -1, 2^63 - 1, 2^63, text and a fraction: refused with the same message or read as the same number",
              arguments: templates)
        func hostileNumbers(template: String) async throws {
            let dead = try freeLoopbackPort()
            for value in Self.values {
                let line = template.replacingOccurrences(of: "DEAD", with: "\(dead)").replacingOccurrences(of: "V", with: value)
                let redis = try await outcome(.redis, line: line, dead: dead)
                let tandem = try await outcome(.tandem, line: line, dead: dead)
                #expect(redis == tandem, "\(line)\n  redis-sentinel: \(redis)\n  tandem:         \(tandem)")
            }
        }
    }
}
