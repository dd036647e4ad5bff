/// Where alerts go and how they are retried: from `sentinel tandem-alert-*` lines, node.yaml's
/// `alerts:` or `tandem vrrp --alert-*`.
public struct AlertSettings: Sendable, Hashable {
    public var webhook: WebhookURL?
    public var email: EmailTarget?
    public var policy: AlertPolicy

    public init(webhook: WebhookURL? = nil, email: EmailTarget? = nil, policy: AlertPolicy = AlertPolicy()) {
        self.webhook = webhook
        self.email = email
        self.policy = policy
    }

    /// No sink: nothing is sent.
    public var isEmpty: Bool { webhook == nil && email == nil }
}

/// A bad alert setting: what is wrong with which value.
public struct AlertSettingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `http://HOST[:PORT][/PATH]`. Plain HTTP only: an `https://` URL is refused with that said
/// (send to a local relay that speaks TLS).
public struct WebhookURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// From the first `/`, query included; `/` when the URL has none.
    public var path: String
    public var description: String

    public init(parsing text: String) throws(AlertSettingError) {
        description = text
        let lower = text.lowercased()
        if lower.hasPrefix("https://") {
            throw AlertSettingError("webhook URL '\(text)': https is not supported; use http:// (a local relay can add TLS)")
        }
        guard lower.hasPrefix("http://") else { throw AlertSettingError("webhook URL '\(text)' must start with http://") }
        let rest = text.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        var tail = String(rest.dropFirst(authority.count))
        if tail.isEmpty { tail = "/" } else if tail.hasPrefix("?") { tail = "/" + tail }
        guard !authority.isEmpty, !authority.contains("@") else {
            throw AlertSettingError("webhook URL '\(text)' needs a host (and no user:password@)")
        }
        guard !tail.contains(where: { $0 == " " || $0.isNewline }) else {
            throw AlertSettingError("webhook URL '\(text)': the path has a space or a line break")
        }
        (host, port) = try Self.hostPort(String(authority), defaultPort: 80, what: "webhook URL '\(text)'")
        path = tail
    }

    /// `HOST[:PORT]`, `[V6]:PORT`.
    static func hostPort(_ s: String, defaultPort: Int, what: String) throws(AlertSettingError) -> (String, Int) {
        var host = s
        var port = defaultPort
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { throw AlertSettingError("\(what): unclosed [ in the address") }
            host = String(s[s.index(after: s.startIndex)..<close])
            let after = s[s.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw AlertSettingError("\(what): bad port after the address")
                }
                port = p
            }
        } else if let colon = s.lastIndex(of: ":") {
            guard let p = Int(s[s.index(after: colon)...]), (1...65535).contains(p) else {
                throw AlertSettingError("\(what): '\(s[s.index(after: colon)...])' is not a port (1-65535)")
            }
            host = String(s[..<colon])
            port = p
        }
        guard !host.isEmpty else { throw AlertSettingError("\(what): no host") }
        return (host, port)
    }
}

/// An SMTP server (`HOST[:PORT]`, port 25 by default), the sender and the recipients.
public struct EmailTarget: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var from: String
    public var to: [String]

    public init(server: String, from: String, to: [String]) throws(AlertSettingError) {
        (host, port) = try WebhookURL.hostPort(server, defaultPort: 25, what: "SMTP server '\(server)'")
        guard from.contains("@"), !from.contains(where: { $0 == " " || $0 == "<" || $0 == ">" }) else {
            throw AlertSettingError("email sender '\(from)' is not an address like tandem@example.com")
        }
        guard !to.isEmpty else { throw AlertSettingError("email alerts need at least one recipient") }
        for r in to where !r.contains("@") || r.contains(where: { $0 == " " || $0 == "<" || $0 == ">" }) {
            throw AlertSettingError("email recipient '\(r)' is not an address like oncall@example.com")
        }
        self.from = from
        self.to = to
    }

    /// `HOST:PORT` as written back (the port always shown).
    public var server: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
