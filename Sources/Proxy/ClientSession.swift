import Logging
import NIOCore
import RESP

/// One client connection. Commands are found by scanning frame boundaries, queued as slots
/// so replies go back in order, and sent to the shared master connection — or, once the
/// client needs connection state, to a connection of its own, whose state (AUTH, SELECT,
/// HELLO, CLIENT SETNAME, subscriptions) is replayed when the master changes.
final class ClientSession: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Slot {
        enum State: UInt8 { case queued, sent, done }
        var state: State
        var streamed = false
        var expectsReply = true
        var insideTransaction = false
        /// May be served by a replica (`--read-from replicas`).
        var readOnly = false
        var effect: StateEffect = .none
        /// The command's bytes, kept so it can be sent again after -READONLY or a failed
        /// connect; nil when it was streamed.
        var command: ByteBuffer?
        /// Reply bytes received while an earlier reply was still pending.
        var reply: ByteBuffer?
        /// What few commands need, kept out of line so the common slot stays small.
        private var extra: SlotExtra?

        private final class SlotExtra {
            var queuedAt: NIODeadline?
            var closeAfter = false
            var replacement: ByteBuffer?
            var effectArguments: [[UInt8]] = []
        }

        private mutating func withExtra(_ body: (SlotExtra) -> Void) {
            if extra == nil { extra = SlotExtra() }
            body(extra!)
        }

