import NIOCore
import NIOSSL

/// A `host:port` endpoint as given on the command line (`[::1]:6379` for IPv6).
public struct ProxyEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `v6addr:port` (the last colon separates the port).
    public init(parsing text: String) throws(ProxySettingsError) {
        var hostPart: Substring
        var portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ProxySettingsError("'\(text)': expected [ADDRESS]:PORT")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ProxySettingsError("'\(text)': expected ADDRESS:PORT")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw ProxySettingsError("'\(text)': the address is empty") }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            throw ProxySettingsError("'\(text)': the port must be a number from 0 to 65535")
        }
        self.host = String(hostPart)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A bad proxy setting; the message names the option and the value.
public struct ProxySettingsError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How the proxy learns which server is the master.
public enum MasterDiscoveryMode: Sendable, Hashable {
    /// Follow a Sentinel group (redis-sentinel or tandem sentinel).
    case sentinel(sentinels: [ProxyEndpoint], masterName: String)
    /// Health-check each backend like HAProxy's tcp-check for `role:master`.
    case backends([ProxyEndpoint])
    /// Route by slot to the masters of a Redis Cluster; these nodes give the first slot map.
    case cluster([ProxyEndpoint])
}

/// Everything `tandem proxy` is configured with.
public struct ProxySettings: Sendable {
    /// Addresses to accept clients on.
    public var listen: [ProxyEndpoint]
    public var discovery: MasterDiscoveryMode
    /// Password the proxy uses for its own connections (checks and shared connections).
    public var password: String?
    /// ACL user for the proxy's own connections.
    public var user: String?
    /// Password for the sentinels, when they require one.
    public var sentinelPassword: String?
    /// Client connections beyond this are refused with Redis's "max number of clients" error.
    public var maxConnections = 10_000
    /// Idle clients (no command for this long, none pending, not subscribed) are closed; nil keeps them.
    public var idleTimeout: TimeAmount?
    /// How long a command waits for a master when none is known.
    public var hold: TimeAmount = .milliseconds(5000)
    /// Backend checks: interval, and how many failures/successes change a backend's state.
    public var checkInterval: TimeAmount = .seconds(1)
    public var fall = 3
    public var rise = 2
    /// Connect timeout for backend and sentinel connections.
    public var connectTimeout: TimeAmount = .milliseconds(1000)
    /// Cluster mode: how often the slot map is read again when nothing asked for it sooner.
    public var clusterRefreshInterval: TimeAmount = .seconds(5)
    /// Event-loop threads; 0 means half the cores (at least one).
    public var threads = 0
    /// Send read-only commands of stateless clients to a replica.
    public var readFromReplicas = false
    /// `durability: replicated` (`--wait-replicas N`): a write is answered only once N replicas
    /// acknowledged it (WAIT N after each batch that holds a write); when fewer do within
    /// `waitTimeout`, the client gets -NOREPLICAS. 0: Redis's asynchronous replication.
    public var waitReplicas = 0
    public var waitTimeout: TimeAmount = .milliseconds(1000)
    /// A backend connection whose sent bytes stay unacknowledged by the server's TCP this long
    /// is closed (TCP_USER_TIMEOUT), so commands sent to a master that a partition cut off end
    /// with an error ("may or may not have run") instead of waiting for the cut to heal. A
    /// paused but reachable master (a switchover) acknowledges the bytes and is not affected.
    /// nil: the kernel's default (about 15 minutes). The node agent sets it to down-after.
    public var backendUnackedTimeout: TimeAmount?
    /// Listen with IP_TRANSPARENT (IPV6_TRANSPARENT; needs CAP_NET_ADMIN): a client connection
    /// made to a virtual IP can still be closed (its FIN sent from that address) after the
    /// address has left this host — the node agent closes its proxy's clients once the
    /// address's next holder is heard. Without the capability the proxy listens without it
    /// (and says so).
    public var transparentListen = false
    /// TLS for clients of the listening addresses (`--tls-cert`, `--tls-key`); nil: plain.
    public var tlsServer: NIOSSLContext?
    /// TLS toward backends and sentinels (`--backend-tls`); nil: plain.
    public var backendTLS: NIOSSLContext?

    public init(listen: [ProxyEndpoint], discovery: MasterDiscoveryMode) {
        self.listen = listen
        self.discovery = discovery
    }

    /// The name the proxy reports for the group: the Sentinel master name or "backends".
    public var groupName: String {
        switch discovery {
        case .sentinel(_, let name): return name
        case .backends: return "backends"
        case .cluster: return "cluster"
        }
    }
}
