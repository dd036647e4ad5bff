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

        @Test("a sentinel restarted with the old credentials (never given the new ones) shows master and replica disconnected, and reconnects once SENTINEL SET gives them; as redis-sentinel")
        func restartedWithOldCredentials() async throws {
            try await withReplicationGroup(replicas: 1) { master, replicas in
                let servers = [master] + replicas
                let sentinels = [try await SentinelProcess(kind: .tandem, monitoring: master, quorum: 3, downAfter: 2000),
                                 try await SentinelProcess(kind: .redis, monitoring: master, quorum: 3, downAfter: 2000)]
                defer { for s in sentinels { s.stop() } }
                for s in sentinels {
                    try await waitUntil("\(s.kind) to know the replica") { try await s.known().replicas == 1 }
                }
                // The servers move to user u with password pw, and the sentinels are told (the
                // file now holds auth-user u, auth-pass pw).
                for server in servers {
                    try await server.withConnection { c in
                        _ = try await c.command(["ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*", "&*"])
                        _ = try await c.command(["CONFIG", "SET", "masteruser", "u"])
                        _ = try await c.command(["CONFIG", "SET", "masterauth", "pw"])
                        _ = try await c.command(["ACL", "SETUSER", "default", "off"])
                        _ = try await c.command(["CLIENT", "KILL", "USER", "default", "SKIPME", "no"])
                    }
                }
                for s in sentinels {
                    #expect(try await s.command(["SENTINEL", "SET", "mymaster", "auth-user", "u", "auth-pass", "pw"]) == .simpleString("OK"))
                    try await waitUntil("\(s.kind) to connect as u", timeout: .seconds(10)) { try await Self.flags(s) == ["master", "slave"] }
                    #expect(try s.configText().contains("auth-pass mymaster pw"), "\(s.kind)")
                }
                // The password changes to pw2; the sentinels are then restarted with their files,
                // which still say pw.
                for server in servers {
                    let c = try await server.connect(username: "u", password: "pw")
                    _ = try await c.command(["ACL", "SETUSER", "u", "resetpass", ">pw2"])
                    _ = try await c.command(["CONFIG", "SET", "masterauth", "pw2"])
                    _ = try? await c.command(["CLIENT", "KILL", "USER", "u", "SKIPME", "no"])  // closes this one too
                    await c.close()
                }
                for server in replicas {
                    try await waitUntil("replica \(server.port) to sync again with pw2", timeout: .seconds(15)) {
                        let c = try await server.connect(username: "u", password: "pw2")
                        defer { Task { await c.close() } }
                        return try await c.info("replication").replication.masterLinkUp == true
                    }
                }
                for s in sentinels {
                    try await s.restart()
                    try await waitUntil("\(s.kind), restarted with the old password, to show master and replica disconnected", timeout: .seconds(15)) {
                        try await Self.flags(s).allSatisfy { $0.contains("disconnected") }
                    }
                }
                for s in sentinels {
                    #expect(try await s.command(["SENTINEL", "SET", "mymaster", "auth-pass", "pw2"]) == .simpleString("OK"))
                    try await waitUntil("\(s.kind) to reconnect with the new password", timeout: .seconds(10)) {
                        try await Self.flags(s) == ["master", "slave"]
                    }
                }
                try await Task.sleep(for: .seconds(3))
                for s in sentinels {
                    #expect(try await Self.flags(s) == ["master", "slave"], "\(s.kind)")
                }
            }
        }
    }
}

