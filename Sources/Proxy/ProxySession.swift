import NIOCore
import RESP

/// Every decision about one proxy client, with no channel, no clock and no I/O: which
/// commands wait, which go out and where, what the client is told and in what order, what
/// state is replayed on a new master, what happens to a transaction or a WATCH when the master
/// changes under it, and when held commands give up with -MASTERDOWN.
///
/// `ClientSession` is the shell: it parses commands, owns the channel, the backend links and
/// the hold timer, feeds events in and carries out the `Action`s taken with `nextAction()`
/// in order. Methods that need a fact about a backend link take it as an argument.
///
/// Split by concern over ProxySession*.swift (this file: commands in, sending, holding, replies;
/// +OwnConnection: large commands and a connection of the client's own; +Durability: WAIT after
/// writes; +Types: the values). Its state is changed only in those files; the shell only reads it.
struct ProxySession {
    let configuration: Configuration
    var slots = SlotQueue()
    private(set) var firstSeq: UInt64 = 0
    /// Commands sent and not yet answered.
    var sentCount = 0
    /// The link the unanswered commands went to: commands go to another only when all are in.
    var sentOn: ObjectIdentifier?
    private(set) var replay = ReplayState()
    private(set) var inMulti = false
    private(set) var watching = false
    /// The master changed inside MULTI: the transaction ends in -EXECABORT.
    var multiBroken = false
    /// The master changed under WATCH: EXEC becomes DISCARD and answers a nil reply.
    var watchBroken = false
    /// Inside MULTI: the position of the next command queued (its element in EXEC's reply).
    var transactionPosition = 0
    /// State changes queued in the transaction whose replies are in (AUTH, SELECT, HELLO,
    /// CLIENT SETNAME, CLIENT TRACKING inside MULTI): recorded for replay only at EXEC, for
    /// the elements of its reply that are not errors; DISCARD, EXECABORT or a nil EXEC drop them.
    var queuedEffects: [QueuedEffect] = []
    /// The start of EXEC's reply (at most `execReplyKept` bytes), kept while queued effects
    /// wait for it: enough to see the elements before a large one (`TransactionReply`).
    var execReply: ByteBuffer?
    static let execReplyKept = 1 << 20
    /// A RESP2 subscriber: its messages are not replies, so its bytes flow without slots.
    private(set) var raw = false
    /// QUIT, a protocol error or a failed replay: no more commands are read.
    var closing = false
    /// The client was told that the connection holding its CLIENT TRACKING was lost (until the
    /// next connection opens).
    var trackingLossTold = false
    /// The client has a connection of its own.
    var dedicated = false
    /// The client moves to a connection of its own once its pending replies are in.
    var wantDedicated = false
    var deferred: Command?
    /// A large command is going to the client's own connection piece by piece.
    var streaming = false
    /// That connection closed mid-command: the rest of the command is dropped.
    var discarding = false
    private(set) var holdArmed = false
    /// With durability on: for each WAIT sent and not yet answered, the sequence number of the
    /// last command it covers (in the order sent; they answer in that order). Kept by
    /// ProxySession+Durability.swift.
    var gates = CircularBuffer<UInt64>(initialCapacity: 4)
    private var outbox: [Action] = []
    private var outboxHead = 0

    init(configuration: Configuration) {
        self.configuration = configuration
        outbox.reserveCapacity(4)
    }

    @inline(__always)
    var subscribed: Bool { !replay.channels.isEmpty || !replay.patterns.isEmpty }
    @inline(__always)
    var hasQueued: Bool { slots.hasQueued }
    /// Nothing pending and nothing subscribed: an idle timeout may close the client.
    @inline(__always)
    var isIdle: Bool { slots.isEmpty && !subscribed && !closing }

    /// Whether `nextAction()` has anything (checked inline on the byte path, where there
    /// rarely is).
    @inline(__always)
    var hasActions: Bool { outboxHead < outbox.count }

    /// The next thing for the shell to do, in the order decided.
    mutating func nextAction() -> Action? {
        guard outboxHead < outbox.count else { return nil }
        let action = outbox[outboxHead]
        outboxHead += 1
        if outboxHead == outbox.count {
            outbox.removeAll(keepingCapacity: true)
            outboxHead = 0
        }
        return action
    }

    mutating func emit(_ action: Action) {
        outbox.append(action)
    }

