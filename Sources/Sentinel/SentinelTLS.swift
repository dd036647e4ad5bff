import CTLSCipherList
import Foundation
import Logging
import NIOCore
import NIOSSL
import RedisConnection
import SentinelConfig

/// The TLS contexts a sentinel's `tls-*` settings make: the TLS port's (server) and the links'
/// to masters, replicas and peers (client, with `tls-replication yes`). Made once at start;
/// a file that cannot be loaded stops the start with Redis's wording (tlsConfigure).
public struct SentinelTLSContexts: Sendable {
    /// For the TLS port (nil: no TLS port).
    public var server: NIOSSLContext?
    /// For links to instances and peers (nil: plain links).
    public var client: NIOSSLContext?

    public init(server: NIOSSLContext? = nil, client: NIOSSLContext? = nil) {
        self.server = server
        self.client = client
    }

    /// Loads the certificates, key and CA the settings name and builds the contexts.
    public static func make(_ tls: SentinelTLSSettings, logger: Logger) throws(SentinelStartError) -> SentinelTLSContexts {
        guard tls.isInUse else { return SentinelTLSContexts() }
        func fail(_ message: String) -> SentinelStartError {
            logger.warning("\(message)")
            return SentinelStartError(description: "\(message)\nFailed to configure TLS. Check logs for more info.")
        }
        guard let certFile = tls.certFile else { throw fail("No tls-cert-file configured!") }
        guard let keyFile = tls.keyFile else { throw fail("No tls-key-file configured!") }
        let needsCA = tls.authClients != .no || tls.replication
        if needsCA && tls.caCertFile == nil && tls.caCertDir == nil {
            throw fail("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-auth-clients, tls-replication or tls-cluster are enabled!")
        }
        let chain = try loadChain(certFile, fail)
        let key = try loadKey(keyFile, passphrase: tls.keyFilePass, fail)
        var clientChain = chain
        var clientKey = key
        if let file = tls.clientCertFile {
            clientChain = try loadChain(file, fail)
            guard let keyFile = tls.clientKeyFile else { throw fail("No tls-client-key-file configured!") }
            clientKey = try loadKey(keyFile, passphrase: tls.clientKeyFilePass, fail)
        }
        var roots: NIOSSLTrustRoots?
        var extraRoots: [NIOSSLAdditionalTrustRoots] = []
        if let file = tls.caCertFile {
            do {
                roots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            } catch {
                throw fail("Failed to configure CA certificate(s) file/directory: \(file): \(TLSFailure.reason(error) ?? "\(error)")")
            }
        }
        if let dir = tls.caCertDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw fail("Failed to configure CA certificate(s) file/directory: \(dir): not a directory")
            }
            if roots == nil { roots = .file(dir) } else { extraRoots.append(.file(dir)) }
        }
        // swift-nio-ssl hands tls-ciphers to BoringSSL under a precondition: a list BoringSSL
        // refuses (nothing it knows, a TLSv1.3 suite name) would stop the process. Checked first,
        // with Redis's message.
        if let ciphers = tls.ciphers, ctls_cipher_list_is_valid(ciphers) != 1 {
            throw fail("Failed to configure ciphers: \(ciphers)")
        }
        let range = tls.protocolRange
        func common(_ c: inout TLSConfiguration) {
            c.minimumTLSVersion = Self.version(range.lowerBound)
            c.maximumTLSVersion = Self.version(range.upperBound)
            if let ciphers = tls.ciphers { c.cipherSuites = ciphers }
            c.trustRoots = roots ?? .certificates([])
            c.additionalTrustRoots = extraRoots
        }
        var server = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        common(&server)
        switch tls.authClients {
        case .yes: server.certificateVerification = .noHostnameVerification
        case .no: server.certificateVerification = .none
        case .optional: server.certificateVerification = .optionalVerification
        }
        var client = TLSConfiguration.makeClientConfiguration()
        common(&client)
        client.certificateChain = clientChain.map { .certificate($0) }
        client.privateKey = .privateKey(clientKey)
        // As Redis: the peer's certificate must chain to the CA; its name is not checked
        // (instances are reached by the addresses masters and hellos report).
        client.certificateVerification = .noHostnameVerification
        let contexts: SentinelTLSContexts
        do {
            contexts = SentinelTLSContexts(server: tls.port != 0 ? try NIOSSLContext(configuration: server) : nil,
                                           client: tls.replication ? try NIOSSLContext(configuration: client) : nil)
        } catch {
            throw fail("Failed to configure TLS: \(TLSFailure.reason(error) ?? "\(error)")")
        }
        var unapplied = Set<Tuning.Setting>()
        if let context = contexts.server { unapplied.formUnion(apply(Tuning.server(tls), to: context)) }
        if let context = contexts.client { unapplied.formUnion(apply(Tuning.client(tls), to: context)) }
        for note in notApplied(tls, unapplied) { logger.notice("\(note)") }
        return contexts
    }

    /// What tlsConfigure sets on an `SSL_CTX` beyond what swift-nio-ssl's `TLSConfiguration`
    /// has fields for. Pure: made from the settings, applied by `apply(_:to:)`.
    struct Tuning: Equatable {
        /// The directives behind the tuning, for the start-up notice when one cannot be applied.
        enum Setting: Hashable { case ciphersuites, preferServerCiphers, sessionCaching }

        /// TLSv1.3 suites (protocol numbers) in preference order, and whether a server takes
        /// the client's order among them.
        var tls13Suites: [UInt16]
        var tls13ClientOrder: Bool
        var preferServerCiphers = false
        /// nil: left as BoringSSL has it (a client context).
        var sessionCache: SessionCache?

        enum SessionCache: Equatable {
            case on(size: Int, timeout: Int)
            /// `noTickets`: no session tickets either.
            case off(noTickets: Bool)
        }

        /// OpenSSL 3's TLSv1.3 suites and their order when `tls-ciphersuites` is not given.
        static let openSSLDefaultSuites: [UInt16] = [0x1302, 0x1303, 0x1301]
        static let suiteNumbers: [String: UInt16] = [
            "TLS_AES_128_GCM_SHA256": 0x1301, "TLS_AES_256_GCM_SHA384": 0x1302, "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
        ]

        /// `tls-ciphersuites` as numbers, duplicates dropped (OpenSSL keeps the first;
        /// BoringSSL refuses a list with one); OpenSSL's default list when not given.
        static func suites(_ tls: SentinelTLSSettings) -> [UInt16] {
            guard let text = tls.ciphersuites else { return openSSLDefaultSuites }
            var ids: [UInt16] = []
            for name in text.split(separator: ":") {
                if let id = suiteNumbers[String(name)], !ids.contains(id) { ids.append(id) }
            }
            return ids.isEmpty ? openSSLDefaultSuites : ids
        }

        /// The TLS port's context, as tlsConfigure sets up its `SSL_CTX`: the suites, the
        /// server's or the client's order (OpenSSL follows the client's unless
        /// SSL_OP_CIPHER_SERVER_PREFERENCE, for TLSv1.3 too; BoringSSL's server follows its own
        /// list, so the client's order is a list of one equal-preference group), and the session
        /// cache. `tls-session-caching no` is SSL_SESS_CACHE_OFF, which leaves OpenSSL's tickets
        /// on; redis-sentinel then refuses a handshake offering one of its tickets when it
        /// verifies clients (`yes`, `optional`: OpenSSL's "session id context uninitialized",
        /// Redis sets one only with caching on) and resumes it with `tls-auth-clients no`. So
        /// tickets stay on with `no` and are turned off otherwise: resumed where redis-sentinel
        /// resumes, not resumed where it does not (where it refuses, tandem makes a new session).
        static func server(_ tls: SentinelTLSSettings) -> Tuning {
            Tuning(tls13Suites: suites(tls), tls13ClientOrder: !tls.preferServerCiphers, preferServerCiphers: tls.preferServerCiphers,
                   sessionCache: tls.sessionCaching ? .on(size: tls.sessionCacheSize, timeout: tls.sessionCacheTimeout)
                                                    : .off(noTickets: tls.authClients != .no))
        }

        /// The links' context: Redis's client context (createSSLContext) has the suites; a
        /// client offers them in this order. Server-side options have no effect on a client.
        static func client(_ tls: SentinelTLSSettings) -> Tuning {
            Tuning(tls13Suites: suites(tls), tls13ClientOrder: false)
        }
    }

    /// The `SSL_CTX` inside a `NIOSSLContext`, which swift-nio-ssl keeps private
    /// (`fileprivate let sslContext: OpaquePointer`, 2.37.6), found by reflection: nil if a
    /// later swift-nio-ssl names or types it otherwise, and the caller then applies nothing.
    static func sslContext(of context: NIOSSLContext) -> OpaquePointer? {
        let found = Mirror(reflecting: context).children.filter { $0.label == "sslContext" }
        guard found.count == 1, let pointer = found[0].value as? OpaquePointer else { return nil }
        return pointer
    }

    /// Applies `tuning` to `context`'s `SSL_CTX` before any connection uses it; returns the
    /// settings that could not be applied (all of them when the `SSL_CTX` is not found).
    static func apply(_ tuning: Tuning, to context: NIOSSLContext) -> Set<Tuning.Setting> {
        guard let pointer = sslContext(of: context) else { return [.ciphersuites, .preferServerCiphers, .sessionCaching] }
        let ctx = UnsafeMutableRawPointer(pointer)
        var failed = Set<Tuning.Setting>()
        let ok = tuning.tls13Suites.withUnsafeBufferPointer {
            ctls_set_tls13_ciphers(ctx, $0.baseAddress, $0.count, tuning.tls13ClientOrder ? 1 : 0)
        }
        if ok != 1 { failed.insert(.ciphersuites) }
        if tuning.preferServerCiphers && ctls_prefer_server_ciphers(ctx) != 1 { failed.insert(.preferServerCiphers) }
        switch tuning.sessionCache {
        case .on(let size, let timeout)?:
            if ctls_session_caching_on(ctx, UInt(size), UInt32(clamping: timeout)) != 1 { failed.insert(.sessionCaching) }
        case .off(let noTickets)?:
            if ctls_session_caching_off(ctx, noTickets ? 1 : 0) != 1 { failed.insert(.sessionCaching) }
        case nil:
            break
        }
        return failed
    }

    /// The settings given that could not be applied (`unapplied`), said once at start rather
    /// than dropped silently. Only if a later swift-nio-ssl no longer has the `SSL_CTX` where
    /// `sslContext(of:)` looks (or BoringSSL refuses a setting): the sentinel then runs as
    /// swift-nio-ssl configures it.
    static func notApplied(_ tls: SentinelTLSSettings, _ unapplied: Set<Tuning.Setting>) -> [String] {
        var notes: [String] = []
        if tls.ciphersuites != nil && unapplied.contains(.ciphersuites) {
            notes.append("tls-ciphersuites is checked but not applied: swift-nio-ssl's SSL_CTX could not be reached, all three TLSv1.3 suites stay enabled")
        }
        if tls.preferServerCiphers && unapplied.contains(.preferServerCiphers) {
            notes.append("tls-prefer-server-ciphers is not applied: swift-nio-ssl's SSL_CTX could not be reached, the client's preference order is used")
        }
        if !tls.sessionCaching && unapplied.contains(.sessionCaching) {
            notes.append("tls-session-caching no is not applied: swift-nio-ssl's SSL_CTX could not be reached, the server-side session cache stays on")
        }
        if tls.sessionCaching && unapplied.contains(.sessionCaching)
            && (tls.sessionCacheSize != SentinelTLSSettings().sessionCacheSize || tls.sessionCacheTimeout != SentinelTLSSettings().sessionCacheTimeout) {
            notes.append("tls-session-cache-size and tls-session-cache-timeout are not applied: swift-nio-ssl's SSL_CTX could not be reached, BoringSSL's defaults are used")
        }
        return notes
    }

    static func version(_ v: SentinelTLSSettings.ProtocolVersion) -> TLSVersion {
        switch v {
        case .tls10: return .tlsv1
        case .tls11: return .tlsv11
        case .tls12: return .tlsv12
        case .tls13: return .tlsv13
        }
    }

    private static func loadChain(_ path: String, _ fail: (String) -> SentinelStartError) throws(SentinelStartError) -> [NIOSSLCertificate] {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(path)
            guard !chain.isEmpty else { throw fail("Failed to load certificate: \(path): no certificate in the file") }
            return chain
        } catch let error as SentinelStartError {
            throw error
        } catch {
            throw fail("Failed to load certificate: \(path): \(TLSFailure.reason(error) ?? "\(error)")")
        }
    }

    private static func loadKey(_ path: String, passphrase: String?, _ fail: (String) -> SentinelStartError) throws(SentinelStartError) -> NIOSSLPrivateKey {
        do {
            if let passphrase {
                return try NIOSSLPrivateKey(file: path, format: .pem) { setter in setter(Array(passphrase.utf8)) }
            }
            return try NIOSSLPrivateKey(file: path, format: .pem)
        } catch {
            throw fail("Failed to load private key: \(path): \(TLSFailure.reason(error) ?? "\(error)")")
        }
    }
}
