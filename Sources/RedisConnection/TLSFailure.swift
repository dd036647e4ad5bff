import Logging
import NIOCore
import NIOSSL

/// Short, readable reasons for TLS failures, for log lines that name a peer and why its
/// connection failed (`certificate verify failed`, `wrong version number`, …) instead of
/// NIOSSL's nested error descriptions.
public enum TLSFailure {
    /// The reason `error` gives, if it is a TLS error; nil for any other error, and for a peer
    /// that closed the connection without TLS's close_notify (a killed server, a client that
    /// went away): that is a closed connection, not a TLS failure.
    public static func reason(_ error: any Error) -> String? {
        switch error {
        case let error as NIOSSLError:
            switch error {
            case .uncleanShutdown: return nil
            case .handshakeFailed(let inner): return "handshake failed: " + reason(inner)
            case .shutdownFailed(let inner): return "shutdown failed: " + reason(inner)
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
            // Each reason once: BoringSSL's TLSv1.3 server queues NO_SHARED_CIPHER twice.
            var reasons: [String] = []
            for reason in stack.map({ openSSLReason($0.description) }) where !reasons.contains(reason) { reasons.append(reason) }
            return reasons.isEmpty ? "\(error)" : reasons.joined(separator: "; ")
        case .syscallError: return "connection closed by the peer"
        case .zeroReturn: return "connection closed by the peer (close_notify)"
        default: return "\(error)"
        }
    }

    /// `error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at file:line`
    /// → `certificate verify failed`; BoringSSL's alert names (`TLSV1_ALERT_UNKNOWN_CA`) keep
    /// their meaning in lower case (`tlsv1 alert unknown ca`), as OpenSSL prints them.
    public static func openSSLReason(_ description: String) -> String {
        var text = Substring(description)
        // Drop " at <file>:<line>", then keep what follows the last colon.
        if let at = text.indices.last(where: { text[$0...].hasPrefix(" at ") }) { text = text[..<at] }
        if let colon = text.lastIndex(of: ":") { text = text[text.index(after: colon)...] }
        let reason = String(text.map { $0 == "_" ? " " : $0 }).lowercased().trimmingSpaces()
        return reason.isEmpty ? description : reason
    }
}

/// Put after a `NIOSSLServerHandler`: says why a client of a TLS port was turned away (wrong CA,
/// no certificate, plain text on the TLS port), naming it as Redis does: `Error accepting a
/// client connection: <reason> (addr=<client> laddr=<our address>)`. The connection closes;
/// the port keeps serving.
public final class TLSAcceptFailureLogger: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    let logger: Logger
    private var logged = false

    public init(logger: Logger) { self.logger = logger }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !logged, let reason = TLSFailure.reason(error) {
            logged = true
            let line = "Error accepting a client connection: \(reason) (addr=\(Self.describe(context.channel.remoteAddress))"
                + " laddr=\(Self.describe(context.channel.localAddress)))"
            // A client that connects and goes away before its handshake (a TCP health check, a
            // port probe) is not worth a warning.
            if reason.hasSuffix("eof during handshake") { logger.debug("\(line)") } else { logger.warning("\(line)") }
        }
        context.fireErrorCaught(error)
    }

    /// `ip:port`, as CLIENT LIST writes addresses.
    static func describe(_ address: SocketAddress?) -> String {
        "\(address?.ipAddress ?? "?"):\(address?.port ?? 0)"
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
