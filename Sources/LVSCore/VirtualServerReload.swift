/// What a reload (SIGHUP) does to the list of virtual servers: keepalived matches a new
/// `virtual_server` to a running one by its address and port; one whose block reads the same is
/// left alone, one that differs is reconfigured in place (its listener, connections and
/// checkers' states stay), new ones start, and those gone stop.
public enum VirtualServerReload {
    public enum Step: Sendable, Hashable {
        /// Same service, same block: nothing to do.
        case unchanged(old: Int, new: Int)
        /// Same service, block changed: `VirtualServerState.reconfigure`.
        case changed(old: Int, new: Int)
        case added(new: Int)
        case removed(old: Int)
    }

    /// The steps from `old` to `new`, each a (service, fingerprint of its block) pair; the
    /// fingerprints say whether a block changed. Removals first, then the new list in order.
    public static func plan<Key: Hashable>(old: [(key: Key, fingerprint: String)], new: [(key: Key, fingerprint: String)]) -> [Step] {
        var oldIndex: [Key: Int] = [:]
        for (i, entry) in old.enumerated() where oldIndex[entry.key] == nil { oldIndex[entry.key] = i }
        let newKeys = Set(new.map(\.key))
        var steps: [Step] = old.indices.filter { !newKeys.contains(old[$0].key) }.map { .removed(old: $0) }
        for (n, entry) in new.enumerated() {
            if let o = oldIndex[entry.key] {
                steps.append(old[o].fingerprint == entry.fingerprint ? .unchanged(old: o, new: n) : .changed(old: o, new: n))
            } else {
                steps.append(.added(new: n))
            }
        }
        return steps
    }
}

/// What `VirtualServerState.reconfigure` did.
public struct Reconfiguration: Sendable, Hashable {
    /// For each real server of the old settings, its index in the new ones; nil: removed (it
    /// takes no new connections; its open ones stay until they end, and no longer count).
    public var indexMap: [Int?]
    /// Real servers (new indices) that were not there before.
    public var added: [Int]
    /// Transitions the new settings cause (weight changes, a server up or down, the quorum).
    public var actions: [VirtualServerAction]
}

extension VirtualServerState {
    /// Applies new settings for the same virtual server (a reload), keeping what keepalived
    /// keeps: a real server is matched by its identity (address and port) and keeps its open
    /// connections and persistence entries; each of its checkers that is matched by identity
    /// keeps its state (up or down, retries), others start afresh (up unless alpha). A new weight
    /// applies to new connections only (0: drained, open connections stay). A removed real server
    /// takes no new connections. A check that was running when the settings changed runs again
    /// at once (the shell drops the running one's verdict).
    public mutating func reconfigure(_ new: VirtualServerSettings, now: Duration) -> Reconfiguration {
        var unmatched = Array(servers.indices)
        var indexMap: [Int?] = Array(repeating: nil, count: servers.count)
        var added: [Int] = []
        var actions: [VirtualServerAction] = []
        var newServers: [RealServer] = []
        for (n, real) in new.realServers.enumerated() {
            guard let position = unmatched.firstIndex(where: { servers[$0].settings.identity == real.identity }) else {
                added.append(n)
                newServers.append(RealServer(settings: real, checkers: real.checkers.map { policy in
                    Checker(policy: policy, up: !policy.alpha, nextRun: now + policy.firstCheck)
                }))
                continue
            }
            let o = unmatched.remove(at: position)
            indexMap[o] = n
            let old = servers[o]
            var oldCheckers = Array(old.checkers.indices)
            let checkers = real.checkers.map { policy -> Checker in
                guard let k = oldCheckers.firstIndex(where: { old.checkers[$0].policy.identity == policy.identity }) else {
                    return Checker(policy: policy, up: !policy.alpha, nextRun: now + policy.firstCheck)
                }
                var checker = old.checkers[oldCheckers.remove(at: k)]
                checker.policy = policy
                // Running: its verdict is dropped, so it runs again now. Idle: due no later than
                // one new delay_loop (or delay_before_retry while retrying) from now.
                let interval = checker.retries > 0 ? policy.delayBeforeRetry : policy.delayLoop
                checker.nextRun = checker.nextRun.map { min($0, now + interval) } ?? now
                return checker
            }
            var server = RealServer(settings: real, checkers: checkers)
            server.activeConnections = old.activeConnections
            server.dynamicWeight = oldCheckers.isEmpty ? old.dynamicWeight : nil
            let oldWeight = weight(o)
            newServers.append(server)
            if server.alive && !old.alive {
                actions.append(.realServerUp(n))
            } else if !server.alive && old.alive {
                actions.append(.realServerDown(n, reason: "a new checker starts failed (alpha)"))
            } else if server.alive, oldWeight != (server.dynamicWeight ?? real.weight) {
                actions.append(.weightChanged(real: n, weight: server.dynamicWeight ?? real.weight))
            }
        }
        let sameSchedule = new.algorithm == settings.algorithm && new.hashFallback == settings.hashFallback
            && new.hashPort == settings.hashPort && indexMap.enumerated().allSatisfy({ $0.element == $0.offset })
            && added.isEmpty
        settings = new
        servers = newServers
        if !sameSchedule {
            scheduler = Scheduler(algorithm: new.algorithm, fallback: new.hashFallback, hashPort: new.hashPort)
        }
        if new.persistence == nil {
            persistent = [:]
        } else {
            persistent = persistent.compactMapValues { entry in
                guard let r = indexMap[entry.real] else { return nil }
                var moved = entry
                moved.real = r
                return moved
            }
        }
        updateQuorum(into: &actions)
        return Reconfiguration(indexMap: indexMap, added: added, actions: actions)
    }
}