    /// Replies (or confirmations) still owed by the link the session last sent on.
    @inline(__always)
    var owed: Bool { sentCount > 0 || !gates.isEmpty }

    /// The client is gone: forget every pending command and action.
    mutating func clientClosed() {
        gates.removeAll()
        slots.removeAll()
        outbox.removeAll()
        outboxHead = 0
        holdArmed = false
    }

    /// Whether the shell should stop reading from the client.
    @inline(__always)
    func shouldPauseReading(bufferedInput: Int, clientWritable: Bool) -> Bool {
        closing || wantDedicated || slots.count > configuration.maxSlots
            || bufferedInput > configuration.streamThreshold || !clientWritable
    }

    // MARK: Commands in

    /// A whole command from the client.
    mutating func command(_ command: consuming Command) {
        switch command.traits.route {
        case .local(.quit):
            var slot = Slot(state: .done, command: nil, reply: ByteBuffer(string: "+OK\r\n"))
            slot.closeAfter = true
            slots.append(slot)
            closing = true
            deliverReady()
            return
        case .local(.infoProxy):
            let seq = firstSeq + UInt64(slots.count)
            slots.append(Slot(state: .sent, command: nil))
            sentCount += 1
            emit(.fetchInfo(seq: seq))
            return
        case .dedicated where !dedicated:
            wantDedicated = true
            deferred = command
            checkDedicatedSwitch()
            return
        default:
            break
        }
        enqueue(command)
    }

    /// Input the scanner cannot parse: Redis's error, then close.
    mutating func protocolError(_ message: String) {
        closing = true
        var slot = Slot(state: .done, command: nil, reply: ByteBuffer(string: "-ERR \(message)\r\n"))
        slot.closeAfter = true
        slots.append(slot)
        emit(.count(.proxyError))
        deliverReady()
    }

    /// `INFO proxy`'s text for the command `seq` (empty when it could not be had).
    mutating func infoReady(seq: UInt64, text: String) {
        guard let index = index(of: seq) else { return }
        var reply = ByteBuffer()
        reply.writeRESPValue(.bulkString(ByteBuffer(string: text)))
        slots[index].reply = reply
        slots[index].state = .done
        sentCount -= 1
        deliverReady()
        emit(.flush)
    }

