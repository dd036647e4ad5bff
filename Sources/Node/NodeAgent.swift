import AlertCore
import Alerts
import Dispatch
import Foundation
import KeepalivedConfig
import LVS
import Logging
import NIOCore
import NodeConfig
import NodeCore
import Prometheus
import Proxy
import RESP
import RedisConnection
import Sentinel
import SentinelCore
import Status
import Synchronization
import TandemMetrics
import VRRP
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

public struct NodeStartError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// `tandem run node.yaml`: the node agent. Runs the monitor (a full sentinel), the proxy and
/// the virtual IP of one node in this process, and carries out `NodeState`'s decisions (VIP
/// eligibility, fencing, re-joining the group). This file is the shell: it observes (the local
/// monitor's master, the local Redis's role, the peer agents' heartbeats), feeds the core and
/// performs its actions; it decides nothing itself.
///
/// SIGTERM/SIGINT drain in order: the VIP is released (priority-0 advert), then the proxy stops
/// accepting and closes its clients, then the monitor stops.
/// `onReady` is called once the monitor and the proxy listen and the VIP's speaker runs
/// (systemd's READY=1).
/// `addressGuard`: how to start `tandem address-guard` for the VIP (see `AddressGuard`).
public func runNode(configuration c: NodeConfiguration, source: String, logger: Logger,
                    addressGuard: (program: String, arguments: [String])? = nil,
                    onReady: @Sendable () -> Void = {}) async throws {
    guard let me = c.me else { throw NodeStartError("node \(c.name) is not in group.nodes") }
    let stateDirectory = URL(fileURLWithPath: c.stateDirectory).standardizedFileURL.path
    var config = c
    config.stateDirectory = stateDirectory
    do {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
    } catch {
        throw NodeStartError("cannot create node.state-dir \(stateDirectory): \((error as NSError).localizedDescription)")
    }
    let sentinelPath = stateDirectory + "/sentinel.conf"
    let downAfter = c.group.downAfterMilliseconds
    // The local monitor's master and the local Redis's role are asked more often than peers are
    // pinged: a promotion reaches the VIP within this much (plus the decision period and
    // VRRP's Skew_Time). Both are on this machine; the cost is a few round trips a second.
    let localTick = max(10, downAfter / 25)
    // The local monitor's events (a promotion, a switch of master, an SDOWN...) wake the local
    // probes at once, and a probe that sees a change wakes the decision loop.
    let localWakeup = Wakeup()
    let decisionWakeup = Wakeup()
    // They wake the peer probes too: when the local monitor leads a failover, the peers switch
    // to the promoted replica on its hello, a few milliseconds after its +promoted-slave, and
    // the claim waits on their word; the peers' period drops to 20 ms then (below), but a probe
    // asleep in its 100 ms period kept it up to 100 ms (lab, VRRP cut: 80 ms).
    let peerWakeup = Wakeup()
    // direct: the VIP's holder publishes its clients; a new holder tickles them (`VIPClientTickle`).
    let tickle: VIPClientTickle? = {
        guard let v = c.vip, v.placement == .direct, c.role == .data, let redis = c.redis,
              let address = v.address.split(separator: "/").first.flatMap({ IPAddress($0) }) else { return nil }
        return VIPClientTickle(address: address, port: redis.port, log: { [logger] in logger.warning("vip: \($0)") })
    }()
    let contactWindow = max(1, downAfter / 4)
    let status = NodeStatus()
    let signals = TerminationSignals()

    // node.http.listen: /metrics, up before anything else so a bind failure stops the start.
    let metrics = MetricsRegistry()
    let page = StatusPageSource(daemon: "node", node: c.name)
    var http: MetricsHTTPServer?
    if let listen = c.httpListen {
        let endpoint = try HTTPEndpoint(parsing: listen)
        do {
            http = try await MetricsHTTPServer.start(endpoint, metrics: metrics, status: page)
        } catch {
            throw NodeStartError("node.http.listen: \(error)")
        }
        metrics.addProcessMetrics()
        addNodeMetrics(metrics, status: status)
        logger.notice("node \(c.name): metrics on http://\(endpoint)/metrics, status page on http://\(endpoint)/")
    }
    let serving = http != nil
    defer { if let http { Task { await http.close() } } }

    // redis.supervise: the agent starts the local redis-server (RedisSupervision decides when
    // and as what). On the very first start it runs as its file says, for the group's first
    // master to be chosen as for a server started by hand; after that, never before the
    // group's master is known.
    var supervisor: SupervisedRedis?
    var supervision: RedisSupervision?
    if c.role == .data, let redis = c.redis, redis.supervise, let file = redis.configFile {
        let s = SupervisedRedis(server: redis.server, configFile: file, port: redis.port)
        supervisor = s
        supervision = RedisSupervision(settings: RedisSupervision.Settings(
            myRedis: "\(me.address):\(redis.port)",
            holdLimit: downAfter + c.group.failoverTimeoutMilliseconds))
        if !FileManager.default.fileExists(atPath: sentinelPath) {
            try s.start(replicaOf: nil) { how in status.update { $0.redisExits.append((status.now(), how)) } }
            supervision!.started(now: status.now())
            logger.notice("node \(c.name): first start: redis-server started from \(file) as it is")
        }
    }

    // alerts: the monitor's events, fencing and the VIP's moves, sent beside everything else.
    let alerts = AlertDispatcher(settings: c.alerts, daemon: "node", source: c.name, log: { [logger] in logger.notice("alerts: \($0)") })
    defer { alerts?.close() }

    // The first start: decide the group's master from what the others say.
    if !FileManager.default.fileExists(atPath: sentinelPath) {
        let master: String
        switch await bootstrap(config, timeout: contactWindow, signals: signals, logger: logger) {
        case .some(let chosen): master = chosen
        case .none: return  // stopped while waiting
        }
        let (host, port) = splitHostPort(master)
        let text = NodeFiles.sentinelConf(config, master: (host, port), source: source)
        do {
            try text.write(toFile: sentinelPath, atomically: true, encoding: .utf8)
        } catch {
            throw NodeStartError("cannot write \(sentinelPath): \((error as NSError).localizedDescription)")
        }
        logger.notice("node \(c.name): group \(c.group.name) starts with master \(master) (saved in \(sentinelPath))")
    }

    // The VIP's speaker is set up first: a missing interface or no permission stops the start
    // before anything listens.
    var daemon: VRRPDaemon?
    // VRRP claims the VIP only while this node has heard from a majority just now: a node cut
    // off from the others fails that before VRRP's own timers run out (NodeState.mayClaim).
    let gateSettings = NodeState.Settings(myName: c.name, myRedis: "", members: c.group.members.map(\.name),
                                          placement: .direct, downAfter: downAfter)
    if let text = NodeFiles.keepalivedConf(config) {
        // A FAULT the agent imposes (this node may not hold the VIP now: `node eligible` down) is
        // no trouble: not alerted at start, a warning when it takes the VIP away.
        let vipAlerts = alerts.map { VRRPAlerts(dispatcher: $0, ownCauses: [NodeFiles.eligibleObject]) }
        // direct: the local Redis's clients at the VIP are reset as the address leaves.
        var beforeRelease: (@Sendable ([String]) -> Void)?
        if c.vip?.placement == .direct, c.role == .data, let redis = c.redis {
            let reset = VIPClientReset(port: redis.port, log: { [logger] in logger.warning("vip: \($0)") })
            beforeRelease = { addresses in reset.reset(addresses) }
        }
        let vrrp = try KeepalivedConfiguration.parse(text, file: "\(source) (vip)")
        daemon = try VRRPDaemon(
            configuration: vrrp,
            externalTracked: [TrackedObject(name: NodeFiles.eligibleObject, weight: 0, up: false),
                              TrackedObject(name: NodeFiles.preferredObject, weight: NodeFiles.preferredWeight, up: false)],
            addressGuard: addressGuard,
            claimGate: {
                let (heard, fenced) = status.read { ($0.lastPong, $0.fenced) }
                return NodeState.mayClaim(settings: gateSettings, lastHeard: heard, now: status.now(), fenced: fenced)
            },
            onStateChange: { instance, state, priority, addresses, causes in
                vipAlerts?.stateChanged(instance: instance, state: state.rawValue, priority: Int(priority), addresses: addresses,
                                        faultCauses: causes)
                // Taken over: the previous holders' clients are tickled in the core's rounds
                // (`VIPClientBook.rounds`: at once, the gratuitous ARPs being out, and again
                // after the clients' limit on out-of-window answers), each while still holding.
                tickle?.setHolding(state == .master)
                if state == .master, let tickle {
                    Task {
                        let start = status.now()
                        for round in VIPClientBook<TCPPeer>.rounds {
                            let wait = start + round - status.now()
                            if wait > 0 { try? await Task.sleep(for: .milliseconds(wait)) }
                            guard tickle.holding() else { return }
                            let sent = tickle.tickle(now: status.now())
                            if round == 0, sent > 0 { logger.notice("vip: tickled \(sent) client connection(s) of the previous holder (each is reset here and reconnects)") }
                        }
                    }
                }
            },
            beforeRelease: beforeRelease,
            // direct: a killed agent's Redis serves on at the address while the others switch the
            // master away (a refused heartbeat asks it at once); its guard keeps the address until
            // the new master's node claims it (then resets its clients, who reconnect there) for
            // up to down-after — no longer than the group waits before failing a silent master
            // over — not only Master_Down_Interval, after which clients reconnecting into an
            // address nobody held waited TCP's 1 s SYN retry (Benchmarks/node.sh kill_agent: 2 of
            // 5 trials); down-after / 2 was too short on a loaded machine (claims at 0.58-0.69 s).
            farewellHoldMilliseconds: c.vip?.placement == .proxy ? nil : Int(min(downAfter, 60_000)),
            log: { [logger] in logger.notice("vip: \($0)") })
    }

    // virtual-servers: keepalived's virtual_server blocks, listening (IP_FREEBIND: with or
    // without the VIP here) before the monitor starts, so a port that cannot be bound stops the
    // start; ha_suspend follows the VIP's instance.
    var virtualServers: VirtualServers?
    if let lvs = try loadVirtualServers(c, nodeFile: source) {
        for warning in lvs.warnings { logger.warning("virtual servers: \(warning)") }
        let vip = daemon
        let servers = try VirtualServers(configuration: lvs, log: { [logger] in logger.notice("virtual servers: \($0)") },
                                         addressHeld: vipHolds(c.vip, state: { vip?.states.first }))
        do {
            try servers.start()
        } catch {
            throw NodeStartError("virtual-servers: \(error)")
        }
        virtualServers = servers
    }
    // Stopped after the VIP is released (below); here too for a start that fails later on.
    defer { virtualServers?.stop() }

    // The monitor. Its events that say the master changed have the virtual servers check at once.
    let nudgedServers = virtualServers
    let monitorStarted = Completion()
    let monitorTask = Task {
        do {
            try await runSentinel(configPath: sentinelPath, overrides: NodeFiles.sentinelOverrides(config), logger: logger,
                                  extraInfo: [("node", { status.infoLines() }), ("failovers", { page.failoverInfoLines() }),
                                              ("vipclients", { tickle?.infoLines() ?? [] })],
                                  onListening: { _ in monitorStarted.complete(nil) },
                                  onRuntime: { runtime in
                                      await runtime.addEventObserver { _ in
                                          localWakeup.kick()
                                          peerWakeup.kick()
                                      }
                                      if let lvs = nudgedServers {
                                          await runtime.addEventObserver { event in
                                              if VirtualServerNudge.checkSoon(afterEvent: event.type) { lvs.checkSoon() }
                                          }
                                      }
                                      if let alerts {
                                          await runtime.addEventObserver { event in
                                              if let alert = AlertRules.sentinelEvent(type: event.type, payload: event.payload) { alerts.post(alert) }
                                          }
                                      }
                                      // Always: INFO failovers reads the page's timeline.
                                      await page.addSentinel(runtime)
                                      if serving { await metrics.addSentinel(runtime) }
                                  })
            monitorStarted.complete(nil)
        } catch {
            monitorStarted.complete("monitor: \(error)")
        }
    }
    if let error = await monitorStarted.wait() {
        throw NodeStartError(error)
    }
    // After the monitor's part (added as it started): INFO node goes on its own entry.
    if serving { addNodeStatus(page, status: status) }

    // The proxy.
    var proxyTask: Task<Void, Never>?
    let proxyControl = ProxyControl()
    let proxySampler = Mutex<Task<Void, Never>?>(nil)
    if let settings = try NodeFiles.proxySettings(config) {
        let proxyStarted = Completion()
        proxyTask = Task {
            do {
                try await runProxy(settings: settings, logger: logger, control: proxyControl, onListening: { _ in
                    status.update { $0.proxyUp = true }
                    proxyStarted.complete(nil)
                }, onStatistics: { statistics in
                    // INFO node's proxy clients and throughput: sampled once a second.
                    proxySampler.withLock { $0 = Task { await sampleProxy(statistics, status: status) } }
                    if serving {
                        metrics.addProxy(statistics)
                        page.addProxy(statistics, listen: settings.listen.first.map { "\($0)" })
                    }
                }, onClusterStatistics: { statistics in
                    if serving { metrics.addClusterProxy(statistics) }
                })
                proxyStarted.complete(nil)
            } catch {
                proxyStarted.complete("proxy: \(error)")
            }
            status.update { $0.proxyUp = false }
        }
        if let error = await proxyStarted.wait() {
            monitorTask.cancel()
            _ = await monitorTask.value
            throw NodeStartError(error)
        }
    }

    // The VIP's loop has a thread of its own (poll() on raw sockets).
    let vipDone = Completion()
    if let daemon {
        if serving {
            metrics.addVRRP(daemon)
            page.addVRRP(daemon, addresses: [c.vip.map { [$0.address] } ?? []])
        }
        let thread = Thread {
            _ = daemon.run(handleSignals: false)
            vipDone.complete(nil)
        }
        thread.name = "tandem-vrrp"
        thread.start()
    } else {
        vipDone.complete(nil)
    }
    onReady()

    // Observers and the decision loop (data nodes: a witness only votes).
    var workers: [Task<Void, Never>] = []
    if serving, let daemon {
        // The status page's timeline: when the VIP came to this node (recorded, not decided).
        workers.append(Task {
            var last = ""
            while !Task.isCancelled {
                let state = daemon.states.first?.rawValue ?? ""
                if state != last, state == "MASTER" { page.recordVIP(holder: c.name) }
                last = state
                try? await Task.sleep(for: .milliseconds(20))
            }
        })
    }
    let peers = c.group.members.filter { $0.name != c.name }
    for peer in peers {
        workers.append(Task {
            // While the local monitor leads a failover, the peers are asked more often: it names
            // the old master (in the new epoch) until the replicas are reconfigured, a second or
            // so after the promotion, while the peers name the promoted replica as soon as its
            // hello reaches them — and a promoted replica here is claimed on their word (the lab:
            // up to a heartbeat period, 100 ms, between their switch and the claim).
            let every = gateSettings.peerProbeInterval
            let leading = min(every, localTick / 2)
            let rounds = RoundCounter()
            await probeLoop(host: peer.address, port: peer.monitorPort, password: nil, user: nil,
                            every: every, timeout: contactWindow, wakeup: peerWakeup,
                            period: { status.read { $0.groupInFailover } ? leading : every }) { connection in
                // The heartbeat asks the peer's monitor for its view of the group: any answer
                // counts as heard; a view carries the master and its configuration epoch.
                let reply = try await connection.send(["SENTINEL", "MASTER", c.group.name], timeout: .milliseconds(contactWindow))
                let view = masterView(reply)
                let changed = status.update { s -> Bool in
                    s.lastPong[peer.name] = status.now()
                    guard let view else { return false }
                    defer { s.peerViews[peer.name] = view }
                    return s.peerViews[peer.name].map {
                        $0.master != view.master || $0.epoch != view.epoch || $0.inFailover != view.inFailover
                    } ?? true
                }
                if changed { decisionWakeup.kick() }
                // Every ~500 ms, after the heartbeat is counted: the clients at the VIP if the
                // peer holds it (`VIPClientTickle`). A failure here is no failed heartbeat.
                if let tickle, (rounds.next() - 1) % max(1, 500 / every) == 0,
                   let info = try? await connection.send(["INFO", "vipclients"], timeout: .milliseconds(contactWindow)).string,
                   let peers = VIPClientTickle.parse(info) {
                    tickle.heard(node: peer.name, peers: peers, at: status.now())
                }
            } onFailure: { error in
                // Refused: the peer's host is up but its agent (and monitor) is not running.
                if (error as? RedisConnectionError)?.isConnectionRefused == true {
                    status.update { $0.lastRefused[peer.name] = status.now() }
                }
            }
        })
    }
    // direct: while holding the VIP, its clients are read every 250 ms for `INFO vipclients`.
    if let tickle {
        workers.append(Task {
            while !Task.isCancelled {
                tickle.refresh()
                try? await Task.sleep(for: .milliseconds(250))
            }
        })
    }
    let monitorHost = c.monitor.bind.contains("0.0.0.0") || c.monitor.bind.contains(me.address) || c.monitor.bind.contains("::")
        ? me.address : (c.monitor.bind.first ?? me.address)
    workers.append(Task {
        await probeLoop(host: monitorHost, port: me.monitorPort, password: nil, user: nil, every: localTick, timeout: contactWindow,
                        wakeup: localWakeup) { connection in
            let reply = try await connection.send(["SENTINEL", "MASTER", c.group.name], timeout: .milliseconds(contactWindow))
            if let view = masterView(reply) {
                // One update (the decision loop, woken by a change, must not read half of it).
                let changed = status.update { s -> Bool in
                    let changed = s.groupMaster != view.master || s.groupEpoch != view.epoch || s.groupInFailover != view.inFailover
                    s.groupMaster = view.master
                    s.groupEpoch = view.epoch
                    s.groupInFailover = view.inFailover
                    s.groupVotedEpoch = view.votedEpoch
                    s.groupMasterHealthy = view.healthy
                    s.groupMasterAnsweredAt = view.answeredAgo.map { status.now() - $0 }
                    return changed
                }
                if changed { decisionWakeup.kick() }
            }
            if c.redis?.supervise == true {
                // Supervision keeps a dead master down while a replica could take its place.
                let replicas = try await connection.send(["SENTINEL", "REPLICAS", c.group.name], timeout: .milliseconds(contactWindow))
                let answers = replicaAnswers(replicas)
                status.update { $0.groupReplicaAnswers = answers }
            }
        } onFailure: { _ in }
    })
    if c.role == .data, let redis = c.redis {
        let password = redis.password ?? c.group.password
        let user = redis.user ?? c.group.user
        workers.append(Task {
            await probeLoop(host: me.address, port: redis.port, password: password, user: user, every: localTick, timeout: contactWindow,
                            wakeup: localWakeup) { connection in
                let role = try await connection.role()
                let seen: NodeState.RedisRole = switch role {
                case .master: .master
                case .replica: .replica
                case .sentinel: .down
                }
                let changed = status.update { s -> Bool in
                    defer { s.localRole = seen }
                    return s.localRole != seen
                }
                if changed { decisionWakeup.kick() }
            } onFailure: { _ in
                status.update { $0.localRole = .down }
            }
        })
        let placement: NodeState.Placement = c.vip?.placement == .proxy ? .proxy : .direct
        var settings = NodeState.Settings(
            myName: c.name, myRedis: "\(me.address):\(redis.port)", members: c.group.members.map(\.name),
            placement: placement, downAfter: downAfter, basePriority: c.vip?.priority ?? 100)
        settings.redisOfNode = Dictionary(uniqueKeysWithValues: c.group.members.filter { $0.role == .data }.map { ($0.name, "\($0.address):\($0.redisPort)") })
        settings.failoverRetry = c.group.failoverTimeoutMilliseconds
        if let vip = c.vip {
            settings.closeClientsAfter = NodeState.Settings.closeClientsAfter(advertInterval: vip.advertIntervalMilliseconds)
        }
        let monitorActions = LocalRedisActions(host: monitorHost, port: me.monitorPort, password: nil, user: nil,
                                               timeout: contactWindow, logger: logger)
        let actor = LocalRedisActions(host: me.address, port: redis.port, password: password, user: user,
                                      timeout: contactWindow, logger: logger)
        let vip = daemon
        // Decisions run more often than heartbeats: a fence is due a fixed time after the last
        // heartbeat heard, and comes that much late at most by this period.
        let decisionPeriod = max(5, downAfter / 50)
        let nodeSettings = settings
        // direct: clients at the VIP talk to Redis itself, on the VIP's address.
        let vipClients = c.vip.flatMap { vip -> String? in
            guard vip.placement == .direct, let address = vip.address.split(separator: "/").first else { return nil }
            return address.contains(":") ? "[\(address)]:\(redis.port)" : "\(address):\(redis.port)"
        }
        // direct: the new master's node taking the address over, heard by its gratuitous ARP as
        // well as by its adverts (`ARPClaimWatch`; a fenced holder's hold ends on either).
        var claimWatch: ARPClaimWatch?
        if let v = c.vip, v.placement == .direct, v.vmac == nil, vip != nil,
           let address = v.address.split(separator: "/").first.flatMap({ IPAddress($0) }), address.family == .ipv4 {
            do {
                claimWatch = try ARPClaimWatch(interface: NetworkInterface(name: v.interface), addresses: [address])
                claimWatch?.start()
            } catch {
                logger.warning("vip: cannot listen for the address's next holder's ARP (\(error)): a fenced holder keeps the address to the end of its hold unless it hears the holder's advert")
            }
        } else if let v = c.vip, v.placement == .direct, vip != nil {
            logger.notice("vip: \(v.vmac != nil ? "with a virtual MAC" : "an IPv6 address"): a fenced holder hears the address's next holder by its adverts only (no gratuitous-ARP watch), else keeps the address to the end of its hold (2 x down-after)")
        }
        let watch = claimWatch
        let supervised = supervisor.map { ($0, supervision!) }
        workers.append(Task {
            await decisionLoop(settings: nodeSettings, every: decisionPeriod, wakeup: decisionWakeup, status: status, daemon: vip, redis: actor,
                               monitorActions: monitorActions, groupName: c.group.name,
                               vipClients: vipClients, claimWatch: watch,
                               proxyClients: c.vip?.placement == .proxy && c.proxy != nil ? proxyControl : nil,
                               supervised: supervised, alerts: alerts, logger: logger)
            watch?.stop()
        })
    }
    status.update {
        $0.name = c.name
        $0.role = c.role.rawValue
        $0.group = c.group.name
        $0.placement = c.vip.map { $0.placement.rawValue } ?? "none"
        $0.members = c.group.members.map(\.name)
    }
    let parts = "monitor on \(me.monitorPort)"
        + (virtualServers != nil ? ", virtual servers from \(c.virtualServers!.config)" : "")
        + (config.proxy.map { ", proxy on \($0.listen.joined(separator: ", "))" } ?? "")
        + (config.vip.map { ", virtual IP \($0.address) on \($0.interface) (\($0.placement.rawValue))" } ?? "")
    logger.notice("node \(c.name) (\(c.role.rawValue)) of group \(c.group.name) running: \(parts)")

    // Until a signal, or the monitor stops by itself (SHUTDOWN on its port).
    let reason = await signals.wait(orUntil: monitorTask)
    logger.notice("node \(c.name): \(reason): releasing the virtual IP, then stopping the proxy and the monitor")
    daemon?.post(.stop)
    _ = await vipDone.wait()
    if let servers = virtualServers {
        logger.notice("node \(c.name): stopping the virtual servers")
        virtualServers = nil
        servers.stop()
    }
    for worker in workers { worker.cancel() }
    proxySampler.withLock { $0?.cancel() }
    if let proxyTask {
        proxyTask.cancel()
        await proxyTask.value
    }
    monitorTask.cancel()
    await monitorTask.value
    for worker in workers { await worker.value }
    if let supervisor, supervisor.isRunning {
        logger.notice("node \(c.name): stopping the supervised redis-server")
        await supervisor.stop()
    }
    logger.notice("node \(c.name): stopped")
}

