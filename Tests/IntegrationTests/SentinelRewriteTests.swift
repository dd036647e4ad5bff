import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

extension SentinelSurfaceSerial {
    /// The file the rewrite produces, next to redis-sentinel's: an operator's comments must stay
    /// beside the directives they describe.
    @Suite("Sentinel config rewrite against redis-sentinel 7.0", .serialized, .timeLimit(.minutes(2)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelRewriteTests {
        /// Every line of a file in order, with what differs by nature (the sentinel's id, its
        /// port, the master's port, the directory) masked. The server lines redis-sentinel
        /// generates from its settings table (`protected-mode`, `latency-tracking…`) come in that
        /// table's hash order, which changes from run to run: among themselves they are sorted.
        static func shape(_ text: String, port: Int, masterPort: Int) -> [String] {
            sortingGenerated(text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
                .map { line in
                    var l = line.replacingOccurrences(of: " \(masterPort) ", with: " <master-port> ")
                        .replacingOccurrences(of: "\(port)", with: "<port>")
                    if l.hasPrefix("sentinel myid ") { l = "sentinel myid <id>" }
                    if l.hasPrefix("dir ") { l = "dir <dir>" }
                    return l
                }
        }

        /// The file's lines with those of redis-server's settings table that a rewrite generates
        /// sorted among their own places.
        static func sortingGenerated(_ lines: [String]) -> [String] {
            let generated = ["protected-mode ", "latency-tracking-info-percentiles "]
            let places = lines.indices.filter { i in generated.contains { lines[i].hasPrefix($0) } }
            var out = lines
            for (place, line) in zip(places, places.map { lines[$0] }.sorted()) { out[place] = line }
            return out
        }

        @Test("after FLUSHCONFIG, SENTINEL SET and SENTINEL CONFIG SET, the file is redis-sentinel's, line for line (ids, ports, the directory masked)")
        func linesStayInPlace() async throws {
            try await withRedisServers(1) { servers in
                let master = servers[0]
                var shapes: [[[String]]] = []
                for kind in [SentinelProcess.Kind.redis, .tandem] {
                    let port = try freeLoopbackPort()
                    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-rewrite-\(kind)-\(UUID().uuidString)")
                    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                    let file = directory.appendingPathComponent("sentinel.conf")
                    try """
                        # Sentinel for the cache
                        port \(port)
                        bind 127.0.0.1
                        # monitoring set
                        sentinel monitor mymaster 127.0.0.1 \(master.port) 1
                        # a master silent this long is down
                        sentinel down-after-milliseconds mymaster 5000
                        # end of the operator's part

                        """.write(to: file, atomically: true, encoding: .utf8)
                    let s = try await SentinelProcess(kind: kind, port: port, directory: directory, configFile: file,
                                                      configArgument: file.path, workingDirectory: directory)
                    defer { s.stop() }
                    var steps: [[String]] = []
                    for command in [["SENTINEL", "FLUSHCONFIG"], ["SENTINEL", "SET", "mymaster", "failover-timeout", "20000"],
                                    ["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "yes"]] {
                        _ = try await s.command(command)
                        _ = try await s.command(["SENTINEL", "FLUSHCONFIG"])
                        steps.append(Self.shape(try s.configText(), port: port, masterPort: master.port))
                    }
                    shapes.append(steps)
                }
                #expect(shapes.count == 2 && shapes.allSatisfy { $0.count == 3 })
                // redis-sentinel keeps the operator's comment above the directive it describes.
                let redisFirst = shapes[0][0]
                #expect(redisFirst.firstIndex(of: "# a master silent this long is down").map { redisFirst[$0 + 1].hasPrefix("sentinel down-after-milliseconds") } == true,
                        "redis-sentinel: \(redisFirst)")
                for (step, (redis, tandem)) in zip(shapes[0], shapes[1]).enumerated() {
                    #expect(tandem == redis, "step \(step):\ntandem: \(tandem)\nredis:  \(redis)")
                }
            }
        }

        /// `shape` after a failover: the old master's and the promoted replica's ports named for
        /// their roles, and the epochs masked.
        static func failoverShape(_ text: String, port: Int, oldMaster: Int, promoted: Int) -> [String] {
            sortingGenerated(text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
                .map { line in
                    var words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                    for i in words.indices {
                        switch words[i] {
                        case String(port): words[i] = "<port>"
                        case String(oldMaster): words[i] = "<old-master-port>"
                        case String(promoted): words[i] = "<promoted-port>"
                        default: break
                        }
                    }
                    if words.first == "dir" { words = ["dir", "<dir>"] }
                    if words.count >= 2, words[0] == "sentinel" {
                        switch words[1] {
                        case "myid": words = ["sentinel", "myid", "<id>"]
                        case "current-epoch", "config-epoch", "leader-epoch": words[words.count - 1] = "<epoch>"
                        default: break
                        }
                    }
                    return words.joined(separator: " ")
                }
        }

        @Test("after a failover (SENTINEL FAILOVER) and FLUSHCONFIG, the file is redis-sentinel's, line for line (ids, ports, epochs, the directory masked)")
        func afterFailover() async throws {
            var shapes: [SentinelProcess.Kind: [String]] = [:]
            for kind in [SentinelProcess.Kind.redis, .tandem] {
                try await withReplicationGroup(replicas: 1) { master, replicas in
                    let port = try freeLoopbackPort()
                    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-rewrite-failover-\(kind)-\(UUID().uuidString)")
                    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                    let file = directory.appendingPathComponent("sentinel.conf")
                    try """
                        # Sentinel for the cache
                        port \(port)
                        bind 127.0.0.1
                        # monitoring set
                        sentinel monitor mymaster 127.0.0.1 \(master.port) 1
                        # a master silent this long is down
                        sentinel down-after-milliseconds mymaster 5000
                        sentinel failover-timeout mymaster 10000
                        # end of the operator's part

                        """.write(to: file, atomically: true, encoding: .utf8)
                    let s = try await SentinelProcess(kind: kind, port: port, directory: directory, configFile: file,
                                                      configArgument: file.path, workingDirectory: directory)
                    defer { s.stop() }
                    try await waitUntil("\(kind) to know the replica") { try await s.known().replicas == 1 }
                    // The replica's INFO must show it in sync before a replica is a good candidate.
                    try await Task.sleep(for: .seconds(1))
                    #expect(try await s.command(["SENTINEL", "FAILOVER", "mymaster"]) == .simpleString("OK"), "\(kind)")
                    let promoted = replicas[0].port
                    try await waitUntil("\(kind) to switch to the replica", timeout: .seconds(30)) {
                        try await s.masterAddress() == "127.0.0.1:\(promoted)"
                    }
                    // The old master is demoted to a replica of the new one and seen there.
                    try await waitUntil("\(kind) to see the old master as a replica", timeout: .seconds(30)) {
                        let reply = try await s.command(["SENTINEL", "REPLICAS", "mymaster"])
                        return (reply.array ?? []).contains { r in
                            let fields = Dictionary((r.pairs ?? []).compactMap { p in p.key.string.flatMap { k in p.value.string.map { (k, $0) } } },
                                                    uniquingKeysWith: { a, _ in a })
                            return fields["port"] == String(master.port) && fields["master-link-status"] == "ok"
                        }
                    }
                    _ = try await s.command(["SENTINEL", "FLUSHCONFIG"])
                    shapes[kind] = Self.failoverShape(try s.configText(), port: port, oldMaster: master.port, promoted: promoted)
                }
            }
            let redis = shapes[.redis] ?? [], tandem = shapes[.tandem] ?? []
            #expect(redis.contains("sentinel monitor mymaster 127.0.0.1 <promoted-port> 1"), "redis-sentinel: \(redis)")
            #expect(tandem == redis, "\ntandem: \(tandem)\nredis:  \(redis)")
        }
    }
}
