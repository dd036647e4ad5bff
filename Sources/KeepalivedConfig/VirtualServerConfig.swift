import VRRPCore

/// An address and TCP port: a virtual server's, a real server's or a sorry server's.
public struct ServiceAddress: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var port: Int

    public init(address: IPAddress, port: Int) {
        self.address = address
        self.port = port
    }

    /// keepalived's way of writing it in logs: `[ADDR]:tcp:PORT` for IPv6, `ADDR:tcp:PORT` for IPv4.
    public var description: String {
        address.family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// `lb_algo` / `lvs_sched`: the schedulers served in user space.
public enum SchedulerName: String, Sendable, Hashable, CaseIterable {
    case rr, wrr, lc, wlc, sh, mh
}

/// `lb_kind` / `lvs_method`: accepted; user space serves every kind as a proxy.
public enum ForwardingMethod: String, Sendable, Hashable {
    case nat = "NAT", dr = "DR", tun = "TUN"
}

/// A `virtual_server IP PORT { … }` block, with the defaults keepalived gives it.
public struct VirtualServerConfig: Sendable {
    /// Its address and port; for `virtual_server group NAME`, the group's first entry.
    public var service: ServiceAddress
    public var location: SourceLocation
    /// `virtual_server group NAME`: the virtual_server_group's name; nil for `virtual_server IP PORT`.
    public var group: String?
    /// Where it listens: its address and port, or every entry of its virtual_server_group.
    public var listenAddresses: [ServiceAddress]
    public var scheduler: SchedulerName = .wlc
    public var forwarding: ForwardingMethod = .nat
    /// Seconds a client address stays with its real server; nil: no persistence.
    public var persistenceTimeout: Int?
    public var sorryServer: ServiceAddress?
    public var sorryServerInhibit = false
    public var alpha = false
    public var omega = false
    public var quorum = 1
    public var hysteresis = 0
    public var quorumUp: NotifyCommand?
    public var quorumDown: NotifyCommand?
    public var haSuspend = false
    /// `protocol UDP`: datagrams forwarded per client flow (address and port) instead of TCP connections.
    public var udp = false
    /// `smtp_alert` (or global_defs' `smtp_alert_checker` / `smtp_alert`): e-mail when the quorum is gained or lost.
    public var smtpAlert = false
    /// `sh-fallback` / `mh-fallback`: when the hashed server cannot take the connection, try the next.
    public var hashFallback = false
    /// `sh-port` / `mh-port`: hash the client's port too.
    public var hashPort = false
    /// `virtualhost`: the Host of its real servers' HTTP_GET/SSL_GET checkers that name none.
    public var virtualhost: String?
    public var realServers: [RealServerConfig] = []
    /// The block as text without locations (`ConfigStatement.fingerprint`): a reload leaves a
    /// virtual server whose block reads the same alone.
    public var fingerprint = ""

    public init(service: ServiceAddress, location: SourceLocation) {
        self.service = service
        self.location = location
        self.listenAddresses = [service]
    }

    /// How logs and reloads name it: `IP:PORT`, or `group NAME`, with `/udp` after a UDP one
    /// (a TCP and a UDP virtual server may share an address and port, as in IPVS).
    public var name: String { (group.map { "group \($0)" } ?? service.description) + (udp ? "/udp" : "") }
}

/// A `real_server IP PORT { … }` block.
public struct RealServerConfig: Sendable {
    public var service: ServiceAddress
    public var location: SourceLocation
    public var weight = 1
    public var inhibitOnFailure = false
    public var notifyUp: NotifyCommand?
    public var notifyDown: NotifyCommand?
    /// E-mail when it goes up or down (`smtp_alert` here, in a checker, or inherited).
    public var smtpAlert = false
    /// `virtualhost`: the Host of its HTTP_GET/SSL_GET checkers that name none.
    public var virtualhost: String?
    public var checkers: [CheckerConfig] = []

    public init(service: ServiceAddress, location: SourceLocation) {
        self.service = service
        self.location = location
    }
}

/// One health checker of a real server, with its timing settled (checker, else real server,
/// else virtual server, else keepalived's default).
public struct CheckerConfig: Sendable {
    public enum Kind: Sendable {
        case tcp
        case http(HTTPCheck)
        case misc(MiscCheck)
        /// tandem's own: up when the server answers PING and INFO replication says role:master.
        case redis(RedisCheck)
        case udp(UDPCheck)
    }

    public var kind: Kind
    public var location: SourceLocation
    /// Where to connect: the real server's address and port unless `connect_ip`/`connect_port`.
    public var connectAddress: ServiceAddress
    public var bindAddress: IPAddress?
    public var bindPort: Int?
    /// Seconds.
    public var connectTimeout: Double
    public var retry: Int
    /// Seconds.
    public var delayBeforeRetry: Double
    /// Seconds.
    public var delayLoop: Double
    /// Seconds: the first check waits a random time up to this.
    public var warmup: Double
    public var alpha: Bool

    /// The keyword the block was written with.
    public var name: String {
        switch kind {
        case .tcp: "TCP_CHECK"
        case .http(let http): http.tls ? "SSL_GET" : "HTTP_GET"
        case .misc: "MISC_CHECK"
        case .redis: "REDIS_CHECK"
        case .udp: "UDP_CHECK"
        }
    }
}

/// `HTTP_GET { url { … } … }` and `SSL_GET`.
public struct HTTPCheck: Sendable {
    public struct URL: Sendable {
        public var path: String
        /// Accepted status codes (default 200–299).
        public var statusCodes: [ClosedRange<Int>] = [200...299]
        /// Lower-case hex MD5 of the body, when given.
        public var digest: String?
        public var virtualhost: String?

        public init(path: String, statusCodes: [ClosedRange<Int>] = [200...299], digest: String? = nil, virtualhost: String? = nil) {
            self.path = path
            self.statusCodes = statusCodes
            self.digest = digest
            self.virtualhost = virtualhost
        }
    }

    /// `http_protocol`: the request's HTTP version and whether it asks the server to close.
    public enum ProtocolVersion: String, Sendable {
        /// keepalived's default: `HTTP/1.0`, no Connection header.
        case http10 = "1.0"
        /// `1.0C`: `HTTP/1.0` with `Connection: close`.
        case http10Close = "1.0C"
        /// `HTTP/1.1` with `Connection: close`.
        case http11 = "1.1"
    }

    public var urls: [URL] = []
    /// The checker's own `virtualhost`.
    public var virtualhost: String?
    /// `virtualhost` of the real server and of the virtual server the checker belongs to:
    /// keepalived's Host header takes the url's, else the checker's, else the real server's,
    /// else the virtual server's (`check_http.c`).
    public var realServerVirtualhost: String?
    public var virtualServerVirtualhost: String?
    public var protocolVersion: ProtocolVersion = .http10
    /// SSL_GET `enable_sni`: send the virtualhost as SNI (the url's, else the checker's, else
    /// the virtual server's — not the real server's, as keepalived 2.2.7). Off: no SNI.
    public var enableSNI = false
    /// SSL_GET: the same request over TLS (the server's certificate is not verified, as
    /// keepalived without an `ssl` block).
    public var tls = false

    public init(urls: [URL] = [], virtualhost: String? = nil) {
        self.urls = urls
        self.virtualhost = virtualhost
    }

    /// The virtualhost keepalived sends in the Host header for `url`; nil: none written at any
    /// level (the Host header is then the address and port connected to).
    public func hostHeaderName(_ url: URL) -> String? {
        url.virtualhost ?? virtualhost ?? realServerVirtualhost ?? virtualServerVirtualhost
    }

    /// The SNI name for `url` (only with `enable_sni`).
    public func sniName(_ url: URL) -> String? {
        enableSNI ? url.virtualhost ?? virtualhost ?? virtualServerVirtualhost : nil
    }

    /// The request keepalived 2.2.7's checker (and its `genhash`) sends for `url` to `server`:
    /// `GET path HTTP/1.x`, its User-Agent, `Connection: close` for 1.0C and 1.1, and the Host
    /// header — the virtualhost, else the address with its port (`[v6]:port` for IPv6).
    public func request(_ url: URL, server: ServiceAddress) -> String {
        let host: String
        if let name = hostHeaderName(url) {
            host = name
        } else if server.address.family == .ipv6 {
            host = "[\(server.address)]:\(server.port)"
        } else {
            host = "\(server.address):\(server.port)"
        }
        let version = protocolVersion == .http11 ? "1.1" : "1.0"
        let connection = protocolVersion == .http10 ? "" : "Connection: close\r\n"
        return "GET \(url.path) HTTP/\(version)\r\nUser-Agent: KeepAliveClient\r\n\(connection)Host: \(host)\r\n\r\n"
    }
}

/// `UDP_CHECK { payload …; require_reply …; min_reply_length; max_reply_length }`, as
/// keepalived 2.2.7's `check_udp.c`: the payload (none: an empty datagram) is sent on a
/// connected socket; without `require_reply` the server is up unless an ICMP error (port
/// unreachable) comes back within connect_timeout, with it a reply must come, and with reply
/// bytes its first bytes must match them (`x` nibbles match anything) and its length lie within
/// the bounds.
public struct UDPCheck: Sendable, Hashable {
    public var payload: [UInt8] = []
    public var requireReply = false
    /// The expected first bytes of the reply, and the wildcard mask (bits set: any value).
    public var reply: [UInt8]?
    public var replyMask: [UInt8]?
    public var minReplyLength = 0
    public var maxReplyLength = 255

    public init() {}

    /// keepalived's `read_hex_str`: pairs of hex digits, blanks between bytes (a single digit
    /// before a blank is one byte), `x`/`X` a wildcard nibble where `wildcards`. nil: not hex.
    public static func hexBytes(_ text: String, wildcards: Bool) -> (bytes: [UInt8], mask: [UInt8])? {
        var bytes: [UInt8] = [], mask: [UInt8] = []
        let chars = Array(text.utf8)
        var i = 0
        func nibble(_ c: UInt8) -> (value: UInt8, wild: Bool)? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return (c - UInt8(ascii: "0"), false)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return (c - UInt8(ascii: "a") + 10, false)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return (c - UInt8(ascii: "A") + 10, false)
            case UInt8(ascii: "x"), UInt8(ascii: "X"): return wildcards ? (0, true) : nil
            default: return nil
            }
        }
        let blank = { (c: UInt8) in c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }
        while i < chars.count {
            if blank(chars[i]) { i += 1; continue }
            guard let high = nibble(chars[i]) else { return nil }
            i += 1
            var value = high.value, wild: UInt8 = high.wild ? 0x0f : 0
            if i < chars.count, !blank(chars[i]) {
                guard let low = nibble(chars[i]) else { return nil }
                i += 1
                value = value << 4 | low.value
                wild = wild << 4 | (low.wild ? 0x0f : 0)
            }
            bytes.append(value)
            mask.append(wild)
        }
        return bytes.isEmpty ? nil : (bytes, mask)
    }

    /// Whether a reply passes (`check_udp_reply`): with expected bytes, its length within the
    /// bounds and its first bytes (as many as both have) matching them outside the wildcards;
    /// without, any reply.
    public func accepts(_ received: [UInt8]) -> Bool {
        guard let reply else { return true }
        guard received.count >= minReplyLength, received.count <= maxReplyLength else { return false }
        for i in 0..<min(received.count, reply.count) where (received[i] ^ reply[i]) & ~(replyMask?[i] ?? 0) != 0 {
            return false
        }
        return true
    }
}

/// `MISC_CHECK { misc_path … }`.
public struct MiscCheck: Sendable {
    public var path: String
    /// Seconds before the script is killed and the check failed (default: delay_loop).
    public var timeout: Double?
    /// Exit status 2…255 sets the weight to status − 2.
    public var dynamic = false
    public var user: (user: String, group: String?)?
}

/// `REDIS_CHECK { … }`: a real server is up while it answers as a master.
public struct RedisCheck: Sendable {
    public var password: String?
    public var user: String?
    /// `role master` (default) or `role any` (up when PING answers).
    public var requireMaster = true
}
