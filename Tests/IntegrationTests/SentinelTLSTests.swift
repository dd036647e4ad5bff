import Foundation
import NIOCore
import NIOSSL
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// TLS as Redis 7.0 does it: a group of TLS-only redis-servers (`port 0`, `tls-port`,
/// `tls-replication yes`) watched by tandem sentinels and a redis-sentinel on TLS ports, asked by
/// redis-cli `--tls` and redis-py `ssl=True`; and clients with the wrong CA, no certificate or
/// plain text turned away with a log line while the sentinel keeps serving.
@Suite("Sentinel over TLS", .serialized, .timeLimit(.minutes(4)),
       .enabled(if: TLSCertificates.shouldRunTests, "openssl, redis-server, redis-sentinel or redis-cli is not installed"))
struct SentinelTLSTests {
    /// The master and two replicas, all TLS only; stopped when `body` returns or throws.
    static func withTLSGroup<T>(_ certs: TLSCertificates, _ body: (TLSRedisServer, [TLSRedisServer]) async throws -> T) async throws -> T {
        var servers: [TLSRedisServer] = []
        defer { servers.forEach { $0.stop() } }
        let master = try await TLSRedisServer.start(certs)
        servers.append(master)
        for _ in 0..<2 { servers.append(try await TLSRedisServer.start(certs, replicaOf: master)) }
        return try await body(master, Array(servers.dropFirst()))
    }

    static func redisCLI(_ certs: TLSCertificates, port: Int, _ arguments: [String]) throws -> [String] {
        guard let cli = TLSCertificates.redisCLIBinary else { throw HarnessError("redis-cli is not installed") }
        let (status, output) = try runProgram(cli, certs.redisCLIArguments + ["-h", "127.0.0.1", "-p", String(port)] + arguments)
        guard status == 0 else { throw HarnessError("redis-cli failed (\(status)): \(output)") }
        return output.split(separator: "\n").map(String.init)
    }

