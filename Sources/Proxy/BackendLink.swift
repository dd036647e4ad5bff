import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RedisConnection
import RESP

/// One connection from the proxy to the master: shared by stateless clients, or owned by one
/// client that needs its own. Replies are matched to waiting commands in order, found by
/// scanning frame boundaries; the bytes are forwarded as they are, never re-encoded.
final class BackendLink {
    /// `count` consecutive commands of one session, from `seq` on, waiting for replies.
    struct Waiter {
        let session: ClientSession
        let seq: UInt64
        var count: Int = 1
        /// The reply to a WAIT the session sent after writes (durability), not to a command.
        var sync = false
        /// On a shared connection: one WAIT for the writes of every session listed here.
        var syncSessions: [ClientSession] = []
        /// Replies before the WAIT's that are part of it (the PUBLISH sent before a WAIT after
        /// a blocking write: `ProxySession.Durability.offsetRefresh`).
        var skip = 0
    }

    /// Kept alive by `runProxy` for as long as any channel exists.
    unowned(unsafe) let loop: ProxyLoop
    let target: MasterTarget
    /// The client that owns this connection; nil for a shared one.
    private(set) weak var owner: ClientSession?
    private var channel: (any Channel)?
    private var pending: ByteBuffer
    private(set) var isClosed = false
    private(set) var everActive = false
    private var retired = false
    /// The group has named another server master since this connection was made: its replies
    /// to commands that may write are not passed on as acknowledgements (ProxySession).
    private(set) var superseded = false
    private var flushScheduled = false
    private var waiters = CircularBuffer<Waiter>(initialCapacity: 16)
    /// Replies already delivered to the first waiter.
    private var headDelivered = 0
    /// Replies to the connection's own set-up commands, swallowed before any client's.
    private var swallow: Int
    private var swallowFrame = ByteBuffer()
    /// The WAIT answer read so far.
    private var syncFrame = ByteBuffer()
    private var swallowError: String?
    /// Called when the set-up replies are in: nil, or the first error among them.
    var onReady: ((String?) -> Void)?
    private var scanner = RESPStreamScanner(mode: .reply)
    private var errorFrame: ByteBuffer?
    private var touched: [ClientSession] = []
    private var readingPaused = false
    private var selfBound: NIOLoopBound<BackendLink>!

    /// A connection to a replica, for reads (`--read-from replicas`).
    let isReplica: Bool

    init(loop: ProxyLoop, target: MasterTarget, owner: ClientSession?, handshake: ByteBuffer, handshakeReplies: Int,
         isReplica: Bool = false) {
        self.isReplica = isReplica
        self.loop = loop
        self.target = target
        self.owner = owner
        self.pending = handshake
        self.swallow = handshakeReplies
        self.selfBound = NIOLoopBound(self, eventLoop: loop.eventLoop)
    }

    var isShared: Bool { owner == nil }
    var isWritable: Bool { channel?.isWritable ?? true }

