import Foundation
import SentinelCore

/// `statusSnapshot()`: SENTINEL MASTER's, REPLICAS' and SENTINELS' field maps per master, as
/// `tandem status` would read them over the port.
public struct SentinelStatusSnapshot: Sendable {
    public struct Group: Sendable {
        public var master: [String: String]
        public var replicas: [[String: String]]
        public var sentinels: [[String: String]]
        /// `master_repl_offset` of the master's last INFO.
        public var masterOffset: Int64?
    }

    /// This sentinel's run ID.
    public var myID: String
    /// This sentinel's address (`ip:port`) as it announces itself.
    public var address: String
    /// Its current epoch (what its hellos say).
    public var currentEpoch: UInt64
    public var groups: [Group]
}

/// What `/metrics` shows of a sentinel, read from the core's state at scrape time.
public struct SentinelMetricsSnapshot: Sendable {
    /// One monitored master.
    public struct Master: Sendable {
        public var name: String
        /// `ip:port` this sentinel names as the master's now (SENTINEL GET-MASTER-ADDR-BY-NAME).
        public var address: String
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
                name: name, address: m.address.description, sdown: m.instance.isSDown, odown: m.isODown, failoverInProgress: m.failoverInProgress,
                configEpoch: m.configEpoch, replicas: m.replicas.count,
                replicasDown: m.replicas.values.filter(\.isSDown).count,
                sentinels: m.sentinels.count, replicaLag: lag)
        }
        return SentinelMetricsSnapshot(currentEpoch: state.currentEpoch, tilt: state.isTilted,
                                       connectedClients: clients.all.count, masters: masters)
    }

    /// Every event the core publishes is also handed to `observer`, on the runtime's loop
    /// (the metrics count failovers from them, the status page draws them). It must not block.
    public func addEventObserver(_ observer: @escaping @Sendable (SentinelEvent) -> Void) {
        eventObservers.append(observer)
    }

    /// What `tandem status` asks a monitor for, read from this sentinel's own state: per master
    /// the fields of SENTINEL MASTER, REPLICAS and SENTINELS, and the master's
    /// `master_repl_offset` from its last INFO. No I/O.
    public func statusSnapshot() -> SentinelStatusSnapshot {
        let groups = state.masterNames.compactMap { name -> SentinelStatusSnapshot.Group? in
            guard let m = state.masters[name], let master = instanceFields(.master(name)) else { return nil }
            let replicas = m.sortedReplicaAddresses.filter { m.replicas[$0]!.replicaAnnounced }
                .compactMap { instanceFields(.replica(master: name, $0)) }
            let sentinels = m.sortedSentinelIDs.compactMap { instanceFields(.sentinel(master: name, runID: $0)) }
            let offset = infoCache[.master(name)].flatMap { Self.infoField("master_repl_offset", in: $0.text) }.flatMap { Int64($0) }
            return SentinelStatusSnapshot.Group(master: Dictionary(master, uniquingKeysWith: { a, _ in a }),
                                                replicas: replicas.map { Dictionary($0, uniquingKeysWith: { a, _ in a }) },
                                                sentinels: sentinels.map { Dictionary($0, uniquingKeysWith: { a, _ in a }) },
                                                masterOffset: offset)
        }
        return SentinelStatusSnapshot(myID: state.myID, address: "\(state.announce.ip):\(state.announce.port)",
                                      currentEpoch: state.currentEpoch, groups: groups)
    }

    /// `name:value` of an INFO text.
    static func infoField(_ name: String, in text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix(name + ":") {
            return String(line.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
        }
        return nil
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
