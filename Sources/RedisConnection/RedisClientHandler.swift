import Logging
import NIOCore
import NIOSSL
import RESP

/// A command on its way to the server, with the promise its reply fulfils.
struct RedisRequest {
    var arguments: [ByteBuffer]
    /// A command encoded once and sent many times (then `arguments` is empty).
    var prepared: PreparedCommand?
    var promise: EventLoopPromise<RESPValue>
    var timeout: TimeAmount?

    init(arguments: [ByteBuffer], promise: EventLoopPromise<RESPValue>, timeout: TimeAmount?) {
        self.arguments = arguments
        self.promise = promise
        self.timeout = timeout
    }

    init(prepared: PreparedCommand, promise: EventLoopPromise<RESPValue>, timeout: TimeAmount?) {
        self.arguments = []
        self.prepared = prepared
        self.promise = promise
        self.timeout = timeout
    }
}

/// A command encoded once, to be sent many times without building or encoding it again
/// (a monitor's PING and INFO). Not for subscription commands.
public struct PreparedCommand: Sendable {
    /// The command's name as errors report it (`PING`, `CONFIG GET`).
    public let name: String
    /// The command as RESP bytes.
    public let bytes: ByteBuffer
    /// The command's arguments.
    public let arguments: [String]

    public init(_ arguments: [String]) {
        self.init(arguments, name: describeCommand(arguments))
    }

    /// With the name errors give it already known (a command built for each use, such as a
    /// monitor's hello PUBLISH: no upper-casing and lookup to name it each time).
    public init(_ arguments: [String], name: String) {
        self.arguments = arguments
        self.name = name
        var bytes = ByteBuffer()
        bytes.writeRESPCommand(arguments)
        self.bytes = bytes
    }
}

/// Where a reply goes: a promise, or a function called with it on the event loop (a monitor's
/// PINGs, INFOs and hellos: no promise, future and callback list per reply). A function is not
/// called for a failure (a timeout, a closed connection): its caller learns of those otherwise.
enum ReplyTarget {
    case promise(EventLoopPromise<RESPValue>)
    case callback(@Sendable (RESPValue) -> Void)

    func succeed(_ value: RESPValue) {
        switch self {
        case .promise(let promise): promise.succeed(value)
        case .callback(let callback): callback(value)
        }
    }

    func fail(_ error: any Error) {
        if case .promise(let promise) = self { promise.fail(error) }
    }
}

/// A message received on a subscribed channel or pattern.
public struct RedisPubSubMessage: Sendable, Hashable {
    /// The pattern that matched, for `PSUBSCRIBE` deliveries.
    public var pattern: ByteBuffer?
    /// The channel the message was published on.
    public var channel: ByteBuffer
    /// The message.
    public var payload: ByteBuffer

    public init(pattern: ByteBuffer? = nil, channel: ByteBuffer, payload: ByteBuffer) {
        self.pattern = pattern
        self.channel = channel
        self.payload = payload
    }

    /// The channel name as text.
    public var channelName: String { String(buffer: channel) }
    /// The payload as text.
    public var text: String { String(buffer: payload) }
}