    @Test("TLS-only group, tandem and redis-sentinel on TLS ports: kill -9 of the master, redis-cli --tls and redis-py ssl=True follow the failover")
    func tlsGroupFailover() async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        try await Self.withTLSGroup(certs) { master, replicas in
            var sentinels: [TLSSentinel] = []
            defer { sentinels.forEach { $0.stop() } }
            // A tandem sentinel on TLS only with its CA from a directory, one with a plain port
            // too and an encrypted key, and a redis-sentinel: every hello carries the TLS port
            // (tls-replication yes).
            sentinels.append(try await TLSSentinel(kind: .tandem, certs: certs, monitoring: master, caDirectory: true))
            sentinels.append(try await TLSSentinel(kind: .tandem, certs: certs, monitoring: master, plainPort: true, encryptedKey: true))
            sentinels.append(try await TLSSentinel(kind: .redis, certs: certs, monitoring: master))
            try await waitUntil("every sentinel to know its 2 peers and both replicas over TLS", timeout: .seconds(30)) {
                for s in sentinels {
                    let known = try await s.known()
                    if known.sentinels != 2 || known.replicas != 2 { return false }
                }
                return true
            }
            // The plain port answers too (port and tls-port at once).
            let plain = try #require(sentinels[1].plainPort)
            let plainConnection = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: plain))
            let plainReply = try await plainConnection.send(["PING"])
            await plainConnection.close()
            #expect(plainReply.string == "PONG")
            for s in sentinels {
                #expect(try Self.redisCLI(certs, port: s.tlsPort, ["SENTINEL", "get-master-addr-by-name", "mymaster"])
                        == ["127.0.0.1", String(master.port)])
            }
            #expect(try await master.command(["SET", "before", "1"]).string == "OK")

            master.kill9()
            let replicaAddresses = replicas.map { "127.0.0.1:\($0.port)" }
            var newMaster = ""
            try await waitUntil("all three sentinels to agree on a promoted replica", timeout: .seconds(40)) {
                var answers: Set<String> = []
                for s in sentinels { answers.insert(try await s.masterAddress() ?? "none") }
                guard answers.count == 1, let a = answers.first, replicaAddresses.contains(a) else { return false }
                newMaster = a
                return true
            }
            let promotedPort = String(newMaster.split(separator: ":")[1])
            for s in sentinels {
                #expect(try Self.redisCLI(certs, port: s.tlsPort, ["SENTINEL", "get-master-addr-by-name", "mymaster"])
                        == ["127.0.0.1", promotedPort], "\(s.kind) sentinel on \(s.tlsPort)")
            }
            let promoted = try #require(replicas.first { String($0.port) == promotedPort })
            let other = try #require(replicas.first { $0 !== promoted })
            try await waitUntil("the other replica to follow the new master over TLS", timeout: .seconds(30)) {
                let info = try await other.command(["INFO", "replication"]).string ?? ""
                return info.contains("master_port:\(promotedPort)") && info.contains("master_link_status:up")
            }
            try await Self.redisPy(certs, sentinels: sentinels, expectMaster: newMaster)
        }
    }

    /// redis-py's Sentinel client with `ssl=True` toward the sentinels and the master.
    static func redisPy(_ certs: TLSCertificates, sentinels: [TLSSentinel], expectMaster: String) async throws {
        guard let python = findExecutable("python3"), (try? runProgram(python, ["-c", "import redis.sentinel"]))?.status == 0 else {
            if isCI { Issue.record("python3 with redis-py is required under CI") }
            return
        }
        let script = """
            import sys
            from redis.sentinel import Sentinel, SentinelManagedSSLConnection
            ca, cert, key, ports = sys.argv[1:5]
            tls = dict(ssl=True, ssl_ca_certs=ca, ssl_certfile=cert, ssl_keyfile=key, socket_timeout=2)
            s = Sentinel([("127.0.0.1", int(p)) for p in ports.split(",")], sentinel_kwargs=tls, **tls)
            print(":".join(map(str, s.discover_master("mymaster"))))
            m = s.master_for("mymaster", connection_class=SentinelManagedSSLConnection, **tls)
            m.set("py", "after")
            print(m.get("py").decode(), m.get("before").decode())
            """
        let (status, output) = try runProgram(python, ["-c", script, certs.caCert, certs.cert, certs.key,
                                                       sentinels.map { String($0.tlsPort) }.joined(separator: ",")])
        #expect(status == 0, "redis-py: \(output)")
        #expect(output.split(separator: "\n").map(String.init) == [expectMaster, "after 1"], "redis-py: \(output)")
    }

    @Test("wrong CA, expired certificate, no client certificate, plain text on the TLS port, a master with an untrusted certificate, a master with an expired certificate: a log line naming the peer and the reason, and the sentinel keeps serving")
    func badPeersAreLoggedAndRefused() async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        let master = try await TLSRedisServer.start(certs)
        defer { master.stop() }
        let rogue = try await TLSRedisServer.start(certs, rogue: true)
        defer { rogue.stop() }
        let expired = try await TLSRedisServer.start(certs, expired: true)
        defer { expired.stop() }
        let sentinel = try await TLSSentinel(kind: .tandem, certs: certs, monitoring: master,
                                             extraLines: ["sentinel monitor untrusted 127.0.0.1 \(rogue.port) 1",
                                                          "sentinel monitor expired 127.0.0.1 \(expired.port) 1"])
        defer { sentinel.stop() }

        // A client certificate from another CA.
        await #expect(throws: (any Error).self) {
            _ = try await tlsCommand(port: sentinel.tlsPort, context: try certs.clientContext(certificate: .rogue), ["PING"])
        }
        // An expired client certificate from the right CA.
        await #expect(throws: (any Error).self) {
            _ = try await tlsCommand(port: sentinel.tlsPort, context: try certs.clientContext(certificate: .expired), ["PING"])
        }
        // No client certificate while tls-auth-clients is yes (the default).
        await #expect(throws: (any Error).self) {
            _ = try await tlsCommand(port: sentinel.tlsPort, context: try certs.clientContext(certificate: .none), ["PING"])
        }
        // Plain RESP on the TLS port.
        await #expect(throws: (any Error).self) {
            let c = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: sentinel.tlsPort,
                                                                                   commandTimeout: .seconds(2)))
            defer { Task { await c.close() } }
            _ = try await c.send(["PING"])
        }
        try await waitUntil("a log line for each refused client and for the untrusted master", timeout: .seconds(10)) {
            let refused = sentinel.log.split(separator: "\n").filter { $0.contains("Error accepting a client connection:") && $0.contains("addr=127.0.0.1:") && $0.contains("laddr=127.0.0.1:\(sentinel.tlsPort)") }
            return refused.count >= 4 && sentinel.log.contains("TLS connection to 127.0.0.1:\(rogue.port) failed:")
                && sentinel.log.contains("TLS connection to 127.0.0.1:\(expired.port) failed:")
        }
        let log = sentinel.log
        #expect(log.contains("certificate verify failed"), "\(sentinel.logTail(lines: 30))")
        #expect(log.contains("peer did not return a certificate"), "\(sentinel.logTail(lines: 30))")
        #expect(log.contains("wrong version number") || log.contains("http request"), "\(sentinel.logTail(lines: 30))")
        // The untrusted master's link is logged once, not every 200 ms retry.
        #expect(log.components(separatedBy: "TLS connection to 127.0.0.1:\(rogue.port) failed:").count == 2)
        // The master whose certificate (from the right CA) has expired: named, with the reason.
        let expiredLine = log.split(separator: "\n").first { $0.contains("TLS connection to 127.0.0.1:\(expired.port) failed:") } ?? ""
        #expect(expiredLine.contains("certificate verify failed"), "\(expiredLine)")
        // Still serving, and the trusted master is linked while the untrusted one is not.
        #expect(sentinel.isRunning)
        #expect(try await sentinel.command(["PING"]).string == "PONG")
        let flags = { (name: String) async throws -> String in
            let reply = try await sentinel.command(["SENTINEL", "master", name])
            return (reply.pairs ?? []).first { $0.key.string == "flags" }?.value.string ?? ""
        }
        try await waitUntil("the trusted master to be linked") { try await flags("mymaster") == "master" }
        for name in ["untrusted", "expired"] {
            let f = try await flags(name)
            #expect(f.contains("disconnected") || f.contains("s_down"), "\(name): \(f)")
        }
    }

    @Test("TLS set-up errors stop the start with Redis's wording", arguments: [
        ("tls-cert-file /nonexistent/redis.crt\ntls-key-file KEY\ntls-ca-cert-file CA", "Failed to load certificate: /nonexistent/redis.crt"),
        ("tls-cert-file CERT\ntls-ca-cert-file CA", "No tls-key-file configured!"),
        ("tls-cert-file CERT\ntls-key-file /nonexistent/redis.key\ntls-ca-cert-file CA", "Failed to load private key: /nonexistent/redis.key"),
        ("tls-cert-file CERT\ntls-key-file ENCRYPTED\ntls-key-file-pass wrong\ntls-ca-cert-file CA", "Failed to load private key:"),
        ("tls-cert-file CERT\ntls-key-file KEY", "Either tls-ca-cert-file or tls-ca-cert-dir must be specified"),
        ("tls-cert-file CERT\ntls-key-file KEY\ntls-ca-cert-file /nonexistent/ca.crt", "Failed to configure CA certificate(s) file/directory: /nonexistent/ca.crt"),
    ])
    func startErrors(lines: String, message: String) async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        let text = "port 0\ntls-port \(try freeLoopbackPort())\n"
            + lines.replacingOccurrences(of: "CERT", with: certs.cert).replacingOccurrences(of: "ENCRYPTED", with: certs.encryptedKey)
                .replacingOccurrences(of: "KEY", with: certs.key).replacingOccurrences(of: " CA", with: " " + certs.caCert)
            + "\nsentinel monitor m 127.0.0.1 6379 2\n"
        let conf = certs.path("sentinel.conf")
        try text.write(toFile: conf, atomically: true, encoding: .utf8)
        let (status, output) = try runProgram(try tandemExecutable(), ["sentinel", conf])
        #expect(status != 0)
        #expect(output.contains(message), "\(output)")
        #expect(output.contains("Failed to configure TLS. Check logs for more info."), "\(output)")
    }
}