        var queuedAt: NIODeadline? {
            get { extra?.queuedAt }
            set { if newValue != nil || extra != nil { withExtra { $0.queuedAt = newValue } } }
        }
        var closeAfter: Bool {
            get { extra?.closeAfter ?? false }
            set { if newValue || extra != nil { withExtra { $0.closeAfter = newValue } } }
        }
        /// Sent instead of the server's reply (EXEC after the master changed under WATCH).
        var replacement: ByteBuffer? {
            get { extra?.replacement }
            set { if newValue != nil || extra != nil { withExtra { $0.replacement = newValue } } }
        }
        var effectArguments: [[UInt8]] {
            get { extra?.effectArguments ?? [] }
            set { if !newValue.isEmpty || extra != nil { withExtra { $0.effectArguments = newValue } } }
        }
    }

    /// What the client changed on its connection, replayed on a new master.
    struct ReplayState {
        var hello: [[UInt8]]?
        var auth: [[UInt8]]?
        var select: [[UInt8]]?
        var setName: [[UInt8]]?
        var channels: [[UInt8]] = []
        var patterns: [[UInt8]] = []
        var resp3 = false
    }

    /// Kept alive by `runProxy` for as long as any channel exists.
    unowned(unsafe) let loop: ProxyLoop
    private var context: ChannelHandlerContext?
    private var scanner = RESPStreamScanner(mode: .request)
    private var input = ByteBuffer()
    private var scanned = 0
    private var dedicated = false
    private var wantDedicated = false
    private var deferred: ByteBuffer?
    private var link: BackendLink?
    private var slots = SlotQueue()
    private var firstSeq: UInt64 = 0
    private var sentCount = 0
    private var sentOn: ObjectIdentifier?
    private var holdTimer: Scheduled<Void>?
    private var closing = false
    private var gone = false
    private var processing = false
    private var replay = ReplayState()
    private var inMulti = false
    private var watching = false
    private var multiBroken = false
    private var watchBroken = false
    /// A RESP2 subscriber: its messages are not replies, so its bytes flow without slots.
    private var raw = false
    private var streaming = false
    private var discarding = false
    private var readPaused = false
    private var blockedLinks: [BackendLink] = []
    private var flushPending = false
    var touchedByLink = false
    private var selfBound: NIOLoopBound<ClientSession>?

    static let streamThreshold = 64 * 1024
    static let maxSlots = 4096

    init(loop: ProxyLoop) {
        self.loop = loop
    }

    var isWritable: Bool { context?.channel.isWritable ?? true }
    private var subscribed: Bool { !replay.channels.isEmpty || !replay.patterns.isEmpty }
    private var id: ObjectIdentifier { ObjectIdentifier(self) }

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
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !gone {
            gone = true
            loop.context.connectionCount.leave()
            loop.counters.connectedClients -= 1
            if dedicated { loop.counters.dedicatedClients -= 1 }
        }
        loop.sessions[id] = nil
        holdTimer?.cancel()
        holdTimer = nil
        if let link {
            self.link = nil
            link.close()
        }
        slots.removeAll()
        for blocked in blockedLinks { blocked.setReading(true) }
        blockedLinks.removeAll()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent, slots.isEmpty, !subscribed, !closing {
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
        guard !closing, !gone else { return }
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

    // MARK: Commands in

    private func processInput() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while !closing && !wantDedicated && input.readableBytes > scanned {
            let end: Int?
            do {
                end = try scanner.nextFrameEnd(in: input, from: scanned)
            } catch {
                protocolError(error)
                break
            }
            guard let end else {
                scanned = input.readableBytes
                break
            }
            let command = input.readSlice(length: end)!
            scanned = 0
            if discarding {
                discarding = false
                if !scanner.frameIsEmpty {
                    appendLocal(errorReply("the connection to the master was lost while the command was being sent; it did not run"))
                }
                continue
            }
            if streaming {
                streaming = false
                if let link, !link.isClosed {
                    let seq = firstSeq + UInt64(slots.count)
                    let expectsReply = CommandTraits.classify(&scanner, proxyCredentials: nil).expectsReply
                    link.send(command, waiter: expectsReply ? BackendLink.Waiter(session: self, seq: seq) : nil)
                    var slot = Slot(state: .sent, command: nil)
                    slot.expectsReply = expectsReply
                    if slot.expectsReply {
                        slots.append(slot)
                        sentCount += 1
                        sentOn = ObjectIdentifier(link)
                    }
                } else {
                    appendLocal(errorReply("the connection to the master was lost while the command was being sent; it did not run"))
                }
                continue
            }
            handleCommand(command)
        }
        if !closing && !wantDedicated { partialCommand() }
        if input.readableBytes == 0 && scanned == 0 { input = ByteBuffer() }
        pump()
        updateReading()
    }

    /// A command larger than one read: stream it when it has a connection of its own, else
    /// move the client to one (a shared connection cannot carry half a command).
    private func partialCommand() {
        if discarding {
            input.moveReaderIndex(forwardBy: input.readableBytes)
            scanned = 0
            return
        }
        guard scanner.isInsideFrame, input.readableBytes >= Self.streamThreshold || (streaming && input.readableBytes > 0) else { return }
        if !dedicated {
            wantDedicated = true
            checkDedicatedSwitch()
            guard dedicated else { return }
        }
        if streaming {
            guard let link, !link.isClosed, link.isWritable else { return }
        } else {
            guard !slots.hasQueued, let link = dedicatedLink(), link.isWritable else { return }
            if sentCount > 0 && sentOn != ObjectIdentifier(link) { return }
            streaming = true
        }
        let piece = input.readSlice(length: input.readableBytes)!
        scanned = 0
        link!.send(piece, waiter: nil)
    }

    private func handleCommand(_ command: ByteBuffer) {
        if scanner.frameIsEmpty { return }
        loop.counters.commands += 1
        let traits = CommandTraits.classify(&scanner, proxyCredentials: loop.proxyCredentials,
                                            readRouting: loop.readFromReplicas && !dedicated)
        switch traits.route {
        case .local(.quit):
            var ok = ByteBuffer()
            ok.writeString("+OK\r\n")
            var slot = Slot(state: .done, command: nil, reply: ok)
            slot.closeAfter = true
            slots.append(slot)
            closing = true
            deliverReady()
            return
        case .local(.infoProxy):
            let seq = firstSeq + UInt64(slots.count)
            slots.append(Slot(state: .sent, command: nil))
            sentCount += 1
            let bound = selfBound!
            loop.context.router.infoText(on: loop.eventLoop).whenComplete { result in
                bound.value.infoReady(seq: seq, result)
            }
            return
        case .dedicated where !dedicated:
            wantDedicated = true
            deferred = command
            checkDedicatedSwitch()
            return
        default:
            break
        }
        enqueue(command, traits)
    }

    private func enqueue(_ command: ByteBuffer, _ traits: CommandTraits.Classification) {
        var command = command
        var slot = Slot(state: .queued, command: command)
        slot.expectsReply = traits.expectsReply && !raw
        let effect = traits.effect
        if multiBroken {
            switch effect {
            case .exec:
                multiBroken = false
                inMulti = false
                appendLocal(literal: "-EXECABORT Transaction discarded because the master changed during the transaction.\r\n")
            case .discard:
                multiBroken = false
                inMulti = false
                appendLocal(literal: "+OK\r\n")
            case .multi:
                appendLocal(literal: "-ERR MULTI calls can not be nested\r\n")
            default:
                appendLocal(errorReply("the master changed during MULTI; the transaction will be discarded at EXEC"))
            }
            return
        }
        slot.insideTransaction = inMulti
        slot.readOnly = traits.readOnly && !inMulti
        switch effect {
        case .multi:
            inMulti = true
        case .exec:
            if inMulti && watchBroken {
                command = ByteBuffer()
                command.writeRESPCommand(["DISCARD"])
                slot.command = command
                slot.replacement = ByteBuffer(string: replay.resp3 ? "_\r\n" : "*-1\r\n")
            }
            inMulti = false
            watching = false
            watchBroken = false
        case .discard, .unwatch:
            inMulti = effect == .unwatch ? inMulti : false
            watching = false
            watchBroken = false
        case .watch:
            watching = true
        case .auth, .hello, .select, .setName:
            slot.effect = effect
            slot.effectArguments = scanner.arguments.map(Array.init)
        case .subscribe, .psubscribe, .unsubscribe, .punsubscribe:
            applySubscription(effect)
        case .reset:
            replay = ReplayState()
            inMulti = false
            watching = false
            watchBroken = false
        case .none:
            break
        }
        slot.command = command
        slots.append(slot)
    }

    private func applySubscription(_ effect: StateEffect) {
        let arguments = scanner.arguments.dropFirst().map(Array.init)
        switch effect {
        case .subscribe:
            for a in arguments where !replay.channels.contains(a) { replay.channels.append(a) }
        case .psubscribe:
            for a in arguments where !replay.patterns.contains(a) { replay.patterns.append(a) }
        case .unsubscribe:
            replay.channels = arguments.isEmpty ? [] : replay.channels.filter { !arguments.contains($0) }
        case .punsubscribe:
            replay.patterns = arguments.isEmpty ? [] : replay.patterns.filter { !arguments.contains($0) }
        default:
            break
        }
        if !replay.resp3 && subscribed { raw = true }
    }

    private func appendLocal(_ reply: ByteBuffer) {
        slots.append(Slot(state: .done, command: nil, reply: reply))
        loop.counters.proxyErrors += reply.readableBytesView.first == UInt8(ascii: "-") ? 1 : 0
        deliverReady()
    }

    private func appendLocal(literal: String) {
        appendLocal(ByteBuffer(string: literal))
    }

    private func errorReply(_ message: String) -> ByteBuffer {
        ByteBuffer(string: "-ERR Tandem proxy: \(message)\r\n")
    }

    private func protocolError(_ error: RESPProtocolError) {
        closing = true
        var reply = ByteBuffer()
        reply.writeString("-ERR \(error.message)\r\n")
        var slot = Slot(state: .done, command: nil, reply: reply)
        slot.closeAfter = true
        slots.append(slot)
        loop.counters.proxyErrors += 1
        input = ByteBuffer()
        scanned = 0
        deliverReady()
    }

    private func infoReady(seq: UInt64, _ result: Result<String, any Error>) {
        guard !gone, seq >= firstSeq, Int(seq - firstSeq) < slots.count else { return }
        let index = slots.index(slots.startIndex, offsetBy: Int(seq - firstSeq))
        var text = ""
        if case .success(let value) = result { text = value }
        var reply = ByteBuffer()
        reply.writeRESPValue(.bulkString(ByteBuffer(string: text)))
        slots[index].reply = reply
        slots[index].state = .done
        sentCount -= 1
        deliverReady()
        flush()
    }

    // MARK: Dedicated connections

    private func checkDedicatedSwitch() {
        guard wantDedicated, slots.isEmpty else {
            updateReading()
            return
        }
        wantDedicated = false
        dedicated = true
        loop.counters.dedicatedClients += 1
        if let command = deferred {
            deferred = nil
            handleCommand(command)
        }
        if !processing {
            processInput()
        }
    }

    /// This client's own connection to the usable master, opened (with its state replayed)
    /// when needed; nil while there is no usable master or old replies are still due.
    private func dedicatedLink() -> BackendLink? {
        let master = loop.master
        if let link, !link.isClosed, link.target.generation == master?.generation {
            return loop.suspect ? nil : link
        }
        if let link {
            // Closed, or connected to an older master: leave it once its replies are in.
            if !link.isClosed && (sentCount > 0 || streaming || master == nil) { return nil }
            self.link = nil
            link.retire()
            connectionStateLost()
        }
        guard let target = loop.usableMaster else { return nil }
        var handshake = ByteBuffer()
        var replies = 0
        if replay.auth == nil && !(replay.hello?.contains { Self.equalsIgnoringCase($0, "AUTH") } ?? false) {
            handshake = loop.context.handshake()
            replies = loop.context.handshakeReplies
        }
        func add(_ arguments: [[UInt8]]?, _ count: Int = 1) {
            guard let arguments else { return }
            handshake.writeRESPCommand(arguments.map { ByteBuffer(bytes: $0) })
            replies += count
        }
        add(replay.hello)
        add(replay.auth)
        add(replay.select)
        add(replay.setName)
        if !replay.channels.isEmpty { add([Array("SUBSCRIBE".utf8)] + replay.channels, replay.channels.count) }
        if !replay.patterns.isEmpty { add([Array("PSUBSCRIBE".utf8)] + replay.patterns, replay.patterns.count) }
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

    private static func equalsIgnoringCase(_ bytes: [UInt8], _ word: String) -> Bool {
        bytes.count == word.utf8.count && zip(bytes, word.utf8).allSatisfy { a, b in
            (a >= 0x61 && a <= 0x7a ? a - 0x20 : a) == b
        }
    }

    private func connectionStateLost() {
        if inMulti { multiBroken = true }
        if watching { watchBroken = true }
    }

    private func replayFailed(_ error: String) {
        guard !gone, let context else { return }
        if error.hasPrefix("connection lost") { return }  // handled as a lost connection
        let reply = errorReply("could not restore this connection's state on master \(link?.target.endpoint.description ?? "?"): \(error)")
        closing = true
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// The router named a new master.
    func masterChanged() {
        if dedicated {
            _ = dedicatedLink()
        }
    }

    // MARK: Sending

    /// Sends queued commands when a master is usable; otherwise holds them (up to the hold time).
    func pump() {
        guard !gone else { return }
        if dedicated && scanner.isInsideFrame && input.readableBytes > 0 && !processing {
            partialCommand()
            updateReading()
        }
        if dedicated && link == nil && subscribed {
            _ = dedicatedLink()
        }
        guard slots.hasQueued else { return }
        var target: BackendLink?
        if dedicated {
            target = streaming ? nil : dedicatedLink()
        } else {
            // The first queued command decides: a read may go to a replica, anything else to the master.
            var first = 0
            while slots[first].state != .queued { first += 1 }
            target = slots[first].readOnly ? (loop.replicaLinkForSending() ?? loop.sharedLinkForSending()) : loop.sharedLinkForSending()
        }
        guard let target, !(sentCount > 0 && sentOn != ObjectIdentifier(target)), target.isWritable else {
            armHold()
            return
        }
        let toReplica = target.isReplica
        // Consecutive commands go out as one write.
        var batch: ByteBuffer?
        var batchOwned = false
        var index = slots.startIndex
        var seq = firstSeq
        var anyWithoutReply = false
        while index < slots.endIndex {
            if slots[index].state == .queued, var command = slots[index].command {
                // Only commands that can share the target go in this batch; order is kept.
                if !dedicated && (slots[index].readOnly != toReplica) && (toReplica || loop.replicaLinkForSending() != nil) { break }
                slots[index].queuedAt = nil
                if slots[index].expectsReply {
                    // Waiters go in before the bytes; no reply can come in between.
                    target.expectReply(from: self, seq: seq)
                    slots[index].state = .sent
                    if command.readableBytes > 1 << 20 { slots[index].command = nil }
                    sentCount += 1
                    sentOn = ObjectIdentifier(target)
                } else {
                    slots[index].state = .done
                    slots[index].reply = nil
                    anyWithoutReply = true
                }
                if batch == nil {
                    batch = command
                } else {
                    if !batchOwned {
                        var copy = ByteBuffer()
                        copy.reserveCapacity(batch!.readableBytes * 8)
                        copy.writeBuffer(&batch!)
                        batch = copy
                        batchOwned = true
                    }
                    batch!.writeBuffer(&command)
                }
            }
            index = slots.index(after: index)
            seq += 1
        }
        if let batch {
            target.send(batch, waiter: nil)
        }
        if holdTimer != nil {
            holdTimer?.cancel()
            holdTimer = nil
        }
        if anyWithoutReply { deliverReady() }
    }

    private func armHold() {
        guard holdTimer == nil, let bound = selfBound else { return }
        let now = NIODeadline.now()
        var earliest = now
        for index in slots.indices where slots[index].state == .queued {
            if slots[index].queuedAt == nil { slots[index].queuedAt = now }
            earliest = min(earliest, slots[index].queuedAt!)
        }
        let hold = loop.context.settings.hold
        holdTimer = loop.eventLoop.scheduleTask(deadline: earliest + hold) {
            bound.value.holdExpired()
        }
    }

    private func holdExpired() {
        holdTimer = nil
        guard !gone else { return }
        let now = NIODeadline.now()
        let hold = loop.context.settings.hold
        var expired = false
        for index in slots.indices where slots[index].state == .queued {
            if let at = slots[index].queuedAt, at + hold <= now {
                slots[index].state = .done
                slots[index].reply = ByteBuffer(string: "-MASTERDOWN Tandem proxy: no master for '\(loop.context.settings.groupName)' within \(hold.nanoseconds / 1_000_000) ms\r\n")
                loop.counters.heldTimeouts += 1
                loop.counters.proxyErrors += 1
                expired = true
            }
        }
        if expired {
            deliverReady()
            flush()
        }
        pump()
        updateReading()
    }

    // MARK: Replies in

    func receiveReply(_ piece: ByteBuffer, seq: UInt64, ended: Bool, isError: Bool, from link: BackendLink) {
        guard !gone, seq >= firstSeq, Int(seq - firstSeq) < slots.count else { return }
        let index = slots.index(slots.startIndex, offsetBy: Int(seq - firstSeq))
        if isError && BackendLink.isReadOnly(piece) && slots[index].command != nil && !slots[index].insideTransaction
            && slots[index].replacement == nil {
            // The server is no longer the master and did not run the command: send it again
            // to the next master, in order.
            slots[index].state = .queued
            slots[index].reply = nil
            sentCount -= 1
            loop.counters.retriedCommands += 1
            loop.context.logger.info("resending a command to the next master: \(link.target.endpoint) answered -READONLY")
            afterReply()
            return
        }
        if index == slots.startIndex && slots[index].reply == nil && slots[index].replacement == nil {
            write(piece)
            slots[index].streamed = true
        } else if slots[index].replacement == nil {
            var piece = piece
            if slots[index].reply == nil { slots[index].reply = ByteBuffer() }
            slots[index].reply!.writeBuffer(&piece)
        }
        guard ended else { return }
        slots[index].state = .done
        sentCount -= 1
        if slots[index].effect != .none && !isError {
            applyEffect(slots[index].effect, slots[index].effectArguments)
        }
        if index == slots.startIndex { deliverReady() }
        afterReply()
    }

    /// Whether the reply to `seq` can go straight out as part of a run of whole replies
    /// (`offset` replies of the run are before it).
    func acceptsRun(seq: UInt64, offset: Int) -> Bool {
        guard !gone, seq == firstSeq + UInt64(offset), offset < slots.count else { return false }
        return slots[offset].state == .sent && slots[offset].reply == nil && slots[offset].replacement == nil
            && slots[offset].effect == .none && !slots[offset].streamed
    }

    /// `count` whole replies, for the first `count` slots.
    func receiveRun(_ bytes: ByteBuffer, count: Int) {
        write(bytes)
        slots.removeFirst(count)
        firstSeq += UInt64(count)
        sentCount -= count
        deliverReady()
        afterReply()
    }

    private func applyEffect(_ effect: StateEffect, _ arguments: [[UInt8]]) {
        switch effect {
        case .auth: replay.auth = arguments
        case .select: replay.select = arguments
        case .setName: replay.setName = arguments
        case .hello:
            replay.hello = arguments
            if arguments.count >= 2 { replay.resp3 = arguments[1] == Array("3".utf8) }
        default: break
        }
    }

    private func afterReply() {
        if sentCount == 0 {
            if wantDedicated { checkDedicatedSwitch() }
            if slots.hasQueued { pump() }
        }
        updateReading()
    }

    /// A push or a RESP2 subscriber's message from this client's own connection.
    func receiveUnsolicited(_ piece: ByteBuffer) {
        guard !gone else { return }
        write(piece)
    }

    /// A connection closed before the reply to `seq`.
    func linkLost(seq: UInt64, link: BackendLink, commandsWereSent: Bool) {
        guard !gone, seq >= firstSeq, Int(seq - firstSeq) < slots.count else { return }
        let index = slots.index(slots.startIndex, offsetBy: Int(seq - firstSeq))
        guard slots[index].state == .sent else { return }
        sentCount -= 1
        if !commandsWereSent, slots[index].command != nil {
            slots[index].state = .queued  // it never left: send it to the next master
        } else {
            slots[index].state = .done
            if !slots[index].streamed {
                slots[index].reply = errorReply("the connection to master \(link.target.endpoint) closed before the reply; the command may or may not have run")
                slots[index].replacement = nil
                loop.counters.proxyErrors += 1
            }
        }
        if index == slots.startIndex { deliverReady() }
        afterReply()
    }

    /// This client's own connection closed.
    func linkClosed(_ closed: BackendLink) {
        guard closed === link else { return }
        link = nil
        connectionStateLost()
        if streaming {
            streaming = false
            discarding = true
        }
        pump()
    }

    // MARK: Writing

    private func deliverReady() {
        while let first = slots.first, first.state == .done {
            slots.removeFirst()
            firstSeq += 1
            if !first.streamed, let reply = first.replacement ?? first.reply {
                write(reply)
            }
            if first.closeAfter, let context {
                flush()
                context.close(promise: nil)
                return
            }
        }
        if let first = slots.first, first.state == .sent, let partial = first.reply {
            slots[slots.startIndex].reply = nil
            slots[slots.startIndex].streamed = true
            write(partial)
        }
        if slots.isEmpty && wantDedicated && sentCount == 0 {
            checkDedicatedSwitch()
        }
    }

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
        guard !dedicated, !wantDedicated, !gone, !closing else { return }
        loop.context.logger.debug("a client stopped reading its replies; it gets a connection of its own")
        wantDedicated = true
        checkDedicatedSwitch()
    }

    func blockLinkUntilWritable(_ link: BackendLink) {
        if !blockedLinks.contains(where: { $0 === link }) { blockedLinks.append(link) }
    }

    private func updateReading() {
        guard let context else { return }
        let pause = closing || wantDedicated || slots.count > Self.maxSlots
            || input.readableBytes > Self.streamThreshold || !context.channel.isWritable
        guard pause != readPaused else { return }
        readPaused = pause
        try? context.channel.syncOptions?.setOption(.autoRead, value: !pause)
    }
}

extension ClientSession.Slot {
    init(state: State, command: ByteBuffer?, reply: ByteBuffer? = nil) {
        self.state = state
        self.command = command
        self.reply = reply
    }

}
