import ClusterCore
import Logging
import NIOCore
import RESP
import RedisConnection

/// Connections to cluster nodes, one per node and protocol: the loop's shared ones, or a
/// tracking client's own (CLIENT TRACKING: a node tracks the keys read on a connection, so
/// such a client's commands go on connections of its own, each set up with its tracking
/// commands, and their invalidation pushes go to it). Used only on the pool's loop.
final class ClusterLinkSet {
    var links: [ClusterLoopPool.LinkKey: ClusterLoopPool.Link] = [:]
    /// Sent on each new connection after the handshake (a tracking client's accepted CLIENT
    /// TRACKING ON commands); a refusal fails the connection.
    var setup: [[ByteBuffer]] = []
    /// A push from one of the connections (an invalidation).
    var onPush: ((ByteBuffer) -> Void)?
    /// One of the connections closed: what its node tracked is forgotten.
    var onLinkClosed: (() -> Void)?
    let shared: Bool
    /// Tracking ended: no command goes here any more (a retry goes to the shared connections)
    /// and a connection that opens after it closes at once.
    var retired = false
    /// Retired by a RESET (or the client's end): CLIENT TRACKING commands still queued here
    /// are answered without effect; after an OFF they are taken afresh.
    var retiredByReset = false
    /// The node that answers the client's CLIENT TRACKING commands, and those waiting to be
    /// sent there, one at a time (so ON and OFF take effect in the client's order).
    var controlNode: ClusterNodeAddress?
    var control: [(arguments: [ByteBuffer], seq: UInt64, version: Int)] = []
    /// BCAST: the masters a connection was opened to at least once.
    var linkedOnce: Set<ClusterNodeAddress> = []
    /// A command sent without its CLIENT CACHING (an ASK redirection: ASKING and CLIENT
    /// CACHING each cancel the other on a node): what it read may be untracked.
    var onUntracked: (() -> Void)?

    init(shared: Bool) {
        self.shared = shared
    }

    func closeAll() {
        for link in links.values {
            switch link {
            case .ready(let link): link.close()
            case .connecting(let future): future.whenSuccess { $0.close() }
            }
        }
        links = [:]
    }

    /// No more commands or pushes: each connection closes once its replies are in (one still
    /// connecting, once it is open).
    func retire() {
        retired = true
        onPush = nil
        onLinkClosed = nil
        onUntracked = nil
        for link in links.values {
            switch link {
            case .ready(let link):
                link.onPush = nil
                link.closeWhenIdle()
            case .connecting(let future):
                future.whenSuccess { link in
                    link.onPush = nil
                    link.closeWhenIdle()
                }
            }
        }
    }
}

/// One event loop's shared connections to the cluster's nodes, and the retry rules for a
/// stateless command: MOVED (update the map, send again to the new master), ASK (ASKING, then
/// the command, on the connection to the node named), TRYAGAIN and CLUSTERDOWN (again after
/// 100 ms), a node that cannot be reached (refresh the map, again after 100 ms) — all until
/// `--hold-ms` has passed. Used only on its loop.
final class ClusterLoopPool {
    enum Link {
        case connecting(EventLoopFuture<ClusterNodeLink>)
        case ready(ClusterNodeLink)
    }

    /// A stateless command: its arguments (for routing and for a split part), and the bytes the
    /// client sent when they can go out as they are.
    struct Command {
        var arguments: [ByteBuffer]
        var raw: ByteBuffer?
        /// The client's protocol (2 or 3): the command goes on a connection that speaks it.
        var protocolVersion: Int
        /// May change data: with `--wait-replicas` its reply waits for the replicas.
        var write = false
        /// A tracking client's command (nil for everyone else's: one word in the common case).
        var tracked: Tracked?

        /// A tracking client's own connections, and what to send just before the command on
        /// the connection it goes to, its reply dropped (`CLIENT CACHING yes|no`, which
        /// applies to a connection's next command).
        final class Tracked {
            let links: ClusterLinkSet
            let prefix: [ByteBuffer]?
            init(links: ClusterLinkSet, prefix: [ByteBuffer]?) {
                self.links = links
                self.prefix = prefix
            }
        }

        var links: ClusterLinkSet? { tracked?.links }
    }

    /// Shared connections are per node and per protocol: a RESP3 client's commands go on
    /// connections that said `HELLO 3`, so its replies come back as a node gives them to it.
    struct LinkKey: Hashable {
        var node: ClusterNodeAddress
        var protocolVersion: Int
    }

    /// Where a stateless command goes.
    enum Target {
        case slot(Int)
        /// A read, to a replica of the slot's master (`--read-from replicas`); to the master
        /// when there is none, and after any trouble with the replica.
        case replicaOf(Int)
        case node(ClusterNodeAddress)
        case anyMaster
    }

