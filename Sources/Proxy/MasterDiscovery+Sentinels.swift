import Logging
import NIOCore
import RESP
import RedisConnection

/// What the sentinel links tell the decision loop, in the order they saw it.
private enum SentinelLinkEvent: Sendable {
    case report(ProxyEndpoint, SentinelReport, peers: [ProxyEndpoint])
    case masterUnknown(ProxyEndpoint)
    case unreachable(ProxyEndpoint, String)
    case switchMaster(ProxyEndpoint, to: ProxyEndpoint)
    /// What a server answered to ROLE, asked at that time (milliseconds since the start).
    case role(ProxyEndpoint, ServerRole, askedAt: Millis)
    case tick
}

extension MasterDiscovery {
    /// How often every sentinel is polled (`SENTINEL MASTER`, `SENTINELS`, `GET-MASTER-ADDR-BY-NAME`).
    static let sentinelPoll = Duration.milliseconds(150)
    /// A sentinel silent for this long counts as unreachable.
    static let sentinelStaleAfter: Millis = 1000
    /// At most this many sentinels learned through `SENTINEL SENTINELS` are followed.
    static let maxDiscoveredSentinels = 16

    /// `--sentinel` mode: one link per sentinel (configured or discovered), all at once; every
    /// reply and event goes, in order, into `SentinelView`, whose choice is published.
    func followSentinels(_ configured: [ProxyEndpoint], name: String) async {
        let (events, sink) = AsyncStream.makeStream(of: SentinelLinkEvent.self)
        // One checker (and kept connection) per server asked: a ROLE check of a master that
        // hangs (cut off: up to its 1 s timeout) must not delay the check of the next one, nor
        // the events that name it — the checks run beside the loop and report back as events.
        var checkers: [ProxyEndpoint: RoleChecker] = [:]
        var asking: Set<ProxyEndpoint> = []
        /// Trouble reported while a check of the master was already out: ask again after it.
        var askAgain = false
        let clock = ContinuousClock()
        let start = clock.now
        func millis() -> Millis { Millis((clock.now - start) / .milliseconds(1)) }
        var view = SentinelView(sentinels: configured, staleAfter: Self.sentinelStaleAfter)
        // Configured names and the addresses they resolve to, so a discovered peer that is a
        // configured sentinel under its IP is not followed twice.
        var known = Set(configured)
        for endpoint in configured {
            if let ip = (try? SocketAddress.makeAddressResolvingHost(endpoint.host, port: endpoint.port))?.ipAddress {
                known.insert(ProxyEndpoint(host: ip, port: endpoint.port))
            }
        }
        var discovered = 0
        let recheck = Millis(settings.checkInterval.nanoseconds / 1_000_000)

        await withDiscardingTaskGroup { group in
            for sentinel in configured {
                group.addTask { await self.sentinelLink(sentinel, name: name, sink: sink) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(50))
                    sink.yield(.tick)
                }
            }
            var lastRoleCheck = Millis.min / 2
            var lastChecked: ProxyEndpoint?
            var described = ""
            var problems = ""
            for await event in events {
                let now = millis()
                var answered = false
                switch event {
                case .report(let sentinel, let report, let peers):
                    view.report(report, from: sentinel, now: now)
                    for peer in peers where !known.contains(peer) && discovered < Self.maxDiscoveredSentinels {
                        known.insert(peer)
                        discovered += 1
                        _ = view.add(peer)
                        logger.notice("sentinel \(sentinel) knows sentinel \(peer); following it too")
                        group.addTask { await self.sentinelLink(peer, name: name, sink: sink) }
                    }
                case .masterUnknown(let sentinel):
                    view.masterUnknown(from: sentinel, now: now)
                case .unreachable(let sentinel, let reason):
                    view.unreachable(sentinel, reason: reason, now: now)
                case .switchMaster(let sentinel, let master):
                    logger.notice("sentinel \(sentinel): +switch-master to \(master)")
                    view.switchMaster(to: master, from: sentinel, now: now)
                case .role(let server, let role, let askedAt):
                    asking.remove(server)
                    view.role(role, of: server, askedAt: askedAt, now: now)
                    if server == view.choice(now: now).master {
                        lastRoleCheck = now
                        answered = true
                    } else if let checker = checkers.removeValue(forKey: server) {
                        // No longer the master: its kept connection is not needed.
                        group.addTask { await checker.close() }
                    }
                case .tick:
                    view.tick(now: now)
                }
                let choice = view.choice(now: now)
                if router.takeTrouble() { askAgain = true }
                // A newly chosen master is asked at once; one that did not answer master yet,
                // every 100 ms; the confirmed one every check interval and on trouble.
                if let master = choice.master, !asking.contains(master),
                   master != lastChecked || askAgain || (choice.needsRoleCheck && now - lastRoleCheck >= 100)
                    || now - lastRoleCheck >= recheck {
                    askAgain = false
                    lastChecked = master
                    asking.insert(master)
                    let checker = checkers[master] ?? RoleChecker(discovery: self)
                    checkers[master] = checker
                    group.addTask {
                        let role = await checker.role(of: master)
                        sink.yield(.role(master, role, askedAt: now))
                    }
                }
                if answered || choice.route != router.currentMaster {
                    // Publishing the same master again confirms it to loops that doubted it.
                    router.publish(choice.route)
                }
                if settings.readFromReplicas { router.publishReplicas(choice.route == nil ? [] : choice.replicas) }
                let text = Self.describe(choice)
                if text != described {
                    described = text
                    if choice.master == nil { logger.warning("\(text)") } else { logger.notice("\(text)") }
                }
                let unreachable = view.problems(now: now).map { "\($0.0) (\($0.1))" }.joined(separator: "; ")
                if unreachable != problems {
                    problems = unreachable
                    if !unreachable.isEmpty { logger.warning("sentinels not heard from: \(unreachable)") }
                }
                router.publishBelief(Self.infoFields(choice, sentinels: view.sentinels.count, unreachable: unreachable))
            }
            group.cancelAll()
        }
        for checker in checkers.values { await checker.close() }
    }

    /// One log line saying whom the proxy believes and why.
    static func describe(_ choice: MasterChoice) -> String {
        guard let master = choice.master, let sentinel = choice.sentinel else {
            return "no master for now: \(choice.reason); holding commands"
        }
        var text = "believing sentinel \(sentinel) (config epoch \(choice.configEpoch ?? 0), "
        text += "reaches \(choice.reachablePeers.map(String.init) ?? "?") of \(choice.knownPeers ?? 0) peers, "
        text += "\(choice.agreeing) of \(choice.reachableSentinels) reachable sentinels agree; \(choice.reason)): master \(master)"
        if choice.route == nil {
            switch choice.masterRole {
            case .replica?: text += ", which still answers ROLE as a replica; holding commands"
            case .unreachable(let why)?: text += ", which does not answer ROLE (\(why)); holding commands"
            default: text += ", not yet confirmed by ROLE"
            }
        }
        return text
    }

    /// The `INFO proxy` fields about the choice.
    static func infoFields(_ choice: MasterChoice, sentinels: Int, unreachable: String) -> [(String, String)] {
        [
            ("believed_sentinel", choice.sentinel?.description ?? "none"),
            ("believed_reason", choice.reason.description),
            ("believed_config_epoch", choice.configEpoch.map(String.init) ?? "none"),
            ("believed_master", choice.master?.description ?? "none"),
            ("believed_sentinel_reachable_peers", choice.reachablePeers.map(String.init) ?? "unknown"),
            ("believed_sentinel_known_peers", choice.knownPeers.map(String.init) ?? "unknown"),
            ("sentinels_agreeing", String(choice.agreeing)),
            ("sentinels_reachable", String(choice.reachableSentinels)),
            ("sentinels_followed", String(sentinels)),
            ("sentinels_unreachable", unreachable.isEmpty ? "none" : unreachable),
        ]
    }

    /// Keeps a command connection (polled) and an event connection (`+switch-master`) to one
    /// sentinel, reconnecting after failures, and reports what it hears.
    private func sentinelLink(_ sentinel: ProxyEndpoint, name: String,
                              sink: AsyncStream<SentinelLinkEvent>.Continuation) async {
        var commands = [["SENTINEL", "MASTER", name], ["SENTINEL", "SENTINELS", name], ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name]]
        if settings.readFromReplicas { commands.append(["SENTINEL", "REPLICAS", name]) }
        let timeout = TimeAmount.milliseconds(Int64(Self.sentinelStaleAfter) / 2)
        while !Task.isCancelled {
            var query: RedisConnection?
            var events: RedisConnection?
            var watcher: Task<Void, Never>?
            do {
                query = try await connectSentinel(sentinel)
                let subscription = try await connectSentinel(sentinel)
                events = subscription
                try await subscription.subscribe(["+switch-master"])
                watcher = Task {
                    for await message in subscription.messages {
                        if let master = SentinelReplies.switchMaster(String(buffer: message.payload), name: name) {
                            sink.yield(.switchMaster(sentinel, to: master))
                        }
                    }
                }
                while !Task.isCancelled {
                    let replies = try await query!.pipeline(commands, timeout: timeout)
                    if let report = try SentinelReplies.report(master: replies[0], sentinels: replies[1], address: replies[2],
                                                                replicas: replies.count > 3 ? replies[3] : nil) {
                        sink.yield(.report(sentinel, report, peers: SentinelReplies.peers(replies[1]).map(\.endpoint)))
                    } else {
                        sink.yield(.masterUnknown(sentinel))
                    }
                    guard subscription.isActive else { throw ProxyStartError("the event connection closed") }
                    try await Task.sleep(for: Self.sentinelPoll)
                }
            } catch {
                if !Task.isCancelled { sink.yield(.unreachable(sentinel, "\(error)")) }
            }
            watcher?.cancel()
            await query?.close()
            await events?.close()
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}
