import ClusterCore
import Logging
import NIOCore
import RESP
import RedisConnection

/// One client of the cluster proxy: reads its commands, takes each one's step from
/// `ClusterClientState` (pure), carries it out on the loop's shared connections or on the
/// client's own ones, and writes the replies back in command order.
final class ClusterClient: ChannelInboundHandler {
    typealias InboundIn = RESPRequest
    typealias OutboundOut = ByteBuffer

    let pool: ClusterLoopPool
    var state: ClusterClientState
    var context: ChannelHandlerContext?
    /// Replies by command, from `firstSeq`; nil until it arrived.
    var replies = CircularBuffer<ClusterReply?>()
    var firstSeq: UInt64 = 0
    var closeAfter: UInt64?
    var closed = false
    /// The client's own connections (transactions, blocking commands), by node and protocol
    /// (a blocking command may still wait on one when HELLO changes the protocol).
    var own: [ClusterLoopPool.LinkKey: EventLoopFuture<RedisConnection>] = [:]
    /// The node holding the client's WATCH or transaction.
    var transactionNode: ClusterNodeAddress?
    var readPaused = false
    /// Pub/sub: a connection of the client's own to each master holding its shard channels;
    /// `mainNode`'s also carries its channels and patterns (and its PING while subscribed).
    /// `sequencer` makes them answer as one node's connection would.
    var links: [ClusterNodeAddress: ClusterSubscription] = [:]
    var mainNode: ClusterNodeAddress?
    /// Which connection holds each shard channel.
    var shardNode: [ByteBuffer: ClusterNodeAddress] = [:]
    var sequencer = PubSubSequencer<ClusterNodeAddress>()
    /// RESET while subscribed: its answer, written once the sequencer has nothing pending.
    var resetAnswer: RESPValue?
    /// What was written while replies were still owed.
    var outOfBand: [RESPValue] = []
    static let maxPending = 1024
    /// A WAIT is pending: the client's later commands wait here until it is answered (a node
    /// runs nothing of a client blocked in WAIT).
    var blockedByWait = false
    var deferred = CircularBuffer<RESPRequest>()
    /// MONITOR: one connection per master running MONITOR, the lines they send that wait for
    /// replies still owed, and the next check of the masters (failovers move them).
    var monitors: [ClusterNodeAddress: ClusterSubscription] = [:]
    var monitorLines: [RESPValue] = []
    var monitorResync: Scheduled<Void>?
    /// Masters whose MONITOR is not yet confirmed, and the client's MONITOR waiting for them.
    var monitorPending: Set<ClusterNodeAddress> = []
    var monitorReply: UInt64?
    /// The WAIT to start once the replies to the commands before it are written.
    var waitToStart: (seq: UInt64, request: ClusterWait.Request, version: Int)?
    /// CLIENT TRACKING: the client's own connections to the nodes, set up with its tracking
    /// commands; its stateless commands go there instead of the shared ones.
    var trackingLinks: ClusterLinkSet?
    /// BCAST: the next check that a tracking connection is open to every master.
    var broadcastResync: Scheduled<Void>?

    init(pool: ClusterLoopPool, configuration: ClusterClientState.Configuration) {
        self.pool = pool
        self.state = ClusterClientState(configuration: configuration)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    var admitted = false

    func channelActive(context: ChannelHandlerContext) {
        if pool.refusing {
            // This node must not serve (the node agent said so): the client goes to the VIP's holder.
            closed = true
            context.close(promise: nil)
            context.fireChannelActive()
            return
        }
        admitted = pool.topology.admitClient()
        if admitted { pool.clientArrived(self) }
        if !admitted {
            // Redis's answer beyond maxclients.
            closed = true
            var buffer = context.channel.allocator.buffer(capacity: 48)
            buffer.writeString("-ERR max number of clients reached\r\n")
            context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
        context.fireChannelActive()
    }

    /// `--idle-timeout`: a client with nothing pending and no subscription is closed.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if replies.isEmpty && !state.subscribed && !state.inTransaction && !closed { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if admitted {
            admitted = false
            pool.topology.clientLeft()
            pool.clientLeft(self)
        }
        closed = true
        for future in own.values {
            future.whenSuccess { connection in Task { await connection.close() } }
        }
        own = [:]
        stopMonitoring()
        for link in links.values { link.close() }
        links = [:]
        retireTracking(afterReset: true)
        context.fireChannelInactive()
    }

