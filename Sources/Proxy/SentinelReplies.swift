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

    /// `SENTINEL MASTER <name>`, `SENTINEL SENTINELS <name>` and (when asked)
    /// `SENTINEL GET-MASTER-ADDR-BY-NAME <name>` as one report; nil when the sentinel does not
    /// monitor the name (an -ERR to SENTINEL MASTER). A failover's leader names the promoted
    /// replica in GET-MASTER-ADDR-BY-NAME as soon as it answers as master (its epoch is the new
    /// one then), while SENTINEL MASTER keeps the old address until the failover ends: that
    /// report is settled, with the promoted replica as master.
    static func report(master: RESPValue, sentinels: RESPValue, address: RESPValue? = nil,
                       replicas: RESPValue? = nil) throws(Malformed) -> SentinelReport? {
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
        var report = SentinelReport(master: ProxyEndpoint(host: ip, port: port), configEpoch: epoch, knownPeers: known,
                                    reachablePeers: reachable.map { min($0, known) },
                                    replicas: replicas.map { MasterDiscovery.healthyReplicas($0) } ?? [],
                                    failoverInProgress: flags.contains("failover_in_progress"))
        if report.failoverInProgress, let pair = address?.array, pair.count == 2, let host = pair[0].string,
           let port = pair[1].string.flatMap({ Int($0) }), (0...65535).contains(port) {
            let promoted = ProxyEndpoint(host: host, port: port)
            if promoted != report.master {
                report.master = promoted
                report.failoverInProgress = false
                report.replicas = []
            }
        }
        return report
    }

    /// The peers in a `SENTINEL SENTINELS` reply and whether the asked sentinel reaches each:
    /// not s_down or disconnected. (Not `last-ok-ping-reply` against down-after: sentinels ping
    /// each other once per down-after period, so that passes it briefly before every reply.)
    static func peers(_ reply: RESPValue) -> [(endpoint: ProxyEndpoint, reachable: Bool)] {
        guard let entries = reply.array else { return [] }
        return entries.compactMap { entry in
            guard let f = fields(entry), let ip = f["ip"], let port = f["port"].flatMap({ Int($0) }),
                  (0...65535).contains(port) else { return nil }
            let flags = (f["flags"] ?? "").split(separator: ",")
            let reachable = !flags.contains("s_down") && !flags.contains("o_down") && !flags.contains("disconnected")
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
