/// `tandem status`: what a monitor (a node agent's, a `tandem sentinel`'s or a redis-sentinel's
/// port) knows of its groups, as a value built from its replies, a 100-column table and JSON.
/// Pure: the command asks, this module reads and renders.
public struct StatusReport: Codable, Sendable, Hashable {
    /// The monitor asked (`host:port`).
    public var monitor: String
    public var groups: [Group]
    /// The last failovers as the monitor asked saw them (`INFO failovers`), newest last; nil when
    /// it keeps no history (redis-sentinel).
    public var failovers: [FailoverSummary]?

    public init(monitor: String, groups: [Group], failovers: [FailoverSummary]? = nil) {
        self.monitor = monitor
        self.groups = groups
        self.failovers = failovers
    }

    public struct Group: Codable, Sendable, Hashable {
        public var name: String
        /// The master as the monitor names it (`host:port`).
        public var master: String
        /// `flags` of SENTINEL MASTER: `master`, plus `s_down`, `o_down`, `failover_in_progress`…
        public var masterFlags: [String]
        public var configEpoch: Int64
        public var quorum: Int
        /// The failover's state while one runs (`failover-state`), else nil.
        public var failoverState: String?
        /// The master's replication offset, when the command could ask the master.
        public var masterOffset: Int64?
        public var replicas: [Replica]
        /// Every monitor of the group: the one asked first, then its peers.
        public var monitors: [Monitor]

        public init(name: String, master: String, masterFlags: [String], configEpoch: Int64, quorum: Int,
                    failoverState: String?, masterOffset: Int64?, replicas: [Replica], monitors: [Monitor]) {
            self.name = name
            self.master = master
            self.masterFlags = masterFlags
            self.configEpoch = configEpoch
            self.quorum = quorum
            self.failoverState = failoverState
            self.masterOffset = masterOffset
            self.replicas = replicas
            self.monitors = monitors
        }

        /// From SENTINEL MASTER's, SENTINEL REPLICAS' and SENTINEL SENTINELS' field maps.
        public init(master f: [String: String], replicas: [[String: String]], sentinels: [[String: String]],
                    asked: String, askedRunID: String? = nil, masterOffset: Int64?) {
            name = f["name"] ?? ""
            master = "\(f["ip"] ?? "?"):\(f["port"] ?? "?")"
            masterFlags = Self.flags(f["flags"])
            configEpoch = Int64(f["config-epoch"] ?? "") ?? 0
            quorum = Int(f["quorum"] ?? "") ?? 0
            let state = f["failover-state"] ?? ""
            failoverState = state.isEmpty || state == "none" ? nil : state
            self.masterOffset = masterOffset
            let best = replicas.compactMap { Int64($0["slave-repl-offset"] ?? "") }.max()
            self.replicas = replicas.map { r in
                let offset = Int64(r["slave-repl-offset"] ?? "") ?? 0
                // Lag against the master's offset when known, else against the replica furthest on.
                let reference = masterOffset ?? best ?? offset
                return Replica(address: "\(r["ip"] ?? "?"):\(r["port"] ?? "?")", flags: Self.flags(r["flags"]),
                               linkUp: r["master-link-status"] == "ok", offset: offset, lagBytes: max(0, reference - offset),
                               priority: Int(r["slave-priority"] ?? "") ?? 100,
                               linkDownMilliseconds: Int64(r["master-link-down-time"] ?? "") ?? 0)
            }
            monitors = [Monitor(address: asked, runID: askedRunID, flags: ["self"], lastOkPingMilliseconds: 0, node: nil)]
                + sentinels.map { s in
                    Monitor(address: "\(s["ip"] ?? "?"):\(s["port"] ?? "?")", runID: s["runid"], flags: Self.flags(s["flags"]),
                            lastOkPingMilliseconds: Int64(s["last-ok-ping-reply"] ?? ""), node: nil)
                }
        }

        /// Each monitor's epochs from its newest hello about this group among `hellos` (in the
        /// order heard): matched by run ID, or by address for a monitor whose run ID is unknown.
        public mutating func apply(hellos: [SentinelHello]) {
            for i in monitors.indices {
                let m = monitors[i]
                guard let hello = hellos.last(where: { h in
                    h.masterName == name && (m.runID.map { $0 == h.runID } ?? (h.address == m.address))
                }) else { continue }
                monitors[i].currentEpoch = hello.currentEpoch
                monitors[i].configEpoch = hello.masterConfigEpoch
                monitors[i].helloMaster = hello.master
            }
        }

        static func flags(_ text: String?) -> [String] {
            (text ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
        }

        /// Healthy: the master has no s_down/o_down flag and no failover runs.
        public var masterHealthy: Bool { masterFlags.allSatisfy { $0 == "master" } }
    }

    public struct Replica: Codable, Sendable, Hashable {
        public var address: String
        public var flags: [String]
        /// The replica's own replication link to the master (`master-link-status:ok`).
        public var linkUp: Bool
        public var offset: Int64
        /// Bytes behind the master (or behind the replica furthest on, if the master could not be asked).
        public var lagBytes: Int64
        public var priority: Int
        public var linkDownMilliseconds: Int64
    }

