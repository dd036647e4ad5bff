import Foundation
import NIOConcurrencyHelpers
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// `tandem switchover` against three tandem sentinels and a real group: the chosen replica is
/// promoted with every write kept, each step printed with its time, the other replica's
/// replica-priority restored; bad requests refused with the reason and exit 1.
@Suite("tandem switchover", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
struct SwitchoverCommandTests {
    @Test("--to a replica: promoted without losing a write, events printed, the other replica's priority restored")
    func switchoverTo() async throws {
        try await withReplicationGroup(replicas: 2) { master, replicas in
            let target = replicas[1], other = replicas[0]
            _ = try await other.withConnection { try await $0.send(["CONFIG", "SET", "replica-priority", "70"]) }
            let sentinels = try await SentinelBehaviourTests.group(master)
            defer { sentinels.forEach { $0.stop() } }
            let writer = SentinelBehaviourTests.Writer()
            let writing = Task { await writer.run(sentinel: sentinels[1]) }
            try await waitUntil("300 acknowledged writes before the switchover") { writer.acked.withLockedValue { $0.count } >= 300 }

            let monitor = "127.0.0.1:\(sentinels[0].port)"
            let (status, output) = try runProgram(try tandemExecutable(),
                                                  ["switchover", "--monitor", monitor, "--group", "mymaster", "--to", "127.0.0.1:\(target.port)"])
            #expect(status == 0, "\(output)")
            let lines = output.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.contains("127.0.0.1:\(other.port): replica-priority 0 for the switchover (was 70)") }, "\(output)")
            #expect(lines.contains { $0.contains("+selected-slave slave 127.0.0.1:\(target.port)") }, "\(output)")
            #expect(lines.contains { $0.contains("+switch-master mymaster 127.0.0.1 \(master.port) 127.0.0.1 \(target.port)") }, "\(output)")
            #expect(lines.last?.hasSuffix("switched: the master of mymaster is 127.0.0.1:\(target.port)") == true, "\(output)")
            // Every line carries its time since the start.
            #expect(lines.allSatisfy { $0.range(of: #"^ *\d+ ms  "#, options: .regularExpression) != nil }, "\(output)")

            try await waitUntil("every sentinel to name the target", timeout: .seconds(20)) {
                for s in sentinels where try await s.masterAddress() != "127.0.0.1:\(target.port)" { return false }
                return true
            }
            let priority = try await other.withConnection { try await $0.send(["CONFIG", "GET", "replica-priority"]) }
            #expect(priority.array?.last?.string == "70", "restored to its own value")

            let before = writer.acked.withLockedValue { $0.count }
            try await waitUntil("300 more acknowledged writes after the switchover") { writer.acked.withLockedValue { $0.count } >= before + 300 }
            writer.stop.withLockedValue { $0 = true }
            await writing.value
            let acked = writer.acked.withLockedValue { $0 }
            let values = try await target.withConnection { c in try await c.pipeline(acked.map { ["GET", "w:\($0)"] }) }
            let lost = zip(acked, values).filter { $0.1 != .bulkString("\($0.0)") }.map(\.0)
            #expect(lost.isEmpty, "\(lost.count) of \(acked.count) acknowledged writes missing on the new master")
        }
    }

    @Test("refused with the reason and exit 1: an unknown --to, an unknown group, no monitor there")
    func refusals() async throws {
        try await withReplicationGroup(replicas: 1) { master, _ in
            let sentinel = try await SentinelProcess(kind: .tandem, monitoring: master, quorum: 1)
            defer { sentinel.stop() }
            try await waitUntil("the sentinel to know the replica") { try await sentinel.known().replicas == 1 }
            let monitor = "127.0.0.1:\(sentinel.port)"
            let tandem = try tandemExecutable()
            let unknownTarget = try runProgram(tandem, ["switchover", "--monitor", monitor, "--to", "127.0.0.1:1"])
            #expect(unknownTarget.status == 1)
            #expect(unknownTarget.output.contains("--to 127.0.0.1:1 is not a replica of this master"), "\(unknownTarget.output)")
            let unknownGroup = try runProgram(tandem, ["switchover", "--monitor", monitor, "--group", "nosuch"])
            #expect(unknownGroup.status == 1)
            #expect(unknownGroup.output.contains("No such master with that name"), "\(unknownGroup.output)")
            let nobody = try runProgram(tandem, ["switchover", "--monitor", "127.0.0.1:\(try freeLoopbackPort())"])
            #expect(nobody.status == 1)
            #expect(nobody.output.contains("cannot reach the monitor"), "\(nobody.output)")
            // Nothing was switched.
            #expect(try await sentinel.masterAddress() == "127.0.0.1:\(master.port)")
        }
    }
}

