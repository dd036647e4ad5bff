import Foundation
import NIOCore
import NIOSSL
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// The TLS port's options side by side with redis-sentinel 7.0.15: `tls-auth-clients no` and
/// `optional`, `tls-protocols`, `tls-ciphers`, `tls-ciphersuites`, `tls-prefer-server-ciphers`
/// and the session cache (`tls-session-caching`, `tls-session-cache-timeout`), the last three
/// applied to the `SSL_CTX` swift-nio-ssl keeps private; the one remaining difference is pinned
/// here as docs/sentinel-compatibility.md states it. One sentinel at a time, so no two with
/// different settings link to each other.
@Suite("Sentinel TLS options", .serialized, .timeLimit(.minutes(5)),
       .enabled(if: TLSCertificates.shouldRunTests, "openssl, redis-server, redis-sentinel or redis-cli is not installed"))
struct SentinelTLSOptionTests {
    static let kinds: [SentinelProcess.Kind] = [.redis, .tandem]

    /// The refusals the sentinel logged (`Error accepting a client connection: …`), each as its
    /// reason alone: OpenSSL's `error:0A000086:SSL routines::certificate verify failed (conn: fd=12)`
    /// and tandem's `handshake failed: certificate verify failed (addr=… laddr=…)` both give
    /// `certificate verify failed`.
    static func refusals(_ sentinel: TLSSentinel) -> [String] {
        sentinel.log.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "Error accepting a client connection: ") else { return nil }
            var reason = String(line[range.upperBound...])
            if let paren = reason.range(of: " (") { reason = String(reason[..<paren.lowerBound]) }
            if let routines = reason.range(of: "SSL routines::") { reason = String(reason[routines.upperBound...]) }
            if reason.hasPrefix("handshake failed: ") { reason = String(reason.dropFirst("handshake failed: ".count)) }
            return reason
        }
    }

    /// Whether tandem's refusal lines name the client and the port (redis-sentinel 7.0's do not).
    static func namesPeers(_ sentinel: TLSSentinel) -> Bool {
        sentinel.log.split(separator: "\n").filter { $0.contains("Error accepting a client connection: ") }.allSatisfy {
            $0.contains("(addr=127.0.0.1:") && $0.contains("laddr=127.0.0.1:\(sentinel.tlsPort))")
        }
    }

    /// PONG, or `refused` when the handshake (or the first reply) failed.
    static func ping(_ sentinel: TLSSentinel, _ context: NIOSSLContext) async -> String {
        (try? await tlsCommand(port: sentinel.tlsPort, context: context, ["PING"]))?.string ?? "refused"
    }

    struct ClientOutcomes: Equatable, CustomStringConvertible {
        var noCertificate: String
        var wrongCA: String
        var expired: String
        var group: String
        /// The reasons logged, in order.
        var logged: [String]
        var description: String {
            "no certificate \(noCertificate), wrong CA \(wrongCA), expired \(expired), group \(group), logged \(logged)"
        }
    }

    @Test("tls-auth-clients no and optional: a client without a certificate is accepted; with optional a certificate from another CA, or expired, is refused and logged; as redis-sentinel")
    func authClientsNoAndOptional() async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        let master = try await TLSRedisServer.start(certs)
        defer { master.stop() }
        for mode in ["no", "optional"] {
            var outcomes: [SentinelProcess.Kind: ClientOutcomes] = [:]
            for kind in Self.kinds {
                let sentinel = try await TLSSentinel(kind: kind, certs: certs, monitoring: master, extraLines: ["tls-auth-clients \(mode)"])
                defer { sentinel.stop() }
                let none = try certs.clientContext(certificate: .none)
                let rogue = try certs.clientContext(certificate: .rogue)
                let expired = try certs.clientContext(certificate: .expired)
                let group = try certs.clientContext()
                var o = ClientOutcomes(noCertificate: await Self.ping(sentinel, none), wrongCA: await Self.ping(sentinel, rogue),
                                       expired: await Self.ping(sentinel, expired), group: await Self.ping(sentinel, group), logged: [])
                let refused = [o.noCertificate, o.wrongCA, o.expired, o.group].filter { $0 == "refused" }.count
                try await waitUntil("\(kind) to log its \(refused) refusals", timeout: .seconds(5)) { Self.refusals(sentinel).count >= refused }
                o.logged = Self.refusals(sentinel)
                if kind == .tandem { #expect(Self.namesPeers(sentinel), "\(sentinel.logTail(lines: 20))") }
                #expect(sentinel.isRunning)
                outcomes[kind] = o
            }
            let redis = try #require(outcomes[.redis])
            // What redis-sentinel does: `no` asks for no certificate (so none is checked);
            // `optional` checks one that is presented.
            if mode == "no" {
                #expect(redis == ClientOutcomes(noCertificate: "PONG", wrongCA: "PONG", expired: "PONG", group: "PONG", logged: []), "\(redis)")
            } else {
                #expect(redis == ClientOutcomes(noCertificate: "PONG", wrongCA: "refused", expired: "refused", group: "PONG",
                                                logged: ["certificate verify failed", "certificate verify failed"]), "\(redis)")
            }
            #expect(outcomes[.tandem] == redis, "tls-auth-clients \(mode): tandem \(String(describing: outcomes[.tandem])), redis-sentinel \(redis)")
        }
    }

    /// One sentinel's TLS port probed by `openssl s_client` with each option set, and what it logged.
    struct Probed: Equatable, CustomStringConvertible {
        var outcomes: [String]
        var logged: [String]
        var description: String { "\(outcomes), logged \(logged)" }
    }

    static func probe(_ kind: SentinelProcess.Kind, _ certs: TLSCertificates, _ master: TLSRedisServer, lines: [String],
                      probes: [[String]]) async throws -> Probed {
        let sentinel = try await TLSSentinel(kind: kind, certs: certs, monitoring: master, extraLines: lines)
        defer { sentinel.stop() }
        var outcomes: [String] = []
        for options in probes {
            let before = Self.refusals(sentinel).count
            let h = try certs.opensslHandshake(port: sentinel.tlsPort, options)
            outcomes.append(h.outcome)
            if h.outcome == "refused" {
                try await waitUntil("\(kind) to log the refused \(options)", timeout: .seconds(5)) { Self.refusals(sentinel).count > before }
            }
        }
        if kind == .tandem { #expect(Self.namesPeers(sentinel), "\(sentinel.logTail(lines: 20))") }
        #expect(sentinel.isRunning)
        #expect(try await sentinel.command(["PING"]).string == "PONG")
        return Probed(outcomes: outcomes, logged: Self.refusals(sentinel))
    }

    @Test("tls-protocols and tls-ciphers: a client offering only a version or a TLSv1.2 cipher the port does not allow is refused and logged with the reason; the rest negotiate what redis-sentinel negotiates", arguments: [
        (["tls-protocols TLSv1.3"], [["-tls1_2"], ["-tls1_3"]],
         ["refused", "TLSv1.3 TLS_AES_256_GCM_SHA384"], ["unsupported protocol"]),
        (["tls-protocols TLSv1.2"], [["-tls1_3"], ["-tls1_2"]],
         ["refused", "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384"], ["unsupported protocol"]),
        // The client's order is used (tls-prefer-server-ciphers is no): of the two allowed, it
        // prefers CHACHA20 to AES128-GCM.
        (["tls-protocols TLSv1.2", "tls-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305"],
         [["-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"], ["-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], [], ["-tls1_3"]],
         ["refused", "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256", "TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305", "refused"],
         ["no shared cipher", "unsupported protocol"]),
        // tls-ciphers leaves TLSv1.3 alone.
        (["tls-ciphers ECDHE-ECDSA-AES128-GCM-SHA256"], [["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"], ["-tls1_3"]],
         ["refused", "TLSv1.3 TLS_AES_256_GCM_SHA384"], ["no shared cipher"]),
        // tls-ciphersuites: a TLSv1.3 client offering only a suite left out is refused; among
        // the allowed ones the client's order wins (OpenSSL's client prefers AES-256, then CHACHA20).
        (["tls-ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"],
         [["-ciphersuites", "TLS_AES_256_GCM_SHA384"], ["-tls1_3"], ["-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"],
          ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"]],
         ["refused", "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256", "TLSv1.3 TLS_AES_128_GCM_SHA256", "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256"],
         ["no shared cipher"]),
        // tls-prefer-server-ciphers yes: the port's order wins, TLSv1.3 (the listed suites, or
        // OpenSSL's default order, AES-256 first) and TLSv1.2.
        (["tls-ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256", "tls-prefer-server-ciphers yes"],
         [["-tls1_3"], ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"]],
         ["TLSv1.3 TLS_AES_128_GCM_SHA256", "TLSv1.3 TLS_AES_128_GCM_SHA256"], []),
        (["tls-prefer-server-ciphers yes"], [["-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"]],
         ["TLSv1.3 TLS_AES_256_GCM_SHA384"], []),
        (["tls-protocols TLSv1.2", "tls-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305", "tls-prefer-server-ciphers yes"],
         [[]], ["TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"], []),
    ])
    func protocolsAndCiphers(lines: [String], probes: [[String]], outcomes: [String], logged: [String]) async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        let master = try await TLSRedisServer.start(certs)
        defer { master.stop() }
        let redis = try await Self.probe(.redis, certs, master, lines: lines, probes: probes)
        #expect(redis == Probed(outcomes: outcomes, logged: logged), "redis-sentinel with \(lines): \(redis)")
        let tandem = try await Self.probe(.tandem, certs, master, lines: lines, probes: probes)
        #expect(tandem == redis, "\(lines): tandem \(tandem), redis-sentinel \(redis)")
    }

    /// What a client that keeps its sessions sees on its second connection, TLSv1.2 and TLSv1.3:
    /// `Reused`, `New`, `refused`, or `no session` when the first left it none to offer; and the
    /// reasons logged.
    struct Resumption: Equatable, CustomStringConvertible {
        var tls12: String
        var tls13: String
        var logged: [String]
        var description: String { "TLSv1.2 \(tls12), TLSv1.3 \(tls13), logged \(logged)" }
    }

    static func resumption(_ kind: SentinelProcess.Kind, _ certs: TLSCertificates, _ master: TLSRedisServer, lines: [String],
                           wait: Duration = .zero) async throws -> Resumption {
        let sentinel = try await TLSSentinel(kind: kind, certs: certs, monitoring: master, extraLines: lines)
        defer { sentinel.stop() }
        var second: [String] = []
        for version in ["-tls1_2", "-tls1_3"] {
            let session = certs.path("session-\(kind)\(version)-\(UUID().uuidString).pem")
            let first = try certs.opensslHandshake(port: sentinel.tlsPort, [version, "-sess_out", session], input: "PING\r\n",
                                                   stayFor: .milliseconds(300))
            #expect(first.outcome != "refused" && !first.reused && first.output.contains("+PONG"), "\(kind) \(lines) \(version): \(first.output)")
            guard FileManager.default.fileExists(atPath: session) else {
                // s_client keeps no session the server cannot resume (no ticket, no session id).
                second.append("no session")
                continue
            }
            try await Task.sleep(for: wait)
            let before = Self.refusals(sentinel).count
            let h = try certs.opensslHandshake(port: sentinel.tlsPort, [version, "-sess_in", session])
            second.append(h.outcome == "refused" ? "refused" : h.reused ? "Reused" : "New")
            if h.outcome == "refused" {
                try await waitUntil("\(kind) to log the refused resumption", timeout: .seconds(5)) { Self.refusals(sentinel).count > before }
            }
        }
        #expect(sentinel.isRunning)
        #expect(try await sentinel.command(["PING"]).string == "PONG")
        #expect(!sentinel.log.contains(" is not applied") && !sentinel.log.contains("not applied:"), "\(sentinel.logTail(lines: 20))")
        return Resumption(tls12: second[0], tls13: second[1], logged: Self.refusals(sentinel))
    }

    @Test("session resumption as redis-sentinel: resumed by default and, with tls-session-caching no, with tls-auth-clients no (OpenSSL keeps tickets on); not once tls-session-cache-timeout has passed; with tls-session-caching no and clients verified not resumed (redis-sentinel sends a ticket and refuses the handshake that offers it, tandem sends none: the difference pinned)", arguments: [
        (["tls-auth-clients yes"], Duration.zero, "Reused"),
        (["tls-session-caching no", "tls-auth-clients no"], Duration.zero, "Reused"),
        (["tls-session-cache-timeout 1"], Duration.milliseconds(2100), "New"),
        (["tls-session-caching no", "tls-auth-clients yes"], Duration.zero, "no session"),
        (["tls-session-caching no", "tls-auth-clients optional"], Duration.zero, "no session"),
    ])
    func sessions(lines: [String], wait: Duration, tandemOutcome: String) async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        let master = try await TLSRedisServer.start(certs)
        defer { master.stop() }
        let redis = try await Self.resumption(.redis, certs, master, lines: lines, wait: wait)
        let tandem = try await Self.resumption(.tandem, certs, master, lines: lines, wait: wait)
        #expect(tandem == Resumption(tls12: tandemOutcome, tls13: tandemOutcome, logged: []), "tandem with \(lines): \(tandem)")
        if lines.contains("tls-session-caching no") && !lines.contains("tls-auth-clients no") {
            // redis-sentinel 7.0.15 sends tickets with caching off (SSL_SESS_CACHE_OFF leaves
            // them on) and then refuses a client offering one: it verifies clients and Redis
            // sets no session id context with caching off. Tandem sends no ticket (and no
            // session id): the client has nothing to offer and makes a new session. Neither
            // resumes.
            #expect(redis == Resumption(tls12: "refused", tls13: "refused",
                                        logged: ["session id context uninitialized", "session id context uninitialized"]), "redis-sentinel with \(lines): \(redis)")
        } else {
            #expect(tandem == redis, "\(lines): tandem \(tandem), redis-sentinel \(redis)")
        }
    }

    @Test("the differences that remain, pinned as docs/sentinel-compatibility.md states them: with tls-prefer-server-ciphers yes and no tls-ciphers a TLSv1.2 client gets swift-nio-ssl's first cipher (AES-128-GCM) where redis-sentinel picks OpenSSL's (AES-256-GCM); a TLSv1.2 session without a ticket (session id only) is resumed by tandem, not by redis-sentinel")
    func remainingDifferences() async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        let master = try await TLSRedisServer.start(certs)
        defer { master.stop() }
        for kind in Self.kinds {
            let p = try await Self.probe(kind, certs, master, lines: ["tls-prefer-server-ciphers yes"],
                                         probes: [["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"]])
            #expect(p.outcomes == [kind == .redis ? "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384" : "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"], "\(kind): \(p)")

            let sentinel = try await TLSSentinel(kind: kind, certs: certs, monitoring: master)
            defer { sentinel.stop() }
            let session = certs.path("session-id-\(kind).pem")
            let first = try certs.opensslHandshake(port: sentinel.tlsPort, ["-tls1_2", "-no_ticket", "-sess_out", session], stayFor: .milliseconds(300))
            let second = try certs.opensslHandshake(port: sentinel.tlsPort, ["-tls1_2", "-no_ticket", "-sess_in", session])
            #expect(first.outcome != "refused" && !first.reused, "\(kind): \(first.output)")
            #expect(second.outcome != "refused" && second.reused == (kind == .tandem), "\(kind): \(second.output)")
        }
    }

    @Test("a tls-ciphers list BoringSSL refuses stops the start with redis-sentinel's message, not a crash", arguments: [
        "NOPE", "TLS_AES_128_GCM_SHA256",
    ])
    func badCipherList(list: String) async throws {
        let certs = try TLSCertificates()
        defer { certs.remove() }
        let conf = certs.path("sentinel.conf")
        try """
            port 0
            tls-port \(try freeLoopbackPort())
            tls-cert-file \(certs.cert)
            tls-key-file \(certs.key)
            tls-ca-cert-file \(certs.caCert)
            tls-ciphers \(list)
            sentinel monitor m 127.0.0.1 6379 2

            """.write(toFile: conf, atomically: true, encoding: .utf8)
        let redisSentinel = try #require(SentinelProcess.redisSentinelBinary)
        for (kind, binary, arguments) in [(SentinelProcess.Kind.redis, redisSentinel, [conf]),
                                          (.tandem, try tandemExecutable(), ["sentinel", conf])] {
            let (status, output) = try runProgram(binary, arguments)
            #expect(status != 0, "\(kind): \(output)")
            #expect(output.contains("Failed to configure ciphers: \(list)"), "\(kind): \(output)")
            #expect(output.contains("Failed to configure TLS. Check logs for more info."), "\(kind): \(output)")
            #expect(!output.contains("crashed"), "\(kind): \(output)")
        }
    }
}
