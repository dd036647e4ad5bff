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

    private let pool: ClusterLoopPool
    private var state: ClusterClientState
    private var context: ChannelHandlerContext?
    /// Replies by command, from `firstSeq`; nil until it arrived.
    private var replies = CircularBuffer<ClusterReply?>()
    private var firstSeq: UInt64 = 0
    private var closeAfter: UInt64?
    private var closed = false
    /// The client's own connections (transactions, blocking commands), by node and protocol
    /// (a blocking command may still wait on one when HELLO changes the protocol).
    private var own: [ClusterLoopPool.LinkKey: EventLoopFuture<RedisConnection>] = [:]
    /// The node holding the client's WATCH or transaction.
    private var transactionNode: ClusterNodeAddress?
    private var readPaused = false
    /// Pub/sub: a connection of the client's own to each master holding its shard channels;
    /// `mainNode`'s also carries its channels and patterns (and its PING while subscribed).
    /// `sequencer` makes them answer as one node's connection would.
    private var links: [ClusterNodeAddress: ClusterSubscription] = [:]
    private var mainNode: ClusterNodeAddress?
    /// Which connection holds each shard channel.
    private var shardNode: [ByteBuffer: ClusterNodeAddress] = [:]
    private var sequencer = PubSubSequencer<ClusterNodeAddress>()
    /// RESET while subscribed: its answer, written once the sequencer has nothing pending.
    private var resetAnswer: RESPValue?
    /// What was written while replies were still owed.
    private var outOfBand: [RESPValue] = []
    static let maxPending = 1024
    /// A WAIT is pending: the client's later commands wait here until it is answered (a node
    /// runs nothing of a client blocked in WAIT).
    private var blockedByWait = false
    private var deferred = CircularBuffer<RESPRequest>()
    /// MONITOR: one connection per master running MONITOR, the lines they send that wait for
    /// replies still owed, and the next check of the masters (failovers move them).
    private var monitors: [ClusterNodeAddress: ClusterSubscription] = [:]
    private var monitorLines: [RESPValue] = []
    private var monitorResync: Scheduled<Void>?
    /// Masters whose MONITOR is not yet confirmed, and the client's MONITOR waiting for them.
    private var monitorPending: Set<ClusterNodeAddress> = []
    private var monitorReply: UInt64?
    /// The WAIT to start once the replies to the commands before it are written.
    private var waitToStart: (seq: UInt64, request: ClusterWait.Request, version: Int)?

    init(pool: ClusterLoopPool, configuration: ClusterClientState.Configuration) {
        self.pool = pool
        self.state = ClusterClientState(configuration: configuration)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    private var admitted = false

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

    private func process(_ request: RESPRequest, context: ChannelHandlerContext) {
        let seq = firstSeq + UInt64(replies.count)
        replies.append(nil)
        let wasInTransaction = state.inTransaction
        // A RESET's UNWATCH or DISCARD goes on the connection of the protocol the transaction used.
        let versionBefore = state.protocolVersion
        // Looked up once: the state's decisions and the read-only flag below both need it.
        let info = CommandKeys.info(for: request.arguments)
        let wasMonitoring = state.monitoring
        let step = state.step(request.arguments, info: info)
        if wasMonitoring && !state.monitoring { stopMonitoring() }  // RESET
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
            run(route, request, readOnly: readOnly, protocolVersion: version) { [self] in complete(seq, $0) }
        case .hello(let version):
            let hello = [ByteBuffer(string: "HELLO"), ByteBuffer(string: String(version))]
            pool.run(hello, target: .anyMaster, readOnly: false, protocolVersion: version).assumeIsolated().whenSuccess { [self] in
                complete(seq, $0)
            }
        case .own(let target, let commands):
            runOwn(target, commands, inTransaction: wasInTransaction || state.inTransaction, protocolVersion: versionBefore)
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
    private func run(_ route: ClusterRoute, _ request: RESPRequest, readOnly: Bool, protocolVersion version: Int,
                     done: @escaping ClusterLoopPool.Done) {
        let raw = request.isInline ? nil : request.raw
        switch route {
        case .anyMaster:
            // One node: the reply straight to `done`, no future (the common path).
            pool.run(request.arguments, raw: raw, target: .anyMaster, readOnly: readOnly, protocolVersion: version, done: done)
        case .slot(let slot):
            pool.run(request.arguments, raw: raw, target: .slot(slot), readOnly: readOnly, protocolVersion: version, done: done)
        default:
            combined(route, request.arguments, readOnly: readOnly, protocolVersion: version).assumeIsolated().whenSuccess(done)
        }
    }

    /// Commands of several parts or with a reply the proxy makes: split, keyspace-wide, SCAN.
    private func combined(_ route: ClusterRoute, _ arguments: [ByteBuffer], readOnly: Bool, protocolVersion version: Int) -> EventLoopFuture<ClusterReply> {
        switch route {
        case .anyMaster:
            return pool.run(arguments, target: .anyMaster, readOnly: readOnly, protocolVersion: version)
        case .slot(let slot):
            return pool.run(arguments, target: .slot(slot), readOnly: readOnly, protocolVersion: version)
        case .error(let text):
            return pool.eventLoop.makeSucceededFuture(.value(.simpleError(text)))
        case .split(let plan):
            let futures = plan.parts.map { pool.run($0.arguments, target: .slot($0.slot), readOnly: readOnly, protocolVersion: version) }
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
            let futures = masters.map { pool.run(arguments, target: .node($0), readOnly: readOnly, protocolVersion: version) }
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
            return pool.run(command, target: .slot(slot), readOnly: readOnly, protocolVersion: version, toReplica: false).map { reply in
                // Tagged with the master it was sent to: if a failover sent it elsewhere in
                // between, the next call finds another master and starts its part over (never a
                // cursor used on a node that did not make it).
                .value(ClusterScan.reply(reply.value, slot: slot, master: master, map: topology.map))
            }
        }
    }

    /// The client's own connection to `node`, opened when there is none.
    private func ownConnection(to node: ClusterNodeAddress, protocolVersion: Int) -> EventLoopFuture<RedisConnection> {
        let key = ClusterLoopPool.LinkKey(node: node, protocolVersion: protocolVersion)
        if let future = own[key] { return future }
        let future = pool.connect(node, protocolVersion: protocolVersion)
        own[key] = future
        future.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure:
                if own[key] === future { own[key] = nil }
                pool.topology.requestRefresh()
            case .success(let connection):
                pool.topology.backendConnection(to: node, opened: true)
                connection.closeFuture.assumeIsolated().whenComplete { [self] _ in
                    pool.topology.backendConnection(to: node, opened: false)
                    guard !closed else { return }
                    if own[key] === future { own[key] = nil }
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
    private func runOwn(_ target: OwnTarget, _ commands: [OwnCommand], inTransaction: Bool, protocolVersion: Int,
                        redirects: Int = 0) -> EventLoopFuture<RESPValue> {
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
        guard let node else {
            pool.topology.requestRefresh()
            if inTransaction { state.ownConnectionClosed() }
            return loop.makeSucceededFuture(.simpleError("CLUSTERDOWN Tandem proxy: no master known for this slot"))
        }
        if inTransaction && state.inTransaction { transactionNode = node }
        return ownConnection(to: node, protocolVersion: protocolVersion).flatMapWithEventLoop { connection, loop in
            var answer: EventLoopFuture<RESPValue>?
            for command in commands {
                let reply = connection.submit(arguments: command.arguments)
                switch command.reply {
                case .deliver: answer = reply
                case .replace(let value): answer = reply.map { _ in value }
                case .drop: break
                }
            }
            return answer ?? loop.makeSucceededFuture(.simpleString("OK"))
        }.assumeIsolated().flatMap { [self] reply -> EventLoopFuture<RESPValue> in
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
                    return connection.submit(arguments: commands.last!.arguments)
                }
            }
            return runOwn(target, commands, inTransaction: false, protocolVersion: protocolVersion, redirects: redirects + 1)
        }.nonisolated().flatMapErrorWithEventLoop { error, loop in
            loop.makeSucceededFuture(.simpleError("ERR Tandem proxy: the connection to \(node) closed before the reply; the command may or may not have run"))
        }
    }

    // MARK: MONITOR

    /// Keeps one MONITOR connection to each master of the slot map (opened for a new master,
    /// closed for a node no longer one), checked again every second while the client monitors.
    private func syncMonitors() {
        monitorResync?.cancel()
        monitorResync = nil
        guard state.monitoring, !closed else { return }
        let masters = Set(pool.topology.masters())
        for (node, link) in monitors where !masters.contains(node) {
            link.close()
            monitors[node] = nil
        }
        for node in masters where monitors[node] == nil {
            var made: ClusterSubscription?
            let link = ClusterSubscription(node: node, topology: pool.topology, eventLoop: pool.eventLoop, protocolVersion: state.protocolVersion,
                                           onValue: { [weak self] value in
                                               guard let self else { return }
                                               if monitorPending.contains(node) {
                                                   monitorConfirmed(node)  // the node's +OK (or its refusal): not the client's
                                               } else {
                                                   monitorLine(value)
                                               }
                                           },
                                           onClose: { [weak self] in
                                               guard let self, let made, monitors[node] === made else { return }
                                               monitors[node] = nil
                                               monitorConfirmed(node)
                                           })
            made = link
            monitorPending.insert(node)
            link.send([ByteBuffer(string: "MONITOR")])
            monitors[node] = link
        }
        monitorResync = pool.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [weak self] in self?.syncMonitors() }
    }

    /// A master's MONITOR answered (or its connection failed): the client's `+OK` once none is left.
    private func monitorConfirmed(_ node: ClusterNodeAddress?) {
        if let node { monitorPending.remove(node) }
        guard monitorPending.isEmpty, let seq = monitorReply else { return }
        monitorReply = nil
        complete(seq, .simpleString("OK"))
    }

    private func stopMonitoring() {
        monitorPending = []
        if let seq = monitorReply {
            monitorReply = nil
            complete(seq, .simpleString("OK"))
        }
        monitorResync?.cancel()
        monitorResync = nil
        for link in monitors.values { link.close() }
        monitors = [:]
        monitorLines = []  // not yet written: a node would have sent them before the RESET's reply
    }

    private func monitorLine(_ value: RESPValue) {
        guard !closed, state.monitoring, let context else { return }
        writeOutOfOrder(value, context: context, holding: &monitorLines)
    }

    /// A value the client gets outside the order of its replies (a message, a MONITOR line):
    /// written now, or kept in `held` until the replies it is still owed are written.
    private func writeOutOfOrder(_ value: RESPValue, context: ChannelHandlerContext, holding held: inout [RESPValue]) {
        guard replies.isEmpty else {
            held.append(value)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 128)
        buffer.writeRESPValue(value)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    // MARK: WAIT

    /// Starts the pending WAIT once every reply before it is written: its target offsets are
    /// then read after the client's earlier writes were acknowledged.
    private func startWaitIfReady() {
        guard let (seq, request, version) = waitToStart, firstSeq == seq, !closed else { return }
        waitToStart = nil
        let run = ClusterWaitRun(pool: pool, request: request, cancelled: { [weak self] in self?.closed ?? true }) { [weak self] answer in
            guard let self else { return }
            if answer.errorMessage?.hasPrefix("UNBLOCKED") == true { pool.topology.requestRefresh() }
            complete(seq, answer.forProtocol(version))
            blockedByWait = false
            resumeAfterWait()
        }
        run.start()
    }

    /// The commands that came while WAIT blocked, in order (until another WAIT blocks).
    private func resumeAfterWait() {
        guard let context else { return }
        while !blockedByWait, !closed, closeAfter == nil, let next = deferred.popFirst() {
            process(next, context: context)
        }
        if readPaused && deferred.count < Self.maxPending / 2 && replies.count < Self.maxPending / 2 {
            readPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
    }

    // MARK: Pub/sub

    /// A subscription command (or PING while subscribed) on the client's own connections:
    /// SSUBSCRIBE to its channels' master, SUNSUBSCRIBE to the connections holding them (a
    /// channel nobody holds answered here, as its node would), the rest to `mainNode`'s. The
    /// answers come through the sequencer, so the command takes no reply slot.
    private func subscribe(_ target: OwnTarget, _ arguments: [ByteBuffer], seq: UInt64) {
        let name = CommandKeys.word(arguments, 0)
        switch name {
        case "SSUBSCRIBE":
            guard case .slot(let slot) = target, let node = pool.topology.master(forSlot: slot) else {
                return noMaster(seq)
            }
            replies.removeLast()
            for channel in arguments.dropFirst() { shardNode[channel] = node }
            send(arguments, on: node, kind: .client())
        case "SUNSUBSCRIBE":
            replies.removeLast()
            let named = Array(arguments.dropFirst())
            if named.isEmpty {
                // Every channel, one command per slot (a node refuses channels of two slots in
                // one: CROSSSLOT) on the connection holding it.
                var bySlot: [Int: (node: ClusterNodeAddress, channels: [ByteBuffer])] = [:]
                for (channel, node) in shardNode {
                    bySlot[HashSlot.slot(of: channel.readableBytesView), default: (node, [])].channels.append(channel)
                }
                shardNode = [:]
                if bySlot.isEmpty { apply(sequencer.answered([shardUnsubscribed(nil)])) }
                for (_, group) in bySlot.sorted(by: { $0.key < $1.key }) {
                    send([arguments[0]] + group.channels, on: group.node, kind: .client(), unsubscribing: group.channels)
                }
            } else {
                for channel in named {
                    if let node = shardNode.removeValue(forKey: channel) {
                        send([arguments[0], channel], on: node, kind: .client(), unsubscribing: [channel])
                    } else {
                        apply(sequencer.answered([shardUnsubscribed(channel)]))
                    }
                }
            }
        default:
            // SUBSCRIBE, PSUBSCRIBE, their UNSUBSCRIBEs, PING.
            guard let node = mainNode ?? links.keys.sorted(by: { "\($0)" < "\($1)" }).first ?? pool.topology.anyMaster() else {
                return noMaster(seq)
            }
            replies.removeLast()
            mainNode = node
            send(arguments, on: node, kind: .client(ping: name == "PING"))
        }
    }

    /// `sunsubscribe <channel> <count>` as a node would send it for a channel it does not hold
    /// (the count is the sequencer's): a push in RESP3.
    private func shardUnsubscribed(_ channel: ByteBuffer?) -> RESPValue {
        let items: [RESPValue] = [.bulkString(ByteBuffer(string: "sunsubscribe")), channel.map { .bulkString($0) } ?? .nullBulkString, .integer(0)]
        return state.protocolVersion == 3 ? .push(items) : .array(items)
    }

    private func noMaster(_ seq: UInt64) {
        if links.isEmpty { state.subscriptionsEnded() }
        complete(seq, .simpleError("CLUSTERDOWN Tandem proxy: no master known for this subscription"))
    }

    /// Sends a command on the connection to `node` (made if there is none), with the PING that
    /// marks the end of its answers.
    private func send(_ arguments: [ByteBuffer], on node: ClusterNodeAddress, kind: PubSubSequencer<ClusterNodeAddress>.Kind,
                      unsubscribing: [ByteBuffer]? = nil) {
        let link = link(to: node)
        sequencer.sent(on: node, kind: kind, unsubscribing: unsubscribing, command: arguments)
        link.send(arguments)
        link.send([ByteBuffer(string: "PING")])
    }

    private func link(to node: ClusterNodeAddress) -> ClusterSubscription {
        if let link = links[node] { return link }
        var made: ClusterSubscription?
        let link = ClusterSubscription(node: node, topology: pool.topology, eventLoop: pool.eventLoop, protocolVersion: state.protocolVersion,
                                       onValue: { [weak self] value in
                                           guard let self, let made, self.links[node] === made else { return }
                                           self.apply(self.sequencer.received(value, from: node))
                                       },
                                       onClose: { [weak self] in
                                           guard let self, let made, self.links[node] === made else { return }
                                           self.linkClosed(node)
                                       })
        made = link
        links[node] = link
        return link
    }

    /// Carries out what the sequencer says: values to the client, shard channels to subscribe
    /// again where their slot went, commands redirected to send again.
    private func apply(_ output: PubSubSequencer<ClusterNodeAddress>.Output) {
        guard !closed, let context else { return }
        for value in output.write {
            if let items = value.array, items.count == 3, let kind = items[0].string?.lowercased(),
               kind == "unsubscribe" || kind == "punsubscribe" || kind == "sunsubscribe", items[2].int == 0,
               state.channels.isEmpty && state.patterns.isEmpty && state.shardChannels.isEmpty {
                state.subscriptionsEnded()
            }
            writeOutOfOrder(value, context: context, holding: &outOfBand)
        }
        if !output.moved.isEmpty { resubscribe(shard: output.moved) }
        for redirected in output.resend { resend(redirected.id, redirected.command) }
        finishResetIfReady()
    }

    /// RESET while subscribed, once every earlier subscription command is answered: the
    /// connections closed (the nodes unsubscribe it, no confirmations), +RESET, later commands go.
    private func finishResetIfReady() {
        // After every earlier reply and subscription answer is written (`complete` calls this
        // too): a RESP3 client's regular commands before it may still be owed.
        guard let answer = resetAnswer, sequencer.isIdle, replies.isEmpty, outOfBand.isEmpty, !closed, let context else { return }
        resetAnswer = nil
        for link in links.values { link.close() }
        links = [:]
        mainNode = nil
        shardNode = [:]
        sequencer = PubSubSequencer()
        writeOutOfOrder(answer, context: context, holding: &outOfBand)
        blockedByWait = false
        resumeAfterWait()
    }

    /// Shard channels whose node let them go (a slot moved) or died: subscribed again, by the
    /// proxy, on their slot's master once the map is fresh; the client sees nothing.
    private func resubscribe(shard channels: [ByteBuffer]) {
        for channel in channels { shardNode[channel] = nil }
        pool.topology.requestRefresh()
        pool.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) { [self] in
            guard !closed else { return }
            // One SSUBSCRIBE per slot (a node refuses channels of two slots in one: CROSSSLOT).
            var bySlot: [Int: [ByteBuffer]] = [:]
            var masterless: [ByteBuffer] = []
            for channel in channels where state.shardChannels.contains(channel) && shardNode[channel] == nil {
                let slot = HashSlot.slot(of: channel.readableBytesView)
                if pool.topology.master(forSlot: slot) == nil { masterless.append(channel) } else { bySlot[slot, default: []].append(channel) }
            }
            for (slot, list) in bySlot.sorted(by: { $0.key < $1.key }) {
                guard let node = pool.topology.master(forSlot: slot) else { continue }
                for channel in list { shardNode[channel] = node }
                send([ByteBuffer(string: "SSUBSCRIBE")] + list, on: node, kind: .own)
            }
            if !masterless.isEmpty { resubscribe(shard: masterless) }
        }
    }

    /// A command answered MOVED or ASK: sent again, in its place, to its channel's master once
    /// the map is fresh.
    private func resend(_ id: Int, _ command: [ByteBuffer]) {
        pool.topology.requestRefresh()
        pool.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) { [self] in
            guard !closed else { return }
            let name = CommandKeys.word(command, 0)
            let node: ClusterNodeAddress?
            if name == "SSUBSCRIBE" || name == "SUNSUBSCRIBE" {
                let channel = command.count > 1 ? command[1] : ByteBuffer()
                node = pool.topology.master(forSlot: HashSlot.slot(of: channel.readableBytesView))
            } else {
                // SUBSCRIBE, PSUBSCRIBE (their connection closed): the channels' connection.
                node = mainNode ?? links.keys.sorted(by: { "\($0)" < "\($1)" }).first ?? pool.topology.anyMaster()
                if mainNode == nil { mainNode = node }
            }
            guard let node else { return resend(id, command) }
            if name == "SSUBSCRIBE" {
                for channel in command.dropFirst() { shardNode[channel] = node }
            }
            let link = link(to: node)
            sequencer.resent(id, on: node)
            link.send(command)
            link.send([ByteBuffer(string: "PING")])
        }
    }

    /// A subscription connection closed (its node died or failed over): what it held is
    /// subscribed again, by the proxy, on a master found afresh.
    private func linkClosed(_ node: ClusterNodeAddress) {
        links[node] = nil
        apply(sequencer.closed(node))
        guard !closed else { return }
        let shard = shardNode.filter { $0.value == node }.map(\.key)
        if !shard.isEmpty { resubscribe(shard: shard) }
        guard mainNode == node else { return }
        mainNode = nil
        resubscribeMain()
    }

    /// The channels and patterns subscribed again on a live master (their connection closed).
    private func resubscribeMain() {
        guard !state.channels.isEmpty || !state.patterns.isEmpty else { return }
        pool.topology.requestRefresh()
        pool.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) { [self] in
            guard !closed, mainNode == nil, !state.channels.isEmpty || !state.patterns.isEmpty else { return }
            guard let node = links.keys.sorted(by: { "\($0)" < "\($1)" }).first ?? pool.topology.anyMaster() else {
                return resubscribeMain()
            }
            mainNode = node
            for (name, list) in [("SUBSCRIBE", state.channels), ("PSUBSCRIBE", state.patterns)] where !list.isEmpty {
                send([ByteBuffer(string: name)] + list, on: node, kind: .own)
            }
        }
    }

    private func complete(_ seq: UInt64, _ value: RESPValue) {
        complete(seq, .value(value))
    }

    private func complete(_ seq: UInt64, _ reply: ClusterReply) {
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
