#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RESP
import SentinelConfig
import SentinelCore

/// SENTINEL's read and failover subcommands (MASTERS, REPLICAS, SENTINELS, FAILOVER, RESET,
/// INFO-CACHE, …); MONITOR, SET, CONFIG and DEBUG are in SentinelCommands+Settings.swift.
extension SentinelRuntime {
    /// SENTINEL subcommands; the table has already checked the name and the arity.
    func sentinelCommand(_ args: [String]) -> RESPValue {
        let sub = args[0].lowercased()
        let noSuchMaster = RESPValue.simpleError("ERR No such master with that name")
        switch sub {
        case "get-master-addr-by-name":
            guard let a = state.currentMasterAddress(args[1]) else { return .nullArray }
            return .array([.bulkString(announced(a, master: args[1])), .bulkString(String(a.port))])
        case "masters":
            return .array(state.masterNames.map { describeInstance(.master($0)) })
        case "master":
            guard state.masters[args[1]] != nil else { return noSuchMaster }
            return describeInstance(.master(args[1]))
        case "replicas", "slaves":
            guard let m = state.masters[args[1]] else { return noSuchMaster }
            return .array(m.sortedReplicaAddresses.filter { m.replicas[$0]!.replicaAnnounced }
                .map { describeInstance(.replica(master: m.name, $0)) })
        case "sentinels":
            guard let m = state.masters[args[1]] else { return noSuchMaster }
            return .array(m.sortedSentinelIDs.map { describeInstance(.sentinel(master: m.name, runID: $0)) })
        case "is-master-down-by-addr":
            guard let port = Int(args[2]), let epoch = UInt64(args[3]) else {
                return .simpleError("ERR value is not an integer or out of range")
            }
            let answer = state.isMasterDownByAddr(address: InstanceAddress(ip: args[1], port: port), epoch: epoch,
                                                  runID: args[4], now: now)
            perform(answer.actions)
            saveIfPending()  // the vote is saved before the reply goes out
            return .array([.integer(answer.down ? 1 : 0), .bulkString(answer.leader), .integer(Int64(answer.leaderEpoch))])
        case "failover":
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
            guard let check = state.quorumCheck(args[1]) else { return noSuchMaster }
            let noQuorum = !check.quorumReachable, noAuth = !check.majorityReachable
            if !noQuorum && !noAuth {
                return .simpleString("OK \(check.usable) usable Sentinels. Quorum and failover authorization can be reached")
            }
            var text = "NOQUORUM \(check.usable) usable Sentinels. "
            if noQuorum { text += "Not enough available Sentinels to reach the specified quorum for this master" }
            if noAuth {
                if noQuorum { text += ". " }
                text += "Not enough available Sentinels to reach the majority and authorize a failover"
            }
            return .simpleError(text)
        case "myid":
            return .bulkString(state.myID)
        case "flushconfig":
            return flushConfigReply()
        case "monitor":
            // Answered by `execute`, which awaits the name lookup; not reached from there.
            return .simpleError("ERR SENTINEL MONITOR is answered asynchronously")
        case "remove":
            guard state.masters[args[1]] != nil else { return noSuchMaster }
            perform(state.remove(master: args[1]))
            configuration.masters.removeAll { $0.name == args[1] }
            infoCache = infoCache.filter { $0.key.masterName != args[1] }
            return flushConfigReply()
        case "reset":
            let pattern = Array(args[1].utf8)
            let result = state.reset(where: { globMatch(pattern: pattern, string: Array($0.utf8)) }, now: now)
            perform(result.actions)
            return .integer(Int64(result.count))
        case "set":
            return setCommand(args)
        case "config":
            return configCommand(args)
        case "debug":
            return debugCommand(args)
        case "info-cache":
            return infoCacheReply(args)
        case "pending-scripts":
            return .array(pendingScripts())
        case "simulate-failure":
            var flags: SimulatedFailure = []
            for a in args.dropFirst() {
                switch a.lowercased() {
                case "crash-after-election":
                    flags.insert(.crashAfterElection)
                    logger.warning("Failure simulation: this Sentinel will crash after being successfully elected as failover leader")
                case "crash-after-promotion":
                    flags.insert(.crashAfterPromotion)
                    logger.warning("Failure simulation: this Sentinel will crash after promoting the selected replica to master")
                case "help":
                    return .array([.bulkString("crash-after-election"), .bulkString("crash-after-promotion")])
                default:
                    return .simpleError("ERR Unknown failure simulation specified")
                }
            }
            state.setSimulatedFailure(flags)
            return .simpleString("OK")
        case "help":
            return SentinelCommandTable.captured("sentinel-help")
        default:
            return .simpleError("ERR unknown subcommand '\(args[0])'. Try SENTINEL HELP.")
        }
    }

