import SentinelCore

/// What `/metrics` shows of a sentinel, read from the core's state at scrape time.
public struct SentinelMetricsSnapshot: Sendable {
    /// One monitored master.
    public struct Master: Sendable {
        public var name: String
        public var sdown: Bool
        public var odown: Bool
        public var failoverInProgress: Bool
        public var configEpoch: UInt64
        /// Replicas the sentinel knows of, and how many of them it sees as down.
        public var replicas: Int
        public var replicasDown: Int
        /// Other sentinels watching this master.
        public var sentinels: Int
        /// `lag=` of each replica in the master's last INFO (seconds since its last ack).
        public var replicaLag: [(replica: String, seconds: Double)]
    }

    public var currentEpoch: UInt64
    public var tilt: Bool
    public var connectedClients: Int
    public var masters: [Master]
}

extension SentinelRuntime {
    /// A copy of what the metrics show; no I/O (the master's INFO is the cached one).
    public func metricsSnapshot() -> SentinelMetricsSnapshot {
        let masters = state.masterNames.compactMap { name -> SentinelMetricsSnapshot.Master? in
            guard let m = state.masters[name] else { return nil }
            let lag = infoCache[.master(name)].map { Self.replicaLags(inInfo: $0.text) } ?? []
            return SentinelMetricsSnapshot.Master(
                name: name, sdown: m.instance.isSDown, odown: m.isODown, failoverInProgress: m.failoverInProgress,
                configEpoch: m.configEpoch, replicas: m.replicas.count,
                replicasDown: m.replicas.values.filter(\.isSDown).count,
                sentinels: m.sentinels.count, replicaLag: lag)
        }
        return SentinelMetricsSnapshot(currentEpoch: state.currentEpoch, tilt: state.isTilted,
                                       connectedClients: clients.all.count, masters: masters)
    }

    /// Every event the core publishes is also handed to `observer`, on the runtime's loop
    /// (the metrics count failovers from them). It must not block.
    public func setEventObserver(_ observer: @escaping @Sendable (SentinelEvent) -> Void) {
        eventObserver = observer
    }

    /// `slave0:ip=127.0.0.1,port=6380,state=online,offset=123,lag=0` lines of a master's INFO.
    static func replicaLags(inInfo text: String) -> [(replica: String, seconds: Double)] {
        var out: [(String, Double)] = []
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("slave") {
            guard let colon = line.firstIndex(of: ":"), line[line.startIndex..<colon].dropFirst(5).allSatisfy(\.isNumber) else { continue }
            var ip: Substring?, port: Substring?, lag: Double?
            for field in line[line.index(after: colon)...].split(separator: ",") {
                guard let eq = field.firstIndex(of: "=") else { continue }
                let value = field[field.index(after: eq)...]
                switch field[..<eq] {
                case "ip": ip = value
                case "port": port = value
                case "lag": lag = Double(value)
                default: break
                }
            }
            if let ip, let port, let lag { out.append(("\(ip):\(port)", lag)) }
        }
        return out
    }
}
