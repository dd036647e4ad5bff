import ClusterCore
import NIOCore
import NIOPosix
import NIOSSL
import RESP
import RedisConnection

/// A reply to a stateless command in cluster mode: the bytes one node sent, passed on as they
/// are, or a value the proxy made (a merged split reply, an error of its own).
enum ClusterReply {
    case frame(ByteBuffer)
    case value(RESPValue)

    /// The reply as a value (a frame is parsed: for merging split replies).
    var value: RESPValue {
        switch self {
        case .value(let value): return value
        case .frame(let frame):
            do {
                return try RESPValueParser.parseReply(frame)
            } catch {
                return .simpleError("ERR Tandem proxy: a cluster node's reply could not be read: \(error.message)")
            }
        }
    }
}

/// The error a command on a shared node connection fails with when the connection closes
/// before its reply.
struct ClusterLinkClosed: Error, CustomStringConvertible {
    let node: ClusterNodeAddress
    /// The command's bytes were handed to the socket: it may have run. When false it was
    /// never sent (the connection had closed first) and may be sent elsewhere.
    let written: Bool
    var description: String { "connection to \(node) closed" }
}

/// One event loop's shared connection to one cluster node, for stateless commands: commands
/// go out as the client sent them (or encoded once, for a split part), written in one system
/// call per pass of the loop; replies are found by frame boundaries and handed on as bytes,
/// never decoded and encoded again. Used only on its loop (`@unchecked Sendable` only so that
/// futures of that loop can carry it; every access happens on the loop).
final class ClusterNodeLink: @unchecked Sendable {
    typealias Completion = (Result<ByteBuffer, any Error>) -> Void

    let node: ClusterNodeAddress
    let eventLoop: any EventLoop
    private var channel: (any Channel)?
    /// One per command written, in order; nil for a reply that is dropped (ASKING).
    private var waiters = CircularBuffer<Completion?>(initialCapacity: 64)
    private var output: ByteBuffer
    /// Commands in `output`, not yet handed to the socket (the last waiters).
    private var unsent = 0
    private var flushScheduled = false
    private var input = ByteBuffer()
    private var scanner = RESPFrameScanner(mode: .reply)
    private(set) var isClosed = false
    private var onClose: [() -> Void] = []
    /// `--wait-replicas`: a WAIT follows each written batch that holds a write, and the writes'
    /// replies are held until it answers (`ClusterDurability`).
    private let durability: ClusterDurability?
    /// The batch being gathered in `output` holds a write.
    private var batchHasWrite = false
    /// Replies of writes, waiting for the WAIT written after them (`check`: replaced by
    /// -NOREPLICAS when too few replicas have it; else passed on as it is, an error).
    private var held: [(completion: Completion, frame: ByteBuffer, check: Bool)] = []
    /// Writes answered -NOREPLICAS (for INFO and /metrics).
    private let unconfirmed: (() -> Void)?
    /// A RESP3 push (a tracking connection's invalidation): out of band, not a reply.
    var onPush: ((ByteBuffer) -> Void)?
    /// `closeWhenIdle` was called while replies were owed.
    private var closingWhenIdle = false

    private init(node: ClusterNodeAddress, eventLoop: any EventLoop, durability: ClusterDurability? = nil,
                 unconfirmed: (() -> Void)? = nil) {
        self.node = node
        self.eventLoop = eventLoop
        self.output = ByteBufferAllocator().buffer(capacity: 4096)
        self.durability = durability
        self.unconfirmed = unconfirmed
    }

    var isActive: Bool { !isClosed && channel != nil }

