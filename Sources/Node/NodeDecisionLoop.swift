import AlertCore
import Alerts
import Dispatch
import Foundation
import KeepalivedConfig
import Logging
import NIOCore
import NodeConfig
import NodeCore
import Proxy
import RESP
import RedisConnection
import Sentinel
import Synchronization
import VRRP
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// The decision loop: every `every` ms, what the observers saw goes into `NodeState`, and its
/// actions are carried out.
func decisionLoop(settings: NodeState.Settings, every tick: Int64, wakeup: Wakeup? = nil, status: NodeStatus, daemon: VRRPDaemon?,
                          redis: LocalRedisActions, monitorActions: LocalRedisActions, groupName: String,
                          vipClients: String?, claimWatch: ARPClaimWatch? = nil, proxyClients: ProxyControl?,
                          supervised: (SupervisedRedis, RedisSupervision)?, alerts: AlertDispatcher? = nil, logger: Logger) async {
    var core = NodeState(settings: settings)
    var supervision = supervised?.1
    var lastWait = ""
    var adopted = false
    var fedPongs: [String: Int64] = [:]
    var fedRefusals: [String: Int64] = [:]
    var wasFenced = false
    // Another node heard holding the VIP: its VRRP adverts, or (direct) its gratuitous ARP.
    let holderSignals = { (daemon?.holderAdvertsHeard ?? 0) + (claimWatch?.claimsHeard ?? 0) }
    var holderHeard = holderSignals()
    var wakeSeen = 0
    while !Task.isCancelled {
        let seen = status.read { $0 }
        let now = status.now()
        var actions: [NodeState.Action] = []
        // The local monitor's view first: a peer heard again may unfence this node, and that
        // decision must see a failover the local monitor has under way (NodeState's keepFence).
        actions += core.handle(.groupMaster(seen.groupMaster, epoch: seen.groupEpoch, inFailover: seen.groupInFailover,
                                            votedEpoch: seen.groupVotedEpoch), now: now)
        actions += core.handle(.groupMasterHealthy(seen.groupMasterHealthy, answeredAt: seen.groupMasterAnsweredAt), now: now)
        for (node, at) in seen.lastPong where at > (fedPongs[node] ?? -1) {
            fedPongs[node] = at
            actions += core.handle(.heardFrom(node: node, at: at), now: now)
        }
        for (node, at) in seen.lastRefused where at > (fedRefusals[node] ?? -1) {
            fedRefusals[node] = at
            actions += core.handle(.refusedBy(node: node, at: at), now: now)
        }
        for (node, view) in seen.peerViews {
            actions += core.handle(.peerView(node: node, master: view.master, epoch: view.epoch, inFailover: view.inFailover,
                                             votedEpoch: view.votedEpoch), now: now)
        }
        actions += core.handle(.localRedis(seen.localRole), now: now)
        actions += core.handle(.proxyUp(seen.proxyUp), now: now)
        let heard = holderSignals()
        if heard != holderHeard {
            holderHeard = heard
            actions += core.handle(.vipHolderHeard(), now: now)
        }
        actions += core.handle(.tick, now: now)
        for action in actions {
            switch action {
            case .vipEligible(let priority):
                logger.notice("node: may hold the virtual IP (priority \(priority))")
                await proxyClients?.setRefusing(false)
                daemon?.post(.tracked(name: NodeFiles.preferredObject, up: priority > settings.basePriority))
                daemon?.post(.tracked(name: NodeFiles.eligibleObject, up: true))
                // direct, above the base priority: this node's Redis is the confirmed master;
                // the address moves now (at the base priority it is handing the address over).
                if settings.placement == .direct && priority > settings.basePriority { daemon?.post(.claim) }
            case .vipIneligible:
                logger.notice("node: may not hold the virtual IP")
                // proxy placement: new clients of this node's proxy are refused; those connected
                // are closed (`closeClients`) once the address's next holder is heard, so they
                // reconnect to it instead of into an address nobody holds yet. That needs the
                // proxy's sockets to send from the address after it left (IP_TRANSPARENT); without
                // them they are closed now, while it is still here.
                if let proxyClients {
                    await proxyClients.setRefusing(true, closingClients: !proxyClients.listensTransparently)
                }
                daemon?.post(.tracked(name: NodeFiles.eligibleObject, up: false))
            case .fence(let milliseconds):
                // Said at once: VRRP's claim gate reads it (a fenced node never claims in `direct`).
                status.update { $0.fenced = true }
                await redis.run(["CLIENT", "PAUSE", String(milliseconds), "WRITE"])
                if !wasFenced {
                    alerts?.post(AlertRules.fence(node: settings.myName, group: groupName, fenced: true))
                    switch core.fenceReason {
                    case .votedFailoverUnknown:
                        logger.warning("node: the monitors voted to fail the local Redis over and that failover's leader is out of reach: it is fenced until the outcome is known (writes wait, none is acknowledged)")
                    case .wokenDuringFailover:
                        logger.warning("node: the local Redis answers again while the group fails it over: it is fenced until the failover ends (writes wait, none is acknowledged)")
                    case .isolated, nil:
                        logger.warning("node: no contact with a majority of the group: the local Redis is fenced (writes wait, none is acknowledged)")
                    }
                }
                wasFenced = true
            case .unfence:
                wasFenced = false
                status.update { $0.fenced = false }
                alerts?.post(AlertRules.fence(node: settings.myName, group: groupName, fenced: false))
                logger.notice("node: the fence is lifted: writes allowed again")
                await redis.run(["CLIENT", "UNPAUSE"])
            case .closeClients:
                // Clients that reached this node at the VIP would wait on replies that cannot
                // come (a fenced Redis, a proxy that must not serve) until their own timeout.
                if let proxyClients {
                    await proxyClients.closeClients()
                } else if let vipClients {
                    logger.notice("node: closing the local Redis's clients at the virtual IP (they reconnect to its holder)")
                    await redis.run(["CLIENT", "KILL", "LADDR", vipClients])
                }
            case .requestFailover(let why):
                switch why {
                case .masterAgentSilent:
                    logger.warning("node: the master's node agent has been silent while its Redis runs on: asking the monitors for a switchover")
                case .votedFailoverUnknown:
                    logger.warning("node: the monitors voted to fail this master over and its leader has been out of reach for down-after: asking them for a switchover to a replica here")
                }
                await monitorActions.run(["SENTINEL", "FAILOVER", groupName])
            case .replicate(let master):
                let (host, port) = splitHostPort(master)
                logger.notice("node: the group moved on to \(master): the local Redis becomes its replica")
                await redis.run(["REPLICAOF", host, String(port)])
            }
        }
        let majority = core.hasMajorityContact(now: now)
        if let supervisor = supervised?.0, var s = supervision {
            let exits = status.update { snapshot -> [(Int64, String)] in
                defer { snapshot.redisExits = [] }
                return snapshot.redisExits
            }
            for (at, how) in exits {
                logger.warning("node: \(how)")
                s.exited(now: at)
            }
            // A server already answering that this agent did not start (left by an earlier
            // agent): adopted as it is; supervision resumes once it stops.
            if !s.running && !supervisor.isRunning && seen.localRole != .down {
                if !adopted { logger.notice("node: a redis-server already answers on the local port: adopted, supervised once it stops") }
                adopted = true
            } else {
                adopted = false
                switch s.decide(groupMaster: core.groupMaster, majorityContact: majority,
                                 replicaAnswers: seen.groupReplicaAnswers, now: now) {
                case .start(let master):
                    do {
                        try supervisor.start(replicaOf: master ?? "") { how in status.update { $0.redisExits.append((status.now(), how)) } }
                        s.started(now: now)
                        logger.notice("node: redis-server started as \(master.map { "a replica of \($0)" } ?? "the master (no replica was promoted in its place)")")
                    } catch {
                        s.startFailed(now: now)
                        logger.error("node: \(error)")
                    }
                    lastWait = ""
                case .wait(let why):
                    if why != lastWait { logger.notice("node: redis-server not started: \(why)") }
                    lastWait = why
                case .running:
                    lastWait = ""
                }
            }
            supervision = s
        }
        let fenced = core.isFenced
        let vip = core.vip
        let vipStates = daemon?.states ?? []
        status.update {
            $0.fenced = fenced
            $0.majority = majority
            $0.vipEligible = vip.map { if case .vipEligible = $0 { true } else { false } } ?? false
            $0.vipState = vipStates.first?.rawValue ?? "none"
            $0.decidedAt = now
        }
        if let wakeup {
            await wakeup.sleep(milliseconds: tick, seen: &wakeSeen)
        } else {
            try? await Task.sleep(for: .milliseconds(tick))
        }
    }
}
