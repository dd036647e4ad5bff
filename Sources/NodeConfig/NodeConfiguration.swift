import AlertCore
import HostPort
import VRRPCore
import Yams

/// What one node's node.yaml says: who this node is, the group it belongs to, and which parts
/// (Redis, monitor, proxy, virtual IP) it runs. docs/configuration.md documents every key.
public struct NodeConfiguration: Sendable, Hashable {
    /// `data`: runs a Redis server (and usually the proxy and the VIP); `witness`: only votes.
    public enum Role: String, Sendable, Hashable { case data, witness }

    /// One member of the group, as every node lists it.
    public struct Member: Sendable, Hashable {
        public var name: String
        public var address: String
        public var role: Role
        /// The member's Redis port (data nodes).
        public var redisPort: Int
        /// The member's monitor (sentinel) port.
        public var monitorPort: Int
    }

    public struct Group: Sendable, Hashable {
        /// The Sentinel master name (what clients ask `SENTINEL get-master-addr-by-name` for).
        public var name: String
        public var quorum: Int
        public var downAfterMilliseconds: Int64
        public var failoverTimeoutMilliseconds: Int64
        /// `replicated`: a write is acknowledged only once a replica has it.
        public var durability: Durability
        /// Two data nodes and no witness start only with this set (see docs/node.md).
        public var acceptSplitBrain: Bool
        /// The group's Redis password and ACL user, for every node's monitor and proxy (a
        /// witness has no `redis` section); `redis.password`/`redis.user` override them.
        public var password: String?
        public var user: String?
        public var members: [Member]
    }

    public enum Durability: String, Sendable, Hashable { case async, replicated }

    public struct Redis: Sendable, Hashable {
        public var port: Int
        public var password: String?
        public var user: String?
        /// Start and restart the local redis-server, writing `replicaof` before each start.
        public var supervise: Bool
        public var server: String
        public var configFile: String?
    }

    public struct Monitor: Sendable, Hashable {
        public var port: Int
        public var bind: [String]
    }

    public struct Proxy: Sendable, Hashable {
        public var listen: [String]
        /// `proxy.cluster`: nodes of a Redis Cluster to front (HOST:PORT); empty: the proxy
        /// follows this node's group.
        public var cluster: [String] = []
    }

    public struct VIP: Sendable, Hashable {
        public enum Placement: String, Sendable, Hashable { case direct, proxy }
        /// `10.0.0.100/24`.
        public var address: String
        public var interface: String
        public var placement: Placement
        public var vrrpVersion: Int
        public var routerID: Int
        public var advertIntervalMilliseconds: Int64
        public var priority: Int
        public var authPass: String?
        /// `vrrp.vmac`: keepalived's `use_vmac` — the address on a macvlan with the VRRP virtual
        /// MAC, named this (`vrrp.ROUTER-ID` for `true`); nil: on `interface` itself.
        public var vmac: String? = nil
    }

    /// `virtual-servers:`: keepalived `virtual_server` blocks the agent serves (as `tandem vrrp`
    /// does), read from a keepalived.conf-syntax file.
    public struct VirtualServers: Sendable, Hashable {
        /// The file as written in node.yaml (a relative path is taken from node.yaml's directory).
        public var config: String
        /// Where `virtual-servers.config` stands in node.yaml: errors reading that file point there.
        public var line: Int
    }

    public var name: String
    public var role: Role
    /// Where the agent keeps its state (the monitor's sentinel.conf with epochs and the
    /// current master): `node.state-dir`, default `/var/lib/tandem/<node name>`.
    public var stateDirectory: String
    public var group: Group
    public var redis: Redis?
    public var monitor: Monitor
    public var proxy: Proxy?
    public var vip: VIP?
    /// `node.http.listen`: where `GET /metrics` is served (ADDR:PORT), or nil for nowhere.
    public var httpListen: String? = nil
    /// `alerts:`: the webhook and email the agent's alerts go to (none by default).
    public var alerts = AlertSettings()
    /// `virtual-servers:` (none by default).
    public var virtualServers: VirtualServers? = nil