    let eventLoop: any EventLoop
    let topology: ClusterTopology
    let hold: TimeAmount
    let logger: Logger
    /// `--wait-replicas` (nil: asynchronous replication).
    let durability: ClusterDurability?
    /// The loop's shared connections.
    let shared = ClusterLinkSet(shared: true)
    static let retryDelay = TimeAmount.milliseconds(100)
    static let maxRedirects = 16

    init(eventLoop: any EventLoop, topology: ClusterTopology, hold: TimeAmount, logger: Logger) {
        self.eventLoop = eventLoop
        self.topology = topology
        self.hold = hold
        self.logger = logger
        self.durability = topology.settings.clusterDurability
    }

    /// A new connection of a client's own to `node` on this loop (handshake done): transactions,
    /// blocking commands.
    func connect(_ node: ClusterNodeAddress, protocolVersion: Int) -> EventLoopFuture<RedisConnection> {
        let promise = eventLoop.makePromise(of: RedisConnection.self)
        var settings = topology.connectionConfiguration(node)
        if protocolVersion == 3 { settings.protocolVersion = .resp3 }
        let configuration = settings
        let loop = eventLoop
        let readonly = topology.settings.readFromReplicas
        promise.completeWithTask {
            let connection = try await RedisConnection.connect(configuration, eventLoopGroup: loop)
            // Replicas serve reads of their master's slots only after READONLY (harmless on a master).
            if readonly { _ = try await connection.send(["READONLY"]) }
            return connection
        }
        return promise.futureResult
    }

