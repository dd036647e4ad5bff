import RESP

/// Reads the sentinel replies the proxy polls into `SentinelView`'s inputs. A reply of the
/// wrong shape is an error naming what is missing, never a crash.
enum SentinelReplies {
    /// A reply the proxy cannot use; the message says which field is wrong.
    struct Malformed: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    /// The fields of one `SENTINEL MASTER` / `SENTINEL SENTINELS` entry (RESP2 flat array or RESP3 map).
    static func fields(_ entry: RESPValue) -> [String: String]? {
        guard let pairs = entry.pairs else { return nil }
        var fields: [String: String] = [:]
        for pair in pairs {
            if let k = pair.key.string, let v = pair.value.string { fields[k] = v }
        }
        return fields
    }

    /// `SENTINEL MASTER <name>` and `SENTINEL SENTINELS <name>` as one report; nil when the
    /// sentinel does not monitor the name (an -ERR to SENTINEL MASTER).
    static func report(master: RESPValue, sentinels: RESPValue, replicas: RESPValue? = nil) throws(Malformed) -> SentinelReport? {
        if master.errorMessage != nil { return nil }
        guard let fields = fields(master) else { throw Malformed(description: "SENTINEL MASTER: expected a map, got \(master)") }
        guard let ip = fields["ip"], let port = fields["port"].flatMap({ Int($0) }), (0...65535).contains(port) else {
            throw Malformed(description: "SENTINEL MASTER: no usable ip/port (\(fields["ip"] ?? "?"):\(fields["port"] ?? "?"))")
        }
        guard let epoch = fields["config-epoch"].flatMap({ UInt64($0) }) else {
            throw Malformed(description: "SENTINEL MASTER: no usable config-epoch (\(fields["config-epoch"] ?? "missing"))")
        }
        guard let known = fields["num-other-sentinels"].flatMap({ Int($0) }), known >= 0 else {
            throw Malformed(description: "SENTINEL MASTER: no usable num-other-sentinels (\(fields["num-other-sentinels"] ?? "missing"))")
        }
        let flags = (fields["flags"] ?? "").split(separator: ",")
        let reachable: Int? = sentinels.errorMessage == nil ? peers(sentinels).filter(\.reachable).count : nil
        return SentinelReport(master: ProxyEndpoint(host: ip, port: port), configEpoch: epoch, knownPeers: known,
                              reachablePeers: reachable.map { min($0, known) },
                              replicas: replicas.map { MasterDiscovery.healthyReplicas($0) } ?? [],
                              failoverInProgress: flags.contains("failover_in_progress"))
    }

    /// The peers in a `SENTINEL SENTINELS` reply and whether the asked sentinel reaches each:
    /// not s_down or disconnected, and a ping answered within its down-after period.
    static func peers(_ reply: RESPValue) -> [(endpoint: ProxyEndpoint, reachable: Bool)] {
        guard let entries = reply.array else { return [] }
        return entries.compactMap { entry in
            guard let f = fields(entry), let ip = f["ip"], let port = f["port"].flatMap({ Int($0) }),
                  (0...65535).contains(port) else { return nil }
            let flags = (f["flags"] ?? "").split(separator: ",")
            var reachable = !flags.contains("s_down") && !flags.contains("o_down") && !flags.contains("disconnected")
            if let since = f["last-ok-ping-reply"].flatMap({ Int64($0) }),
               let downAfter = f["down-after-milliseconds"].flatMap({ Int64($0) }), since > downAfter {
                reachable = false
            }
            return (ProxyEndpoint(host: ip, port: port), reachable)
        }
    }

    /// The new master in a `+switch-master` message (`<name> <old-ip> <old-port> <new-ip> <new-port>`)
    /// for `name`; nil for another master or a message of another shape.
    static func switchMaster(_ payload: String, name: String) -> ProxyEndpoint? {
        let words = payload.split(separator: " ")
        guard words.count == 5, words[0] == name, let port = Int(words[4]), (0...65535).contains(port) else { return nil }
        return ProxyEndpoint(host: String(words[3]), port: port)
    }
}
