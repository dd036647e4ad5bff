import Logging
import NIOCore
import RESP

/// One client connection: the shell around its `ProxySession`. It finds commands by scanning
/// frame boundaries, feeds them and every backend event to the session, and carries out the
/// session's actions: writes to the client, commands to the shared master connection or to a
/// connection of the client's own, the hold timer, backpressure.
final class ClientSession: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Kept alive by `runProxy` for as long as any channel exists.
    unowned(unsafe) let loop: ProxyLoop
    private var core: ProxySession
    private var context: ChannelHandlerContext?
    private var scanner = RESPStreamScanner(mode: .request)
    private var input = ByteBuffer()
    private var scanned = 0
    /// The client's own connection, when it has one.
    private var link: BackendLink?
    private var holdTimer: Scheduled<Void>?
    private var gone = false
    private var processing = false
    private var readPaused = false
    private var blockedLinks: [BackendLink] = []
    private var flushPending = false
    var touchedByLink = false
    private var selfBound: NIOLoopBound<ClientSession>?

    /// With durability on: the WAIT a shared connection sends after its clients' writes.
    private let waitCommand: ByteBuffer?

    init(loop: ProxyLoop) {
        self.loop = loop
        let settings = loop.context.settings
        let durability: ProxySession.Durability? = settings.waitReplicas > 0
            ? .init(replicas: settings.waitReplicas, timeoutMilliseconds: Int(settings.waitTimeout.nanoseconds / 1_000_000)) : nil
        waitCommand = durability?.waitCommand
        core = ProxySession(configuration: .init(
            hold: settings.hold, groupName: settings.groupName,
            handshake: loop.context.handshake(), handshakeReplies: loop.context.handshakeReplies,
            durability: durability))
    }

    var isWritable: Bool { context?.channel.isWritable ?? true }
    /// Commands of this client held now, waiting for a master (`tandem_proxy_held_commands`).
    var heldCommands: Int { query { $0.heldCommandCount } }
    private var id: ObjectIdentifier { ObjectIdentifier(self) }

    /// Asks the session something in place. A non-mutating call straight on `core` copies the
    /// whole struct first (retaining every buffer in it), as it is a class's stored property;
    /// with the per-reply `acceptsRun` among them the proxy used 14% more CPU per command at
    /// -P 16 than with the same checks written inline.
    @inline(__always)
    private func query<R>(_ body: (inout ProxySession) -> R) -> R {
        body(&core)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        selfBound = NIOLoopBound(self, eventLoop: context.eventLoop)
    }

    func channelActive(context: ChannelHandlerContext) {
        loop.counters.connectionsReceived += 1
        guard loop.context.connectionCount.enter(limit: loop.context.settings.maxConnections) else {
            loop.counters.connectionsRejected += 1
            gone = true
            var error = context.channel.allocator.buffer(capacity: 40)
            error.writeString("-ERR max number of clients reached\r\n")
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(error)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        loop.counters.connectedClients += 1
        loop.sessions[id] = self
        context.fireChannelActive()
        if loop.refusing { closeNow() }
    }

    /// Closes the client now, whatever it waits for (the loop refuses clients).
    func closeNow() {
        context?.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !gone {
            gone = true
            loop.context.connectionCount.leave()
            loop.counters.connectedClients -= 1
            if core.dedicated { loop.counters.dedicatedClients -= 1 }
        }
        loop.sessions[id] = nil
        holdTimer?.cancel()
        holdTimer = nil
        if let link {
            self.link = nil
            link.close()
        }
        core.clientClosed()
        for blocked in blockedLinks { blocked.setReading(true) }
        blockedLinks.removeAll()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent, query({ $0.isIdle }) {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            let links = blockedLinks
            blockedLinks.removeAll()
            for link in links { link.setReading(true) }
        }
        updateReading()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        loop.counters.bytesIn += bytes.readableBytes
        guard !core.closing, !gone else { return }
        if input.readableBytes == 0 {
            input = bytes
        } else {
            input.writeBuffer(&bytes)
        }
        processInput()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush()
    }

    // MARK: Carrying out the session's actions

    /// Carries out what the session decided, in order (an action may lead to more).
    @inline(__always)
    private func perform() {
        if core.hasActions { performActions() }
    }

    private func performActions() {
        while let action = core.nextAction() {
            switch action {
            case .write(let bytes):
                write(bytes)
            case .close:
                if let context {
                    flush()
                    context.close(promise: nil)
                }
            case .failAndClose(let reply):
                guard let context else { break }
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
            case .flush:
                flush()
            case .armHold(let deadline):
                guard let bound = selfBound else { break }
                holdTimer = loop.eventLoop.scheduleTask(deadline: deadline) {
                    bound.value.holdExpired()
                }
            case .cancelHold:
                holdTimer?.cancel()
                holdTimer = nil
            case .fetchInfo(let seq):
                let bound = selfBound!
                loop.context.router.infoText(on: loop.eventLoop).whenComplete { result in
                    bound.value.infoReady(seq: seq, result)
                }
            case .pump:
                pump()
            case .resumeInput:
                if !processing { processInput() }
            case .count(let counter):
                switch counter {
                case .proxyError: loop.counters.proxyErrors += 1
                case .heldTimeout: loop.counters.heldTimeouts += 1
                case .retriedCommand: loop.counters.retriedCommands += 1
                case .becameDedicated: loop.counters.dedicatedClients += 1
                case .unconfirmedWrites: loop.counters.unconfirmedWrites += 1
                }
            }
        }
    }

    // MARK: Commands in

    private func processInput() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while !core.closing && !core.wantDedicated && input.readableBytes > scanned {
            let end: Int?
            do {
                end = try scanner.nextFrameEnd(in: input, from: scanned)
            } catch {
                core.protocolError(error.message)
                input = ByteBuffer()
                scanned = 0
                perform()
                break
            }
            guard let end else {
                scanned = input.readableBytes
                break
            }
            let command = input.readSlice(length: end)!
            scanned = 0
            if core.discarding {
                core.discardedCommandEnded(wasEmpty: scanner.frameIsEmpty)
                perform()
                continue
            }
            if core.streaming {
                let open = link.flatMap { $0.isClosed ? nil : $0 }
                let traits = CommandTraits.classify(&scanner, proxyCredentials: nil, writes: loop.durable)
                let seq = core.streamedCommandEnded(on: open.map(ObjectIdentifier.init), expectsReply: traits.expectsReply,
                                                    mayWrite: traits.mayWrite, blockingWrite: traits.blockingWrite)
                open?.send(command, waiter: seq.map { BackendLink.Waiter(session: self, seq: $0) })
                if let open, let wait = core.syncAfterStreamedCommand() {
                    open.send(wait.bytes, waiter: BackendLink.Waiter(session: self, seq: 0, sync: true, skip: wait.skipping))
                }
                perform()
                continue
            }
            handleCommand(command)
        }
        if !core.closing && !core.wantDedicated { partialCommand() }
        if input.readableBytes == 0 && scanned == 0 { input = ByteBuffer() }
        pump()
        updateReading()
    }

    private func handleCommand(_ bytes: ByteBuffer) {
        if scanner.frameIsEmpty { return }
        loop.counters.commands += 1
        let traits = CommandTraits.classify(&scanner, proxyCredentials: loop.proxyCredentials,
                                            readRouting: loop.readFromReplicas && !core.dedicated, writes: loop.durable)
        // Built in the call so that it is moved into the session, not copied.
        core.command(ProxySession.Command(
            bytes: bytes, traits: traits, arguments: traits.effect == .none ? [] : scanner.arguments.map(Array.init)))
        perform()
    }

    /// A command larger than one read: stream it when it has a connection of its own, else
    /// move the client to one (a shared connection cannot carry half a command).
    private func partialCommand() {
        if core.discarding {
            input.moveReaderIndex(forwardBy: input.readableBytes)
            scanned = 0
            return
        }
        let bufferedInput = input.readableBytes, insideFrame = scanner.isInsideFrame
        guard query({ $0.shouldStream(bufferedInput: bufferedInput, insideFrame: insideFrame) }) else { return }
        if !core.dedicated {
            core.needDedicatedForPartialCommand()
            perform()
            guard core.dedicated else { return }
        }
        let target: BackendLink
        if core.streaming {
            guard let link, !link.isClosed, link.isWritable else { return }
            target = link
        } else {
            guard !query({ $0.hasQueued }), let link = dedicatedLink(), link.isWritable,
                  core.beginStreaming(on: ObjectIdentifier(link)) else { return }
            target = link
        }
        let piece = input.readSlice(length: input.readableBytes)!
        scanned = 0
        target.send(piece, waiter: nil)
    }

    private func infoReady(seq: UInt64, _ result: Result<String, any Error>) {
        guard !gone else { return }
        var text = ""
        if case .success(let value) = result { text = value }
        core.infoReady(seq: seq, text: text)
        perform()
    }

    // MARK: Dedicated connections

    /// This client's own connection to the usable master, opened (with its state replayed)
    /// when needed; nil while there is no usable master or old replies are still due.
    private func dedicatedLink() -> BackendLink? {
        let current = link.map { ProxySession.DedicatedLinkFacts(generation: $0.target.generation, isClosed: $0.isClosed) }
        let step = core.dedicatedLinkStep(current: current, masterGeneration: loop.master?.generation,
                                          usable: loop.usableMaster != nil)
        switch step {
        case .use:
            return link
        case .none(let retire):
            if retire { retireLink() }
            return nil
        case .open(let handshake, let replies, let retire):
            if retire { retireLink() }
            guard let target = loop.usableMaster else { return nil }
            let link = BackendLink(loop: loop, target: target, owner: self, handshake: handshake, handshakeReplies: replies)
            let bound = selfBound!
            link.onReady = { error in
                guard let error else { return }
                bound.value.replayFailed(error)
            }
            self.link = link
            link.connect()
            return link
        }
    }

    private func retireLink() {
        guard let old = link else { return }
        link = nil
        old.retire()
    }

    private func replayFailed(_ error: String) {
        guard !gone, context != nil else { return }
        if error.hasPrefix("connection lost") { return }  // handled as a lost connection
        core.replayFailed(master: link?.target.endpoint.description ?? "?", error: error)
        perform()
    }

    /// The router named a new master.
    func masterChanged() {
        if let link, link.target.generation != loop.master?.generation {
            link.abandonIfConnecting()
            if let master = loop.master { link.supersede(by: master.endpoint) }
        }
        if core.dedicated {
            _ = dedicatedLink()
            perform()
        }
    }

    // MARK: Sending

    /// Sends queued commands when a master is usable; otherwise holds them (up to the hold time).
    func pump() {
        guard !gone else { return }
        if core.dedicated && scanner.isInsideFrame && input.readableBytes > 0 && !processing {
            partialCommand()
            updateReading()
        }
        if core.dedicated && link == nil && query({ $0.subscribed }) {
            _ = dedicatedLink()
        }
        guard query({ $0.hasQueued }) else { return }
        var target: BackendLink?
        if core.dedicated {
            target = core.streaming ? nil : dedicatedLink()
        } else {
            // The first queued command decides: a read may go to a replica, anything else to the master.
            target = query({ $0.firstQueuedIsReadOnly }) ? (loop.replicaLinkForSending() ?? loop.sharedLinkForSending()) : loop.sharedLinkForSending()
        }
        let facts = target.map { ProxySession.LinkFacts(id: ObjectIdentifier($0), isWritable: $0.isWritable, isReplica: $0.isReplica) }
        let loop = self.loop
        let batch = core.sendQueued(on: facts, now: loop.eventLoop.now, replicaAvailable: { loop.replicaLinkForSending() != nil },
                                    expectReply: { seq in target!.expectReply(from: self, seq: seq) },
                                    syncByConnection: target?.isShared ?? false,
                                    expectSync: { skipping in
                                        if target!.isShared {
                                            target!.expectSharedSync(from: self, wait: self.waitCommand!)
                                        } else {
                                            target!.expectSync(from: self, skipping: skipping)
                                        }
                                    })
        if let batch {
            target!.send(batch, waiter: nil)
        }
        perform()
    }

    private func holdExpired() {
        holdTimer = nil
        guard !gone else { return }
        core.holdExpired(now: loop.eventLoop.now)
        perform()
        pump()
        updateReading()
    }

    // MARK: Replies in

    func receiveReply(_ piece: ByteBuffer, seq: UInt64, ended: Bool, isError: Bool, from link: BackendLink) {
        guard !gone else { return }
        if core.receiveReply(piece, seq: seq, ended: ended, isError: isError,
                             replacedMaster: link.superseded ? link.target.endpoint : nil) {
            loop.context.logger.info("resending a command to the next master: \(link.target.endpoint) answered -READONLY")
        }
        perform()
        updateReading()
    }

    /// Whether the reply to `seq` can go straight out as part of a run of whole replies
    /// (`offset` replies of the run are before it).
    func acceptsRun(seq: UInt64, offset: Int) -> Bool {
        !gone && query { $0.acceptsRun(seq: seq, offset: offset) }
    }

    /// `count` whole replies, for the first `count` slots.
    func receiveRun(_ bytes: ByteBuffer, count: Int) {
        write(bytes)
        core.runDelivered(count: count)
        perform()
        updateReading()
    }

    /// The answer to a WAIT sent after this client's writes: the replicas that acknowledged
    /// them, or nil (an error, or the connection closed first).
    func syncReplied(replicas: Int?) {
        guard !gone else { return }
        core.syncReplied(replicas: replicas)
        perform()
        updateReading()
    }

    /// A push or a RESP2 subscriber's message from this client's own connection.
    func receiveUnsolicited(_ piece: ByteBuffer) {
        guard !gone else { return }
        write(piece)
    }

    /// A connection closed before the reply to `seq`.
    func linkLost(seq: UInt64, link: BackendLink, commandsWereSent: Bool) {
        guard !gone else { return }
        core.linkLost(seq: seq, master: link.target.endpoint, commandsWereSent: commandsWereSent)
        perform()
        updateReading()
    }

    /// This client's own connection closed.
    func linkClosed(_ closed: BackendLink) {
        guard closed === link else { return }
        link = nil
        core.dedicatedLinkClosed()
        perform()  // what the loss means to the client (CLIENT TRACKING), even with nothing queued
        pump()
    }

    // MARK: Writing

    private func write(_ bytes: ByteBuffer) {
        guard let context else { return }
        loop.counters.bytesOut += bytes.readableBytes
        context.write(wrapOutboundOut(bytes), promise: nil)
        if !flushPending {
            flushPending = true
            loop.flushLater(self)
        }
    }

    func flush() {
        guard flushPending, let context else { return }
        flushPending = false
        context.flush()
    }

    /// Bytes written to this client that it has not taken yet.
    var bufferedOutboundBytes: Int {
        (try? context?.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    /// The client stopped reading replies that come on a shared connection: its next commands
    /// go on a connection of its own, so that from then on it holds back only itself.
    func leaveSharedConnections() {
        guard !gone, core.wantDedicatedConnection() else { return }
        loop.context.logger.debug("a client stopped reading its replies; it gets a connection of its own")
        perform()
    }

    func blockLinkUntilWritable(_ link: BackendLink) {
        if !blockedLinks.contains(where: { $0 === link }) { blockedLinks.append(link) }
    }

    private func updateReading() {
        guard let context else { return }
        let bufferedInput = input.readableBytes, writable = context.channel.isWritable
        let pause = query { $0.shouldPauseReading(bufferedInput: bufferedInput, clientWritable: writable) }
        guard pause != readPaused else { return }
        readPaused = pause
        try? context.channel.syncOptions?.setOption(.autoRead, value: !pause)
    }
}
