import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

extension SentinelSurfaceSerial {
    /// The monitored servers move to an ACL user at runtime, as an operator rotating
    /// credentials does; the same steps against redis-sentinel and tandem sentinel.
    @Suite("Sentinel credentials changed at runtime", .serialized, .timeLimit(.minutes(2)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelCredentialTests {
        /// The flags of the master and of its replicas, as SENTINEL MASTER / REPLICAS show them.
        static func flags(_ s: SentinelProcess) async throws -> [String] {
            func flag(_ reply: RESPValue) -> String {
                (reply.pairs ?? []).first { $0.key.string == "flags" }?.value.string ?? "?"
            }
            let master = flag(try await s.command(["SENTINEL", "MASTER", "mymaster"]))
            let replicas = (try await s.command(["SENTINEL", "REPLICAS", "mymaster"]).array ?? []).map(flag)
            return [master] + replicas
        }

        @Test("servers switched to an ACL user: both kinds show them disconnected, reconnect once SENTINEL SET auth-user/auth-pass gives the new credentials, and stay connected")
        func credentialsChangedAtRuntime() async throws {
            try await withReplicationGroup(replicas: 1) { master, replicas in
                // quorum 3 with two sentinels: never ODOWN, so nothing but the links changes.
                let sentinels = [try await SentinelProcess(kind: .tandem, monitoring: master, quorum: 3, downAfter: 2000),
                                 try await SentinelProcess(kind: .redis, monitoring: master, quorum: 3, downAfter: 2000)]
                defer { for s in sentinels { s.stop() } }
                for s in sentinels {
                    try await waitUntil("\(s.kind) to know the replica") { try await s.known().replicas == 1 }
                }
                for server in [master] + replicas {
                    try await server.withConnection { c in
                        _ = try await c.command(["ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*", "&*"])
                        _ = try await c.command(["CONFIG", "SET", "masteruser", "u"])
                        _ = try await c.command(["CONFIG", "SET", "masterauth", "pw"])
                        _ = try await c.command(["ACL", "SETUSER", "default", "off"])
                        _ = try await c.command(["CLIENT", "KILL", "USER", "default", "SKIPME", "no"])
                    }
                }
                for s in sentinels {
                    try await waitUntil("\(s.kind) to show master and replica disconnected", timeout: .seconds(15)) {
                        try await Self.flags(s).allSatisfy { $0.contains("disconnected") }
                    }
                }
                var reconnected: [SentinelProcess.Kind: Duration] = [:]
                for s in sentinels {
                    let start = ContinuousClock.now
                    #expect(try await s.command(["SENTINEL", "SET", "mymaster", "auth-user", "u", "auth-pass", "pw"]) == .simpleString("OK"))
                    try await waitUntil("\(s.kind) to reconnect with the new credentials", timeout: .seconds(10)) {
                        try await Self.flags(s) == ["master", "slave"]
                    }
                    reconnected[s.kind] = ContinuousClock.now - start
                }
                // Still connected a while later (down-after is 2 s: a link that cannot
                // authenticate would be SDOWN and disconnected again by then).
                try await Task.sleep(for: .seconds(3))
                for s in sentinels {
                    #expect(try await Self.flags(s) == ["master", "slave"], "\(s.kind)")
                }
                print("credentials changed at runtime: reconnected after \(reconnected)")
            }
        }
    }
}
