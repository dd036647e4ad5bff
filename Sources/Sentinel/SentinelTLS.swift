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
        for note in notApplied(tls) { logger.notice("\(note)") }
        return contexts
    }

    /// Settings swift-nio-ssl gives no way to apply, said once at start rather than dropped
    /// silently. The BoringSSL it bundles has each (`SSL_CTX_set1_tls13_ciphers`,
    /// `SSL_OP_CIPHER_SERVER_PREFERENCE`, `SSL_CTX_set_session_cache_mode`), but swift-nio-ssl
    /// 2.37.6's `TLSConfiguration` has no field for them, `NIOSSLContext` keeps its `SSL_CTX`
    /// private and none of its callbacks (SNI context, PSK, key log, verification) is handed
    /// one; its BoringSSL module is not a library product.
    static func notApplied(_ tls: SentinelTLSSettings) -> [String] {
        var notes: [String] = []
        if tls.ciphersuites != nil {
            notes.append("tls-ciphersuites is checked but not applied: swift-nio-ssl has no setting for TLSv1.3 suites, all three stay enabled")
        }
        if tls.preferServerCiphers {
            notes.append("tls-prefer-server-ciphers is not applied: swift-nio-ssl has no setting for it, the client's preference order is used")
        }
        if !tls.sessionCaching {
            notes.append("tls-session-caching no is not applied: swift-nio-ssl has no setting for it, the server-side session cache stays on")
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