    /// Closes the client at once (the node agent's fence or the virtual IP leaving).
    func closeNow() {
        guard let context else { return }
        closed = true
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !closed else { return }
        if let error = error as? RESPProtocolError {
            // Redis's answer to bad input: the error, then the connection closes.
            var buffer = context.channel.allocator.buffer(capacity: 64)
            buffer.writeRESPValue(.simpleError("ERR \(error.message)"))
            context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
        closed = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        guard !closed, closeAfter == nil else { return }
        if blockedByWait {
            deferred.append(request)
            if deferred.count >= Self.maxPending && !readPaused {
                readPaused = true
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            }
            return
        }
        process(request, context: context)
    }

    func process(_ request: RESPRequest, context: ChannelHandlerContext) {
        let seq = firstSeq + UInt64(replies.count)
        replies.append(nil)
        let wasInTransaction = state.inTransaction
        // A RESET's UNWATCH or DISCARD goes on the connection of the protocol the transaction used.
        let versionBefore = state.protocolVersion
        // Looked up once: the state's decisions and the read-only flag below both need it.
        let info = CommandKeys.info(for: request.arguments)
        let wasMonitoring = state.monitoring
        let resetsBefore = state.resets
        let step = state.step(request.arguments, info: info)
        if wasMonitoring && !state.monitoring { stopMonitoring() }  // RESET
        if trackingLinks != nil && state.resets != resetsBefore {
            retireTracking(afterReset: true)  // RESET (also while the first ON waits for its answer)
        }
        // The protocol this command's reply is written in (a HELLO's own reply: the new one).
        let version = state.protocolVersion
        switch step {
        case .reply(let value):
            complete(seq, value.forProtocol(version))
        case .replyAndClose(let value):
            closeAfter = seq
            complete(seq, value)
        case .route(let route):
            let readOnly = info?.flags.contains(.readonly) ?? false
            let write = pool.durability != nil && ClusterDurability.mayWrite(info)
            run(route, request, readOnly: readOnly, write: write, protocolVersion: version, links: trackingLinks,
                prefix: state.cachingPrefix) { [self] in complete(seq, $0) }
        case .hello(let version):
            let hello = [ByteBuffer(string: "HELLO"), ByteBuffer(string: String(version))]
            if version != versionBefore, let node = transactionNode {
                // After WATCH: the connection holding it speaks the new protocol too (EXEC's reply
                // comes in it, as on a node), and stays the transaction's.
                moveOwn(node: node, from: versionBefore, to: version, sending: hello)
            }
            pool.run(hello, target: .anyMaster, readOnly: false, protocolVersion: version).assumeIsolated().whenSuccess { [self] in
                complete(seq, $0)
            }
        case .own(let target, let commands):
            // A write that runs now (EXEC, a blocking pop), not one queued in a transaction.
            let write = pool.durability != nil && !state.inMulti && ClusterDurability.mayWrite(info)
            let blocking = write && info?.flags.contains(.blocking) == true
            // EXEC that ran a queued HELLO (RESET also changes the protocol, on no connection).
            let helloRan = version != versionBefore && CommandKeys.word(request.arguments, 0) == "EXEC"
            runOwn(target, commands, inTransaction: wasInTransaction || state.inTransaction, protocolVersion: versionBefore, write: write,
                   blocking: blocking, protocolAfter: helloRan ? version : nil)
                .assumeIsolated().whenSuccess { [self] in complete(seq, $0.forProtocol(version)) }
        case .subscription(let target):
            subscribe(target, request.arguments, seq: seq)
        case .monitor:
            // `+OK` once every master runs MONITOR: a command sent after it is seen, as on a node.
            monitorReply = seq
            syncMonitors()
            monitorConfirmed(nil)
        case .noReply:
            replies.removeLast()
        case .endSubscriptions(let answer):
            // In the sequencer's order: after the answers to earlier subscription commands.
            replies.removeLast()
            blockedByWait = true
            resetAnswer = answer
            finishResetIfReady()
        case .wait(let request):
            blockedByWait = true
            waitToStart = (seq, request, version)
            startWaitIfReady()
        case .tracking(let arguments):
            trackingCommand(arguments, seq: seq, version: version)
        case .infoProxy:
            let text = pool.topology.infoLines().joined(separator: "\r\n") + "\r\n"
            // RESP3: INFO's text comes as a verbatim string, as from a node.
            complete(seq, version == 3 ? .verbatimString(ByteBuffer(string: "txt:" + text)) : .bulkString(text))
        }
        if !state.inTransaction { transactionNode = nil }
        if replies.count >= Self.maxPending && !readPaused {
            readPaused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    /// A command for one node goes out as the client's bytes and its reply comes back as the
    /// node's; split and keyspace-wide commands are encoded per part and their replies merged.
    /// `write`: with `--wait-replicas`, each part's reply waits for its master's replicas.
    /// `links`: a tracking client's own connections (nil: the shared ones); `prefix`: CLIENT
    /// CACHING, sent just before each part on its connection.
    func run(_ route: ClusterRoute, _ request: RESPRequest, readOnly: Bool, write: Bool = false, protocolVersion version: Int,
             links: ClusterLinkSet? = nil, prefix: [ByteBuffer]? = nil, done: @escaping ClusterLoopPool.Done) {
        let raw = request.isInline ? nil : request.raw
        switch route {
        case .anyMaster:
            // One node: the reply straight to `done`, no future (the common path).
            pool.run(request.arguments, raw: raw, target: .anyMaster, readOnly: readOnly, protocolVersion: version, write: write,
                     links: links, prefix: prefix, done: done)
        case .slot(let slot):
            pool.run(request.arguments, raw: raw, target: .slot(slot), readOnly: readOnly, protocolVersion: version, write: write,
                     links: links, prefix: prefix, done: done)
        default:
            combined(route, request.arguments, readOnly: readOnly, write: write, protocolVersion: version, links: links, prefix: prefix)
                .assumeIsolated().whenSuccess(done)
        }
    }

    /// Commands of several parts or with a reply the proxy makes: split, keyspace-wide, SCAN.
    func combined(_ route: ClusterRoute, _ arguments: [ByteBuffer], readOnly: Bool, write: Bool = false,
                  protocolVersion version: Int, links: ClusterLinkSet? = nil, prefix: [ByteBuffer]? = nil) -> EventLoopFuture<ClusterReply> {
        switch route {
        case .anyMaster:
            return pool.run(arguments, target: .anyMaster, readOnly: readOnly, protocolVersion: version, write: write, links: links, prefix: prefix)
        case .slot(let slot):
            return pool.run(arguments, target: .slot(slot), readOnly: readOnly, protocolVersion: version, write: write, links: links, prefix: prefix)
        case .error(let text):
            return pool.eventLoop.makeSucceededFuture(.value(.simpleError(text)))
        case .split(let plan):
            let futures = plan.parts.map {
                pool.run($0.arguments, target: .slot($0.slot), readOnly: readOnly, protocolVersion: version, write: write,
                         links: links, prefix: prefix)
            }
            let positions = plan.parts.map(\.positions)
            return EventLoopFuture.whenAllSucceed(futures, on: pool.eventLoop).map { replies in
                .value(ClusterRouting.merge(plan.merge, replies: replies.map(\.value), positions: positions, keyCount: plan.keyCount)
                    .forProtocol(version))
            }
        case .allMasters(let merge):
            var masters = pool.topology.masters()
            guard !masters.isEmpty else {
                return pool.eventLoop.makeSucceededFuture(.value(.simpleError("CLUSTERDOWN Tandem proxy: no master known")))
            }
            // RANDOMKEY: the first master asked is taken at random, so keys come from every master.
            if merge == .firstNonNull {
                let start = Int.random(in: 0..<masters.count)
                masters = Array(masters[start...] + masters[..<start])
            }
            let futures = masters.map {
                pool.run(arguments, target: .node($0), readOnly: readOnly, protocolVersion: version, write: write, links: links, prefix: prefix)
            }
            return EventLoopFuture.whenAllSucceed(futures, on: pool.eventLoop).map { replies in
                .value(ClusterRouting.merge(merge, replies: replies.map(\.value)).forProtocol(version))
            }
        case .scan(let position):
            // One master at a time, found by the slot in the cursor (ClusterScan); never a
            // replica: the next call must reach the node that made the cursor.
            let topology = pool.topology
            let slot = ClusterScan.slot(for: position, in: topology.map)
            let master = topology.master(forSlot: slot)
            let command = ClusterScan.nodeArguments(arguments, position: position, master: master)
            return pool.run(command, target: .slot(slot), readOnly: readOnly, protocolVersion: version, toReplica: false,
                            links: links, prefix: prefix).map { reply in
                // Tagged with the master it was sent to: if a failover sent it elsewhere in
                // between, the next call finds another master and starts its part over (never a
                // cursor used on a node that did not make it).
                .value(ClusterScan.reply(reply.value, slot: slot, master: master, map: topology.map))
            }
        }
    }

    /// The client's own connection to `node` now speaks `to` (HELLO sent on it, or run by EXEC):
    /// it is filed under that protocol, replacing any other the client had there.
    func moveOwn(node: ClusterNodeAddress, from: Int, to: Int, sending hello: [ByteBuffer]?) {
        let old = ClusterLoopPool.LinkKey(node: node, protocolVersion: from)
        guard let future = own.removeValue(forKey: old) else { return }
        if let hello { future.whenSuccess { connection in _ = connection.submit(arguments: hello) } }
        let new = ClusterLoopPool.LinkKey(node: node, protocolVersion: to)
        if let replaced = own.updateValue(future, forKey: new) {
            replaced.whenSuccess { connection in Task { await connection.close() } }
        }
    }

    /// The client's own connection to `node`, opened when there is none.
    func ownConnection(to node: ClusterNodeAddress, protocolVersion: Int) -> EventLoopFuture<RedisConnection> {
        let key = ClusterLoopPool.LinkKey(node: node, protocolVersion: protocolVersion)
        if let future = own[key] { return future }
        let future = pool.connect(node, protocolVersion: protocolVersion)
        own[key] = future
        future.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure:
                for (filed, candidate) in own where candidate === future { own[filed] = nil }
                pool.topology.requestRefresh()
            case .success(let connection):
                pool.topology.backendConnection(to: node, opened: true)
                connection.closeFuture.assumeIsolated().whenComplete { [self] _ in
                    pool.topology.backendConnection(to: node, opened: false)
                    guard !closed else { return }
                    // Found by identity: a HELLO may have filed it under another protocol.
                    for (filed, candidate) in own where candidate === future { own[filed] = nil }
                    if transactionNode == node {
                        transactionNode = nil
                        state.ownConnectionClosed()
                    }
                }
                if closed { Task { await connection.close() } }
            }
        }
        return future
    }

    /// Sends `commands` on the client's own connection to the target's master and answers with
    /// the reply the client is owed.
    /// `write`: with `--wait-replicas`, a reply of the last command that ran (an EXEC, a
    /// blocking pop) is answered only once a WAIT on the same connection counted enough replicas
    /// (`blocking`: a blocking write, confirmed by replication offsets instead, see `confirmed`).
    /// `protocolAfter`: the commands switch the connection's protocol (EXEC running a queued
    /// HELLO): it is filed under the new one once they are answered.
    func runOwn(_ target: OwnTarget, _ commands: [OwnCommand], inTransaction: Bool, protocolVersion: Int, write: Bool = false,
                blocking: Bool = false, protocolAfter: Int? = nil, redirects: Int = 0) -> EventLoopFuture<RESPValue> {
        let loop = pool.eventLoop
        let node: ClusterNodeAddress?
        if inTransaction, let pinned = transactionNode {
            node = pinned
        } else {
            switch target {
            case .slot(let slot): node = pool.topology.master(forSlot: slot)
            case .anyMaster: node = pool.topology.anyMaster()
            }
        }
        let durability = write ? pool.durability : nil
        let topology = pool.topology
        guard let node else {
            pool.topology.requestRefresh()
            if inTransaction { state.ownConnectionClosed() }
            return loop.makeSucceededFuture(.simpleError("CLUSTERDOWN Tandem proxy: no master known for this slot"))
        }
        if inTransaction && state.inTransaction { transactionNode = node }
        let byOffsets = blocking ? OffsetConfirmation(pool: pool, node: node, cancelled: { [weak self] in self?.closed ?? true }) : nil
        return ownConnection(to: node, protocolVersion: protocolVersion).flatMapWithEventLoop { connection, loop in
            var answer: EventLoopFuture<RESPValue>?
            for command in commands {
                let reply = connection.submit(arguments: command.arguments)
                switch command.reply {
                case .deliver: answer = Self.confirmed(reply, on: connection, durability: durability, topology: topology, byOffsets: byOffsets)
                case .replace(let value): answer = reply.map { _ in value }
                case .drop: break
                }
            }
            return answer ?? loop.makeSucceededFuture(.simpleString("OK"))
        }.assumeIsolated().flatMap { [self] reply -> EventLoopFuture<RESPValue> in
            if let protocolAfter { moveOwn(node: node, from: protocolVersion, to: protocolAfter, sending: nil) }
            guard let redirect = ClusterRedirect(reply, defaultHost: node.host) else { return loop.makeSucceededFuture(reply) }
            switch redirect {
            case .moved(let slot, let to):
                pool.topology.moved(slot: slot, to: to)
            case .ask:
                pool.topology.asked()
                pool.topology.requestRefresh()
            }
            if inTransaction {
                // Redis flagged the transaction (EXEC will abort); the client learns why.
                return loop.makeSucceededFuture(.simpleError("ERR Tandem proxy: the transaction's slot moved to another master during the transaction; EXEC will abort"))
            }
            // A blocking command that did not run there: to the slot's master now (ASK: after ASKING).
            guard redirects < ClusterLoopPool.maxRedirects else {
                return loop.makeSucceededFuture(.simpleError("ERR Tandem proxy: too many cluster redirections"))
            }
            if case .ask(_, let to) = redirect {
                return ownConnection(to: to, protocolVersion: protocolVersion).flatMap { connection in
                    _ = connection.submit(arguments: [ByteBuffer(string: "ASKING")])
                    let reply = connection.submit(arguments: commands.last!.arguments)
                    // Ran on the importing node: its offsets say whether its replicas have it.
                    return Self.confirmed(reply, on: connection, durability: durability, topology: topology, byOffsets: byOffsets?.at(to))
                }
            }
            return runOwn(target, commands, inTransaction: false, protocolVersion: protocolVersion, write: write, blocking: blocking,
                          redirects: redirects + 1)
        }.nonisolated().flatMapErrorWithEventLoop { error, loop in
            loop.makeSucceededFuture(.simpleError("ERR Tandem proxy: the connection to \(node) closed before the reply; the command may or may not have run"))
        }
    }

    /// Where a blocking write's replication is looked for: the node that ran it (not the slot's
    /// master when the reply comes: an ASK, or the map changing while the pop blocked, make them
    /// differ) and its replicas, through the pool (`ClusterWaitRun`), until the client is gone.
    struct OffsetConfirmation {
        let pool: ClusterLoopPool
        let node: ClusterNodeAddress
        let cancelled: () -> Bool

        func at(_ other: ClusterNodeAddress) -> OffsetConfirmation {
            OffsetConfirmation(pool: pool, node: other, cancelled: cancelled)
        }
    }

    /// `--wait-replicas` on a connection of the client's own: once the write's reply is in and
    /// it ran, WAIT on the same connection; too few replicas (or no answer) → -NOREPLICAS.
    /// A blocking write (`byOffsets`) is confirmed otherwise: a pop that blocked and was then
    /// served by another client's push is replicated as part of that client's command, and a
    /// node's WAIT on the popping connection does not count it (it answers at once with every
    /// replica stopped). Once the reply is in, the master's replication offset is read (it
    /// covers the pop) and its replicas are asked until enough of them have reached it, as the
    /// proxy answers a client's WAIT (`ClusterWaitRun`). In master mode a PUBLISH before the
    /// WAIT does it; a cluster node does not replicate PUBLISH.
    static func confirmed(_ reply: EventLoopFuture<RESPValue>, on connection: RedisConnection, durability: ClusterDurability?,
                          topology: ClusterTopology, byOffsets: OffsetConfirmation? = nil) -> EventLoopFuture<RESPValue> {
        guard let durability else { return reply }
        if let byOffsets {
            return reply.flatMap { value in
                guard ClusterDurability.ran(value) else { return reply }
                let promise = reply.eventLoop.makePromise(of: RESPValue.self)
                var written = WrittenSlots()
                written.insertEveryMaster()  // not empty: the node's offset is the target (the node is given)
                let request = ClusterWait.Request(replicas: Int64(durability.replicas),
                                                  timeoutMilliseconds: Int64(durability.timeoutMilliseconds), written: written)
                let run = ClusterWaitRun(pool: byOffsets.pool, request: request, master: byOffsets.node, cancelled: {
                    guard byOffsets.cancelled() else { return false }
                    promise.succeed(value)  // nobody to answer; the run stops
                    return true
                }) { answer in
                    guard let replacement = durability.replacement(count: answer.int) else {
                        promise.succeed(value)
                        return
                    }
                    topology.unconfirmedWrite()
                    promise.succeed(replacement)
                }
                run.start()
                return promise.futureResult
            }
        }
        // Right behind the command on the same connection (never behind a command the client
        // sends later: a second transaction, another blocking pop).
        let wait = connection.submit(arguments: durability.waitArguments).map { $0.int }.recover { _ in nil }
        return reply.and(wait).map { value, count in
            guard ClusterDurability.ran(value), let replacement = durability.replacement(count: count) else { return value }
            topology.unconfirmedWrite()
            return replacement
        }
    }

    // MARK: Replies out

    /// A value the client gets outside the order of its replies (a message, a MONITOR line):
    /// written now, or kept in `held` until the replies it is still owed are written.
    func writeOutOfOrder(_ value: RESPValue, context: ChannelHandlerContext, holding held: inout [RESPValue]) {
        guard replies.isEmpty else {
            held.append(value)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 128)
        buffer.writeRESPValue(value)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func complete(_ seq: UInt64, _ value: RESPValue) {
        complete(seq, .value(value))
    }

    func complete(_ seq: UInt64, _ reply: ClusterReply) {
        guard !closed, seq >= firstSeq, let context else { return }
        let index = Int(seq - firstSeq)
        guard index < replies.count else { return }
        replies[replies.index(replies.startIndex, offsetBy: index)] = reply
        var wrote = false
        var buffer = context.channel.allocator.buffer(capacity: 256)
        while let first = replies.first, let ready = first {
            replies.removeFirst()
            switch ready {
            case .frame(var frame): buffer.writeBuffer(&frame)
            case .value(let value): buffer.writeRESPValue(value)
            }
            wrote = true
            if closeAfter == firstSeq {
                firstSeq += 1
                context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                closed = true
                return
            }
            firstSeq += 1
        }
        if replies.isEmpty && !outOfBand.isEmpty {
            for value in outOfBand { buffer.writeRESPValue(value) }
            outOfBand = []
            wrote = true
        }
        if replies.isEmpty && !monitorLines.isEmpty {
            for value in monitorLines { buffer.writeRESPValue(value) }
            monitorLines = []
            wrote = true
        }
        if wrote { context.writeAndFlush(wrapOutboundOut(buffer), promise: nil) }
        if waitToStart != nil { startWaitIfReady() }
        if resetAnswer != nil { finishResetIfReady() }
        if readPaused && replies.count < Self.maxPending / 2 && deferred.count < Self.maxPending / 2 {
            readPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
    }
}
