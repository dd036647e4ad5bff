import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

extension SentinelSurfaceSerial {
    /// resolve-hostnames / announce-hostnames, next to redis-sentinel, with "localhost" as the name.
    @Suite("Sentinel hostnames against redis-sentinel 7.0", .serialized, .timeLimit(.minutes(2)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelHostnameTests {
        @Test("monitor by name: reported by name with announce-hostnames, by address without it; refused without resolve-hostnames",
              arguments: [true, false])
        func monitorByName(announce: Bool) async throws {
            try await withReplicationGroup(replicas: 1) { master, _ in
                let lines = ["sentinel resolve-hostnames yes", "sentinel announce-hostnames \(announce ? "yes" : "no")",
                             "sentinel monitor byname localhost \(master.port) 1", "sentinel down-after-milliseconds byname 1000"]
                let tandem = try await SentinelProcess(kind: .tandem, monitoring: master, extraLines: lines)
                defer { tandem.stop() }
                let redis = try await SentinelProcess(kind: .redis, monitoring: master, extraLines: lines)
                defer { redis.stop() }
                let expected = RESPValue.array([.bulkString(announce ? "localhost" : "127.0.0.1"), .bulkString(String(master.port))])
                for s in [tandem, redis] {
                    #expect(try await s.command(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "byname"]) == expected, "\(s.kind)")
                    #expect(try await s.command(["SENTINEL", "MONITOR", "other", "localhost", String(master.port), "1"]) == .simpleString("OK"))
                    #expect(try await s.command(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "other"]) == expected, "\(s.kind)")
                    #expect(try await s.command(["SENTINEL", "MONITOR", "bad", "no-such-host.invalid", "1", "1"])
                            == .simpleError("ERR Invalid IP address or hostname specified"))
                }
                try await waitUntil("the monitored-by-name master's replica to be found") { try await tandem.known("byname").replicas == 1 }
                let saved = try tandem.configText()
                #expect(saved.contains("sentinel monitor byname \(announce ? "localhost" : "127.0.0.1") \(master.port) 1"))
            }
        }

        @Test("announce-hostnames switched back and forth at runtime: the master shown by name or by address as redis-sentinel shows it, replies, event payloads and saved file",
              arguments: [true, false])
        func announceSwitchedAtRuntime(startWith announce: Bool) async throws {
            try await withReplicationGroup(replicas: 1) { master, _ in
                let lines = ["sentinel resolve-hostnames yes", "sentinel announce-hostnames \(announce ? "yes" : "no")",
                             "sentinel monitor byname localhost \(master.port) 1"]
                var transcripts: [[String]] = []
                for kind in [SentinelProcess.Kind.tandem, .redis] {
                    let s = try await SentinelProcess(kind: kind, monitoring: master, extraLines: lines)
                    defer { s.stop() }
                    try await waitUntil("\(kind) to know the replica") { try await s.known("byname").replicas == 1 }
                    var t: [String] = []
                    let events = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: s.port))
                    try await events.subscribe(["+set"])
                    let received = Task { () -> [String] in
                        var got: [String] = []
                        for await m in events.messages {
                            got.append("\(String(buffer: m.channel)) \(String(buffer: m.payload))")
                            if got.count == 3 { break }
                        }
                        return got
                    }
                    for setting in [!announce, announce, !announce] {
                        t.append("\(try await s.command(["SENTINEL", "CONFIG", "SET", "announce-hostnames", setting ? "yes" : "no"]))")
                        // An event about the master after the switch: its payload names it as replies do.
                        _ = try await s.command(["SENTINEL", "SET", "byname", "quorum", "1"])
                        t.append("\(try await s.command(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "byname"]))")
                        let fields = try await s.command(["SENTINEL", "MASTER", "byname"]).pairs ?? []
                        t.append("master ip: " + (fields.first { $0.key.string == "ip" }?.value.string ?? "?"))
                        let replicas = try await s.command(["SENTINEL", "REPLICAS", "byname"]).array ?? []
                        t.append("replica ip: " + replicas.map { r in (r.pairs ?? []).first { $0.key.string == "ip" }?.value.string ?? "?" }.joined())
                        #expect(try await s.command(["SENTINEL", "FLUSHCONFIG"]) == .simpleString("OK"))
                        t.append("saved: " + (try s.configText().split(separator: "\n").first { $0.hasPrefix("sentinel monitor byname") }.map(String.init) ?? "none"))
                    }
                    // The three +set events, or what came within 5 s (closing ends the stream).
                    let limit = Task {
                        try await Task.sleep(for: .seconds(5))
                        await events.close()
                    }
                    t += await received.value
                    limit.cancel()
                    await events.close()
                    transcripts.append(t)
                }
                #expect(transcripts[0] == transcripts[1], "tandem: \(transcripts[0])\nredis:  \(transcripts[1])")
            }
        }

        @Test("a mixed group that monitors and announces itself by name discovers itself by name and fails over")
        func mixedGroupByName() async throws {
            try await withReplicationGroup(replicas: 2) { master, replicas in
                let lines = ["sentinel resolve-hostnames yes", "sentinel announce-hostnames yes", "sentinel announce-ip localhost",
                             "sentinel monitor named localhost \(master.port) 2", "sentinel down-after-milliseconds named 1000",
                             "sentinel failover-timeout named 10000"]
                var sentinels: [SentinelProcess] = []
                defer { sentinels.forEach { $0.stop() } }
                for kind in [SentinelProcess.Kind.tandem, .redis, .tandem] {
                    sentinels.append(try await SentinelProcess(kind: kind, monitoring: master, extraLines: lines))
                }
                try await waitUntil("discovery by name", timeout: .seconds(30)) {
                    for s in sentinels {
                        let k = try await s.known("named")
                        if k.sentinels != 2 || k.replicas != 2 { return false }
                    }
                    return true
                }
                for s in sentinels {
                    let peers = try await s.command(["SENTINEL", "SENTINELS", "named"]).array ?? []
                    for peer in peers {
                        let flat = peer.array ?? []
                        let ip = stride(from: 0, to: flat.count - 1, by: 2).first { flat[$0].string == "ip" }.map { flat[$0 + 1].string }
                        #expect(ip == "localhost", "\(s.kind) lists a peer at \(String(describing: ip))")
                    }
                }
                master.kill9()
                try await waitUntil("a failover agreed by all", timeout: .seconds(40)) {
                    var answers: Set<String> = []
                    for s in sentinels { answers.insert(try await s.masterAddress("named") ?? "none") }
                    return answers.count == 1 && replicas.contains { answers.first?.hasSuffix(":\($0.port)") == true }
                }
            }
        }

        @Test("a hostname without resolve-hostnames is refused at start by both")
        func refusedWithoutResolve() throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-hostname-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("sentinel.conf").path
            for (binary, args) in [(try tandemExecutable(), ["sentinel"]), (SentinelProcess.redisSentinelBinary ?? "/usr/bin/redis-sentinel", [])] {
                try "port 0\nsentinel monitor m localhost 6379 2\n".write(toFile: path, atomically: true, encoding: .utf8)
                let (status, out) = try runProgram(binary, args + [path])
                #expect(status != 0)
                #expect(out.contains("Can't resolve instance hostname."), "\(binary): \(out)")
            }
        }
    }
}
