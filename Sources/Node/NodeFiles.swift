import KeepalivedConfig
import NIOCore
import NodeConfig
import Proxy

/// What the agent derives from node.yaml for the parts it runs: the monitor's sentinel.conf
/// and start-up overrides, the proxy's settings, and the VRRP instance. Pure text and values.
enum NodeFiles {
    /// The monitor's first sentinel.conf, written once (the monitor rewrites it afterwards, as
    /// Sentinel does: epochs, known peers and replicas, the current master).
    static func sentinelConf(_ c: NodeConfiguration, master: (host: String, port: Int), source: String) -> String {
        """
        # Written by `tandem run \(source)` at this node's first start. The monitor keeps its
        # state here (epochs, peers, replicas, the current master) and rewrites this file as
        # redis-sentinel does. node.yaml's settings are applied over it at every start.
        dir "\(c.stateDirectory)"
        sentinel monitor \(c.group.name) \(master.host) \(master.port) \(c.group.quorum)

        """
    }

    /// node.yaml's settings, applied over the saved file at every start (a changed node.yaml wins).
    static func sentinelOverrides(_ c: NodeConfiguration) -> [(String, String)] {
        let me = c.me!
        let g = c.group.name
        var lines: [(String, String)] = [
            ("port", String(c.monitor.port)),
            ("bind", c.monitor.bind.joined(separator: " ")),
            ("sentinel", "announce-ip \(me.address)"),
            ("sentinel", "announce-port \(me.monitorPort)"),
            ("sentinel", "down-after-milliseconds \(g) \(c.group.downAfterMilliseconds)"),
            ("sentinel", "failover-timeout \(g) \(c.group.failoverTimeoutMilliseconds)"),
            ("sentinel", "parallel-syncs \(g) 1"),
        ]
        if c.group.durability == .replicated { lines.append(("sentinel", "durability \(g) replicated")) }
        if let password = c.redis?.password ?? c.group.password { lines.append(("sentinel", "auth-pass \(g) \(password)")) }
        if let user = c.redis?.user ?? c.group.user { lines.append(("sentinel", "auth-user \(g) \(user)")) }
        return lines
    }

    /// The proxy follows every monitor of the group, as `tandem proxy --sentinel …` does.
    static func proxySettings(_ c: NodeConfiguration) throws -> ProxySettings? {
        guard let proxy = c.proxy else { return nil }
        let listen = try proxy.listen.map { try ProxyEndpoint(parsing: $0) }
        let monitors = c.group.members.map { ProxyEndpoint(host: $0.address, port: $0.monitorPort) }
        if !proxy.cluster.isEmpty {
            // In front of a Redis Cluster: the group's master is not the proxy's business.
            var settings = ProxySettings(listen: listen, discovery: .cluster(try proxy.cluster.map { try ProxyEndpoint(parsing: $0) }))
            settings.password = c.redis?.password ?? c.group.password
            settings.user = c.redis?.user ?? c.group.user
            // proxy placement: as in master mode, clients are closed after the VIP left.
            settings.transparentListen = c.vip?.placement == .proxy
            applyDurability(c, to: &settings)
            return settings
        }
        var settings = ProxySettings(listen: listen, discovery: .sentinel(sentinels: monitors, masterName: c.group.name))
        settings.password = c.redis?.password ?? c.group.password
        settings.user = c.redis?.user ?? c.group.user
        // Commands sent to a master that a partition cut off fail after down-after (the group
        // promotes by then) instead of waiting for the heal.
        settings.backendUnackedTimeout = .milliseconds(c.group.downAfterMilliseconds)
        // proxy placement: clients are closed after the VIP left (when its next holder is heard).
        settings.transparentListen = c.vip?.placement == .proxy
        applyDurability(c, to: &settings)
        return settings
    }

    /// `durability: replicated`: the proxy answers a write once a replica has it.
    private static func applyDurability(_ c: NodeConfiguration, to settings: inout ProxySettings) {
        guard c.group.durability == .replicated else { return }
        settings.waitReplicas = 1
        // A quarter of down-after (100 ms to 1 s): after a failover the WAIT that is blocked
        // when the new master's replica attaches is answered only by that replica's next
        // periodic acknowledgement (up to 1 s) or the timeout; a shorter one frees the
        // connection sooner, and the next WAIT asks the replica at once.
        settings.waitTimeout = .milliseconds(min(1_000, max(100, c.group.downAfterMilliseconds / 4)))
    }

    /// The node's VRRP instance as keepalived.conf text, read by the same reader as `tandem
    /// vrrp`. Whether this node may hold the address is not in the file: the agent sets it
    /// through the tracked objects `eligibleObject` (weight 0: FAULT while down) and
    /// `preferredObject` (weight +50 while up). `direct`: preempt, so the master's node takes
    /// the address at once; `proxy`: nopreempt, so a Redis failover moves no address.
    static func keepalivedConf(_ c: NodeConfiguration) -> String? {
        guard let vip = c.vip else { return nil }
        let interval = vip.vrrpVersion == 3
            ? String(format3: vip.advertIntervalMilliseconds) : String(vip.advertIntervalMilliseconds / 1000)
        var lines = [
            "vrrp_instance tandem_\(c.group.name) {",
            "    state BACKUP",
            "    interface \(vip.interface)",
            "    version \(vip.vrrpVersion)",
            "    virtual_router_id \(vip.routerID)",
            "    priority \(vrrpPriority(c))",
            "    advert_int \(interval)",
        ]
        if vip.placement == .proxy { lines.append("    nopreempt") }
        if let vmac = vip.vmac { lines.append("    use_vmac \(vmac)") }
        if let pass = vip.authPass {
            lines += ["    authentication {", "        auth_type PASS", "        auth_pass \(pass)", "    }"]
        }
        lines += ["    virtual_ipaddress {", "        \(vip.address)", "    }", "}", ""]
        return lines.joined(separator: "\n")
    }

    /// The node's VRRP priority: `vip.priority`, 20 lower per place in `group.nodes`, so that
    /// no two nodes bid the same. With equal priorities, two backups whose timers run out
    /// together (the holder's priority-0 advert, or its silence) both claim the address until
    /// their adverts cross (20 ms seen in the lab, proxy placement); 20 apart, their skew times
    /// differ by 20/256 of an advert interval. The preferred node (+50) still bids highest.
    static func vrrpPriority(_ c: NodeConfiguration) -> Int {
        let rank = c.group.members.firstIndex { $0.name == c.name } ?? 0
        return max(1, (c.vip?.priority ?? 100) - 20 * rank)
    }

    static let eligibleObject = "node eligible"
    static let preferredObject = "node preferred"
    static let preferredWeight = 50
}

private extension String {
    /// Milliseconds as keepalived's seconds with a fraction: 100 → "0.1", 1500 → "1.5".
    init(format3 milliseconds: Int64) {
        let whole = milliseconds / 1000
        let fraction = milliseconds % 1000
        if fraction == 0 { self = String(whole); return }
        var digits = String(fraction + 1000).dropFirst()
        while digits.hasSuffix("0") { digits = digits.dropLast() }
        self = "\(whole).\(digits)"
    }
}
