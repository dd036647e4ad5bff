import NIOCore
import RESP

/// Commands larger than one read (streamed to the client's own connection), and when the client
/// moves to a connection of its own, what that connection starts with and what is lost with it.
extension ProxySession {
    // MARK: Commands larger than one read

    /// Whether the buffered part of an unfinished command should go out now: it is large, or
    /// the command is already being streamed.
    @inline(__always)
    func shouldStream(bufferedInput: Int, insideFrame: Bool) -> Bool {
        insideFrame && (bufferedInput >= configuration.streamThreshold || (streaming && bufferedInput > 0))
    }

    /// Whether streaming may start on `link` (the client's own, writable): no command waits
    /// before it and none is unanswered on another link.
    mutating func beginStreaming(on link: ObjectIdentifier) -> Bool {
        guard !slots.hasQueued, !(owed && sentOn != link) else { return false }
        streaming = true
        return true
    }

    /// The last piece of a streamed command arrived. With `link` (still open) it goes there and
    /// the returned sequence number, if any, waits for its reply; without, the command is lost.
    /// A write (with durability on) is then followed by `syncAfterStreamedCommand()`'s WAIT.
    mutating func streamedCommandEnded(on link: ObjectIdentifier?, expectsReply: Bool, mayWrite: Bool = false,
                                       blockingWrite: Bool = false) -> UInt64? {
        streaming = false
        guard let link else {
            appendLocal(Self.errorReply(Self.lostWhileSending))
            return nil
        }
        guard expectsReply else { return nil }
        let seq = firstSeq + UInt64(slots.count)
        var slot = Slot(state: .sent, command: nil)
        slot.expectsReply = true
        slot.write = configuration.durability != nil && mayWrite && !inMulti
        slot.blockingWrite = slot.write && blockingWrite
        slot.gated = slot.write
        if inMulti {
            slot.insideTransaction = true
            transactionPosition += 1  // queued: an element of EXEC's reply
        }
        slot.syncPoint = !inMulti
        slots.append(slot)
        sentCount += 1
        sentOn = link
        return seq
    }

    /// The rest of a command whose connection closed mid-way arrived and was dropped.
    mutating func discardedCommandEnded(wasEmpty: Bool) {
        discarding = false
        if !wasEmpty { appendLocal(Self.errorReply(Self.lostWhileSending)) }
    }

    // MARK: A connection of the client's own

    /// The client needs a connection of its own (it stopped reading replies that come on a
    /// shared one, or a command larger than one read arrived). False when it has or will.
    @discardableResult
    mutating func wantDedicatedConnection() -> Bool {
        guard !dedicated, !wantDedicated, !closing else { return false }
        wantDedicated = true
        checkDedicatedSwitch()
        return true
    }

    /// Starts a pending move to a connection of its own from an unfinished command.
    mutating func needDedicatedForPartialCommand() {
        wantDedicated = true
        checkDedicatedSwitch()
    }

    mutating func checkDedicatedSwitch() {
        guard wantDedicated, slots.isEmpty else { return }
        wantDedicated = false
        dedicated = true
        emit(.count(.becameDedicated))
        if var command = deferred {
            deferred = nil
            command.traits.readOnly = false  // no read routing on a connection of its own
            self.command(command)
        }
        emit(.resumeInput)
    }

    /// Decides about the client's own connection. `current` is the one it has, if any;
    /// `masterGeneration` the master the loop knows (nil: none); `usable` whether commands may
    /// go to it now (known and not in doubt).
    mutating func dedicatedLinkStep(current: DedicatedLinkFacts?, masterGeneration: UInt64?, usable: Bool) -> DedicatedLinkStep {
        var retire = false
        if let current {
            if !current.isClosed && current.generation == masterGeneration {
                return usable ? .use : .none(retire: false)
            }
            // Closed, or connected to an older master: leave it once its replies are in.
            if !current.isClosed && (owed || streaming || masterGeneration == nil) { return .none(retire: false) }
            retire = true
            connectionStateLost()
        }
        guard usable, !closing else { return .none(retire: retire) }
        let (handshake, replies) = replayHandshake()
        trackingLossTold = false
        return .open(handshake: handshake, replies: replies, retire: retire)
    }