    func connect() {
        let bound = selfBound!
        loop.counters.backendConnects += 1
        let tls = loop.context.settings.backendTLS
        var bootstrap = ClientBootstrap(group: loop.eventLoop)
            .connectTimeout(loop.context.settings.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        if let unacked = loop.context.settings.backendUnackedTimeout {
            // TCP_USER_TIMEOUT (Linux: 18), in milliseconds.
            bootstrap = bootstrap.channelOption(
                ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: 18)),
                value: SocketOptionValue(max(1, unacked.nanoseconds / 1_000_000)))
        }
        bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Backends are reached by address: no SNI; the certificate must chain to --tls-ca.
                    if let tls { try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil)) }
                    try channel.pipeline.syncOperations.addHandler(BackendHandler(link: bound.value))
                }
            }
            .connect(to: target.address)
            .whenComplete { result in
                let link = bound.value
                switch result {
                case .success(let channel): link.activated(channel)
                case .failure(let error): link.connectFailed(error)
                }
            }
    }

    private func activated(_ channel: any Channel) {
        guard !isClosed else {
            channel.close(promise: nil)
            return
        }
        self.channel = channel
        everActive = true
        if pending.readableBytes > 0 {
            channel.writeAndFlush(pending, promise: nil)
            pending = ByteBuffer()
        }
        if swallow == 0, let onReady {
            self.onReady = nil
            onReady(nil)
        }
    }

    private func connectFailed(_ error: any Error) {
        loop.counters.backendConnectFailures += 1
        guard !isClosed else { return }
        closed(reason: "cannot connect (\(error))")
    }

    /// Queues `bytes` (whole commands) for the master; flushed once per event-loop turn.
    func send(_ bytes: ByteBuffer, waiter: Waiter?) {
        if let waiter { waiters.append(waiter) }
        write(bytes)
    }

    /// Adds a waiter for the reply to `session`'s command `seq`, merged into the last waiter
    /// when it is the same session's previous command.
    func expectReply(from session: ClientSession, seq: UInt64) {
        if let last = waiters.last, last.session === session, !last.sync, last.seq + UInt64(last.count) == seq {
            waiters[waiters.index(before: waiters.endIndex)].count += 1
        } else {
            waiters.append(Waiter(session: session, seq: seq))
        }
    }

    /// Adds a waiter for the WAIT `session` sends after its writes (and for the `skipping`
    /// replies of commands sent before it as part of it).
    func expectSync(from session: ClientSession, skipping: Int = 0) {
        waiters.append(Waiter(session: session, seq: 0, sync: true, skip: skipping))
    }

    /// Sessions whose writes on this shared connection wait for the next WAIT it sends.
    private var sharedSyncSessions: [ClientSession] = []

    /// On a shared connection, one WAIT (`wait`) at the end of the event-loop turn answers for
    /// the writes every session sent on it during that turn (group commit: WAIT covers all the
    /// connection's writes before it), instead of one WAIT per client.
    func expectSharedSync(from session: ClientSession, wait: ByteBuffer) {
        if sharedSyncSessions.isEmpty {
            let bound = selfBound!
            loop.eventLoop.execute {
                let link = bound.value
                let sessions = link.sharedSyncSessions
                link.sharedSyncSessions = []
                guard !sessions.isEmpty else { return }
                guard !link.isClosed else {
                    for session in sessions { session.syncReplied(replicas: nil) }
                    return
                }
                link.send(wait, waiter: Waiter(session: sessions[0], seq: 0, sync: true, syncSessions: sessions))
            }
        }
        sharedSyncSessions.append(session)
    }

    private func write(_ bytes: ByteBuffer) {
        guard let channel else {
            var bytes = bytes
            pending.writeBuffer(&bytes)
            return
        }
        channel.write(bytes, promise: nil)
        if !flushScheduled {
            flushScheduled = true
            let bound = selfBound!
            loop.eventLoop.execute {
                let link = bound.value
                link.flushScheduled = false
                link.channel?.flush()
            }
        }
    }

    /// Adds a waiter for a command whose bytes were already sent piece by piece.
    func expectReply(_ waiter: Waiter) {
        waiters.append(waiter)
    }

    /// Whether a connection is cut off, from its socket's TCP state: bytes it sent are still
    /// unacknowledged and no acknowledgement came for `stalledAfter`. (A paused but reachable
    /// master — a switchover — acknowledges the bytes at once, so it never looks stalled.)
    static func isStalled(unackedSegments: UInt32, millisecondsSinceLastAck: UInt32) -> Bool {
        unackedSegments > 0 && millisecondsSinceLastAck >= stalledAfterMilliseconds
    }
    static let stalledAfterMilliseconds: UInt32 = 200

    /// The group named another master while this connection still owes replies: if the old
    /// master is cut off (`isStalled`), close now, so that its commands end with an error ("may
    /// or may not have run") and the clients move on, instead of waiting for TCP_USER_TIMEOUT or
    /// the kernel's retransmissions to give up.
    func closeIfStalled() {
        #if os(Linux)
        guard !isClosed, !waiters.isEmpty, let provider = channel as? any SocketOptionProvider else { return }
        let bound = selfBound!
        provider.getTCPInfo().whenSuccess { info in
            let link = bound.value
            guard !link.isClosed, !link.waiters.isEmpty,
                  Self.isStalled(unackedSegments: info.tcpi_unacked, millisecondsSinceLastAck: info.tcpi_last_ack_recv) else { return }
            link.loop.context.logger.warning("master \(link.target.endpoint) replaced while \(info.tcpi_unacked) segments to it were unacknowledged for \(info.tcpi_last_ack_recv) ms: closing the connection (its commands may or may not have run)")
            let channel = link.channel
            link.closed(reason: "cut off (bytes unacknowledged) after the master changed")
            channel?.close(promise: nil)
        }
        #endif
    }

    /// How long a replaced master has to answer PING on a new connection while a connection to
    /// it still owes replies (see `supersede`).
    static let replacedMasterProbeTimeout: TimeAmount = .milliseconds(200)

    /// The group named `master`. If that is another server and this connection still owes
    /// replies, the old master is asked PING on a connection of its own: one that does not
    /// answer within `replacedMasterProbeTimeout` — frozen (SIGSTOP: its kernel still
    /// acknowledges bytes, so `isStalled` cannot see it) or cut off by a route that drops the
    /// segments before they are sent — has this connection closed, so its clients get "may or
    /// may not have run" at once and move on, instead of waiting for it to wake (and then
    /// acknowledge writes the group has already lost) or for their own timeouts. A master that
    /// answers is alive and reachable: a coordinated switchover's paused master, whose held
    /// writes come back -READONLY once it is demoted and are sent again to the new master.
    func supersede(by master: ProxyEndpoint) {
        guard master != target.endpoint else {
            closeIfStalled()
            return
        }
        guard !superseded else { return }
        superseded = true
        guard !isClosed, everActive, !waiters.isEmpty else { return }
        closeIfStalled()
        Self.closeUnlessAnswering(target.endpoint, settings: loop.context.settings, logger: loop.context.logger,
                                  link: selfBound!, eventLoop: loop.eventLoop)
    }

    private static func closeUnlessAnswering(_ old: ProxyEndpoint, settings: ProxySettings, logger: Logger,
                                             link bound: NIOLoopBound<BackendLink>, eventLoop: any EventLoop) {
        Task {
            guard let failure = await probe(old, settings: settings, logger: logger) else { return }
            eventLoop.execute {
                let link = bound.value
                guard !link.isClosed, !link.waiters.isEmpty else { return }
                link.loop.context.logger.warning("master \(old) was replaced while commands to it were unanswered, and it does not answer PING on a new connection (\(failure)): closing the connection (its commands may or may not have run)")
                let channel = link.channel
                link.closed(reason: "replaced master does not answer (\(failure))")
                channel?.close(promise: nil)
            }
        }
    }

    /// nil when `endpoint` answers PING within `replacedMasterProbeTimeout`; else why not.
    private static func probe(_ endpoint: ProxyEndpoint, settings: ProxySettings, logger: Logger) async -> String? {
        var c = RedisConnectionConfiguration(host: endpoint.host, port: endpoint.port, username: settings.user,
                                             password: settings.password, connectTimeout: replacedMasterProbeTimeout,
                                             commandTimeout: replacedMasterProbeTimeout)
        c.tlsContext = settings.backendTLS
        let connection: RedisConnection
        do {
            connection = try await RedisConnection.connect(c, logger: logger)
        } catch {
            return "\(error)"
        }
        var failure: String?
        do {
            _ = try await connection.send(["PING"])
        } catch {
            failure = "\(error)"
        }
        await connection.close()
        return failure
    }

    /// The group named another master (or none) before this connection was even made: nothing
    /// was sent on it, so its commands can go to the next master. Close it now instead of
    /// waiting for the connect to finish or time out (a cut-off master: `--connect-timeout`).
    func abandonIfConnecting() {
        guard !isClosed, !everActive else { return }
        retired = true
        closed(reason: "the master changed before the connection was made")
    }

    /// No new commands will come; close once the last reply is in.
    func retire() {
        retired = true
        if waiters.isEmpty { close() }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        channel?.close(promise: nil)
        channel = nil
        failWaiters()
    }

    // MARK: Inbound

    func received(_ buffer: ByteBuffer) {
        var position = 0
        let total = buffer.readableBytes
        // Consecutive whole replies for one client go out as one write.
        var runSession: ClientSession?
        var runStart = 0
        var runCount = 0
        func flushRun() {
            guard let session = runSession else { return }
            runSession = nil
            session.receiveRun(buffer.getSlice(at: buffer.readerIndex + runStart, length: position - runStart)!, count: runCount)
            markTouched(session)
        }
        while position < total {
            let startedHere = !scanner.isInsideFrame
            let end: Int?
            do {
                end = try scanner.nextFrameEnd(in: buffer, from: position)
            } catch {
                flushRun()
                loop.context.logger.error("master \(target.endpoint) sent a malformed reply: \(error); closing the connection")
                channel?.close(promise: nil)
                return
            }
            let stop = end ?? total
            let type = scanner.frameType
            if startedHere, end != nil, swallow == 0, !superseded, type != UInt8(ascii: "-"), type != UInt8(ascii: ">"),
               let waiter = waiters.first, !waiter.sync {
                let seq = waiter.seq + UInt64(headDelivered)
                if let session = runSession, session === waiter.session, session.acceptsRun(seq: seq, offset: runCount) {
                    runCount += 1
                    advanceHead()
                    position = stop
                    continue
                }
                flushRun()
                if waiter.session.acceptsRun(seq: seq, offset: 0) {
                    runSession = waiter.session
                    runStart = position
                    runCount = 1
                    advanceHead()
                    position = stop
                    continue
                }
            }
            flushRun()
            let piece = buffer.getSlice(at: buffer.readerIndex + position, length: stop - position)!
            deliver(piece, ended: end != nil, type: type)
            position = stop
        }
        flushRun()
        if retired && waiters.isEmpty { close() }
    }

    private func deliver(_ piece: ByteBuffer, ended: Bool, type: UInt8) {
        if swallow > 0 {
            var piece = piece
            if type == UInt8(ascii: "-") { swallowFrame.writeBuffer(&piece) }
            guard ended else { return }
            swallow -= 1
            if swallowFrame.readableBytes > 0 {
                if swallowError == nil { swallowError = Self.errorText(swallowFrame) }
                swallowFrame.clear()
            }
            if swallow == 0 {
                if let error = swallowError {
                    loop.context.logger.error("master \(target.endpoint) refused the connection set-up: \(error)")
                }
                if let onReady {
                    self.onReady = nil
                    onReady(swallowError)
                }
            }
            return
        }
        if type == UInt8(ascii: ">") || waiters.isEmpty {
            // Out-of-band: a push, or a RESP2 subscriber's message.
            if let owner {
                owner.receiveUnsolicited(piece)
                markTouched(owner)
            }
            return
        }
        if waiters.first!.sync {
            // WAIT's answer: an integer (the replicas that acknowledged), or an error.
            var piece = piece
            syncFrame.writeBuffer(&piece)
            guard ended else { return }
            if waiters.first!.skip > 0 {
                // The PUBLISH before it (after a blocking write). Refused (an ACL without the
                // channel): the WAIT still counts the connection's own writes, not a pop served
                // by another client's push — said once per event-loop thread.
                waiters[waiters.startIndex].skip -= 1
                if type == UInt8(ascii: "-") && !loop.warnedOffsetRefresh {
                    loop.warnedOffsetRefresh = true
                    loop.context.logger.warning("master \(target.endpoint) refused the PUBLISH that lets WAIT cover a blocking pop served by another client's write (durability): \(Self.errorText(syncFrame)); such a pop is answered once the replicas have this connection's own writes")
                }
                syncFrame.clear()
                return
            }
            let waiter = waiters.first!
            advanceHead()
            var replicas: Int?
            if type == UInt8(ascii: ":"), let text = syncFrame.getString(at: syncFrame.readerIndex + 1, length: syncFrame.readableBytes - 1) {
                replicas = Int(text.trimmingCharacters(in: "\r\n"))
            }
            if replicas == nil {
                loop.context.logger.warning("master \(target.endpoint) answered WAIT with \(Self.errorText(syncFrame))")
            }
            syncFrame.clear()
            for session in waiter.syncSessions.isEmpty ? [waiter.session] : waiter.syncSessions {
                session.syncReplied(replicas: replicas)
                markTouched(session)
            }
            if retired && waiters.isEmpty { close() }
            return
        }
        if type == UInt8(ascii: "-") {
            var piece = piece
            if errorFrame == nil { errorFrame = ByteBuffer() }
            errorFrame!.writeBuffer(&piece)
            guard ended else { return }
            let frame = errorFrame!
            errorFrame = nil
            let waiter = waiters.first!
            let seq = waiter.seq + UInt64(headDelivered)
            advanceHead()
            if Self.isReadOnly(frame) {
                loop.linkTrouble(self, reason: "it answered -READONLY (it is a replica now)")
            }
            waiter.session.receiveReply(frame, seq: seq, ended: true, isError: true, from: self)
            markTouched(waiter.session)
        } else {
            let waiter = waiters.first!
            let seq = waiter.seq + UInt64(headDelivered)
            if ended { advanceHead() }
            waiter.session.receiveReply(piece, seq: seq, ended: ended, isError: false, from: self)
            markTouched(waiter.session)
        }
        if retired && waiters.isEmpty { close() }
    }

    /// One reply to the first waiter is complete.
    private func advanceHead() {
        headDelivered += 1
        if headDelivered == waiters[waiters.startIndex].count {
            waiters.removeFirst()
            headDelivered = 0
        }
    }

    private func markTouched(_ session: ClientSession) {
        if !session.touchedByLink {
            session.touchedByLink = true
            touched.append(session)
        }
    }

    /// Replies a client that stopped reading may have waiting in the proxy before a shared
    /// connection stops reading for it (and so for every client on it).
    static let slowClientAllowance = 4 << 20

    /// End of one batch of reads: flush every client that got bytes, and stop reading while
    /// any of them cannot take more (backpressure). On a shared connection a client that
    /// stopped reading is first moved to a connection of its own (from its next command), and
    /// holds the others back only once more than `slowClientAllowance` of its replies wait.
    func readComplete() {
        var blocked = false
        for session in touched {
            session.touchedByLink = false
            session.flush()
            if !session.isWritable {
                if isShared {
                    session.leaveSharedConnections()
                    if session.bufferedOutboundBytes <= Self.slowClientAllowance { continue }
                }
                blocked = true
                session.blockLinkUntilWritable(self)
            }
        }
        touched.removeAll(keepingCapacity: true)
        if blocked { setReading(false) }
    }

    func setReading(_ on: Bool) {
        guard readingPaused == on, let channel else { return }
        readingPaused = !on
        try? channel.syncOptions?.setOption(.autoRead, value: on)
    }

    // MARK: Closing

    func closed(reason: String) {
        let wasRetired = retired
        isClosed = true
        channel = nil
        if !wasRetired {
            loop.linkTrouble(self, reason: reason)
        }
        failWaiters()
        if let onReady {
            self.onReady = nil
            onReady("connection lost: \(reason)")
        }
        owner?.linkClosed(self)
    }

    private func failWaiters() {
        let lost = waiters
        let skip = headDelivered
        waiters.removeAll()
        headDelivered = 0
        for (i, waiter) in lost.enumerated() {
            if waiter.sync {
                for session in waiter.syncSessions.isEmpty ? [waiter.session] : waiter.syncSessions {
                    session.syncReplied(replicas: nil)
                }
                continue
            }
            for k in (i == 0 ? skip : 0)..<waiter.count {
                waiter.session.linkLost(seq: waiter.seq + UInt64(k), link: self, commandsWereSent: everActive)
            }
        }
        for session in touched {
            session.touchedByLink = false
            session.flush()
        }
        touched.removeAll()
    }

    static func isReadOnly(_ frame: ByteBuffer) -> Bool {
        frame.readableBytesView.starts(with: "-READONLY".utf8)
    }

    static func errorText(_ frame: ByteBuffer) -> String {
        var text = String(buffer: frame)
        if text.hasPrefix("-") { text.removeFirst() }
        return text.trimmingCharacters(in: "\r\n")
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let last = s.last, set.contains(last) { s = s.dropLast() }
        return String(s)
    }
}

/// The channel end of a `BackendLink`.
final class BackendHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let link: BackendLink

    init(link: BackendLink) {
        self.link = link
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        link.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        link.readComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            if let owner = link.owner { owner.pump() } else { link.loop.pumpAll() }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !link.isClosed {
            link.closed(reason: "the connection closed")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !link.isClosed, let reason = TLSFailure.reason(error) {
            link.closed(reason: "TLS failed: \(reason)")
        }
        context.close(promise: nil)
    }
}