    func flushConfigReply() -> RESPValue {
        do {
            try saveConfig()
            return .simpleString("OK")
        } catch {
            return .simpleError("ERR Failed to save config file. Check server logs.")
        }
    }

    /// `SENTINEL INFO-CACHE [name …]`: each master with the last INFO of it and its replicas.
    func infoCacheReply(_ args: [String]) -> RESPValue {
        let names = args.count > 1 ? args.dropFirst().filter { state.masters[$0] != nil } : state.masterNames
        var out: [RESPValue] = []
        let t = now
        for name in names {
            guard let m = state.masters[name] else { continue }
            let refs: [InstanceRef] = [.master(name)] + m.sortedReplicaAddresses.map { .replica(master: name, $0) }
            let entries: [RESPValue] = refs.map { ref in
                guard let cached = infoCache[ref] else { return .array([.integer(0), .nullBulkString]) }
                return .array([.integer(t - cached.at), .bulkString(cached.text)])
            }
            out += [.bulkString(name), .array(entries)]
        }
        return .array(out)
    }

    /// `addReplySentinelRedisInstance`: the flat field/value list, in 7.0's order.
    func describeInstance(_ ref: InstanceRef) -> RESPValue {
        guard let fields = instanceFields(ref) else { return .nullArray }
        return .map(fields.map { RESPPair(key: .bulkString($0.0), value: .bulkString($0.1)) })
    }

    /// SENTINEL MASTER's (REPLICAS', SENTINELS') fields of one instance, in 7.0's order.
    func instanceFields(_ ref: InstanceRef) -> [(String, String)]? {
        guard let m = state.masters[ref.masterName] else { return nil }
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
        let isMaster = if case .master = ref { true } else { false }
        fields.append(("ip", announced(ri.address, master: isMaster ? m.name : nil)))
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
            // Before its first INFO an entry reports the role it is listed with (7.0 starts
            // role_reported from the instance's kind).
            var reportsReplica = ri.roleReportedReplica
            if ri.infoRefresh == nil, case .replica = ref { reportsReplica = true }
            fields.append(("role-reported", reportsReplica ? "slave" : "master"))
            fields.append(("role-reported-time", String(t - ri.roleReportedTime)))
        }
        switch ref {
        case .master:
            // 7.0 replies with addReplyBulkLongLong: the epoch as a signed 64-bit number.
            fields.append(("config-epoch", String(Int64(bitPattern: m.configEpoch))))
            fields.append(("num-slaves", String(m.replicas.count)))
            fields.append(("num-other-sentinels", String(m.sentinels.count)))
            fields.append(("quorum", String(m.quorum)))
            fields.append(("failover-timeout", String(m.failoverTimeout)))
            fields.append(("parallel-syncs", String(m.parallelSyncs)))
            // Tandem's own field, only while it applies: our vote for another sentinel's failover
            // of this master whose outcome we have not heard (the node agent fences the master
            // meanwhile when the leader is out of its reach).
            // Not under `tandem-behaviour redis-7.0`, whose replies are 7.0's.
            if state.behaviour != .redis70, let epoch = state.reportedFailoverVoteEpoch(m.name, now: t) { fields.append(("failover-vote-epoch", String(epoch))) }
            if let settings = configuration.master(m.name) {
                if let script = settings.notificationScript { fields.append(("notification-script", script)) }
                if let script = settings.clientReconfigScript { fields.append(("client-reconfig-script", script)) }
            }
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
        return fields
    }
}