/// The proxy's counters into `status` every second, with the throughput between samples.
func sampleProxy(_ statistics: ProxyStatistics, status: NodeStatus) async {
    while !Task.isCancelled {
        if let s = try? await statistics.snapshot() {
            let at = status.now()
            status.update {
                $0.proxyClients = s.connectedClients
                $0.proxyCommands = Int64(s.commands)
                $0.proxyThroughput.sample(commands: Int64(s.commands), bytesIn: Int64(s.bytesIn), bytesOut: Int64(s.bytesOut), at: at)
            }
        }
        try? await Task.sleep(for: .seconds(1))
    }
}

/// The status page's node part: `INFO node` of this agent on its own monitor's entry.
func addNodeStatus(_ page: StatusPageSource, status: NodeStatus) {
    page.addContributor { document in
        guard let info = StatusReport.NodeInfo(info: status.infoLines().joined(separator: "\n")) else { return }
        for g in document.groups.indices {
            for m in document.groups[g].monitors.indices where document.groups[g].monitors[m].flags.contains("self") {
                document.groups[g].monitors[m].node = info
            }
        }
    }
}

/// `tandem_node_*`: the agent's own view and decisions, from the status `INFO node` shows.
func addNodeMetrics(_ metrics: MetricsRegistry, status: NodeStatus) {
    let fenced = metrics.gauge("tandem_node_fenced", "1 while this node has fenced its Redis (no majority contact while master).")
    let majority = metrics.gauge("tandem_node_majority_contact", "1 while this node hears from a majority of the group.")
    let eligible = metrics.gauge("tandem_node_vip_eligible", "1 while this node may hold the virtual IP.")
    let proxyUp = metrics.gauge("tandem_node_proxy_up", "1 while this node's proxy is listening.")
    let redisRole = metrics.gauge("tandem_node_local_redis_master", "1 while the local Redis reports role master (0: replica or down).")
    let redisUp = metrics.gauge("tandem_node_local_redis_up", "1 while the local Redis answers.")
    metrics.addCollector {
        let s = status.read { $0 }
        fenced.set(to: s.fenced ? 1 : 0)
        majority.set(to: s.majority ? 1 : 0)
        eligible.set(to: s.vipEligible ? 1 : 0)
        proxyUp.set(to: s.proxyUp ? 1 : 0)
        redisRole.set(to: s.localRole == .master ? 1 : 0)
        redisUp.set(to: s.localRole == .down ? 0 : 1)
    }
}