    private mutating func enqueue(_ command: consuming Command) {
        var bytes = command.bytes
        let traits = command.traits
        var slot = Slot(state: .queued, command: bytes)
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
                appendLocal(Self.errorReply("the master changed during MULTI; the transaction will be discarded at EXEC"))
            }
            return
        }
        slot.insideTransaction = inMulti
        slot.readOnly = traits.readOnly && !inMulti
        // With durability on, a command that may change data outside a transaction, or the
        // EXEC that runs one, waits for the replicas.
        slot.write = configuration.durability != nil && (traits.mayWrite && !inMulti || effect == .exec)
        slot.blockingWrite = slot.write && traits.blockingWrite
        switch effect {
        case .multi:
            // Nested: Redis refuses it (`MULTI calls can not be nested`) and the transaction
            // goes on; it takes no place in EXEC's reply.
            if !inMulti {
                transactionPosition = 0
                slot.effect = .multi
            }
            inMulti = true
        case .exec:
            slot.effect = .exec
            if inMulti && watchBroken {
                bytes = ByteBuffer()
                bytes.writeRESPCommand(["DISCARD"])
                slot.replacement = ByteBuffer(string: replay.resp3 ? "_\r\n" : "*-1\r\n")
                slot.write = false
            }
            inMulti = false
            watching = false
            watchBroken = false
        case .discard, .unwatch:
            if effect == .discard { slot.effect = .discard }
            inMulti = effect == .unwatch ? inMulti : false
            watching = false
            watchBroken = false
        case .watch:
            // Inside MULTI Redis refuses it (`WATCH inside MULTI is not allowed`), not queued.
            if !inMulti { watching = true }
        case .auth, .hello, .select, .setName, .tracking:
            slot.effect = effect
            slot.effectArguments = command.arguments
            if inMulti { slot.transactionPosition = transactionPosition }
        case .subscribe, .psubscribe, .unsubscribe, .punsubscribe:
            applySubscription(effect, command.arguments.dropFirst())
        case .reset:
            replay = ReplayState()
            inMulti = false
            watching = false
            watchBroken = false
        case .none:
            break
        }
        // Queued by the master (an element of EXEC's reply): all but the commands a
        // transaction runs at once (EXEC, DISCARD, a nested MULTI, WATCH, RESET).
        if slot.insideTransaction && ![.exec, .discard, .multi, .watch, .reset].contains(effect) { transactionPosition += 1 }
        slot.syncPoint = !inMulti
        slot.command = bytes
        slots.append(slot)
    }

    private mutating func applySubscription(_ effect: StateEffect, _ arguments: ArraySlice<[UInt8]>) {
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

    mutating func appendLocal(_ reply: ByteBuffer) {
        slots.append(Slot(state: .done, command: nil, reply: reply))
        if reply.readableBytesView.first == UInt8(ascii: "-") { emit(.count(.proxyError)) }
        deliverReady()
    }

    mutating func appendLocal(literal: String) {
        appendLocal(ByteBuffer(string: literal))
    }

    static func errorReply(_ message: String) -> ByteBuffer {
        ByteBuffer(string: "-ERR Tandem proxy: \(message)\r\n")
    }

    static let lostWhileSending = "the connection to the master was lost while the command was being sent; it did not run"

    // MARK: Sending

    /// Whether the first queued command may be served by a replica (a stateless client's
    /// queued commands go to a replica or to the master as the first one decides).
    @inline(__always)
    var firstQueuedIsReadOnly: Bool {
        var first = 0
        while first < slots.count && slots[first].state != .queued { first += 1 }
        return first < slots.count && slots[first].readOnly
    }

    /// Sends the queued commands that can go to `link` now, in order, and returns their bytes
    /// as one write; `expectReply` is called for each command that waits for a reply, before the
    /// bytes go. With no link, an unwritable one, or another link still owing replies, the
    /// commands are held (the hold timer is armed; `now` is only read then). `replicaAvailable` says whether reads have
    /// a replica to go to (only asked when the batch would mix reads and writes).
    /// With durability on, a WAIT follows the writes (before a MULTI, and at the end of the
    /// batch), and `expectSync` is called for it in its place among the `expectReply` calls,
    /// with the number of replies to swallow before the WAIT's (the PUBLISH sent before it
    /// after a blocking write, `Durability.offsetRefresh`).
    /// With `syncByConnection` (a shared connection) the WAIT is not in the batch: the connection
    /// sends one after the writes of every client in this event-loop turn.
    @inline(__always)  // one caller, on the byte path: its closures are inlined too
    mutating func sendQueued(on link: LinkFacts?, now: @autoclosure () -> NIODeadline, replicaAvailable: () -> Bool,
                             expectReply: (UInt64) -> Void, syncByConnection: Bool = false,
                             expectSync: (_ skipping: Int) -> Void = { _ in }) -> ByteBuffer? {
        guard let link, !(owed && sentOn != link.id), link.isWritable else {
            armHold(now: now())
            return nil
        }
        let toReplica = link.isReplica
        // Consecutive commands go out as one write.
        var batch: ByteBuffer?
        var batchOwned = false
        var index = slots.startIndex
        var seq = firstSeq
        var anyWithoutReply = false
        // Durability: whether a write went into the batch since the last WAIT, and the last
        // command sent (a WAIT covers the commands up to it).
        let durable = configuration.durability != nil
        var unconfirmed = false
        var unconfirmedBlocking = false
        var lastSent = seq
        while index < slots.endIndex {
            if slots[index].state == .queued, var command = slots[index].command {
                // Only commands that can share the target go in this batch; order is kept.
                if !dedicated && (slots[index].readOnly != toReplica) && (toReplica || replicaAvailable()) { break }
                if durable {
                    if unconfirmed && !slots[index].syncPoint && !slots[index].insideTransaction {
                        // A MULTI: the WAIT goes before it (inside a transaction it would be queued).
                        appendWait(to: &batch, owned: &batchOwned, covering: lastSent, inBatch: !syncByConnection,
                                   afterBlocking: unconfirmedBlocking, expectSync: expectSync)
                        unconfirmed = false
                        unconfirmedBlocking = false
                    }
                    if slots[index].write { unconfirmed = true }
                    if slots[index].blockingWrite { unconfirmedBlocking = true }
                    if unconfirmed && slots[index].expectsReply { slots[index].gated = true }
                    lastSent = seq
                }
                slots[index].queuedAt = nil
                if slots[index].expectsReply {
                    // Waiters go in before the bytes; no reply can come in between.
                    expectReply(seq)
                    slots[index].state = .sent
                    if command.readableBytes > 1 << 20 { slots[index].command = nil }
                    sentCount += 1
                    sentOn = link.id
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
        if unconfirmed {
            appendWait(to: &batch, owned: &batchOwned, covering: lastSent, inBatch: !syncByConnection,
                       afterBlocking: unconfirmedBlocking, expectSync: expectSync)
        }
        if holdArmed {
            holdArmed = false
            emit(.cancelHold)
        }
        if anyWithoutReply { deliverReady() }
        return batch
    }

    /// Commands held now: queued while the hold timer is armed (no master, or no connection to
    /// it that can take them). Counted when asked (a scrape), not kept on the byte path.
    var heldCommandCount: Int {
        guard holdArmed else { return 0 }
        var count = 0
        for index in slots.indices where slots[index].state == .queued { count += 1 }
        return count
    }

    private mutating func armHold(now: NIODeadline) {
        guard !holdArmed else { return }
        var earliest = now
        for index in slots.indices where slots[index].state == .queued {
            if slots[index].queuedAt == nil { slots[index].queuedAt = now }
            earliest = min(earliest, slots[index].queuedAt!)
        }
        holdArmed = true
        emit(.armHold(earliest + configuration.hold))
    }

    /// The hold timer fired: commands held for the hold time get -MASTERDOWN. The shell pumps
    /// afterwards (which arms the timer again for what is still held).
    mutating func holdExpired(now: NIODeadline) {
        holdArmed = false
        let hold = configuration.hold
        var expired = false
        for index in slots.indices where slots[index].state == .queued {
            if let at = slots[index].queuedAt, at + hold <= now {
                slots[index].state = .done
                slots[index].reply = ByteBuffer(string: "-MASTERDOWN Tandem proxy: no master for '\(configuration.groupName)' within \(hold.nanoseconds / 1_000_000) ms\r\n")
                emit(.count(.heldTimeout))
                emit(.count(.proxyError))
                expired = true
            }
        }
        if expired {
            deliverReady()
            emit(.flush)
        }
    }

    // MARK: Replies in

    private func index(of seq: UInt64) -> Int? {
        guard seq >= firstSeq, Int(seq - firstSeq) < slots.count else { return nil }
        return slots.index(slots.startIndex, offsetBy: Int(seq - firstSeq))
    }

    static func isReadOnlyError(_ frame: ByteBuffer) -> Bool {
        frame.readableBytesView.starts(with: "-READONLY".utf8)
    }

    /// A piece of the reply to `seq` (the whole of it if `ended`). Returns true when the reply
    /// was -READONLY and the command is queued again for the next master.
    ///
    /// `replacedMaster`: the reply comes from a master the group has since replaced (another
    /// server is the master now). A command that may have changed data and that it answered
    /// without an error ran there at some unknown point: before the failover (then the new
    /// master may have it) or after it (a frozen or cut-off master that woke or was reached
    /// again: then it is lost when that server is made a replica). Its client gets an error
    /// saying the outcome is unknown, never the old master's acknowledgement.
    @discardableResult
    mutating func receiveReply(_ piece: ByteBuffer, seq: UInt64, ended: Bool, isError: Bool,
                               replacedMaster: ProxyEndpoint? = nil) -> Bool {
        guard let index = index(of: seq) else { return false }
        if let replacedMaster, !isError, slots[index].reply == nil, !slots[index].streamed,
           slots[index].replacement == nil, Self.mayHaveWritten(slots[index]) {
            slots[index].replacement = Self.errorReply(
                "master \(replacedMaster) answered after the group had replaced it; the command may or may not have run, and if it ran there it may be lost")
            slots[index].effect = .none
            emit(.count(.proxyError))
        }
        if isError && Self.isReadOnlyError(piece) && slots[index].command != nil && !slots[index].insideTransaction
            && slots[index].replacement == nil {
            // The server is no longer the master and did not run the command: send it again
            // to the next master, in order.
            slots[index].state = .queued
            slots[index].reply = nil
            sentCount -= 1
            emit(.count(.retriedCommand))
            afterReply()
            return true
        }
        if slots[index].effect == .exec && !queuedEffects.isEmpty && (execReply?.readableBytes ?? 0) < Self.execReplyKept {
            if execReply == nil { execReply = ByteBuffer() }
            let room = Self.execReplyKept - execReply!.readableBytes
            var kept = piece.getSlice(at: piece.readerIndex, length: min(room, piece.readableBytes))!
            execReply!.writeBuffer(&kept)
        }
        if index == slots.startIndex && slots[index].reply == nil && slots[index].replacement == nil && !slots[index].gated {
            emit(.write(piece))
            slots[index].streamed = true
        } else if slots[index].replacement == nil {
            var piece = piece
            if slots[index].reply == nil { slots[index].reply = ByteBuffer() }
            slots[index].reply!.writeBuffer(&piece)
        }
        guard ended else { return false }
        slots[index].state = .done
        sentCount -= 1
        if slots[index].effect != .none {
            effectReplied(slots[index], isError: isError)
        }
        if index == slots.startIndex { deliverReady() }
        afterReply()
        return false
    }

    /// Whether the reply to `seq` can go straight out as part of a run of whole replies
    /// (`offset` replies of the run are before it).
    @inline(__always)
    func acceptsRun(seq: UInt64, offset: Int) -> Bool {
        guard seq == firstSeq + UInt64(offset), offset < slots.count else { return false }
        return slots[offset].state == .sent && slots[offset].reply == nil && slots[offset].replacement == nil
            && slots[offset].effect == .none && !slots[offset].streamed && !slots[offset].gated
    }

    /// The shell wrote `count` whole replies, for the first `count` slots, to the client.
    @inline(__always)  // one caller, on the byte path: its closures are inlined too
    mutating func runDelivered(count: Int) {
        slots.removeFirst(count)
        firstSeq += UInt64(count)
        sentCount -= count
        deliverReady()
        afterReply()
    }

    mutating func applyEffect(_ effect: StateEffect, _ arguments: [[UInt8]]) {
        switch effect {
        case .auth: replay.auth = arguments
        case .select: replay.select = arguments
        case .setName: replay.setName = arguments
        case .tracking: replay.tracking = Self.tracking(after: replay.tracking, arguments)
        case .hello:
            replay.hello = arguments
            if arguments.count >= 2 { replay.resp3 = arguments[1] == Array("3".utf8) }
        default: break
        }
    }

    mutating func afterReply() {
        if !owed {
            if wantDedicated { checkDedicatedSwitch() }
            if slots.hasQueued { emit(.pump) }
        }
    }

    /// Whether a command answered by a replaced master may have changed data: anything but a
    /// read-only or non-writing command, and inside MULTI only the EXEC (the commands before it
    /// were only queued). A command whose bytes were not kept counts as a write.
    static func mayHaveWritten(_ slot: Slot) -> Bool {
        guard let command = slot.command else { return true }
        var scanner = RESPStreamScanner(mode: .request)
        guard (try? scanner.nextFrameEnd(in: command, from: 0)) != nil else { return true }
        if scanner.argument(0, is: "EXEC") { return true }
        if slot.insideTransaction { return false }
        return CommandTraits.classify(&scanner, proxyCredentials: nil, writes: true).mayWrite
    }

    /// A connection closed before the reply to `seq`. `commandsWereSent`: it had connected,
    /// so the command may have run.
    mutating func linkLost(seq: UInt64, master: ProxyEndpoint, commandsWereSent: Bool) {
        guard let index = index(of: seq), slots[index].state == .sent else { return }
        sentCount -= 1
        if !commandsWereSent, slots[index].command != nil {
            slots[index].state = .queued  // it never left: send it to the next master
        } else {
            slots[index].state = .done
            if !slots[index].streamed {
                slots[index].reply = Self.errorReply("the connection to master \(master) closed before the reply; the command may or may not have run")
                slots[index].replacement = nil
                emit(.count(.proxyError))
            }
        }
        if index == slots.startIndex { deliverReady() }
        afterReply()
    }

    // MARK: Replies out

    mutating func deliverReady() {
        while let first = slots.first, first.state == .done, !first.gated {
            slots.removeFirst()
            firstSeq += 1
            if !first.streamed, let reply = first.replacement ?? first.reply {
                emit(.write(reply))
            }
            if first.closeAfter {
                emit(.close)
                return
            }
        }
        if let first = slots.first, first.state == .sent, !first.gated, let partial = first.reply {
            slots[slots.startIndex].reply = nil
            slots[slots.startIndex].streamed = true
            emit(.write(partial))
        }
        if slots.isEmpty && wantDedicated && sentCount == 0 {
            checkDedicatedSwitch()
        }
    }
}