    /// The commands that restore the client's state on a new connection, and their reply count.
    func replayHandshake() -> (ByteBuffer, Int) {
        var handshake = ByteBuffer()
        var replies = 0
        if replay.auth == nil && !(replay.hello?.contains { Self.equalsIgnoringCase($0, "AUTH") } ?? false) {
            handshake = configuration.handshake
            replies = configuration.handshakeReplies
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
        for tracking in replay.tracking { add(tracking) }
        if !replay.channels.isEmpty { add([Array("SUBSCRIBE".utf8)] + replay.channels, replay.channels.count) }
        if !replay.patterns.isEmpty { add([Array("PSUBSCRIBE".utf8)] + replay.patterns, replay.patterns.count) }
        return (handshake, replies)
    }

    /// Redis's invalidation of every key (as after FLUSHALL, a RESP3 push with a null): a
    /// tracking client whose server-side tracking was lost drops its whole cache (both modes).
    static let invalidateEverything = ByteBuffer(string: ">2\r\n$10\r\ninvalidate\r\n_\r\n")

    /// The CLIENT TRACKING commands to replay after `arguments` (`CLIENT TRACKING ON|OFF …`) was
    /// accepted: OFF forgets them all; an ON goes to the end (removed from where it was): each
    /// ON sets the mode afresh on a node while BCAST prefixes add up, so the last one replayed
    /// decides the mode and every prefix is there (at most 64, the oldest dropped).
    static func tracking(after commands: [[[UInt8]]], _ arguments: [[UInt8]]) -> [[[UInt8]]] {
        guard arguments.count >= 3, equalsIgnoringCase(arguments[2], "ON") else { return [] }
        return Array((commands.filter { $0 != arguments } + [arguments]).suffix(64))
    }

    /// Tracking sends its invalidations to another client (REDIRECT id; a PREFIX's value is not an option).
    var trackingRedirects: Bool {
        replay.tracking.contains { command in
            var index = 3
            while index < command.count {
                if Self.equalsIgnoringCase(command[index], "REDIRECT") { return true }
                index += Self.equalsIgnoringCase(command[index], "PREFIX") ? 2 : 1
            }
            return false
        }
    }

    private static func equalsIgnoringCase(_ bytes: [UInt8], _ word: String) -> Bool {
        bytes.count == word.utf8.count && zip(bytes, word.utf8).allSatisfy { a, b in
            (a >= 0x61 && a <= 0x7a ? a - 0x20 : a) == b
        }
    }

    mutating func connectionStateLost() {
        if inMulti { multiBroken = true }
        if watching { watchBroken = true }
        if !replay.tracking.isEmpty && !trackingLossTold && !closing {
            // Once per lost connection (it may be both closed and let go).
            trackingLossTold = true
            if trackingRedirects {
                // The REDIRECT names a client ID of the old connection's server: no ID on the
                // new one stands for it. The client reconnects and sets tracking up again.
                closing = true
                emit(.failAndClose(Self.errorReply("this connection's CLIENT TRACKING … REDIRECT cannot be restored on a new connection to the master (the client ID it names belongs to the old one); reconnect and enable tracking again")))
            } else if replay.resp3 {
                // The keys the client read were tracked by the old connection, and changes since
                // its last invalidation may never be announced: the client drops its whole
                // cache, as after FLUSHALL (Redis's invalidate push with a null).
                emit(.write(Self.invalidateEverything))
            }
        }
    }

    /// The client's own connection closed.
    mutating func dedicatedLinkClosed() {
        connectionStateLost()
        // A transaction's EXEC still unanswered on it never will be (the client is told the
        // outcome is unknown): its queued changes are not recorded.
        queuedEffects = []
        execReply = nil
        if streaming {
            streaming = false
            discarding = true
        }
    }

    /// The new connection refused the replayed state: tell the client and close.
    mutating func replayFailed(master: String, error: String) {
        closing = true
        emit(.failAndClose(Self.errorReply("could not restore this connection's state on master \(master): \(error)")))
    }
}
