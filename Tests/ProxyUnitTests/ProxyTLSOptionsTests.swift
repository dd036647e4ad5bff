import NIOSSL
import Proxy
import Testing

/// `tandem proxy`'s TLS options: what each combination asks for, and the ones refused.
@Suite("proxy TLS options")
struct ProxyTLSOptionsTests {
    static func options(cert: Bool = false, ca: Bool = false, auth: String? = nil, backend: Bool = false) -> ProxyTLSOptions {
        var o = ProxyTLSOptions()
        if cert {
            o.certFile = "/tls/proxy.crt"
            o.keyFile = "/tls/proxy.key"
        }
        if ca { o.caFile = "/tls/ca.crt" }
        o.authClients = auth
        o.backendTLS = backend
        return o
    }

    @Test("no TLS option: plain on both sides")
    func plain() throws {
        let plan = try Self.options().plan()
        #expect(!plan.listens && !plan.backend)
    }

    @Test("the listening side: client certificates required with --tls-ca, as Redis's tls-auth-clients default")
    func listening() throws {
        #expect(try Self.options(cert: true).plan().clientVerification == .none)
        #expect(try Self.options(cert: true, ca: true).plan().clientVerification == .noHostnameVerification)
        #expect(try Self.options(cert: true, ca: true, auth: "optional").plan().clientVerification == .optionalVerification)
        #expect(try Self.options(cert: true, ca: true, auth: "no").plan().clientVerification == .none)
        let both = try Self.options(cert: true, ca: true, backend: true).plan()
        #expect(both.listens && both.backend)
    }

    @Test("--backend-tls alone verifies with --tls-ca and presents no certificate")
    func backendOnly() throws {
        let plan = try Self.options(ca: true, backend: true).plan()
        #expect(!plan.listens && plan.backend)
    }

    @Test("refused combinations name the option", arguments: [
        (options(backend: true), "--backend-tls needs --tls-ca to verify the backends' and sentinels' certificates"),
        (options(cert: true, auth: "yes"), "--tls-auth-clients yes needs --tls-ca"),
        (options(cert: true, ca: true, auth: "maybe"), "--tls-auth-clients maybe: must be yes, no or optional"),
        (options(ca: true, auth: "no", backend: true), "--tls-auth-clients needs --tls-cert and --tls-key (a TLS listening side)"),
        (options(ca: true), "--tls-ca is used with --tls-cert/--tls-key or --backend-tls"),
    ])
    func refused(options: ProxyTLSOptions, message: String) {
        #expect(throws: ProxySettingsError.self) { try options.plan() }
        do {
            _ = try options.plan()
        } catch {
            #expect(error.message == message)
        }
    }

    @Test("--tls-cert without --tls-key is refused")
    func certNeedsKey() {
        var o = ProxyTLSOptions()
        o.certFile = "/tls/proxy.crt"
        #expect(throws: ProxySettingsError.self) { try o.plan() }
    }
}
