import RedisConnection
import Testing

/// The short reasons TLS failures are logged with.
@Suite("TLS failure reasons")
struct TLSFailureTests {
    @Test("BoringSSL's error strings become OpenSSL-style reasons", arguments: [
        ("Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at /src/handshake.cc:123", "certificate verify failed"),
        ("Error: 268435720 error:10000100:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER at /src/tls_record.cc:231", "wrong version number"),
        ("Error: 268436502 error:10000416:SSL routines:OPENSSL_internal:TLSV1_ALERT_UNKNOWN_CA at /src/s3_pkt.cc:381", "tlsv1 alert unknown ca"),
        ("Error:  EOF during handshake", "eof during handshake"),
    ])
    func reasons(description: String, reason: String) {
        #expect(TLSFailure.openSSLReason(description) == reason)
    }

    @Test("errors that are not TLS errors have no TLS reason")
    func notTLS() {
        struct Other: Error {}
        #expect(TLSFailure.reason(Other()) == nil)
    }
}
