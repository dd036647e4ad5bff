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

    @Test("an expired client certificate on the proxy's TLS port, and a master whose certificate has expired: each logged naming the peer and the reason; the proxy keeps serving good clients")
    func expiredCertificates() async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        let master = try await TLSRedisServer.start(certs)
        defer { master.stop() }
        let expired = try await TLSRedisServer.start(certs, expired: true)
        defer { expired.stop() }
        let sentinel = try await TLSSentinel(kind: .tandem, certs: certs, monitoring: master, quorum: 1,
                                             extraLines: ["sentinel monitor expired 127.0.0.1 \(expired.port) 1"])
        defer { sentinel.stop() }
        let tlsArguments = ["--tls-cert", certs.cert, "--tls-key", certs.key, "--tls-ca", certs.caCert, "--backend-tls"]
        let p = try await ProxyProcess(["--sentinel", "127.0.0.1:\(sentinel.tlsPort)", "--master-name", "mymaster"] + tlsArguments,
                                       tls: try certs.clientContext())
        defer { p.stop() }

        // A client certificate from the group's CA that has expired: refused and logged with its address.
        await #expect(throws: (any Error).self) {
            _ = try await tlsCommand(port: p.port, context: try certs.clientContext(certificate: .expired), ["PING"])
        }
        try await waitUntil("the proxy to log the expired client") {
            p.logTail(lines: 200).split(separator: "\n").contains {
                $0.contains("Error accepting a client connection: handshake failed: certificate verify failed")
                    && $0.contains("addr=127.0.0.1:") && $0.contains("laddr=127.0.0.1:\(p.port)")
            }
        }
        let good = try await p.connect()
        defer { Task { await good.close() } }
        #expect(try await good.send(["PING"]).string == "PONG")
        #expect(p.isRunning)

        // A proxy for the group whose master presents an expired certificate: the backend's
        // failure is logged with the master's address and the reason; clients get an error, not a hang.
        let q = try await ProxyProcess(["--sentinel", "127.0.0.1:\(sentinel.tlsPort)", "--master-name", "expired"] + tlsArguments, tls: try certs.clientContext())
        defer { q.stop() }
        let client = try await q.connect(timeout: .seconds(15))
        defer { Task { await client.close() } }
        let reply = try? await client.send(["SET", "k", "v"])
        #expect(reply?.string != "OK", "\(String(describing: reply))")
        try await waitUntil("the proxy to log the master's expired certificate") {
            q.logTail(lines: 200).split(separator: "\n").contains {
                $0.contains("127.0.0.1:\(expired.port)") && $0.contains("TLS failed:") && $0.contains("certificate verify failed")
            }
        }
        #expect(q.isRunning)
        #expect(try await good.send(["PING"]).string == "PONG")
    }

    /// The proxy's lines for refused clients: `Error accepting a client connection: <reason> (addr=… laddr=…)`.
    static func refusals(_ p: ProxyProcess) -> [Substring] {
        p.logTail(lines: 300).split(separator: "\n").filter {
            $0.contains("Error accepting a client connection: ") && $0.contains("addr=127.0.0.1:") && $0.contains("laddr=127.0.0.1:\(p.port))")
        }
    }

    @Test("client certificates on the proxy's TLS port: --tls-auth-clients yes (the default with --tls-ca) refuses a client without one, one from another CA and a TLSv1.1 client; optional accepts none but refuses the other CA; no accepts both; each refusal logged with the client's address and the reason while good clients are served")
    func clientCertificatePolicy() async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        let master = try await TLSRedisServer.start(certs)
        defer { master.stop() }
        let sentinel = try await TLSSentinel(kind: .tandem, certs: certs, monitoring: master, quorum: 1)
        defer { sentinel.stop() }
        let none = try certs.clientContext(certificate: .none)
        let rogue = try certs.clientContext(certificate: .rogue)
        let tls11 = try certs.clientContext(maximumVersion: .tlsv11)
        func ping(_ p: ProxyProcess, _ context: NIOSSLContext) async -> String {
            (try? await tlsCommand(port: p.port, context: context, ["PING"]))?.string ?? "refused"
        }
        var outcomes: [String: [String]] = [:]
        for mode in ["default", "yes", "optional", "no"] {
            let p = try await ProxyProcess(
                ["--sentinel", "127.0.0.1:\(sentinel.tlsPort)", "--master-name", "mymaster", "--tls-cert", certs.cert, "--tls-key", certs.key,
                 "--tls-ca", certs.caCert, "--backend-tls"] + (mode == "default" ? [] : ["--tls-auth-clients", mode]),
                tls: try certs.clientContext())
            defer { p.stop() }
            let good = try await p.connect()
            defer { Task { await good.close() } }
            var o: [String] = []
            for context in [none, rogue, tls11] {
                o.append(await ping(p, context))
                #expect(try await good.send(["PING"]).string == "PONG", "\(mode)")
            }
            outcomes[mode] = o
            let refused = o.filter { $0 == "refused" }.count
            try await waitUntil("the proxy (\(mode)) to log its \(refused) refused clients") { Self.refusals(p).count >= refused }
            let reasons = Self.refusals(p).map { line in
                String(line[line.range(of: "connection: ")!.upperBound...].prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces)
            }
            switch mode {
            case "default", "yes":
                #expect(reasons == ["handshake failed: peer did not return a certificate", "handshake failed: certificate verify failed",
                                    "handshake failed: unsupported protocol"], "\(mode): \(p.logTail(lines: 20))")
            case "optional":
                #expect(reasons == ["handshake failed: certificate verify failed", "handshake failed: unsupported protocol"],
                        "\(mode): \(p.logTail(lines: 20))")
            default:
                #expect(reasons == ["handshake failed: unsupported protocol"], "\(mode): \(p.logTail(lines: 20))")
            }
            #expect(p.isRunning)
            #expect(try await good.send(["SET", "k", mode]).string == "OK")
        }
        // As redis-server's tls-auth-clients (see SentinelTLSOptionTests for redis-sentinel's).
        #expect(outcomes["default"] == ["refused", "refused", "refused"], "\(outcomes)")
        #expect(outcomes["yes"] == ["refused", "refused", "refused"], "\(outcomes)")
        #expect(outcomes["optional"] == ["PONG", "refused", "refused"], "\(outcomes)")
        #expect(outcomes["no"] == ["PONG", "PONG", "refused"], "\(outcomes)")
    }

    @Test("a master and a sentinel whose certificates come from a CA not in --tls-ca: each logged naming its address and the reason; the proxy keeps serving through the trusted sentinel")
    func untrustedBackendAndSentinel() async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        let master = try await TLSRedisServer.start(certs)
        defer { master.stop() }
        let rogueMaster = try await TLSRedisServer.start(certs, rogue: true)
        defer { rogueMaster.stop() }
        let sentinel = try await TLSSentinel(kind: .tandem, certs: certs, monitoring: master, quorum: 1,
                                             extraLines: ["sentinel monitor untrusted 127.0.0.1 \(rogueMaster.port) 1"])
        defer { sentinel.stop() }
        // quorum 2 alone: its own links fail (the master refuses its certificate), it never fails over.
        let rogueSentinel = try await TLSSentinel(kind: .tandem, certs: certs, monitoring: master, quorum: 2, rogue: true)
        defer { rogueSentinel.stop() }
        let tlsArguments = ["--tls-cert", certs.cert, "--tls-key", certs.key, "--tls-ca", certs.caCert, "--backend-tls"]

        // The trusted sentinel and the one with the other CA's certificate.
        let p = try await ProxyProcess(["--sentinel", "127.0.0.1:\(sentinel.tlsPort)", "--sentinel", "127.0.0.1:\(rogueSentinel.tlsPort)",
                                        "--master-name", "mymaster"] + tlsArguments, tls: try certs.clientContext())
        defer { p.stop() }
        let client = try await p.connect()
        defer { Task { await client.close() } }
        try await waitUntil("a write through the proxy to reach the master") { (try? await client.send(["SET", "k", "v"]))?.string == "OK" }
        try await waitUntil("the proxy to log the untrusted sentinel") {
            p.logTail(lines: 200).split(separator: "\n").contains {
                $0.contains("127.0.0.1:\(rogueSentinel.tlsPort)") && $0.contains("certificate verify failed")
            }
        }
        #expect(try await master.command(["GET", "k"]).string == "v")
        #expect(p.isRunning)

        // A group whose master presents the other CA's certificate: the backend's failure is
        // logged with its address and the reason; its clients get an error, not a hang.
        let q = try await ProxyProcess(["--sentinel", "127.0.0.1:\(sentinel.tlsPort)", "--master-name", "untrusted"] + tlsArguments,
                                       tls: try certs.clientContext())
        defer { q.stop() }
        let qClient = try await q.connect(timeout: .seconds(15))
        defer { Task { await qClient.close() } }
        let reply = try? await qClient.send(["SET", "k", "v"])
        #expect(reply?.string != "OK", "\(String(describing: reply))")
        try await waitUntil("the proxy to log the master's untrusted certificate") {
            q.logTail(lines: 200).split(separator: "\n").contains {
                $0.contains("127.0.0.1:\(rogueMaster.port)") && $0.contains("certificate verify failed")
            }
        }
        #expect(q.isRunning)
        #expect(try await client.send(["GET", "k"]).string == "v")
        #expect(p.isRunning)
    }
}