/// `tandem status` against a real group watched by tandem sentinels and a redis-sentinel.
@Suite("tandem status", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
struct StatusCommandTests {
    @Test("asked of a tandem sentinel and of a redis-sentinel: the master, both replicas linked with their lag, every monitor; JSON too")
    func status() async throws {
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
            for s in [sentinels[0], sentinels[2]] {
                let (status, output) = try runProgram(try tandemExecutable(), ["status", "--monitor", "127.0.0.1:\(s.port)"])
                #expect(status == 0, "\(s.kind): \(output)")
                let lines = output.split(separator: "\n").map(String.init)
                #expect(lines.first == "group mymaster: master 127.0.0.1:\(master.port) ok  config epoch 0  quorum 2", "\(s.kind): \(output)")
                for r in replicas {
                    #expect(lines.contains { $0.hasPrefix("  127.0.0.1:\(r.port) ") && $0.contains(" up ") }, "\(s.kind): \(output)")
                }
                for peer in sentinels {
                    #expect(lines.contains { $0.hasPrefix("  127.0.0.1:\(peer.port) ") && ($0.contains(" ok ") || $0.contains(" asked ")) },
                            "\(s.kind): \(output)")
                }
                #expect(lines.allSatisfy { $0.count <= 100 })
            }
            let (status, output) = try runProgram(try tandemExecutable(), ["status", "--json", "--monitor", "127.0.0.1:\(sentinels[1].port)"])
            #expect(status == 0, "\(output)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
            let group = try #require((object["groups"] as? [[String: Any]])?.first)
            #expect(group["master"] as? String == "127.0.0.1:\(master.port)")
            #expect((group["replicas"] as? [[String: Any]])?.count == 2)
            #expect((group["monitors"] as? [[String: Any]])?.count == 3)
            #expect(group["masterOffset"] as? Int != nil, "the master's offset read from the master")
            // Before any failover every monitor's hello says epoch 0, config epoch 0, this master
            // (heard within the 2.5 s status listens: each sentinel publishes every 2 s).
            for m in group["monitors"] as? [[String: Any]] ?? [] {
                #expect(m["currentEpoch"] as? Int == 0 && m["configEpoch"] as? Int == 0, "\(m)")
                #expect(m["helloMaster"] as? String == "127.0.0.1:\(master.port)", "\(m)")
            }
            // Nobody there: exit 1 with the reason.
            let nobody = try runProgram(try tandemExecutable(), ["status", "--monitor", "127.0.0.1:\(try freeLoopbackPort())"])
            #expect(nobody.status == 1 && nobody.output.hasPrefix("tandem status: 127.0.0.1:"), "\(nobody.output)")
        }
    }

    @Test("--watch into a file: a whole screen every second (each after a clear-screen), exit 0 on SIGTERM and on SIGINT", arguments: [SIGTERM, SIGINT])
    func watch(signal: Int32) async throws {
        try await withRedisServers(1) { servers in
            let master = servers[0]
            let sentinel = try await SentinelProcess(kind: .tandem, monitoring: master, quorum: 1)
            defer { sentinel.stop() }
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-watch-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let log = dir.appendingPathComponent("watch.out")
            let started = ContinuousClock.now
            let child = try ChildProcess(executable: try tandemExecutable(),
                                         arguments: ["status", "--watch", "--monitor", "127.0.0.1:\(sentinel.port)"], logFile: log)
            defer { child.kill9() }
            let header = "group mymaster: master 127.0.0.1:\(master.port) ok"
            let output = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
            // --watch prints every second: the second screen within about 2.5 s of the start.
            try await waitUntil("two screens (output: \(output()))", timeout: .seconds(10)) {
                guard child.isRunning else { throw HarnessError("tandem status --watch exited: \(output())") }
                return output().components(separatedBy: header).count - 1 >= 2
            }
            let took = ContinuousClock.now - started
            let screens = output().components(separatedBy: "\u{1B}[H\u{1B}[2J").dropFirst()
            #expect(screens.count >= 2)
            for screen in screens.dropLast() {
                #expect(screen.hasPrefix(header), "\(screen)")
                #expect(screen.split(separator: "\n").allSatisfy { $0.count <= 100 }, "\(screen)")
            }
            print("status --watch: \(screens.count) screens in \(took)")
            child.signal(signal)
            try await waitUntil("tandem status --watch to exit after signal \(signal)", timeout: .seconds(5)) { !child.isRunning }
            #expect(child.terminationStatus == 0, "output: \(output())")
        }
    }
}
