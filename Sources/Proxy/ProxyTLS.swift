import NIOCore
import NIOSSL
import RedisConnection

/// The proxy's TLS options as given on the command line, before any file is read.
public struct ProxyTLSOptions: Sendable, Hashable {
    /// `--tls-cert` / `--tls-key`: the proxy's certificate, for its listening side and, with
    /// `--backend-tls`, as its client certificate toward backends and sentinels.
    public var certFile: String?
    public var keyFile: String?
    /// `--tls-ca`: the CA that backends' and sentinels' certificates (and clients', when they
    /// must present one) chain to.
    public var caFile: String?
    /// `--tls-auth-clients`: yes, no or optional; nil: yes when `--tls-ca` is given, as Redis
    /// requires client certificates by default.
    public var authClients: String?
    /// `--backend-tls`: TLS toward backends and sentinels.
    public var backendTLS = false

    public init() {}

    /// What the options mean, or the first reason they cannot be used. Pure: reads no file.
    public func plan() throws(ProxySettingsError) -> ProxyTLSPlan {
        if (certFile == nil) != (keyFile == nil) { throw ProxySettingsError("--tls-cert and --tls-key go together") }
        let listens = certFile != nil
        let verification: CertificateVerification
        switch authClients ?? (caFile != nil ? "yes" : "no") {
        case "yes": verification = .noHostnameVerification
        case "no": verification = .none
        case "optional": verification = .optionalVerification
        default: throw ProxySettingsError("--tls-auth-clients \(authClients ?? ""): must be yes, no or optional")
        }
        if authClients != nil && !listens { throw ProxySettingsError("--tls-auth-clients needs --tls-cert and --tls-key (a TLS listening side)") }
        if verification != .none && caFile == nil { throw ProxySettingsError("--tls-auth-clients \(authClients ?? "yes") needs --tls-ca") }
        if backendTLS && caFile == nil { throw ProxySettingsError("--backend-tls needs --tls-ca to verify the backends' and sentinels' certificates") }
        if !listens && !backendTLS && caFile != nil { throw ProxySettingsError("--tls-ca is used with --tls-cert/--tls-key or --backend-tls") }
        return ProxyTLSPlan(listens: listens, clientVerification: verification, backend: backendTLS)
    }

    /// TLSv1.2 and TLSv1.3, as Redis's default `tls-protocols` (swift-nio-ssl's own default
    /// would also allow TLSv1 and TLSv1.1).
    static let minimumVersion = TLSVersion.tlsv12

    /// Reads the files and sets the proxy's TLS contexts.
    public func apply(to settings: inout ProxySettings) throws(ProxySettingsError) {
        let plan = try plan()
        guard plan.listens || plan.backend else { return }
        var chain: [NIOSSLCertificateSource] = []
        var key: NIOSSLPrivateKeySource?
        if let certFile, let keyFile {
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
            } catch {
                throw ProxySettingsError("--tls-cert \(certFile): \(TLSFailure.reason(error) ?? "\(error)")")
            }
            do {
                key = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw ProxySettingsError("--tls-key \(keyFile): \(TLSFailure.reason(error) ?? "\(error)")")
            }
        }
        var roots: NIOSSLTrustRoots?
        if let caFile {
            do {
                roots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw ProxySettingsError("--tls-ca \(caFile): \(TLSFailure.reason(error) ?? "\(error)")")
            }
        }
        do {
            if plan.listens, let key {
                var server = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
                server.minimumTLSVersion = Self.minimumVersion
                server.certificateVerification = plan.clientVerification
                server.trustRoots = roots ?? .certificates([])
                settings.tlsServer = try NIOSSLContext(configuration: server)
            }
            if plan.backend {
                var client = TLSConfiguration.makeClientConfiguration()
                client.minimumTLSVersion = Self.minimumVersion
                client.trustRoots = roots
                // Backends and sentinels are reached by the addresses sentinels report: the
                // certificate must chain to the CA, its names are not checked (as Redis does).
                client.certificateVerification = .noHostnameVerification
                client.certificateChain = chain
                client.privateKey = key
                settings.backendTLS = try NIOSSLContext(configuration: client)
            }
        } catch {
            throw ProxySettingsError("TLS: \(TLSFailure.reason(error) ?? "\(error)")")
        }
    }
}

/// What the proxy's TLS options ask for.
public struct ProxyTLSPlan: Sendable, Hashable {
    /// Clients connect with TLS.
    public var listens: Bool
    /// Whether clients must (or may) present a certificate.
    public var clientVerification: CertificateVerification
    /// Backends and sentinels are reached with TLS.
    public var backend: Bool
}
