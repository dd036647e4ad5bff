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

    public var urls: [URL] = []
    public var virtualhost: String?
    /// SSL_GET: the same request over TLS (the server's certificate is not verified, as
    /// keepalived without an `ssl` block; SNI is the virtualhost when it is a name).
    public var tls = false
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