    public struct Monitor: Codable, Sendable, Hashable {
        public var address: String
        public var runID: String?
        /// `self` for the monitor asked; otherwise SENTINEL SENTINELS' flags (`sentinel`, `s_down`, `disconnected`…).
        public var flags: [String]
        /// Milliseconds since its last valid PING reply, as the monitor asked saw it.
        public var lastOkPingMilliseconds: Int64?
        /// Its current epoch, from its own hello (nil: none heard while `tandem status` listened).
        public var currentEpoch: Int64?
        /// Its config epoch of this group's master, from the same hello.
        public var configEpoch: Int64?
        /// The master its hello names (`host:port`): differs from the group's while it lags.
        public var helloMaster: String?
        /// `INFO node` of a node agent's monitor (nil: a plain sentinel, or not reachable).
        public var node: NodeInfo?

        public init(address: String, runID: String?, flags: [String], lastOkPingMilliseconds: Int64?, node: NodeInfo?,
                    currentEpoch: Int64? = nil, configEpoch: Int64? = nil, helloMaster: String? = nil) {
            self.address = address
            self.runID = runID
            self.flags = flags
            self.lastOkPingMilliseconds = lastOkPingMilliseconds
            self.node = node
            self.currentEpoch = currentEpoch
            self.configEpoch = configEpoch
            self.helloMaster = helloMaster
        }
    }

    /// A sentinel's hello as published on an instance's `__sentinel__:hello` channel every 2 s
    /// (redis-sentinel and tandem alike): `ip,port,runid,current_epoch,master_name,master_ip,
    /// master_port,master_config_epoch`. The only place a redis-sentinel tells its current epoch
    /// (no reply of SENTINEL or INFO carries it).
    public struct SentinelHello: Sendable, Hashable {
        /// The sentinel's announced `ip:port`.
        public var address: String
        public var runID: String
        public var currentEpoch: Int64
        public var masterName: String
        public var master: String
        public var masterConfigEpoch: Int64

        public init?(payload: String) {
            let f = payload.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 8, Int(f[1]) != nil, let current = Int64(f[3]), Int(f[6]) != nil,
                  let config = Int64(f[7]), !f[2].isEmpty, !f[4].isEmpty else { return nil }
            address = "\(f[0]):\(f[1])"
            runID = f[2]
            currentEpoch = current
            masterName = f[4]
            master = "\(f[5]):\(f[6])"
            masterConfigEpoch = config
        }
    }

    /// `INFO node`'s fields.
    public struct NodeInfo: Codable, Sendable, Hashable {
        public var name: String
        public var role: String
        public var localRedis: String?
        public var fenced: Bool
        public var majorityContact: Bool
        public var vipState: String?
        public var proxy: String?
        /// The node's proxy: clients connected, commands since it started, and per second over
        /// the agent's last second of samples (nil: no proxy, or an older agent).
        public var proxyClients: Int?
        public var proxyCommands: Int64?
        public var proxyCommandsPerSecond: Double?
        public var proxyBytesInPerSecond: Double?
        public var proxyBytesOutPerSecond: Double?

        /// From `INFO node`'s text; nil when it has no `node_name` (not a node agent).
        public init?(info text: String) {
            var f: [String: String] = [:]
            for line in text.split(whereSeparator: \.isNewline) {
                guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("#") else { continue }
                f[String(line[..<colon])] = String(line[line.index(after: colon)...])
            }
            guard let name = f["node_name"] else { return nil }
            self.name = name
            role = f["node_role"] ?? "?"
            localRedis = f["local_redis"]
            fenced = f["fenced"] == "1"
            majorityContact = f["majority_contact"] == "1"
            vipState = f["vip_state"].flatMap { $0 == "none" ? nil : $0 }
            proxy = f["proxy"].flatMap { $0 == "none" ? nil : $0 }
            proxyClients = f["proxy_clients"].flatMap { Int($0) }
            proxyCommands = f["proxy_commands"].flatMap { Int64($0) }
            proxyCommandsPerSecond = f["proxy_commands_per_sec"].flatMap { Double($0) }
            proxyBytesInPerSecond = f["proxy_input_bytes_per_sec"].flatMap { Double($0) }
            proxyBytesOutPerSecond = f["proxy_output_bytes_per_sec"].flatMap { Double($0) }
        }
    }
}

extension StatusReport {
    /// The human table: at most `width` columns per line.
    public func table(width: Int = 100) -> String {
        var lines: [String] = []
        for g in groups {
            var head = "group \(g.name): master \(g.master) \(g.masterHealthy ? "ok" : g.masterFlags.filter { $0 != "master" }.joined(separator: ","))"
            head += "  config epoch \(g.configEpoch)  quorum \(g.quorum)"
            if let state = g.failoverState { head += "  failover: \(state)" }
            if let vip = g.monitors.first(where: { $0.node?.vipState == "MASTER" })?.node?.name { head += "  VIP on \(vip)" }
            lines.append(head)
            lines.append(row(["  replica", "link", "offset", "lag", "prio", "flags"], [24, 6, 14, 12, 5]))
            for r in g.replicas {
                lines.append(row(["  " + r.address, r.linkUp ? "up" : "down", String(r.offset), Self.bytes(r.lagBytes),
                                  String(r.priority), r.flags.joined(separator: ",")], [24, 6, 14, 12, 5]))
            }
            if g.replicas.isEmpty { lines.append("  (no replicas)") }
            let widths = [24, 6, 10, 7, 6, 8, 8, 8, 7, 8]
            lines.append(row(["  monitor", "state", "last ping", "epoch", "cfg", "node", "role", "redis", "fenced", "vip", "proxy"],
                             widths))
            for m in g.monitors {
                let state = m.flags.contains("self") ? "asked" : (m.flags.contains("s_down") || m.flags.contains("disconnected") ? "down" : "ok")
                let ping = m.flags.contains("self") ? "-" : m.lastOkPingMilliseconds.map { "\($0) ms" } ?? "?"
                let n = m.node
                lines.append(row(["  " + m.address, state, ping, m.currentEpoch.map(String.init) ?? "?",
                                  m.configEpoch.map(String.init) ?? "?", n?.name ?? "-", n?.role ?? "-", n?.localRedis ?? "-",
                                  n.map { $0.fenced ? "yes" : "no" } ?? "-", n?.vipState ?? "-", n?.proxy ?? "-"],
                                 widths))
            }
            lines.append("")
        }
        if groups.isEmpty { lines.append("monitor \(monitor) watches no group") }
        lines += proxyLines()
        lines += failoverLines()
        while lines.last == "" { lines.removeLast() }
        return lines.map { String($0.prefix(width)) }.joined(separator: "\n")
    }

