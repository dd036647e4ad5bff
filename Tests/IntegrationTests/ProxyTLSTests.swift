import Foundation
import NIOCore
import NIOSSL
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// `tandem proxy` with TLS on both sides: clients connect with TLS (--tls-cert/--tls-key/--tls-ca)
/// and the proxy reaches TLS-only sentinels and redis-servers with --backend-tls.
@Suite("Proxy over TLS", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: TLSCertificates.shouldRunTests, "openssl, redis-server, redis-sentinel or redis-cli is not installed"))
struct ProxyTLSTests {
    @Test("TLS clients through the proxy to a TLS-only group under TLS sentinels, across a kill -9 failover; plain text on its TLS port is logged and refused")
    func tlsBothSides() async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        var servers: [TLSRedisServer] = []
        var sentinels: [TLSSentinel] = []
        var proxy: ProxyProcess?
        defer {
            proxy?.stop()
            sentinels.forEach { $0.stop() }
            servers.forEach { $0.stop() }
        }
        let master = try await TLSRedisServer.start(certs)
        servers.append(master)
        for _ in 0..<2 { servers.append(try await TLSRedisServer.start(certs, replicaOf: master)) }
        for _ in 0..<3 { sentinels.append(try await TLSSentinel(kind: .tandem, certs: certs, monitoring: master)) }
        try await waitUntil("the sentinels to know each other and both replicas", timeout: .seconds(30)) {
            for s in sentinels {
                let known = try await s.known()
                if known.sentinels != 2 || known.replicas != 2 { return false }
            }
            return true
        }
        let p = try await ProxyProcess(
            sentinels.flatMap { ["--sentinel", "127.0.0.1:\($0.tlsPort)"] } + [
                "--master-name", "mymaster", "--tls-cert", certs.cert, "--tls-key", certs.key, "--tls-ca", certs.caCert,
                "--backend-tls",
            ], tls: try certs.clientContext())
        proxy = p
        let client = try await p.connect()
        defer { Task { await client.close() } }
        #expect(try await client.send(["SET", "k", "before"]).string == "OK")
        #expect(try await client.send(["INFO", "replication"]).string?.contains("role:master") == true)

        // Plain RESP on the proxy's TLS port: refused, logged with the client's address.
        await #expect(throws: (any Error).self) {
            let c = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: p.port, commandTimeout: .seconds(2)))
            defer { Task { await c.close() } }
            _ = try await c.send(["PING"])
        }
        try await waitUntil("the proxy to log the plain-text client") {
            p.logTail(lines: 200).contains("Error accepting a client connection:") && p.logTail(lines: 200).contains("laddr=127.0.0.1:\(p.port)")
        }

        master.kill9()
        let replicaPorts = servers.dropFirst().map { "127.0.0.1:\($0.port)" }
        try await waitUntil("the sentinels to promote a replica", timeout: .seconds(30)) {
            guard let a = try await sentinels[0].masterAddress() else { return false }
            return replicaPorts.contains(a)
        }
        // The same client connection keeps working through the proxy, now on the new master.
        try await waitUntil("a write through the proxy to succeed on the new master", timeout: .seconds(20)) {
            (try? await client.send(["SET", "k", "after"]))?.string == "OK"
        }
        #expect(try await client.send(["GET", "k"]).string == "after")
        let newMaster = try #require(try await sentinels[0].masterAddress())
        let promoted = try #require(servers.first { "127.0.0.1:\($0.port)" == newMaster })
        #expect(try await promoted.command(["GET", "k"]).string == "after")
        #expect(p.isRunning)
    }
}
