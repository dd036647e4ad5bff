/// Redis 7.0's `tls-*` directives as a sentinel.conf gives them: what the sentinel port, the
/// TLS port and the links to masters, replicas and peers use. Pure values; the NIOSSL contexts
/// are made from them in the Sentinel module.
public struct SentinelTLSSettings: Sendable, Hashable {
    /// `tls-auth-clients`: whether a client of the TLS port must present a certificate.
    public enum ClientAuthentication: String, Sendable, Hashable {
        /// A certificate signed by the CA is required (Redis's default).
        case yes
        /// No certificate is asked for.
        case no
        /// A certificate is checked if the client presents one.
        case optional
    }

    /// A TLS protocol version as `tls-protocols` names it.
    public enum ProtocolVersion: String, Sendable, Hashable, Comparable, CaseIterable {
        case tls10 = "tlsv1"
        case tls11 = "tlsv1.1"
        case tls12 = "tlsv1.2"
        case tls13 = "tlsv1.3"

        var rank: Int { Self.allCases.firstIndex(of: self)! }
        public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
        /// As Redis writes it (`TLSv1.2`).
        public var name: String { "TLSv" + rawValue.dropFirst(4) }
    }

    /// `tls-port`: 0 for no TLS port.
    public var port = 0
    public var certFile: String?
    public var keyFile: String?
    public var keyFilePass: String?
    /// `tls-client-cert-file` / `-key-file` / `-key-file-pass`: what the sentinel presents as a
    /// client (links to instances and peers); the server certificate when not given, as in Redis.
    public var clientCertFile: String?
    public var clientKeyFile: String?
    public var clientKeyFilePass: String?
    public var caCertFile: String?
    public var caCertDir: String?
    public var authClients = ClientAuthentication.yes
    /// `tls-replication`: links to masters, replicas and peer sentinels use TLS.
    public var replication = false
    /// `tls-protocols`; empty: Redis's default, TLSv1.2 and TLSv1.3.
    public var protocols: [ProtocolVersion] = []
    /// `tls-ciphers`: OpenSSL cipher list for TLSv1.2 and below.
    public var ciphers: String?
    /// `tls-ciphersuites`: TLSv1.3 suites, checked against BoringSSL's three; applied in the Sentinel module.
    public var ciphersuites: String?
    public var preferServerCiphers = false
    public var sessionCaching = true
    public var sessionCacheSize = 20 * 1024
    public var sessionCacheTimeout = 300

    public init() {}

    /// TLS is configured (certificates loaded, checked at start) when it is used: a TLS port or
    /// TLS links, as Redis's `tlsConfigure` runs only then.
    public var isInUse: Bool { port != 0 || replication }

    /// The lowest and highest protocol version allowed. Redis disables each version not listed;
    /// BoringSSL takes a range, so a list with a gap (`TLSv1 TLSv1.2`) is refused when read.
    public var protocolRange: ClosedRange<ProtocolVersion> {
        guard let low = protocols.min(), let high = protocols.max() else { return .tls12 ... .tls13 }
        return low ... high
    }

    /// What `tls-protocols` accepts: names separated by spaces, case-insensitive, with no gap.
    static func parseProtocols(_ text: String) -> [ProtocolVersion]? {
        var versions: [ProtocolVersion] = []
        for word in text.split(separator: " ") {
            guard let v = ProtocolVersion(rawValue: word.lowercased()) else { return nil }
            if !versions.contains(v) { versions.append(v) }
        }
        guard let low = versions.min(), let high = versions.max() else { return nil }
        guard versions.count == high.rank - low.rank + 1 else { return nil }
        return versions
    }

    /// The TLSv1.3 suites BoringSSL implements.
    static let knownCiphersuites: Set<String> = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
}

extension SentinelConfiguration {
    /// Applies one `tls-*` line; false if `keyword` is not one this reader acts on.
    mutating func applyTLS(_ keyword: String, _ words: [String], line: Int, file: String) throws(SentinelConfigError) -> Bool {
        func fail(_ message: String) -> SentinelConfigError {
            SentinelConfigError(file: file, line: line, directive: words.joined(separator: " "), message: message)
        }
        func argument() throws(SentinelConfigError) -> String {
            guard words.count == 2 else { throw fail("wrong number of arguments") }
            return words[1]
        }
        func flag() throws(SentinelConfigError) -> Bool {
            guard let value = Self.yesNo(try argument()) else { throw fail("argument must be 'yes' or 'no'") }
            return value
        }
        func path() throws(SentinelConfigError) -> String? {
            let value = try argument()
            return value.isEmpty ? nil : value
        }
        func number(_ range: ClosedRange<Int>) throws(SentinelConfigError) -> Int {
            // As redis-server's numeric configs: string2ll, then the bounds.
            guard let n = CNumber.string2ll(try argument()) else { throw fail("argument couldn't be parsed into an integer") }
            guard n >= Int64(range.lowerBound), n <= Int64(range.upperBound) else {
                throw fail("argument must be between \(range.lowerBound) and \(range.upperBound) inclusive")
            }
            return Int(n)
        }
        switch keyword {
        case "tls-port": tls.port = try number(0...65535)
        case "tls-cert-file": tls.certFile = try path()
        case "tls-key-file": tls.keyFile = try path()
        case "tls-key-file-pass": tls.keyFilePass = try path()
        case "tls-client-cert-file": tls.clientCertFile = try path()
        case "tls-client-key-file": tls.clientKeyFile = try path()
        case "tls-client-key-file-pass": tls.clientKeyFilePass = try path()
        case "tls-ca-cert-file": tls.caCertFile = try path()
        case "tls-ca-cert-dir": tls.caCertDir = try path()
        case "tls-auth-clients":
            guard let value = SentinelTLSSettings.ClientAuthentication(rawValue: try argument().lowercased()) else {
                throw fail("argument(s) must be one of the following: no, yes, optional")
            }
            tls.authClients = value
        case "tls-replication": tls.replication = try flag()
        case "tls-cluster": _ = try flag()  // the cluster bus: a sentinel has none
        case "tls-protocols":
            let text = try argument()
            if text.isEmpty {
                tls.protocols = []
            } else {
                guard let versions = SentinelTLSSettings.parseProtocols(text) else {
                    throw fail("Invalid tls-protocols: expected a range of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 (BoringSSL takes a lowest and a highest version, so a list with a gap cannot be applied)")
                }
                tls.protocols = versions
            }
        case "tls-ciphers":
            let text = try argument()
            tls.ciphers = text.isEmpty ? nil : text
        case "tls-ciphersuites":
            let text = try argument()
            let unknown = text.split(separator: ":").map(String.init).filter { !SentinelTLSSettings.knownCiphersuites.contains($0) }
            guard unknown.isEmpty else { throw fail("Unknown TLSv1.3 ciphersuite \(unknown[0]) (known: \(SentinelTLSSettings.knownCiphersuites.sorted().joined(separator: ", ")))") }
            tls.ciphersuites = text.isEmpty ? nil : text
        case "tls-prefer-server-ciphers": tls.preferServerCiphers = try flag()
        case "tls-session-caching": tls.sessionCaching = try flag()
        case "tls-session-cache-size": tls.sessionCacheSize = try number(0...Int(Int32.max))
        case "tls-session-cache-timeout": tls.sessionCacheTimeout = try number(0...Int(Int32.max))
        default: return false
        }
        return true
    }
}