extension SentinelSurfaceSerial {
    /// The sentinels themselves move to an ACL user at runtime; each is told the peers' new
    /// credentials with SENTINEL CONFIG SET sentinel-user/sentinel-pass. The same steps for a
    /// group of three redis-sentinels and a group of three tandem sentinels.
    @Suite("Sentinel peer credentials changed at runtime", .serialized, .timeLimit(.minutes(3)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelPeerCredentialTests {
        /// The flags of each peer entry, as SENTINEL SENTINELS shows them, sorted.
        static func peerFlags(_ s: SentinelProcess) async throws -> [String] {
            (try await s.command(["SENTINEL", "SENTINELS", "mymaster"]).array ?? []).map { reply in
                (reply.pairs ?? []).first { $0.key.string == "flags" }?.value.string ?? "?"
            }.sorted()
        }

        struct Observed: Equatable, CustomStringConvertible {
            /// Every peer entry lost its link or was found down once the peers required the user.
            var peersLost: Bool
            /// Every peer entry back to `sentinel` after the new credentials.
            var peersBack: Bool
            /// The three agree on the promoted replica after kill -9 of the master.
            var failedOver: Bool
            var description: String { "lost \(peersLost), back \(peersBack), failed over \(failedOver)" }
        }

        static func scenario(_ kind: SentinelProcess.Kind) async throws -> Observed {
            try await withReplicationGroup(replicas: 1) { master, replicas in
                var sentinels: [SentinelProcess] = []
                defer { for s in sentinels { s.stop() } }
                for _ in 0..<3 { sentinels.append(try await SentinelProcess(kind: kind, monitoring: master, quorum: 2, downAfter: 1000)) }
                for s in sentinels {
                    try await waitUntil("\(kind) to know two peers and the replica", timeout: .seconds(20)) {
                        let known = try await s.known()
                        return known.sentinels == 2 && known.replicas == 1
                    }
                }
                for s in sentinels {
                    // On one connection: once default is off, a new connection could not run the kill.
                    let c = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: s.port))
                    #expect(try await c.send(["ACL", "SETUSER", "peer", "on", ">ppw", "+@all"]) == .simpleString("OK"), "\(kind)")
                    #expect(try await c.send(["ACL", "SETUSER", "default", "off"]) == .simpleString("OK"), "\(kind)")
                    _ = try? await c.send(["CLIENT", "KILL", "USER", "default", "SKIPME", "no"])  // closes this one too
                    await c.close()
                    s.username = "peer"
                    s.password = "ppw"
                }
                var observed = Observed(peersLost: false, peersBack: false, failedOver: false)
                do {
                    for s in sentinels {
                        try await waitUntil("\(kind): peers refused by the others shown down", timeout: .seconds(15)) {
                            try await Self.peerFlags(s).allSatisfy { $0.contains("s_down") || $0.contains("disconnected") }
                        }
                    }
                    observed.peersLost = true
                } catch {
                    print("\(kind): \(error); peer flags \(try await sentinels[0].command(["SENTINEL", "SENTINELS", "mymaster"]))")
                }
                let start = ContinuousClock.now
                for s in sentinels {
                    #expect(try await s.command(["SENTINEL", "CONFIG", "SET", "sentinel-user", "peer"]) == .simpleString("OK"), "\(kind)")
                    #expect(try await s.command(["SENTINEL", "CONFIG", "SET", "sentinel-pass", "ppw"]) == .simpleString("OK"), "\(kind)")
                }
                do {
                    for s in sentinels {
                        try await waitUntil("\(kind): peers back once given the credentials", timeout: .seconds(15)) {
                            try await Self.peerFlags(s) == ["sentinel", "sentinel"]
                        }
                    }
                    observed.peersBack = true
                    print("\(kind): peers back \(ContinuousClock.now - start) after SENTINEL CONFIG SET")
                } catch {
                    print("\(kind): \(error); peer flags \(try await sentinels[0].command(["SENTINEL", "SENTINELS", "mymaster"]))")
                }
                master.kill9()
                let replica = "127.0.0.1:\(replicas[0].port)"
                do {
                    try await waitUntil("\(kind): all three to follow the promoted replica", timeout: .seconds(30)) {
                        for s in sentinels where try await s.masterAddress() != replica { return false }
                        return true
                    }
                    observed.failedOver = true
                } catch {
                    print("\(kind): \(error); \(sentinels[0].logTail(lines: 30))")
                }
                return observed
            }
        }

        @Test("peers switched to an ACL user: the others show them down, reconnect once SENTINEL CONFIG SET sentinel-user/sentinel-pass gives the credentials, and elect a leader for a failover, as redis-sentinel")
        func peerCredentialsChangedAtRuntime() async throws {
            let redis = try await Self.scenario(.redis)
            let tandem = try await Self.scenario(.tandem)
            #expect(redis == Observed(peersLost: true, peersBack: true, failedOver: true), "redis-sentinel: \(redis)")
            #expect(tandem == redis, "tandem: \(tandem), redis-sentinel: \(redis)")
        }
    }
}
