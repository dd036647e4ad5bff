import SentinelConfig
import Testing

/// Redis 7.0's `tls-*` directives in a sentinel.conf: read into `SentinelTLSSettings`, and the
/// port a sentinel announces in its hellos when its links use TLS.
@Suite("sentinel.conf TLS directives")
struct SentinelTLSConfigTests {
    static let full = """
        port 0
        tls-port 26380
        tls-cert-file /tls/server.crt
        tls-key-file /tls/server.key
        tls-key-file-pass "secret words"
        tls-client-cert-file /tls/client.crt
        tls-client-key-file /tls/client.key
        tls-ca-cert-file /tls/ca.crt
        tls-ca-cert-dir /tls/cas
        tls-auth-clients optional
        tls-replication yes
        tls-protocols "TLSv1.2 TLSv1.3"
        tls-ciphers DEFAULT:!MEDIUM
        tls-ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
        tls-prefer-server-ciphers yes
        tls-session-caching no
        tls-session-cache-size 5000
        tls-session-cache-timeout 60
        sentinel monitor m 127.0.0.1 6379 2

        """

    @Test("every tls-* directive is read")
    func everyDirective() throws {
        let c = try SentinelConfiguration(parsing: Self.full, file: "tls.conf")
        let t = c.tls
        #expect(c.port == 0 && t.port == 26380)
        #expect(t.certFile == "/tls/server.crt" && t.keyFile == "/tls/server.key" && t.keyFilePass == "secret words")
        #expect(t.clientCertFile == "/tls/client.crt" && t.clientKeyFile == "/tls/client.key")
        #expect(t.caCertFile == "/tls/ca.crt" && t.caCertDir == "/tls/cas")
        #expect(t.authClients == .optional && t.replication)
        #expect(t.protocolRange == .tls12 ... .tls13)
        #expect(t.ciphers == "DEFAULT:!MEDIUM")
        #expect(t.ciphersuites == "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")
        #expect(t.preferServerCiphers && !t.sessionCaching)
        #expect(t.sessionCacheSize == 5000 && t.sessionCacheTimeout == 60)
        #expect(t.isInUse)
    }

    @Test("Redis's defaults: no TLS port, client certificates required, TLSv1.2 to TLSv1.3")
    func defaults() throws {
        let t = try SentinelConfiguration(parsing: "sentinel monitor m 127.0.0.1 6379 2\n", file: "x.conf").tls
        #expect(t.port == 0 && !t.replication && !t.isInUse)
        #expect(t.authClients == .yes)
        #expect(t.protocolRange == .tls12 ... .tls13)
        #expect(t.sessionCaching && !t.preferServerCiphers)
    }

    @Test("tls-protocols: a contiguous range in any order and case", arguments: [
        ("TLSv1.3", SentinelTLSSettings.ProtocolVersion.tls13 ... .tls13),
        ("tlsv1.3 TLSv1.2", .tls12 ... .tls13),
        ("TLSv1 TLSv1.1 TLSv1.2", .tls10 ... .tls12),
    ])
    func protocols(text: String, range: ClosedRange<SentinelTLSSettings.ProtocolVersion>) throws {
        let c = try SentinelConfiguration(parsing: "tls-protocols \"\(text)\"\n", file: "x.conf")
        #expect(c.tls.protocolRange == range)
    }

    @Test("the hello port: announce-port, else the TLS port when links use TLS, else port", arguments: [
        ("port 26379\n", 26379),
        ("port 26379\ntls-port 26380\n", 26379),
        ("port 26379\ntls-port 26380\ntls-replication yes\n", 26380),
        ("port 0\ntls-port 26380\ntls-replication yes\n", 26380),
        ("port 0\ntls-port 26380\ntls-replication yes\nsentinel announce-port 9999\n", 9999),
    ])
    func helloPort(text: String, port: Int) throws {
        #expect(try SentinelConfiguration(parsing: text, file: "x.conf").helloPort == port)
    }

    @Test("the rewrite keeps every tls-* line where it was")
    func rewriteKeepsTLSLines() throws {
        let c = try SentinelConfiguration(parsing: Self.full, file: "tls.conf")
        let rewritten = SentinelConfiguration.rewrite(Self.full, sentinelLines: c.renderSentinelLines())
        let tlsLines = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("tls-") || $0.hasPrefix("port ") } }
        #expect(tlsLines(rewritten) == tlsLines(Self.full))
        let again = try SentinelConfiguration(parsing: rewritten, file: "tls.conf")
        #expect(again.tls == c.tls && again.port == 0)
    }
}
