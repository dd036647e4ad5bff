/// What a sentinel keeps across a restart: the state lines the shell's config rewrite writes
/// (7.0's `rewriteConfigSentinelOption`) and reads back at start. The current epoch, and per
/// master its address, settings, config epoch, the epoch of its last vote (7.0 keeps
/// `leader-epoch`, not whom it voted for), and the replicas and peers known.
///
/// The shell maps it to and from `SentinelConfiguration` (host names, file lines); the
/// simulator keeps the last one flushed and restarts a crashed sentinel from it, so both go
/// through the same `saved` and `restore`.
public struct SavedSentinelState: Sendable, Hashable {
    public struct Master: Sendable, Hashable {
        public var name: String
        public var address: InstanceAddress
        public var quorum: Int
        public var downAfter: Millis
        public var failoverTimeout: Millis
        public var parallelSyncs: Int
        public var rebootDownAfter: Millis = 0
        public var crashDetection: Bool?
        public var replicatedDurability = false
        public var configEpoch: UInt64 = 0
        public var leaderEpoch: UInt64 = 0
        public var knownReplicas: [InstanceAddress] = []
        public var knownSentinels: [KnownSentinel] = []

        public init(name: String, address: InstanceAddress, quorum: Int, downAfter: Millis, failoverTimeout: Millis,
                    parallelSyncs: Int) {
            self.name = name
            self.address = address
            self.quorum = quorum
            self.downAfter = downAfter
            self.failoverTimeout = failoverTimeout
            self.parallelSyncs = parallelSyncs
        }
    }

    public struct KnownSentinel: Sendable, Hashable {
        public var address: InstanceAddress
        public var runID: String

        public init(address: InstanceAddress, runID: String) {
            self.address = address
            self.runID = runID
        }
    }

    public var currentEpoch: UInt64
    /// In the order of the masters' names.
    public var masters: [Master]

    public init(currentEpoch: UInt64, masters: [Master]) {
        self.currentEpoch = currentEpoch
        self.masters = masters
    }
}

extension SentinelState {
    /// What a config rewrite now would write (see `SavedSentinelState`).
    public var saved: SavedSentinelState {
        SavedSentinelState(currentEpoch: currentEpoch, masters: masterNames.map { name in
            let m = masters[name]!
            // As 7.0's rewrite: the current address — the promoted replica once the failover
            // reconfigures the replicas (the config epoch is the new one from then on, and the
            // peers have it with that address from our hellos) — and among the known replicas
            // the old master in the promoted one's place. A leader restarted from a file with
            // the new epoch and the old address ignored its peers' hellos for that equal epoch
            // for ever (the Sentinel simulator's seed 19429).
            let current = Self.currentAddress(of: m)
            var saved = SavedSentinelState.Master(name: name, address: current, quorum: m.quorum, downAfter: m.downAfter,
                                                  failoverTimeout: m.failoverTimeout, parallelSyncs: m.parallelSyncs)
            saved.rebootDownAfter = m.rebootDownAfter
            saved.crashDetection = m.crashDetection
            saved.replicatedDurability = m.replicatedDurability
            saved.configEpoch = m.configEpoch
            saved.leaderEpoch = m.leaderEpoch
            saved.knownReplicas = m.sortedReplicaAddresses.map { $0 == current ? m.address : $0 }
            saved.knownSentinels = m.sortedSentinelIDs.map { .init(address: m.sentinels[$0]!.address, runID: $0) }
            return saved
        })
    }

    /// Starts from a saved state (a fresh core, at the process's start): the current epoch, each
    /// master monitored with its settings and epochs, its known replicas and peers restored.
    /// Returns the actions (connects, events) in the order the masters are given.
    public mutating func restore(_ saved: SavedSentinelState, now: Millis) -> [SentinelAction] {
        currentEpoch = saved.currentEpoch
        var actions: [SentinelAction] = []
        for m in saved.masters {
            actions += monitor(name: m.name, address: m.address, quorum: m.quorum, downAfter: m.downAfter,
                               failoverTimeout: m.failoverTimeout, parallelSyncs: m.parallelSyncs, now: now)
            restoreEpochs(master: m.name, configEpoch: m.configEpoch, leaderEpoch: m.leaderEpoch)
            setRebootDownAfter(master: m.name, m.rebootDownAfter)
            setCrashDetection(master: m.name, m.crashDetection)
            setReplicatedDurability(master: m.name, m.replicatedDurability)
            for r in m.knownReplicas {
                actions += restoreKnownReplica(master: m.name, address: r, now: now)
            }
            for s in m.knownSentinels {
                actions += restoreKnownSentinel(master: m.name, address: s.address, runID: s.runID, now: now)
            }
        }
        return actions
    }
}