/// Decodes the server's replies, matches them to requests in FIFO order and routes pub/sub
/// deliveries to a stream.
///
/// Subscription commands are answered by one confirmation per channel, so the handler
/// counts how many confirmations each one needs (from the subscriptions known when it was
/// sent) and completes it with all of them as one array.
///
/// The handler decodes the bytes itself (`RESPValueDecoder`, the same decoder) rather than
/// behind a `ByteToMessageHandler`: a sentinel watching hundreds of masters reads thousands of
/// small replies a second, and that second handler cost each of them a pipeline hop, a boxed
/// `NIOAny` and the generic decode loop's bookkeeping (issue 19's profile: ~5% of its samples).
final class RedisClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var command: String
        var promise: ReplyTarget?
        var deadline: NIODeadline?
        var timeout: TimeAmount?
        /// For (P)(UN)SUBSCRIBE: confirmations still to come, and those received.
        var confirmationsLeft: Int
        var confirmations: [RESPValue]
        var isHello: Bool
    }

    private let server: String
    private let messages: AsyncStream<RedisPubSubMessage>.Continuation
    /// Called on the event loop for each message, instead of yielding it to `messages`.
    private let onMessage: (@Sendable (RedisPubSubMessage) -> Void)?
    private let logger: Logger
    /// Small at first (it grows with pipelining): a monitor holds hundreds of connections.
    private var pending = CircularBuffer<Pending>(initialCapacity: 4)
    /// One timer per connection, set for the earliest deadline among pending requests,
    /// rather than one per request: cancelling thousands of timers costs more than the replies.
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    /// Requests still waiting for subscription confirmations.
    private var subscriptionsPending = 0
    private var channels: Set<ByteBuffer> = []
    private var patterns: Set<ByteBuffer> = []
    private var isRESP3 = false
    private var context: ChannelHandlerContext?
    private var closedError: RedisConnectionError?
    private var decoder: RESPValueDecoder
    /// Bytes of a reply not yet complete (nil when every byte read was decoded).
    private var unread: ByteBuffer?
    /// Set while replies are being handled, so that bytes arriving meanwhile (a handler of a
    /// reply cannot cause a read, but nothing guarantees that) are queued behind them.
    private var decoding = false
    /// After a protocol error nothing more is decoded (the connection is being closed).
    private var decodeFailed = false

    init(server: String, messages: AsyncStream<RedisPubSubMessage>.Continuation, logger: Logger,
         limits: RESPLimits = .default, onMessage: (@Sendable (RedisPubSubMessage) -> Void)? = nil) {
        self.server = server
        self.messages = messages
        self.onMessage = onMessage
        self.logger = logger
        self.decoder = RESPValueDecoder(limits: limits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        failAll(closedError ?? RedisConnectionError(code: .closed, server: server, message: "connection handler removed"))
        messages.finish()
    }

    // MARK: Outbound

    /// A close asked for on this side: outstanding requests fail saying so (not "by the server").
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, closedError == nil {
            closedError = RedisConnectionError(code: .closed, server: server, message: "connection closed locally")
        }
        context.close(mode: mode, promise: promise)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let closedError {
            var error = closedError
            error.command = request.prepared?.name ?? describeCommand(request.arguments.map { String(buffer: $0) })
            request.promise.fail(error)
            promise?.fail(error)
            return
        }
        if let prepared = request.prepared {
            write(prepared, reply: .promise(request.promise), timeout: request.timeout, context: context, promise: promise)
            return
        }
        let names = request.arguments.prefix(2).map { String(buffer: $0) }
        let command = describeCommand(names)
        let deadline = request.timeout.map { context.eventLoop.now + $0 }
        var entry = Pending(command: command, promise: .promise(request.promise), deadline: deadline, timeout: request.timeout,
                            confirmationsLeft: 0, confirmations: [], isHello: command == "HELLO")
        entry.confirmationsLeft = expectedConfirmations(command: command, arguments: request.arguments.dropFirst())
        if entry.confirmationsLeft > 0 { subscriptionsPending += 1 }
        if let deadline { armTimer(for: deadline, context: context) }
        pending.append(entry)
        var out = context.channel.allocator.buffer(capacity: 64)
        out.writeRESPCommand(request.arguments)
        context.write(wrapOutboundOut(out), promise: promise)
    }

    private func write(_ prepared: PreparedCommand, reply: ReplyTarget, timeout: TimeAmount?,
                       context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let deadline = timeout.map { context.eventLoop.now + $0 }
        if let deadline { armTimer(for: deadline, context: context) }
        pending.append(Pending(command: prepared.name, promise: reply, deadline: deadline, timeout: timeout,
                               confirmationsLeft: 0, confirmations: [], isHello: false))
        context.write(wrapOutboundOut(prepared.bytes), promise: promise)
    }

    /// Writes and flushes a prepared command from this handler's place in the pipeline, on the
    /// event loop: what `channel.writeAndFlush(request)` does, without the channel's generic
    /// write from the pipeline's tail (the request wrapped in `NIOAny`, dynamic casts, generic
    /// metadata: issue 19's profile put that path at ~4% of a sentinel's samples at 200
    /// masters, for its PINGs, INFOs and hellos). False if the handler is no longer in a
    /// pipeline (the caller then fails the request as a closed connection).
    func writeAndFlush(_ prepared: PreparedCommand, reply: ReplyTarget, timeout: TimeAmount?) -> Bool {
        guard let context else { return false }
        if let closedError {
            var error = closedError
            error.command = prepared.name
            reply.fail(error)
            return true
        }
        write(prepared, reply: reply, timeout: timeout, context: context, promise: nil)
        context.flush()
        return true
    }

    /// Counts the confirmations a (P)(UN)SUBSCRIBE will get, and records its effect.
    private func expectedConfirmations(command: String, arguments: ArraySlice<ByteBuffer>) -> Int {
        switch command {
        case "SUBSCRIBE":
            arguments.forEach { channels.insert($0) }
            return arguments.count
        case "PSUBSCRIBE":
            arguments.forEach { patterns.insert($0) }
            return arguments.count
        case "UNSUBSCRIBE":
            if arguments.isEmpty {
                defer { channels.removeAll() }
                return max(1, channels.count)
            }
            arguments.forEach { channels.remove($0) }
            return arguments.count
        case "PUNSUBSCRIBE":
            if arguments.isEmpty {
                defer { patterns.removeAll() }
                return max(1, patterns.count)
            }
            arguments.forEach { patterns.remove($0) }
            return arguments.count
        default:
            return 0
        }
    }

    private func armTimer(for deadline: NIODeadline, context: ChannelHandlerContext) {
        if let current = timerDeadline, current <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            handler.value.timerFired(context: loop.value)
        }
    }

    /// Fails every request past its deadline; their slots stay so that late replies, if
    /// any, are matched to them and dropped. Then re-arms for the next deadline.
    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        let now = context.eventLoop.now
        var next: NIODeadline?
        for i in pending.indices {
            guard let deadline = pending[i].deadline, pending[i].promise != nil else { continue }
            if deadline <= now {
                let promise = pending[i].promise
                pending[i].promise = nil
                promise?.fail(RedisConnectionError(
                    code: .timeout, server: server, command: pending[i].command,
                    message: "no reply within \((pending[i].timeout?.nanoseconds ?? 0) / 1_000_000) ms"))
            } else if next == nil || deadline < next! {
                next = deadline
            }
        }
        if let next { armTimer(for: next, context: context) }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if decodeFailed { return }
        var bytes = unwrapInboundIn(data)
        if var pending = unread {
            unread = nil
            pending.writeBuffer(&bytes)
            bytes = pending
        }
        if decoding {
            unread = bytes
            return
        }
        decoding = true
        defer { decoding = false }
        do {
            // Values are taken one at a time and handled before the next is decoded, as the
            // decoder's loop did; bytes read meanwhile were appended to `unread`.
            while true {
                guard let value = try decoder.decode(buffer: &bytes) else { break }
                handle(value)
                if decodeFailed { return }
                if var more = unread {
                    unread = nil
                    bytes.writeBuffer(&more)
                }
            }
        } catch {
            decodeFailed = true
            errorCaught(context: context, error: error)
            return
        }
        if bytes.readableBytes > 0 {
            // Kept as read, offsets and all: the decoder resumes its scan where it stopped.
            unread = bytes
        }
    }

    private func handle(_ value: RESPValue) {
        if case .push(let elements) = value {
            handlePush(elements)
            return
        }
        if !isRESP3, !(channels.isEmpty && patterns.isEmpty && subscriptionsPending == 0),
           case .array(let elements) = value, let kind = PushKind(elements.first) {
            handlePush(elements, kind)
            return
        }
        complete(with: value)
    }

    /// The kinds of pub/sub messages, read from the first element's bytes (a sentinel's
    /// subscriptions get hundreds of hellos a second: no string is built to tell them apart).
    enum PushKind: Equatable {
        case message, pmessage, smessage, subscribe, psubscribe, ssubscribe, unsubscribe, punsubscribe, sunsubscribe

        private static let names: [(String.UTF8View, PushKind)] = [
            ("message".utf8, .message), ("pmessage".utf8, .pmessage), ("smessage".utf8, .smessage),
            ("subscribe".utf8, .subscribe), ("psubscribe".utf8, .psubscribe), ("ssubscribe".utf8, .ssubscribe),
            ("unsubscribe".utf8, .unsubscribe), ("punsubscribe".utf8, .punsubscribe), ("sunsubscribe".utf8, .sunsubscribe),
        ]

        /// The kind named by a simple or bulk string, in any case; nil for anything else.
        init?(_ value: RESPValue?) {
            guard let value, let bytes = value.bytes, bytes.readableBytes >= 7, bytes.readableBytes <= 12 else { return nil }
            let view = bytes.readableBytesView
            for (name, kind) in Self.names where name.count == view.count {
                if zip(name, view).allSatisfy({ $0 == ($1 | 0x20) }) {  // lower-case letters only in the names
                    self = kind
                    return
                }
            }
            return nil
        }

        var name: String {
            switch self {
            case .message: "message"
            case .pmessage: "pmessage"
            case .smessage: "smessage"
            case .subscribe: "subscribe"
            case .psubscribe: "psubscribe"
            case .ssubscribe: "ssubscribe"
            case .unsubscribe: "unsubscribe"
            case .punsubscribe: "punsubscribe"
            case .sunsubscribe: "sunsubscribe"
            }
        }
    }

    private func handlePush(_ elements: [RESPValue]) {
        guard let kind = PushKind(elements.first) else {
            logger.debug("ignored push message", metadata: ["server": "\(server)", "kind": "\(elements.first?.string ?? "")"])
            return
        }
        handlePush(elements, kind)
    }

    private func handlePush(_ elements: [RESPValue], _ kind: PushKind) {
        switch kind {
        case .message, .smessage:
            guard elements.count == 3, let channel = elements[1].bytes, let payload = elements[2].bytes else { return }
            deliver(RedisPubSubMessage(channel: channel, payload: payload))
        case .pmessage:
            guard elements.count == 4, let pattern = elements[1].bytes, let channel = elements[2].bytes, let payload = elements[3].bytes else { return }
            deliver(RedisPubSubMessage(pattern: pattern, channel: channel, payload: payload))
        case .subscribe, .psubscribe, .unsubscribe, .punsubscribe:
            guard let head = pending.first, head.confirmationsLeft > 0 else {
                logger.debug("unsolicited \(kind.name) confirmation", metadata: ["server": "\(server)"])
                return
            }
            pending[pending.startIndex].confirmationsLeft -= 1
            pending[pending.startIndex].confirmations.append(.array(elements))
            if pending[pending.startIndex].confirmationsLeft == 0 {
                let done = pending.removeFirst()
                subscriptionsPending -= 1
                done.promise?.succeed(.array(done.confirmations))
            }
        case .ssubscribe, .sunsubscribe:
            logger.debug("ignored push message", metadata: ["server": "\(server)", "kind": "\(kind.name)"])
        }
    }

    private func deliver(_ message: RedisPubSubMessage) {
        if let onMessage { onMessage(message) } else { messages.yield(message) }
    }

    private func complete(with value: RESPValue) {
        guard let head = pending.popFirst() else {
            logger.warning("reply with no request outstanding", metadata: ["server": "\(server)"])
            return
        }
        if head.confirmationsLeft > 0 { subscriptionsPending -= 1 }
        if head.isHello, let proto = value.pairs?.first(where: { $0.key.string == "proto" })?.value.int {
            isRESP3 = proto == 3
        }
        // A refused subscription (e.g. NOPERM) gets one error reply instead of confirmations.
        head.promise?.succeed(value)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure: RedisConnectionError
        if let protocolError = error as? RESPProtocolError {
            failure = RedisConnectionError(code: .protocolError, server: server, message: protocolError.message, underlying: protocolError)
        } else if let reason = TLSFailure.reason(error) {
            failure = RedisConnectionError(code: .tlsFailed, server: server, message: reason)
        } else {
            failure = RedisConnectionError(code: .closed, server: server, message: "connection failed", underlying: error)
        }
        closedError = failure
        failAll(failure)
        // The message stream must end even if no channelInactive reaches us after this
        // (a decoder error at EOF, e.g. a close in the middle of a pushed message).
        messages.finish()
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // What the decoder's loop did at the end of the stream: the replies still whole are
        // handled; bytes of an unfinished one are a protocol error.
        if !decodeFailed, var bytes = unread {
            unread = nil
            do {
                while let value = try decoder.decodeLast(buffer: &bytes, seenEOF: true) { handle(value) }
            } catch {
                decodeFailed = true
                errorCaught(context: context, error: error)
            }
        }
        let error = closedError ?? RedisConnectionError(code: .closed, server: server, message: "connection closed by the server")
        closedError = error
        failAll(error)
        messages.finish()
        context.fireChannelInactive()
    }

    private func failAll(_ error: RedisConnectionError) {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        subscriptionsPending = 0
        while let entry = pending.popFirst() {
            var e = error
            e.command = entry.command
            entry.promise?.fail(e)
        }
    }
}