    /// This node as the group lists it (always there in a configuration that was read).
    public var me: Member? { group.members.first { $0.name == name } }
}

extension NodeConfiguration {
    /// Reads and checks a node.yaml. Every error names the file, the line and the key.
    public init(parsing text: String, file: String) throws(NodeConfigError) {
        // The YAML reader recurses once per level of nesting: refused before it runs out of stack
        // (found by `scripts/fuzz config-node`: a line of 1,800 `{` overflowed it).
        if let line = Self.lineNestingDeeper(than: Self.maxNesting, in: text) {
            throw NodeConfigError(file: file, line: line, key: "",
                                  message: "not valid here: collections nested deeper than \(Self.maxNesting) levels")
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw NodeConfigError(file: file, line: 1, key: "", message: "the file is empty")
            }
            root = node
        } catch let error as NodeConfigError {
            throw error
        } catch let error as YamlError {
            throw Self.yamlError(error, file: file)
        } catch {
            throw NodeConfigError(file: file, line: 1, key: "", message: "not valid YAML: \(error)")
        }
        var top = try YAMLFields(root, path: "", file: file)

        guard var nodeFields = try top.mapping("node") else { throw top.error("node", "is required") }
        let name = try nodeFields.requiredString("name")
        let role = Role(rawValue: try nodeFields.choice("role", ["data", "witness"]) ?? "data")!
        let stateDirectory = try nodeFields.string("state-dir") ?? "/var/lib/tandem/\(name)"
        if stateDirectory.isEmpty { throw nodeFields.error("state-dir", "must not be empty") }
        var httpListen: String?
        if var http = try nodeFields.mapping("http") {
            httpListen = try http.string("listen")
            guard let address = httpListen else { throw http.error("listen", "is required: the address /metrics is served on, e.g. 127.0.0.1:9121") }
            if HostPort(address) == nil { throw http.error("listen", "'\(address)' is not HOST:PORT with a port from 1 to 65535 (an IPv6 host in brackets: [::1]:9121)") }
            try http.finish()
        }
        try nodeFields.finish()

        guard var groupFields = try top.mapping("group") else { throw top.error("group", "is required") }
        let group = try Self.readGroup(&groupFields)
        try groupFields.finish()

        // Ports come from this node's entry in group.nodes, so every node agrees on them.
        let myPorts = group.members.first { $0.name == name }.map { ($0.redisPort, $0.monitorPort) } ?? (6379, 26379)
        var redis: Redis?
        if var fields = try top.mapping("redis") {
            redis = Redis(port: myPorts.0, password: try fields.string("password"), user: try fields.string("user"),
                          supervise: try fields.bool("supervise") ?? false,
                          server: try fields.string("server") ?? "/usr/bin/redis-server",
                          configFile: try fields.string("config"))
            if redis!.supervise, !fields.has("config") { throw fields.error("supervise", "needs redis.config: the redis.conf to start the server with") }
            try fields.finish()
        } else if role == .data {
            redis = Redis(port: myPorts.0, password: nil, user: nil, supervise: false, server: "/usr/bin/redis-server", configFile: nil)
        }
        var monitor = Monitor(port: myPorts.1, bind: ["0.0.0.0"])
        if var fields = try top.mapping("monitor") {
            monitor.bind = try fields.strings("bind") ?? monitor.bind
            try fields.finish()
        }
        var proxy: Proxy?
        if var fields = try top.mapping("proxy") {
            let listen = try fields.strings("listen") ?? []
            guard !listen.isEmpty else { throw fields.error("listen", "is required: the addresses clients connect to, e.g. 0.0.0.0:6380") }
            for address in listen where !Self.isHostPort(address) {
                throw fields.error("listen", "'\(address)' is not HOST:PORT")
            }
            let cluster = try fields.strings("cluster") ?? []
            for address in cluster where !Self.isHostPort(address) {
                throw fields.error("cluster", "'\(address)' is not HOST:PORT")
            }
            proxy = Proxy(listen: listen, cluster: cluster)
            try fields.finish()
        }
        var vip: VIP?
        if var fields = try top.mapping("vip") {
            vip = try Self.readVIP(&fields, hasProxy: proxy != nil)
            try fields.finish()
        }
        var alerts = AlertSettings()
        if var fields = try top.mapping("alerts") {
            alerts = try Self.readAlerts(&fields)
            try fields.finish()
        }
        var virtualServers: VirtualServers?
        if var fields = try top.mapping("virtual-servers") {
            guard let path = try fields.string("config"), !path.isEmpty else {
                throw fields.error("config", "is required: a file with keepalived's virtual_server blocks, e.g. /etc/tandem/virtual-servers.conf")
            }
            virtualServers = VirtualServers(config: path, line: fields.lineOf("config"))
            try fields.finish()
        }
        try top.finish()