    /// The node agents' proxies with their clients and throughput (none: no block).
    func proxyLines() -> [String] {
        var seen: Set<String> = []
        let nodes = groups.flatMap(\.monitors).compactMap(\.node).filter { $0.proxyClients != nil && seen.insert($0.name).inserted }
        guard !nodes.isEmpty else { return [] }
        let widths = [12, 9, 13, 11, 12, 12]
        var lines = [row(["  proxy of", "clients", "commands", "cmd/s", "in/s", "out/s"], widths)]
        for n in nodes {
            lines.append(row(["  " + n.name, n.proxyClients.map(String.init) ?? "-", n.proxyCommands.map(String.init) ?? "-",
                              n.proxyCommandsPerSecond.map(Self.rate) ?? "-",
                              n.proxyBytesInPerSecond.map { Self.bytes(Int64($0)) } ?? "-",
                              n.proxyBytesOutPerSecond.map { Self.bytes(Int64($0)) } ?? "-"], widths))
        }
        return lines + [""]
    }

    /// The last failovers with each phase's time after the first step; what a redis-sentinel
    /// cannot say, said.
    func failoverLines() -> [String] {
        guard let failovers else {
            return ["failovers: \(monitor) keeps no failover history (redis-sentinel?); a tandem monitor does"]
        }
        guard !failovers.isEmpty else { return ["failovers: none since monitor \(monitor) started"] }
        var lines = ["last failovers (as \(monitor) saw them, newest last)"]
        for f in failovers.suffix(5) {
            let took = f.durationMilliseconds.map(Self.milliseconds) ?? "running"
            var head = "  \(f.master): \(f.from ?? "?") -> \(f.to ?? "?")  \(f.outcome)  \(took)  \(Self.clock(f.startedAt)) UTC"
            if let epoch = f.epoch { head += "  epoch \(epoch)" }
            if let leader = f.leader { head += leader == "self" ? "  led here" : "  leader \(leader.prefix(8))" }
            lines.append(head)
            lines.append("    " + f.steps.map { "\($0.phase) " + ($0.afterMilliseconds == 0 ? "0" : "+" + Self.milliseconds($0.afterMilliseconds)) }
                .joined(separator: "  "))
        }
        return lines
    }

    static func milliseconds(_ ms: Int64) -> String {
        ms < 10_000 ? "\(ms) ms" : "\(ms / 1000).\((ms % 1000) / 100) s"
    }

    static func rate(_ r: Double) -> String {
        r < 10_000 ? String(Int(r.rounded())) : "\(Int((r / 1000).rounded()))k"
    }

    /// `hh:mm:ss` of a Unix time in milliseconds, UTC.
    static func clock(_ ms: Int64) -> String {
        let s = (ms / 1000) % 86_400
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))"
    }

    func row(_ cells: [String], _ widths: [Int]) -> String {
        var out = ""
        for (i, cell) in cells.enumerated() {
            if i < widths.count {
                let w = widths[i]
                out += cell.count >= w ? String(cell.prefix(w - 1)) + " " : cell + String(repeating: " ", count: w - cell.count)
            } else {
                out += cell
            }
        }
        while out.hasSuffix(" ") { out.removeLast() }
        return out
    }

    static func bytes(_ n: Int64) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1024 * 1024 { return "\(n / 1024) KiB" }
        return "\(n / (1024 * 1024)) MiB"
    }
}