    /// Connects to `node` and runs the handshake (AUTH; HELLO 3 for RESP3 clients; READONLY for
    /// reads from replicas): the future holds the link once every handshake reply was OK.
    static func connect(_ node: ClusterNodeAddress, on eventLoop: any EventLoop, settings: ProxySettings,
                        protocolVersion: Int = 2, setup: [[ByteBuffer]] = [], onPush: ((ByteBuffer) -> Void)? = nil,
                        unconfirmed: (() -> Void)? = nil) -> EventLoopFuture<ClusterNodeLink> {
        let link = ClusterNodeLink(node: node, eventLoop: eventLoop, durability: settings.clusterDurability, unconfirmed: unconfirmed)
        link.onPush = onPush
        let bound = NIOLoopBound(link, eventLoop: eventLoop)
        let tls = settings.backendTLS
        var commands: [[ByteBuffer]] = []
        if let password = settings.password {
            commands.append([ByteBuffer(string: "AUTH")] + (settings.user.map { [ByteBuffer(string: $0)] } ?? [])
                            + [ByteBuffer(string: password)])
        }
        if protocolVersion == 3 { commands.append([ByteBuffer(string: "HELLO"), ByteBuffer(string: "3")]) }
        if settings.readFromReplicas { commands.append([ByteBuffer(string: "READONLY")]) }
        commands += setup
        let handshake = commands
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil)) }
                    try channel.pipeline.syncOperations.addHandler(ClusterNodeHandler(link: bound.value))
                }
            }
            .connect(host: node.host, port: node.port)
            .flatMap { channel in
                let link = bound.value
                link.channel = channel
                let replies = handshake.map { command in
                    let promise = eventLoop.makePromise(of: ByteBuffer.self)
                    link.send(encoding: command) { promise.completeWith($0) }
                    return promise.futureResult
                }
                return EventLoopFuture.whenAllSucceed(replies, on: eventLoop).flatMapThrowing { frames in
                    for (command, frame) in zip(handshake, frames) where frame.readableBytesView.first == UInt8(ascii: "-") {
                        channel.close(promise: nil)
                        // The command's name (CLIENT with its subcommand); never its arguments (AUTH's password).
                        let name = String(buffer: command[0]).uppercased() == "CLIENT"
                            ? command.prefix(2).map { String(buffer: $0) }.joined(separator: " ") : String(buffer: command[0])
                        throw ClusterHandshakeError(description: "\(name) on \(node): \(String(decoding: frame.readableBytesView.dropFirst().dropLast(2), as: UTF8.self))")
                    }
                    return bound.value
                }
            }
    }

    /// A link over a channel that is already connected (tests: an `EmbeddedChannel`); no handshake.
    static func attach(to channel: any Channel, node: ClusterNodeAddress, durability: ClusterDurability? = nil,
                       unconfirmed: (() -> Void)? = nil) throws -> ClusterNodeLink {
        let link = ClusterNodeLink(node: node, eventLoop: channel.eventLoop, durability: durability, unconfirmed: unconfirmed)
        try channel.pipeline.syncOperations.addHandler(ClusterNodeHandler(link: link))
        link.channel = channel
        return link
    }

    /// Calls `body` once the connection has closed (at once if it has).
    func whenClosed(_ body: @escaping () -> Void) {
        if isClosed { body() } else { onClose.append(body) }
    }

    /// Writes a command already in RESP (a client's own bytes); `completion` gets its reply.
    /// `write`: with `--wait-replicas`, the reply of a write that ran is held until the WAIT
    /// after it answers (and replaced by -NOREPLICAS when too few replicas have it).
    func send(raw: ByteBuffer, write: Bool = false, completion: Completion?) {
        guard !isClosed else {
            completion?(.failure(ClusterLinkClosed(node: node, written: false)))
            return
        }
        var raw = raw
        output.writeBuffer(&raw)
        waiters.append(waiter(completion, write: write))
        unsent += 1
        scheduleFlush()
    }

    /// Writes a command given as arguments; `completion` gets its reply.
    func send(encoding arguments: [ByteBuffer], write: Bool = false, completion: Completion?) {
        guard !isClosed else {
            completion?(.failure(ClusterLinkClosed(node: node, written: false)))
            return
        }
        output.writeRESPCommand(arguments)
        waiters.append(waiter(completion, write: write))
        unsent += 1
        scheduleFlush()
    }

    /// A write's waiter holds its reply for the WAIT when durability is on.
    private func waiter(_ completion: Completion?, write: Bool) -> Completion? {
        guard write, durability != nil, let completion else { return completion }
        batchHasWrite = true
        return { [unowned self] result in
            guard case .success(let frame) = result else {
                completion(result)
                return
            }
            switch ClusterDurability.hold(reply: frame) {
            case .passNow: completion(result)
            case .holdKeep: held.append((completion, frame, false))
            case .holdCheck: held.append((completion, frame, true))
            }
        }
    }

    /// The WAIT's reply (or its failure): every held write is answered, with its own reply when
    /// enough replicas have it, else -NOREPLICAS. Replies come in order, so the writes held are
    /// exactly those written before this WAIT.
    private func waitAnswered(_ result: Result<ByteBuffer, any Error>) {
        guard let durability, !held.isEmpty else { return }
        let count = (try? result.get()).flatMap(ClusterDurability.count(ofWaitReply:))
        let replacement = durability.replacement(count: count).map { value -> ByteBuffer in
            var buffer = ByteBuffer()
            buffer.writeRESPValue(value)
            return buffer
        }
        let answered = held
        held = []
        for (completion, frame, check) in answered {
            if check, let replacement {
                unconfirmed?()
                completion(.success(replacement))
            } else {
                completion(.success(frame))
            }
        }
    }

    /// Commands written in one pass of the loop go out in one write.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.execute {
            let link = bound.value
            link.flushScheduled = false
            guard let channel = link.channel, !link.isClosed, link.output.readableBytes > 0 else { return }
            if link.batchHasWrite, let durability = link.durability {
                link.batchHasWrite = false
                link.output.writeRESPCommand(durability.waitArguments)
                link.waiters.append { [unowned link] in link.waitAnswered($0) }
            }
            let bytes = link.output
            link.output = channel.allocator.buffer(capacity: 4096)
            link.unsent = 0
            channel.writeAndFlush(bytes, promise: nil)
        }
    }

    func close() {
        channel?.close(promise: nil)
    }

    /// Closes once every command sent has its reply (at once when none is waiting).
    func closeWhenIdle() {
        if waiters.isEmpty && held.isEmpty { close() } else { closingWhenIdle = true }
    }

    // MARK: From the handler

    fileprivate func received(_ buffer: ByteBuffer) {
        if input.readableBytes == 0 {
            input = buffer
        } else {
            var buffer = buffer
            input.writeBuffer(&buffer)
        }
        while input.readableBytes > 0 {
            let outcome: RESPFrameScanner.Outcome
            do {
                outcome = try scanner.scan(input)
            } catch {
                channel?.close(promise: nil)
                return
            }
            guard case .frame(let length) = outcome else { break }
            let frame = input.readSlice(length: length)!
            if frame.readableBytesView.first == UInt8(ascii: ">") {
                // Out of band (RESP3): never a reply to a command.
                onPush?(frame)
                continue
            }
            guard let waiter = waiters.popFirst() else {
                // A reply to nothing (a protocol mix-up): the connection cannot be trusted.
                channel?.close(promise: nil)
                return
            }
            waiter?(.success(frame))
        }
        if input.readableBytes == 0 { input = ByteBuffer() }
        if closingWhenIdle && waiters.isEmpty && held.isEmpty { close() }
    }

    fileprivate func closed() {
        guard !isClosed else { return }
        isClosed = true
        let failed = waiters
        let sent = failed.count - unsent
        waiters.removeAll()
        unsent = 0
        for (index, waiter) in failed.enumerated() { waiter?(.failure(ClusterLinkClosed(node: node, written: index < sent))) }
        // Writes that ran and whose WAIT was never answered (there is always one after them).
        waitAnswered(.failure(ClusterLinkClosed(node: node, written: true)))
        let callbacks = onClose
        onClose = []
        for callback in callbacks { callback() }
    }
}

/// A handshake reply that was an error (a wrong password, say).
struct ClusterHandshakeError: Error, CustomStringConvertible {
    let description: String
}

/// The node connection's pipeline end: bytes in to the link, close to the link.
private final class ClusterNodeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let link: ClusterNodeLink

    init(link: ClusterNodeLink) {
        self.link = link
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        link.received(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension ProxySettings {
    /// `--wait-replicas` in cluster mode (nil: asynchronous replication).
    var clusterDurability: ClusterDurability? {
        waitReplicas > 0 ? ClusterDurability(replicas: waitReplicas, timeoutMilliseconds: max(1, Int(waitTimeout.nanoseconds / 1_000_000))) : nil
    }
}