        self.init(name: name, role: role, stateDirectory: stateDirectory, group: group, redis: redis, monitor: monitor, proxy: proxy, vip: vip)
        self.httpListen = httpListen
        self.alerts = alerts
        self.virtualServers = virtualServers
        try check(top: top)
    }

    /// `alerts: {webhook: URL, email: {server, from, to}, timeout: 5s, attempts: 4}`.
    private static func readAlerts(_ fields: inout YAMLFields) throws(NodeConfigError) -> AlertSettings {
        var alerts = AlertSettings()
        if let url = try fields.string("webhook") {
            do { alerts.webhook = try WebhookURL(parsing: url) } catch { throw fields.error("webhook", "\(error)") }
        }
        if var email = try fields.mapping("email") {
            let server = try email.requiredString("server")
            let from = try email.requiredString("from")
            let to = try email.strings("to") ?? []
            do { alerts.email = try EmailTarget(server: server, from: from, to: to) } catch { throw email.error("to", "\(error)") }
            try email.finish()
        }
        if alerts.isEmpty { throw fields.error("webhook", "alerts needs a webhook or an email (or leave alerts out)") }
        if let timeout = try fields.milliseconds("timeout", in: 1...600_000) { alerts.policy.timeoutMilliseconds = timeout }
        if let attempts = try fields.integer("attempts", in: 1...100) { alerts.policy.attempts = attempts }
        return alerts
    }

    private static func readGroup(_ fields: inout YAMLFields) throws(NodeConfigError) -> Group {
        let name = try fields.requiredString("name")
        guard !name.isEmpty, !name.contains(where: { $0 == " " || $0.isNewline }) else {
            throw fields.error("name", "a master name has no spaces")
        }
        let members = try fields.list("nodes") { (m: inout YAMLFields) throws(NodeConfigError) -> Member in
            let role = Role(rawValue: try m.choice("role", ["data", "witness"]) ?? "data")!
            return Member(name: try m.requiredString("name"), address: try m.requiredString("address"), role: role,
                          redisPort: try m.integer("redis-port", in: 1...65535) ?? 6379,
                          monitorPort: try m.integer("monitor-port", in: 1...65535) ?? 26379)
        } ?? []
        guard !members.isEmpty else { throw fields.error("nodes", "is required: every node of the group, this one included") }
        for member in members where !isIPAddress(member.address) {
            throw fields.error("nodes", "node '\(member.name)': address '\(member.address)' is not an IP address (the monitors name masters by IP)")
        }
        var seen: Set<String> = []
        for member in members where !seen.insert(member.name).inserted {
            throw fields.error("nodes", "the name '\(member.name)' is given twice")
        }
        let majority = members.count / 2 + 1
        let quorum = try fields.integer("quorum", in: 1...members.count) ?? majority
        return Group(name: name, quorum: quorum,
                     downAfterMilliseconds: try fields.milliseconds("down-after", in: 100...3_600_000) ?? 5_000,
                     failoverTimeoutMilliseconds: try fields.milliseconds("failover-timeout", in: 1_000...86_400_000) ?? 60_000,
                     durability: Durability(rawValue: try fields.choice("durability", ["async", "replicated"]) ?? "async")!,
                     acceptSplitBrain: try fields.bool("accept-split-brain") ?? false,
                     password: try fields.string("password"), user: try fields.string("user"),
                     members: members)
    }

    private static func readVIP(_ fields: inout YAMLFields, hasProxy: Bool) throws(NodeConfigError) -> VIP {
        let address = try fields.requiredString("address")
        guard isPrefix(address) else { throw fields.error("address", "expected an address with its prefix length, e.g. 10.0.0.100/24, got '\(address)'") }
        guard let interface = try fields.string("interface"), !interface.isEmpty else {
            throw fields.error("interface", "is required: the network interface the virtual IP is added to")
        }
        let placement = VIP.Placement(rawValue: try fields.choice("mode", ["direct", "proxy"]) ?? (hasProxy ? "proxy" : "direct"))!
        if placement == .proxy && !hasProxy { throw fields.error("mode", "'proxy' needs a proxy section on this node") }
        var version = 3, routerID = 51, interval: Int64 = 1000, priority = 100
        var authPass: String?
        var vmac: String?
        if var vrrp = try fields.mapping("vrrp") {
            version = try vrrp.integer("version", in: 2...3) ?? 3
            routerID = try vrrp.integer("router-id", in: 1...255) ?? 51
            interval = try vrrp.milliseconds("advert-interval", in: 10...40_950) ?? (version == 3 ? 100 : 1000)
            priority = try vrrp.integer("priority", in: 1...254) ?? 100
            authPass = try vrrp.string("auth-pass")
            if let text = try vrrp.string("vmac") {
                switch text.lowercased() {
                case "true", "yes", "on": vmac = VirtualMAC.defaultName(vrid: UInt8(routerID))
                case "false", "no", "off": vmac = nil
                default:
                    if let problem = VirtualMAC.nameProblem(text) { throw vrrp.error("vmac", "true, false or an interface name: \(problem)") }
                    if text == interface { throw vrrp.error("vmac", "the macvlan cannot be named as its interface \(interface)") }
                    vmac = text
                }
            }
            if version == 2 && interval % 1000 != 0 { throw vrrp.error("advert-interval", "VRRPv2 counts whole seconds") }
            if version == 3 && interval % 10 != 0 { throw vrrp.error("advert-interval", "VRRPv3 counts centiseconds") }
            if version == 3 && authPass != nil { throw vrrp.error("auth-pass", "VRRPv3 has no authentication (RFC 5798)") }
            if let pass = authPass, pass.utf8.count > 8 { throw vrrp.error("auth-pass", "at most 8 characters (VRRPv2 PASS)") }
            try vrrp.finish()
        } else {
            interval = 100
        }
        return VIP(address: address, interface: interface, placement: placement, vrrpVersion: version, routerID: routerID,
                   advertIntervalMilliseconds: interval, priority: priority, authPass: authPass, vmac: vmac)
    }

    /// Combinations no single key can reject.
    private func check(top: YAMLFields) throws(NodeConfigError) {
        guard let me = group.members.first(where: { $0.name == name }) else {
            throw top.error("node", "node.name '\(name)' is not among group.nodes (\(group.members.map(\.name).joined(separator: ", ")))")
        }
        if me.role != role {
            throw top.error("node", "node.role is \(role.rawValue) but group.nodes lists '\(name)' as \(me.role.rawValue)")
        }
        if role == .witness {
            for (key, present) in [("redis", redis != nil), ("proxy", proxy != nil), ("vip", vip != nil),
                                   ("virtual-servers", virtualServers != nil)] where present {
                throw top.error(key, "a witness only votes: it runs no \(key)")
            }
        }
        for address in proxy?.listen ?? [] {
            let port = Int(address.split(separator: ":").last ?? "") ?? 0
            if port == me.monitorPort || (role == .data && port == me.redisPort) {
                throw top.error("proxy", "proxy.listen \(address) takes this node's \(port == me.monitorPort ? "monitor" : "Redis") port \(port)")
            }
        }
        if let address = httpListen {
            let port = Int(address.split(separator: ":").last ?? "") ?? 0
            let taken = [(me.monitorPort, "monitor")] + (role == .data ? [(me.redisPort, "Redis")] : [])
                + (proxy?.listen ?? []).map { (Int($0.split(separator: ":").last ?? "") ?? 0, "proxy") }
            if let (_, what) = taken.first(where: { $0.0 == port }) {
                throw top.error("node", "node.http.listen \(address) takes this node's \(what) port \(port)")
            }
        }
        let data = group.members.filter { $0.role == .data }.count
        let witnesses = group.members.count - data
        if data == 0 { throw top.error("group", "group.nodes has no data node") }
        if data == 2 && witnesses == 0 && !group.acceptSplitBrain {
            throw top.error("group", "two data nodes and no witness cannot tell a dead peer from a cut link: each would promote itself. Add a witness node (see docs/node.md), or set group.accept-split-brain: true to accept that risk")
        }
        if group.durability == .replicated && data < 2 {
            throw top.error("group", "durability: replicated needs at least two data nodes")
        }
        if group.durability == .replicated && role == .data {
            if proxy == nil {
                throw top.error("group", "durability: replicated holds each write in the proxy until a replica has it: this data node needs a proxy section")
            }
            if vip?.placement == .direct {
                throw top.error("vip", "vip.mode direct sends clients to Redis itself, past the proxy that makes durability: replicated hold: use mode proxy")
            }
        }
    }

    /// No node.yaml nests more than a few levels; the reader's recursion is bounded well before
    /// the stack (the fuzzer's ASan build overflowed at ~1,800).
    static let maxNesting = 64

    /// The line (1-based) where flow collections (`[`, `{`, outside quotes and comments) or block
    /// indentation first nest deeper than `limit`; nil when they never do.
    static func lineNestingDeeper(than limit: Int, in text: String) -> Int? {
        var depth = 0
        var line = 1
        var quote: UInt8?
        var comment = false
        var previous: UInt8 = 0x0A
        var indentation = 0
        var atLineStart = true
        for byte in text.utf8 {
            if byte == 0x0A {
                line += 1
                comment = false
                previous = byte
                indentation = 0
                atLineStart = true
                continue
            }
            if atLineStart {
                if byte == 0x20 {
                    indentation += 1
                    // Block nesting: each level indents at least one more space.
                    if indentation > limit * 8 { return line }
                    previous = byte
                    continue
                }
                atLineStart = false
            }
            if comment { previous = byte; continue }
            if let q = quote {
                if byte == q { quote = nil }
            } else {
                switch byte {
                // A quote opens a quoted scalar only where one may start (not `don't`).
                case 0x27 where [0x20, 0x09, 0x0A, 0x5B, 0x7B, 0x2C, 0x3A].contains(previous): quote = byte
                case 0x22 where [0x20, 0x09, 0x0A, 0x5B, 0x7B, 0x2C, 0x3A].contains(previous): quote = byte
                case 0x23 where previous == 0x20 || previous == 0x09 || previous == 0x0A: comment = true
                case 0x5B, 0x7B:
                    depth += 1
                    if depth > limit { return line }
                case 0x5D, 0x7D: depth = max(0, depth - 1)
                default: break
                }
            }
            previous = byte
        }
        return nil
    }

    static func yamlError(_ error: YamlError, file: String) -> NodeConfigError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return NodeConfigError(file: file, line: mark.line, key: "", message: "not valid YAML: \(problem)")
        default:
            return NodeConfigError(file: file, line: 1, key: "", message: "not valid YAML: \(error)")
        }
    }

    static func isHostPort(_ text: String) -> Bool {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return false }
        return (1...65535).contains(port) && colon != text.startIndex
    }

    static func isIPAddress(_ text: String) -> Bool {
        if text.contains(":") { return text.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } && text.count >= 2 }
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { UInt8($0) != nil }
    }

    static func isPrefix(_ text: String) -> Bool {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let length = Int(parts[1]) else { return false }
        let isV6 = parts[0].contains(":")
        if isV6 { return (1...128).contains(length) }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { UInt8($0) != nil } && (1...32).contains(length)
    }
}
