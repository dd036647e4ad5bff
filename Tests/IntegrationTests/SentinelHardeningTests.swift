import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

extension SentinelSurfaceSerial {
    /// Hostile values for every numeric setting, answered as redis-sentinel answers them; the
    /// sentinel stays up and still fails over with the largest values it accepted.
    @Suite("Sentinel hostile values", .serialized, .timeLimit(.minutes(3)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelHardeningTests {
        static let values = ["0", "-1", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "abc", "1.5", ""]
        static let setOptions = ["down-after-milliseconds", "failover-timeout", "parallel-syncs", "quorum", "master-reboot-down-after-period"]

        /// Runs the table on one kind of sentinel and returns what it answered; for tandem, then
        /// a forced failover with down-after and failover-timeout left at Int64.max.
        /// (redis-sentinel 7.0.15 answers that failover -NOGOODSLAVE: its replica selection
        /// computes down-after × 10, which overflows; tandem's arithmetic saturates.)
        func transcript(_ kind: SentinelProcess.Kind) async throws -> [String] {
            try await withReplicationGroup(replicas: 1) { master, replicas in
                let s = try await SentinelProcess(kind: kind, monitoring: master, quorum: 1)
                defer { s.stop() }
                try await waitUntil("\(kind) to know the replica") { try await s.known().replicas == 1 }
                let defaults = try await s.command(["SENTINEL", "DEBUG"]).pairs ?? []
                var out: [String] = []
                func run(_ args: [String]) async throws {
                    out.append(args.joined(separator: " ") + " -> " + "\(try await s.command(args))")
                    #expect(s.isRunning, "\(kind) exited after \(args)")
                }
                for value in Self.values {
                    for option in Self.setOptions { try await run(["SENTINEL", "SET", "mymaster", option, value]) }
                    try await run(["SENTINEL", "CONFIG", "SET", "announce-port", value])
                    for timer in defaults.compactMap({ $0.key.string?.lowercased() }) {
                        try await run(["SENTINEL", "DEBUG", timer, value])
                    }
                    try await run(["CLIENT", "PAUSE", value, "WRITE"])
                    _ = try await s.command(["CLIENT", "UNPAUSE"])
                }
                // The timers back to their defaults (at Int64.max no PING or INFO would ever be
                // sent); down-after, failover-timeout and the rest stay at Int64.max.
                for pair in defaults {
                    _ = try await s.command(["SENTINEL", "DEBUG", pair.key.string ?? "", pair.value.string ?? ""])
                }
                _ = try await s.command(["SENTINEL", "CONFIG", "SET", "announce-port", "0"])
                try await run(["SENTINEL", "DEBUG", "info-period", "1000"])
                guard kind == .tandem else { return out }
                let target = "\(replicas[0].host):\(replicas[0].port)"
                try await waitUntil("\(kind) to accept SENTINEL FAILOVER", timeout: .seconds(30)) {
                    if try await s.command(["SENTINEL", "FAILOVER", "mymaster"]) == .simpleString("OK") { return true }
                    try await Task.sleep(for: .milliseconds(200))
                    return false
                }
                try await waitUntil("\(kind) to fail over to \(target) with down-after and failover-timeout at Int64.max", timeout: .seconds(30)) {
                    try await s.masterAddress() == target
                }
                #expect(s.isRunning)
                return out
            }
        }

        @Test("SENTINEL SET / CONFIG SET / DEBUG and CLIENT PAUSE with 0, -1, Int64.max, past Int64, non-numbers: the same replies as redis-sentinel, the process alive, a failover still works")
        func hostileValues() async throws {
            let redis = try await transcript(.redis)
            let tandem = try await transcript(.tandem)
            #expect(redis.count == tandem.count)
            for (r, t) in zip(redis, tandem) where r != t {
                Issue.record("tandem: \(t)\nredis:  \(r)")
            }
        }

        /// A replica running a long script answers INFO -BUSY. redis-sentinel 7.0 ignores the
        /// error and asks again at the next period (its link to such a replica shows as
        /// disconnected meanwhile, `info-refresh` 0, so it is not compared here); tandem left the
        /// request pending for as long as the link lasted and never refreshed that replica's INFO
        /// again (its offset, role and master frozen: stale for a failover's choice).
        @Test("after a replica answered INFO -BUSY (a script running), tandem refreshes its INFO again once the script is killed")
        func infoRefreshedAfterBusy() async throws {
            for kind in [SentinelProcess.Kind.tandem] {
                try await withReplicationGroup(replicas: 1) { master, replicas in
                    let s = try await SentinelProcess(kind: kind, monitoring: master, quorum: 1)
                    defer { s.stop() }
                    try await waitUntil("\(kind) to know the replica") { try await s.known().replicas == 1 }
                    _ = try await s.command(["SENTINEL", "DEBUG", "info-period", "300"])
                    // Not SDOWN while busy: an SDOWN instance answering -BUSY gets SCRIPT KILL
                    // from the sentinel (both kinds), which would end the script at once.
                    _ = try await s.command(["SENTINEL", "SET", "mymaster", "down-after-milliseconds", "60000"])
                    func infoRefresh() async throws -> Int? {
                        let entry = try await s.command(["SENTINEL", "REPLICAS", "mymaster"]).array?.first
                        return entry?.pairs?.first { $0.key.string == "info-refresh" }.flatMap { $0.value.string }.flatMap { Int($0) }
                    }
                    // The replica's first INFO in (`info-refresh` is 0 until then).
                    try await waitUntil("\(kind): the replica's first INFO") { (try await infoRefresh() ?? 0) > 0 }
                    let replica = replicas[0]
                    try await replica.withConnection { c in _ = try await c.send(["CONFIG", "SET", "busy-reply-threshold", "100"]) }
                    let busy = try await replica.connect(commandTimeout: .seconds(30))
                    let script = Task { try? await busy.send(["EVAL", "while true do end", "0"]) }
                    // Several INFO periods answered -BUSY.
                    try await waitUntil("\(kind): the replica's INFO going stale while busy", timeout: .seconds(10)) {
                        (try await infoRefresh() ?? 0) > 1_500
                    }
                    try await replica.withConnection { c in _ = try await c.send(["SCRIPT", "KILL"]) }
                    _ = await script.value
                    await busy.close()
                    try await waitUntil("\(kind): the replica's INFO refreshed after the script ended", timeout: .seconds(10)) {
                        (try await infoRefresh() ?? .max) < 1_000
                    }
                }
            }
        }
    }
}
