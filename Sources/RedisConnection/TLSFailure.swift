import NIOSSL

/// Short, readable reasons for TLS failures, for log lines that name a peer and why its
/// connection failed (`certificate verify failed`, `wrong version number`, …) instead of
/// NIOSSL's nested error descriptions.
public enum TLSFailure {
    /// The reason `error` gives, if it is a TLS error; nil for any other error.
    public static func reason(_ error: any Error) -> String? {
        switch error {
        case let error as NIOSSLError:
            switch error {
            case .handshakeFailed(let inner): return "handshake failed: " + reason(inner)
            case .shutdownFailed(let inner): return "shutdown failed: " + reason(inner)
            case .uncleanShutdown: return "connection closed without a TLS close_notify"
            case .failedToLoadCertificate: return "cannot load the certificate"
            case .failedToLoadPrivateKey: return "cannot load the private key"
            default: return "\(error)"
            }
        case let error as BoringSSLError:
            return reason(error)
        case let error as NIOSSLExtraError:
            return "\(error)"
        default:
            return nil
        }
    }

    private static func reason(_ error: BoringSSLError) -> String {
        switch error {
        case .sslError(let stack), .unknownError(let stack), .invalidSNIName(let stack), .failedToSetALPN(let stack):
            let reasons = stack.map { openSSLReason($0.description) }
            return reasons.isEmpty ? "\(error)" : reasons.joined(separator: "; ")
        case .syscallError: return "connection closed by the peer"
        case .zeroReturn: return "connection closed by the peer (close_notify)"
        default: return "\(error)"
        }
    }

    /// `error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at file:line`
    /// → `certificate verify failed`; BoringSSL's alert names (`TLSV1_ALERT_UNKNOWN_CA`) keep
    /// their meaning in lower case (`tlsv1 alert unknown ca`), as OpenSSL prints them.
    static func openSSLReason(_ description: String) -> String {
        var text = Substring(description)
        // Drop " at <file>:<line>", then keep what follows the last colon.
        if let at = text.indices.last(where: { text[$0...].hasPrefix(" at ") }) { text = text[..<at] }
        if let colon = text.lastIndex(of: ":") { text = text[text.index(after: colon)...] }
        let reason = String(text.map { $0 == "_" ? " " : $0 }).lowercased()
        return reason.isEmpty ? description : reason
    }
}
