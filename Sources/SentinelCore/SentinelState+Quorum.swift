/// The votes a failover needs: `quorum` to agree the master is down, a majority of every known
/// sentinel to elect a leader. One rule for the election and for `SENTINEL CKQUORUM`.
extension SentinelState {
    /// A majority of `voters` (`voters / 2 + 1`), as `sentinelGetLeader` counts it.
    static func majority(of voters: Int) -> Int { voters / 2 + 1 }

    /// What `SENTINEL CKQUORUM` reports (`sentinelIsQuorumReachable`): how many sentinels are
    /// usable (this one and every peer not SDOWN), and whether they can reach the master's
    /// quorum and the majority that authorizes a failover.
    public struct QuorumCheck: Sendable, Hashable {
        public var usable: Int
        public var quorumReachable: Bool
        public var majorityReachable: Bool
    }

    /// `SENTINEL CKQUORUM name`; nil if no such master.
    public func quorumCheck(_ name: String) -> QuorumCheck? {
        guard let m = masters[name] else { return nil }
        let voters = m.sentinels.count + 1
        let usable = 1 + m.sentinels.values.filter { !$0.isSDown }.count
        return QuorumCheck(usable: usable, quorumReachable: usable >= m.quorum,
                           majorityReachable: usable >= Self.majority(of: voters))
    }
}
