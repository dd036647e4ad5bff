/// An address written `HOST:PORT`, an IPv6 host in brackets (`[::1]:9121`), as every daemon's
/// `--http` flag and its config keys (`tandem-http`, `tandem_http`, `node.http.listen`) take it.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// The host as written, without the brackets of an IPv6 one.
    public let host: String
    public let port: Int

    /// nil unless `text` is a non-empty host, a colon and a port in `ports`. A host with a colon
    /// (IPv6) must be in brackets, so the port is never ambiguous; a bracket must be closed.
    public init?(_ text: String, ports: ClosedRange<Int> = 1...65535) {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              text[text.index(after: colon)...].allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(text[text.index(after: colon)...]), ports.contains(port) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = host.dropFirst().dropLast()
        } else if host.contains(":") || host.contains("]") {
            return nil
        }
        guard !host.isEmpty else { return nil }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
