import Foundation

/// `GET /status.json` of a daemon's `--http` port: what the status page draws. `monitor` and
/// `groups` are `tandem status --json`'s (`StatusReport`), read from the daemon's own state;
/// the rest says what only the daemon knows: its recent failovers step by step, its proxy and
/// its VRRP instances. Pure: the daemons fill it, `json()` encodes it.
public struct StatusPage: Codable, Sendable, Hashable {
    /// `sentinel`, `node`, `proxy` or `vrrp`.
    public var daemon: String
    /// The node's name (node agents), else nil.
    public var node: String?
    /// Milliseconds since the Unix epoch when the document was made.
    public var time: Int64
    /// The monitor's own address (`host:port`), as `tandem status` names the monitor asked.
    public var monitor: String?
    /// Every group the monitor watches, as in `tandem status --json` (empty for proxy and vrrp).
    public var groups: [StatusReport.Group]
    /// The last failovers this daemon's monitor saw, oldest first.
    public var failovers: [FailoverTimeline.Failover]
    public var proxy: Proxy?
    public var vrrp: [VRRPInstance]

    public init(daemon: String, node: String? = nil, time: Int64, monitor: String? = nil, groups: [StatusReport.Group] = [],
                failovers: [FailoverTimeline.Failover] = [], proxy: Proxy? = nil, vrrp: [VRRPInstance] = []) {
        self.daemon = daemon
        self.node = node
        self.time = time
        self.monitor = monitor
        self.groups = groups
        self.failovers = failovers
        self.proxy = proxy
        self.vrrp = vrrp
    }

    /// The proxy's side (`INFO proxy`'s counters).
    public struct Proxy: Codable, Sendable, Hashable {
        /// The address clients connect to.
        public var listen: String?
        /// Whether the proxy knows a master to send commands to (commands are held while not).
        public var masterKnown: Bool
        public var connectedClients: Int
        public var commands: Int
        public var masterSwitches: Int

        public init(listen: String?, masterKnown: Bool, connectedClients: Int, commands: Int, masterSwitches: Int) {
            self.listen = listen
            self.masterKnown = masterKnown
            self.connectedClients = connectedClients
            self.commands = commands
            self.masterSwitches = masterSwitches
        }
    }

    /// One VRRP instance of this process: its state and the virtual addresses it holds as MASTER.
    public struct VRRPInstance: Codable, Sendable, Hashable {
        public var name: String
        /// INIT, BACKUP, MASTER, FAULT or STOP.
        public var state: String
        public var addresses: [String]

        public init(name: String, state: String, addresses: [String]) {
            self.name = name
            self.state = state
            self.addresses = addresses
        }
    }

    /// The document as the page reads it (keys sorted, so a diff of two is readable).
    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array("{}".utf8)
    }
}
