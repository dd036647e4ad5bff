#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import RESP
import SentinelConfig
import SentinelCore

extension SentinelRuntime {
    /// Answers one command from a client of the sentinel port. Returns one reply, or several
    /// for (P)(UN)SUBSCRIBE (one confirmation per name).
    func execute(_ request: RESPRequest, session: ClientSession) -> [RESPValue] {
        let args = request.arguments.map { String(buffer: $0) }
        guard let first = args.first else { return [] }
        let name = first.lowercased()
        if configuration.requirePass != nil && !session.authenticated.withLockedValue({ $0 }) && !["auth", "hello", "quit"].contains(name) {
            return [.simpleError("NOAUTH Authentication required.")]
        }
        if hub.subscriptionCount(session.id) > 0,
           !["subscribe", "psubscribe", "unsubscribe", "punsubscribe", "ping", "quit", "reset"].contains(name) {
            return [.simpleError("ERR Can't execute '\(name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")]
        }
        switch name {
        case "ping":
            if args.count > 2 { return [arity(name)] }
            if hub.subscriptionCount(session.id) > 0 {
                return [.array([.bulkString("pong"), .bulkString(args.count == 2 ? args[1] : "")])]
            }
            return [args.count == 2 ? .bulkString(args[1]) : .simpleString("PONG")]
        case "sentinel":
            guard args.count >= 2 else { return [arity(name)] }
            return [sentinelCommand(Array(args.dropFirst()))]
        case "info":
            return [.bulkString(info(sections: args.dropFirst().map { $0.lowercased() }))]
        case "role":
            return [.array([.bulkString("sentinel"), .array(state.masterNames.map { .bulkString($0) })])]
        case "subscribe", "psubscribe", "unsubscribe", "punsubscribe":
            if (name == "subscribe" || name == "psubscribe") && args.count < 2 { return [arity(name)] }
            return hub.change(session.id, verb: name, names: Array(args.dropFirst()))
        case "publish":
            guard args.count == 3 else { return [arity(name)] }
            guard args[1] == "__sentinel__:hello" else {
                return [.simpleError("ERR Only HELLO messages are accepted by Sentinel instances.")]
            }
            input(.hello(args[2]))
            return [.integer(1)]
        case "auth":
            guard args.count == 2 || args.count == 3 else { return [arity(name)] }
            guard let pass = configuration.requirePass else {
                return [.simpleError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")]
            }
            let ok = args.last == pass && (args.count == 2 || args[1] == "default")
            session.authenticated.withLockedValue { $0 = ok }
            return [ok ? .simpleString("OK") : .simpleError("WRONGPASS invalid username-password pair or user is disabled.")]
        case "hello":
            var proto = session.protocolVersion.withLockedValue { $0 }
            var i = 1
            if args.count > 1 {
                guard let v = Int(args[1]) else { return [.simpleError("ERR Protocol version is not an integer or out of range")] }
                guard v == 2 || v == 3 else { return [.simpleError("NOPROTO unsupported protocol version")] }
                proto = v
                i = 2
            }
            while i < args.count {
                switch args[i].lowercased() {
                case "auth" where i + 2 < args.count:
                    let ok = configuration.requirePass.map { args[i + 2] == $0 && args[i + 1] == "default" } ?? false
                    guard ok else { return [.simpleError("WRONGPASS invalid username-password pair or user is disabled.")] }
                    session.authenticated.withLockedValue { $0 = true }
                    i += 3
                case "setname" where i + 1 < args.count:
                    session.name.withLockedValue { $0 = args[i + 1] }
                    i += 2
                default:
                    return [.simpleError("ERR Syntax error in HELLO option '\(args[i])'")]
                }
            }
            if configuration.requirePass != nil && !session.authenticated.withLockedValue({ $0 }) {
                return [.simpleError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")]
            }
            session.protocolVersion.withLockedValue { $0 = proto }
            return [.map([
                RESPPair(key: .bulkString("server"), value: .bulkString("redis")),
                RESPPair(key: .bulkString("version"), value: .bulkString("7.0.15")),
                RESPPair(key: .bulkString("proto"), value: .integer(Int64(proto))),
                RESPPair(key: .bulkString("id"), value: .integer(Int64(session.id))),
                RESPPair(key: .bulkString("mode"), value: .bulkString("sentinel")),
                RESPPair(key: .bulkString("role"), value: .bulkString("sentinel")),
                RESPPair(key: .bulkString("modules"), value: .array([])),
            ])]
        case "client":
            return [clientCommand(Array(args.dropFirst()), session: session)]
        case "command":
            return [.array([])]
        case "quit":
            session.closeAfterReply.withLockedValue { $0 = true }
            return [.simpleString("OK")]
        default:
            let shown = args.dropFirst().prefix(3).map { "'\($0)' " }.joined()
            return [.simpleError("ERR unknown command '\(first)', with args beginning with: \(shown)")]
        }
    }

    func arity(_ command: String) -> RESPValue {
        .simpleError("ERR wrong number of arguments for '\(command)' command")
    }

    func clientCommand(_ args: [String], session: ClientSession) -> RESPValue {
        guard let sub = args.first?.lowercased() else { return arity("client") }
        switch sub {
        case "setname":
            guard args.count == 2 else { return arity("client|setname") }
            session.name.withLockedValue { $0 = args[1] }
            return .simpleString("OK")
        case "getname":
            return session.name.withLockedValue { $0 }.map { .bulkString($0) } ?? .nullBulkString
        case "id":
            return .integer(Int64(session.id))
        default:
            return .simpleError("ERR unknown subcommand '\(args[0])'. Try CLIENT HELP.")
        }
    }

    // MARK: SENTINEL

    func sentinelCommand(_ args: [String]) -> RESPValue {
        let sub = args[0].lowercased()
        func needs(_ n: Int) -> RESPValue? {
            args.count == n ? nil : .simpleError("ERR wrong number of arguments for 'sentinel|\(sub)' command")
        }
        let noSuchMaster = RESPValue.simpleError("ERR No such master with that name")
        switch sub {
        case "get-master-addr-by-name":
            if let e = needs(2) { return e }
            guard let a = state.currentMasterAddress(args[1]) else { return .nullArray }
            return .array([.bulkString(a.ip), .bulkString(String(a.port))])
        case "masters":
            if let e = needs(1) { return e }
            return .array(state.masterNames.map { describeInstance(.master($0)) })
        case "master":
            if let e = needs(2) { return e }
            guard state.masters[args[1]] != nil else { return noSuchMaster }
            return describeInstance(.master(args[1]))
        case "replicas", "slaves":
            if let e = needs(2) { return e }
            guard let m = state.masters[args[1]] else { return noSuchMaster }
            return .array(m.sortedReplicaAddresses.filter { m.replicas[$0]!.replicaAnnounced }
                .map { describeInstance(.replica(master: m.name, $0)) })
        case "sentinels":
            if let e = needs(2) { return e }
            guard let m = state.masters[args[1]] else { return noSuchMaster }
            return .array(m.sortedSentinelIDs.map { describeInstance(.sentinel(master: m.name, runID: $0)) })
        case "is-master-down-by-addr":
            if let e = needs(5) { return e }
            guard let port = Int(args[2]), let epoch = UInt64(args[3]) else {
                return .simpleError("ERR value is not an integer or out of range")
            }
            let answer = state.isMasterDownByAddr(address: InstanceAddress(ip: args[1], port: port), epoch: epoch,
                                                  runID: args[4], now: now)
            perform(answer.actions)  // the vote is saved before the reply goes out
            return .array([.integer(answer.down ? 1 : 0), .bulkString(answer.leader), .integer(Int64(answer.leaderEpoch))])
        case "failover":
            if let e = needs(2) { return e }
            do throws(SentinelState.FailoverRefusal) {
                perform(try state.forceFailover(args[1], now: now))
                return .simpleString("OK")
            } catch {
                switch error {
                case .noSuchMaster: return noSuchMaster
                case .inProgress: return .simpleError("INPROG Failover already in progress")
                case .noGoodReplica: return .simpleError("NOGOODSLAVE No suitable replica to promote")
                }
            }
        case "ckquorum":
            if let e = needs(2) { return e }
            guard let m = state.masters[args[1]] else { return noSuchMaster }
            let voters = m.sentinels.count + 1
            let usable = 1 + m.sentinels.values.filter { !$0.isSDown }.count
            let noQuorum = usable < m.quorum, noAuth = usable < voters / 2 + 1
            if !noQuorum && !noAuth {
                return .simpleString("OK \(usable) usable Sentinels. Quorum and failover authorization can be reached")
            }
            var text = "NOQUORUM \(usable) usable Sentinels. "
            if noQuorum { text += "Not enough available Sentinels to reach the specified quorum for this master" }
            if noAuth {
                if noQuorum { text += ". " }
                text += "Not enough available Sentinels to reach the majority and authorize a failover"
            }
            return .simpleError(text)
        case "myid":
            if let e = needs(1) { return e }
            return .bulkString(state.myID)
        case "flushconfig":
            if let e = needs(1) { return e }
            do {
                try saveConfig()
                return .simpleString("OK")
            } catch {
                return .simpleError("ERR Failed to save config file")
            }
        default:
            return .simpleError("ERR unknown subcommand '\(args[0])'. Try SENTINEL HELP.")
        }
    }

    /// `addReplySentinelRedisInstance`: the flat field/value list, in 7.0's order.
    func describeInstance(_ ref: InstanceRef) -> RESPValue {
        guard let m = state.masters[ref.masterName] else { return .nullArray }
        let t = now
        var fields: [(String, String)] = []
        let ri: Instance
        var flags: [String] = []
        switch ref {
        case .master:
            ri = m.instance
            fields.append(("name", m.name))
        case .replica(_, let a):
            ri = m.replicas[a]!
            fields.append(("name", a.description))
        case .sentinel(_, let id):
            ri = m.sentinels[id]!
            fields.append(("name", id))
        }
        fields.append(("ip", ri.address.ip))
        fields.append(("port", String(ri.address.port)))
        fields.append(("runid", ri.runID ?? ""))
        if ri.isSDown { flags.append("s_down") }
        if case .master = ref, m.isODown { flags.append("o_down") }
        switch ref {
        case .master: flags.append("master")
        case .replica: flags.append("slave")
        case .sentinel: flags.append("sentinel")
        }
        if !ri.linkConnected { flags.append("disconnected") }
        if case .sentinel = ref, ri.reportsMasterDown { flags.append("master_down") }
        if case .master = ref, m.failoverInProgress { flags.append("failover_in_progress") }
        if ri.promoted { flags.append("promoted") }
        switch ri.reconf {
        case .sent: flags.append("reconf_sent")
        case .inProgress: flags.append("reconf_inprog")
        case .done: flags.append("reconf_done")
        case .none: break
        }
        if case .master = ref, m.forcedFailover { flags.append("force_failover") }
        fields.append(("flags", flags.joined(separator: ",")))
        fields.append(("link-pending-commands", "0"))
        fields.append(("link-refcount", "1"))
        if case .master = ref, m.failoverInProgress { fields.append(("failover-state", m.failoverState.rawValue)) }
        fields.append(("last-ping-sent", String(ri.pingPendingSince.map { t - $0 } ?? 0)))
        fields.append(("last-ok-ping-reply", String(t - ri.lastAvailTime)))
        fields.append(("last-ping-reply", String(t - ri.lastPongTime)))
        if let since = ri.sdownSince { fields.append(("s-down-time", String(t - since))) }
        if case .master = ref, let since = m.odownSince { fields.append(("o-down-time", String(t - since))) }
        fields.append(("down-after-milliseconds", String(m.downAfter)))
        if case .sentinel = ref {} else {
            fields.append(("info-refresh", String(ri.infoRefresh.map { t - $0 } ?? 0)))
            fields.append(("role-reported", ri.roleReportedReplica ? "slave" : "master"))
            fields.append(("role-reported-time", String(t - ri.roleReportedTime)))
        }
        switch ref {
        case .master:
            fields.append(("config-epoch", String(m.configEpoch)))
            fields.append(("num-slaves", String(m.replicas.count)))
            fields.append(("num-other-sentinels", String(m.sentinels.count)))
            fields.append(("quorum", String(m.quorum)))
            fields.append(("failover-timeout", String(m.failoverTimeout)))
            fields.append(("parallel-syncs", String(m.parallelSyncs)))
        case .replica:
            fields.append(("master-link-down-time", String(ri.masterLinkDownTime)))
            fields.append(("master-link-status", ri.replicaOfLinkUp ? "ok" : "err"))
            fields.append(("master-host", ri.replicaOfHost ?? "?"))
            fields.append(("master-port", String(ri.replicaOfPort ?? 0)))
            fields.append(("slave-priority", String(ri.replicaPriority)))
            fields.append(("slave-repl-offset", String(ri.replicationOffset)))
            fields.append(("replica-announced", ri.replicaAnnounced ? "1" : "0"))
        case .sentinel:
            fields.append(("last-hello-message", String(ri.lastHelloReceived.map { t - $0 } ?? 0)))
            fields.append(("voted-leader", ri.leader ?? "?"))
            fields.append(("voted-leader-epoch", String(ri.leaderEpoch)))
        }
        return .map(fields.map { RESPPair(key: .bulkString($0.0), value: .bulkString($0.1)) })
    }

    // MARK: INFO

    func info(sections requested: [String]) -> String {
        let all = ["server", "clients", "cpu", "stats", "sentinel"]
        let wanted = requested.isEmpty || requested.contains("all") || requested.contains("default") || requested.contains("everything")
            ? all : requested.filter { all.contains($0) }
        var out: [String] = []
        for section in wanted {
            if !out.isEmpty { out.append("") }
            switch section {
            case "server":
                out += ["# Server", "redis_version:7.0.15", "tandem_version:0.1.0-dev", "redis_mode:sentinel",
                        "os:Linux", "arch_bits:64", "process_id:\(getpid())", "run_id:\(state.myID)",
                        "tcp_port:\(configuration.port)", "uptime_in_seconds:\(now / 1000)", "uptime_in_days:\(now / 86_400_000)",
                        "config_file:\(configPath)"]
            case "clients":
                out += ["# Clients"]
            case "cpu":
                out += ["# CPU"]
            case "stats":
                out += ["# Stats"]
            case "sentinel":
                out += ["# Sentinel", "sentinel_masters:\(state.masters.count)", "sentinel_tilt:\(state.isTilted ? 1 : 0)",
                        "sentinel_tilt_since_seconds:\(state.tiltSince.map { (now - $0) / 1000 } ?? -1)",
                        "sentinel_running_scripts:0", "sentinel_scripts_queue_length:0", "sentinel_simulate_failure_flags:0"]
                for (i, name) in state.masterNames.enumerated() {
                    let m = state.masters[name]!
                    let status = m.isODown ? "odown" : (m.instance.isSDown ? "sdown" : "ok")
                    let a = state.currentMasterAddress(name)!
                    out.append("master\(i):name=\(name),status=\(status),address=\(a),slaves=\(m.replicas.count),sentinels=\(m.sentinels.count + 1)")
                }
            default: break
            }
        }
        return out.isEmpty ? "" : out.joined(separator: "\r\n") + "\r\n"
    }
}