    /// The connection of `set` (the shared ones by default) to `node` in `protocolVersion`,
    /// opened when there is none.
    /// A retired set's command goes to the shared connections (unless `force`: an answer the
    /// set still owes).
    func connection(to node: ClusterNodeAddress, protocolVersion: Int, in set: ClusterLinkSet? = nil,
                    force: Bool = false) -> EventLoopFuture<ClusterNodeLink> {
        let set = set.flatMap { $0.retired && !force ? nil : $0 } ?? shared
        let key = LinkKey(node: node, protocolVersion: protocolVersion)
        switch set.links[key] {
        case .ready(let link) where link.isActive:
            return eventLoop.makeSucceededFuture(link)
        case .connecting(let future):
            return future
        default:
            break
        }
        let future = ClusterNodeLink.connect(node, on: eventLoop, settings: topology.settings, protocolVersion: protocolVersion,
                                             setup: set.setup, onPush: set.onPush,
                                             unconfirmed: { [topology] in topology.unconfirmedWrite() })
        set.links[key] = .connecting(future)
        future.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let link):
                set.links[key] = .ready(link)
                topology.backendConnection(to: node, opened: true)
                link.whenClosed { [self] in
                    topology.backendConnection(to: node, opened: false)
                    if case .ready(let current) = set.links[key], current === link { set.links[key] = nil }
                    if set.shared { topology.requestRefresh() }
                    set.onLinkClosed?()
                }
            case .failure(let error):
                logger.info("cluster node \(node): \(error)")
                set.links[key] = nil
                topology.requestRefresh()
            }
        }
        return future
    }

    /// The loop's clients, to close them when the node agent says this node must not serve.
    private var clients: [ObjectIdentifier: ClusterClient] = [:]
    /// Clients are closed as they connect (the node agent's proxy on a node that must not serve).
    private(set) var refusing = false

    func clientArrived(_ client: ClusterClient) {
        clients[ObjectIdentifier(client)] = client
    }

    func clientLeft(_ client: ClusterClient) {
        clients[ObjectIdentifier(client)] = nil
    }

    func setRefusing(_ on: Bool, closingClients: Bool) {
        guard on != refusing else { return }
        refusing = on
        logger.notice(on ? (closingClients ? "cluster proxy: closing its clients and refusing new ones (this node must not serve)"
                                           : "cluster proxy: refusing new clients (this node must not serve)")
                         : "cluster proxy: taking clients again")
        if on && closingClients { closeClients() }
    }

    func closeClients() {
        guard !clients.isEmpty else { return }
        logger.notice("cluster proxy: closing its \(clients.count) clients (they reconnect to the virtual IP's holder)")
        for client in Array(clients.values) { client.closeNow() }
    }

    /// Closes every shared connection (shutdown).
    func closeAll() {
        shared.closeAll()
    }

    /// Sends a stateless command by `target` and answers with its final reply: never MOVED or
    /// ASK, never a failure (an error reply names what went wrong). `readOnly`: it may be sent
    /// again after its connection closed before the reply. A node's reply comes back as its
    /// bytes; the pool's own errors as values. `toReplica`: a read may go to a replica
    /// (`--read-from replicas`; not SCAN, whose cursor belongs to one node).
    func run(_ arguments: [ByteBuffer], raw: ByteBuffer? = nil, target: Target, readOnly: Bool, protocolVersion: Int,
             toReplica: Bool = true, write: Bool = false, links: ClusterLinkSet? = nil, prefix: [ByteBuffer]? = nil) -> EventLoopFuture<ClusterReply> {
        let promise = eventLoop.makePromise(of: ClusterReply.self)
        run(arguments, raw: raw, target: target, readOnly: readOnly, protocolVersion: protocolVersion, toReplica: toReplica, write: write,
            links: links, prefix: prefix) {
            promise.succeed($0)
        }
        return promise.futureResult
    }

    /// The same, the reply handed to `done` on the loop: no promise and no future per command
    /// (the single-node path's cost, docs/benchmarks.md).
    /// `write`: with `--wait-replicas`, answered once the replicas have it (`ClusterNodeLink`).
    /// `links`: a tracking client's own connections (nil: the shared ones); `prefix`: sent just
    /// before the command on its connection (CLIENT CACHING).
    func run(_ arguments: [ByteBuffer], raw: ByteBuffer? = nil, target: Target, readOnly: Bool, protocolVersion: Int,
             toReplica: Bool = true, write: Bool = false, links: ClusterLinkSet? = nil, prefix: [ByteBuffer]? = nil, done: @escaping Done) {
        let arguments = Command(arguments: arguments, raw: raw, protocolVersion: protocolVersion, write: write,
                                tracked: links.map { Command.Tracked(links: $0, prefix: prefix) })
        var target = target
        // A tracking client's reads stay on its own connections to the masters (tracked there).
        if readOnly && toReplica && links == nil && topology.settings.readFromReplicas, case .slot(let slot) = target { target = .replicaOf(slot) }
        attempt(arguments, target: target, readOnly: readOnly, deadline: .now() + hold, redirects: 0, done: done)
    }

    typealias Done = (ClusterReply) -> Void

    private func resolve(_ target: Target) -> ClusterNodeAddress? {
        switch target {
        case .slot(let slot): return topology.master(forSlot: slot)
        case .replicaOf(let slot): return topology.replica(forSlot: slot) ?? topology.master(forSlot: slot)
        case .node(let node): return node
        case .anyMaster: return topology.anyMaster()
        }
    }

    private func describe(_ target: Target) -> String {
        switch target {
        case .slot(let slot), .replicaOf(let slot): return "slot \(slot)"
        case .node(let node): return "node \(node)"
        case .anyMaster: return "any master"
        }
    }

    private func attempt(_ arguments: Command, target: Target, readOnly: Bool, deadline: NIODeadline, redirects: Int,
                         done: @escaping Done, lastProblem: RESPValue? = nil) {
        guard let node = resolve(target) else {
            topology.requestRefresh()
            later(arguments, target: target, readOnly: readOnly, deadline: deadline, redirects: redirects, done: done,
                  problem: .simpleError("CLUSTERDOWN Tandem proxy: no master known for \(describe(target))"))
            return
        }
        let ready: Link?
        if let tracked = arguments.tracked, !tracked.links.retired {
            ready = tracked.links.links[LinkKey(node: node, protocolVersion: arguments.protocolVersion)]
        } else {
            ready = shared.links[LinkKey(node: node, protocolVersion: arguments.protocolVersion)]
        }
        if case .ready(let link) = ready, link.isActive {
            // The usual case: the connection is up; no future to wait on.
            send(arguments, on: link, node: node, asking: false, target: target, readOnly: readOnly,
                 deadline: deadline, redirects: redirects, done: done)
            return
        }
        connection(to: node, protocolVersion: arguments.protocolVersion, in: arguments.links).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure(let error):
                // Not sent: try again once the map says more (a replica promoted) or the node is back.
                later(arguments, target: target, readOnly: readOnly, deadline: deadline, redirects: redirects, done: done,
                      problem: .simpleError("CLUSTERDOWN Tandem proxy: cannot reach master \(node) for \(describe(target)): \(error)"))
            case .success(let connection):
                send(arguments, on: connection, node: node, asking: false, target: target, readOnly: readOnly,
                     deadline: deadline, redirects: redirects, done: done)
            }
        }
    }

    private func send(_ arguments: Command, on connection: ClusterNodeLink, node: ClusterNodeAddress, asking: Bool,
                      target: Target, readOnly: Bool, deadline: NIODeadline, redirects: Int, done: @escaping Done) {
        if asking { connection.send(encoding: [ByteBuffer(string: "ASKING")], completion: nil) }
        if let prefix = arguments.tracked?.prefix { connection.send(encoding: prefix, completion: nil) }
        let completion: ClusterNodeLink.Completion = { [self] result in
            switch result {
            case .failure(let error):
                topology.requestRefresh()
                if readOnly || (error as? ClusterLinkClosed)?.written == false {
                    // A read, or a command the closed connection never sent: again, wherever the map says.
                    later(arguments, target: target, readOnly: readOnly, deadline: deadline, redirects: redirects, done: done,
                          problem: .simpleError("ERR Tandem proxy: the connection to \(node) closed before the reply: \(error)"))
                } else {
                    done(.value(.simpleError("ERR Tandem proxy: the connection to \(node) closed before the reply; the command may or may not have run")))
                }
            case .success(let frame):
                // Only an error reply (MOVED, ASK, TRYAGAIN…) is read; any other goes on as bytes.
                guard frame.readableBytesView.first == UInt8(ascii: "-") else {
                    done(.frame(frame))
                    return
                }
                handle(ClusterReply.frame(frame).value, frame: frame, from: node, arguments: arguments, target: target, readOnly: readOnly,
                       deadline: deadline, redirects: redirects, done: done)
            }
        }
        if let raw = arguments.raw {
            connection.send(raw: raw, write: arguments.write, completion: completion)
        } else {
            connection.send(encoding: arguments.arguments, write: arguments.write, completion: completion)
        }
    }

    private func handle(_ reply: RESPValue, frame: ByteBuffer, from node: ClusterNodeAddress, arguments: Command, target: Target,
                        readOnly: Bool, deadline: NIODeadline, redirects: Int, done: @escaping Done) {
        guard let message = reply.errorMessage else {
            done(.frame(frame))
            return
        }
        if let redirect = ClusterRedirect(reply, defaultHost: node.host) {
            guard redirects < Self.maxRedirects else {
                done(.value(.simpleError("ERR Tandem proxy: too many cluster redirections (last: \(message))")))
                return
            }
            switch redirect {
            case .moved(let slot, let to):
                let next: Target
                switch target {
                case .node: next = .node(to)
                case .replicaOf(let slot): next = .slot(slot)  // the replica's master has not this slot now
                default: next = target
                }
                topology.moved(slot: slot, to: to)
                attempt(arguments, target: next, readOnly: readOnly, deadline: deadline, redirects: redirects + 1, done: done)
            case .ask(_, let to):
                topology.asked()
                var arguments = arguments
                if let tracked = arguments.tracked, tracked.prefix != nil {
                    arguments.tracked = Command.Tracked(links: tracked.links, prefix: nil)
                    tracked.links.onUntracked?()
                }
                connection(to: to, protocolVersion: arguments.protocolVersion, in: arguments.links).assumeIsolated().whenComplete { [self] result in
                    switch result {
                    case .failure:
                        later(arguments, target: target, readOnly: readOnly, deadline: deadline, redirects: redirects + 1, done: done,
                              problem: reply)
                    case .success(let connection):
                        send(arguments, on: connection, node: to, asking: true, target: target, readOnly: readOnly,
                             deadline: deadline, redirects: redirects + 1, done: done)
                    }
                }
            }
            return
        }
        if case .replicaOf = target, message.hasPrefix("LOADING") || message.hasPrefix("MASTERDOWN") {
            later(arguments, target: target, readOnly: readOnly, deadline: deadline, redirects: redirects, done: done, problem: reply)
            return
        }
        if message.hasPrefix("TRYAGAIN") || message.hasPrefix("CLUSTERDOWN") {
            // A multi-key command during a slot migration, or a cluster still electing: again soon.
            if message.hasPrefix("CLUSTERDOWN") { topology.requestRefresh() }
            later(arguments, target: target, readOnly: readOnly, deadline: deadline, redirects: redirects, done: done, problem: reply)
            return
        }
        done(.frame(frame))
    }

    private func later(_ arguments: Command, target: Target, readOnly: Bool, deadline: NIODeadline, redirects: Int,
                       done: @escaping Done, problem: RESPValue) {
        if case .replicaOf(let slot) = target {
            // A replica that is down, loading or no longer its slot's: the master, at once.
            attempt(arguments, target: .slot(slot), readOnly: readOnly, deadline: deadline, redirects: redirects, done: done)
            return
        }
        guard NIODeadline.now() + Self.retryDelay <= deadline else {
            done(.value(problem))
            return
        }
        eventLoop.assumeIsolated().scheduleTask(in: Self.retryDelay) { [self] in
            attempt(arguments, target: target, readOnly: readOnly, deadline: deadline, redirects: redirects, done: done)
        }
    }
}
