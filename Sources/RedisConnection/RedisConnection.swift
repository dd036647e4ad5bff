import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import RESP

/// How to reach and log in to one Redis server.
public struct RedisConnectionConfiguration: Sendable {
    /// Which RESP version to speak.
    public enum ProtocolVersion: Sendable, Hashable {
        /// RESP2 only; no HELLO is sent.
        case resp2
        /// `HELLO 3`; fail if the server does not support it.
        case resp3
        /// `HELLO 3`, falling back to RESP2 on servers without HELLO (Redis < 6).
        case resp3IfAvailable
    }

    public var host: String
    public var port: Int
    /// ACL user name; nil logs in as `default` (or with a plain `AUTH password`).
    public var username: String?
    /// Password for AUTH; nil sends no AUTH.
    public var password: String?
    public var protocolVersion: ProtocolVersion
    /// Limit on establishing the TCP connection.
    public var connectTimeout: TimeAmount
    /// Default limit on waiting for each reply; nil waits forever (for blocking commands).
    public var commandTimeout: TimeAmount?
    /// Sent as `CLIENT SETNAME` (or in HELLO) when set.
    public var clientName: String?
    /// Limits applied to the server's replies.
    public var limits: RESPLimits
    /// The first read buffer's size (NIO's adaptive default is 2048, grown after full reads and
    /// kept per connection): a monitor holding hundreds of mostly idle connections sets it small.
    public var initialReadBufferSize: Int?
    /// The largest read buffer (NIO's adaptive default: 64 KB). Each connection keeps the
    /// largest buffer it has read into: a monitor whose INFO replies are a few KB every 10 s on
    /// hundreds of connections caps it (a larger reply is read in several reads).
    public var maximumReadBufferSize: Int?
    /// TLS toward the server (trust roots, client certificate, verification); nil: plain TCP.
    public var tlsContext: NIOSSLContext?
    /// The name sent as SNI and checked if the context verifies host names; nil: `host` unless
    /// it is an IP address (which SNI cannot carry).
    public var tlsServerName: String?
    /// Looks up `host` when it is a name (off the event loop, within `connectTimeout`).
    public var resolver: NameResolver = .shared

    public init(
        host: String,
        port: Int,
        username: String? = nil,
        password: String? = nil,
        protocolVersion: ProtocolVersion = .resp2,
        connectTimeout: TimeAmount = .seconds(5),
        commandTimeout: TimeAmount? = .seconds(5),
        clientName: String? = nil,
        limits: RESPLimits = .default
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.protocolVersion = protocolVersion
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.clientName = clientName
        self.limits = limits
    }

    /// The SNI name: `tlsServerName`, else `host` if it is a name rather than an address.
    var sniName: String? {
        if let tlsServerName { return tlsServerName }
        return (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }

    /// `host:port`, with brackets around IPv6 addresses.
    public var serverDescription: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// An async connection to one Redis server: pipelined requests answered in FIFO order,
/// per-request timeouts, pub/sub, and typed INFO/ROLE helpers.
public final class RedisConnection: Sendable {
    public let configuration: RedisConnectionConfiguration
    /// Messages for this connection's subscriptions, in arrival order (none when connected with
    /// `onMessage`). Ends when the connection closes.
    public let messages: AsyncStream<RedisPubSubMessage>
    private let channel: any Channel
    /// The connection's handler, for `submit(_:timeout:)` called on the event loop.
    private let handler: NIOLoopBound<RedisClientHandler>?
    private let negotiatedProtocol = NIOLockedValueBox(2)

    private init(configuration: RedisConnectionConfiguration, channel: any Channel, messages: AsyncStream<RedisPubSubMessage>,
                 handler: NIOLoopBound<RedisClientHandler>?) {
        self.configuration = configuration
        self.channel = channel
        self.messages = messages
        self.handler = handler
    }

    /// `host:port` of the server.
    public var server: String { configuration.serverDescription }

    /// 2 or 3: the RESP version agreed in the handshake.
    public var protocolVersion: Int { negotiatedProtocol.withLockedValue { $0 } }

    /// True until the connection closes.
    public var isActive: Bool { channel.isActive }

    /// Connects, then authenticates and negotiates the protocol as configured. With `onMessage`,
    /// subscription messages are handed to it on the connection's event loop instead of `messages`.
    public static func connect(
        _ configuration: RedisConnectionConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "tandem.redis", factory: { _ in SwiftLogNoOpLogHandler() }),
        onMessage: (@Sendable (RedisPubSubMessage) -> Void)? = nil
    ) async throws -> RedisConnection {
        let server = configuration.serverDescription
        let (stream, continuation) = AsyncStream.makeStream(of: RedisPubSubMessage.self, bufferingPolicy: .bufferingNewest(100_000))
        let limits = configuration.limits
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: configuration.initialReadBufferSize.map {
                AdaptiveRecvByteBufferAllocator(minimum: 64, initial: $0, maximum: max($0, configuration.maximumReadBufferSize ?? 65536))
            } ?? AdaptiveRecvByteBufferAllocator())
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context = configuration.tlsContext {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: context, serverHostname: configuration.sniName))
                    }
                    try channel.pipeline.syncOperations.addHandler(FlushCoalescingHandler())
                    try channel.pipeline.syncOperations.addHandler(RedisClientHandler(server: server, messages: continuation, logger: logger,
                                                                                               limits: limits, onMessage: onMessage))
                }
            }
        // A name is looked up by our resolver, never on the event loop nor on NIO's serial
        // per-loop queue; each address is tried in turn (IPv4 first).
        let addresses: [String]
        do {
            addresses = try await configuration.resolver.addresses(of: configuration.host, timeout: configuration.connectTimeout)
            if addresses.isEmpty { throw NameResolutionError(host: configuration.host, reason: "no address") }
        } catch {
            continuation.finish()
            throw RedisConnectionError(code: .connectFailed, server: server, message: "\(error)", underlying: error)
        }
        let channel: any Channel
        do {
            var connected: (any Channel)?
            for (i, address) in addresses.enumerated() {
                do {
                    connected = try await bootstrap.connect(to: try SocketAddress(ipAddress: address, port: configuration.port)).get()
                    break
                } catch {
                    if i == addresses.count - 1 { throw error }
                }
            }
            guard let connected else { throw ChannelError.connectPending }  // not reached: the last failure was thrown
            channel = connected
        } catch ChannelError.connectTimeout(let amount) {
            continuation.finish()
            throw RedisConnectionError(code: .connectTimeout, server: server,
                                       message: "no connection within \(amount.nanoseconds / 1_000_000) ms")
        } catch {
            continuation.finish()
            throw RedisConnectionError(code: .connectFailed, server: server, message: "cannot connect", underlying: error)
        }
        // Nil only if the channel closed at once (then every request fails as closed anyway).
        let handler = try? await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: RedisClientHandler.self), eventLoop: channel.eventLoop)
        }.get()
        let connection = RedisConnection(configuration: configuration, channel: channel, messages: stream, handler: handler)
        do {
            try await connection.handshake()
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    private func handshake() async throws {
        let c = configuration
        if c.protocolVersion != .resp2 {
            var hello = ["HELLO", "3"]
            if let password = c.password { hello += ["AUTH", c.username ?? "default", password] }
            if let name = c.clientName { hello += ["SETNAME", name] }
            let reply = try await send(hello)
            if reply.errorMessage == nil {
                negotiatedProtocol.withLockedValue { $0 = 3 }
                return
            }
            let code = reply.errorCode ?? ""
            let message = reply.errorMessage ?? ""
            let noHello = code == "NOPROTO" || message.hasPrefix("ERR unknown command")
            if !noHello || c.protocolVersion == .resp3 {
                throw RedisConnectionError(
                    code: code == "NOPROTO" || message.hasPrefix("ERR unknown command") ? .serverError : .authenticationFailed,
                    server: server, command: "HELLO", message: message)
            }
        }
        if let password = c.password {
            let auth = c.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            let reply = try await send(auth)
            if let message = reply.errorMessage {
                throw RedisConnectionError(code: .authenticationFailed, server: server, command: "AUTH", message: message)
            }
        }
        if let name = c.clientName {
            try await command(["CLIENT", "SETNAME", name])
        }
    }

    // MARK: Commands

    /// Sends one command and returns its reply; an error reply is returned as a value.
    public func send(_ arguments: [String], timeout: TimeAmount? = nil) async throws -> RESPValue {
        try await send(arguments: arguments.map { ByteBuffer(string: $0) }, timeout: timeout)
    }

    /// Sends one command given as bytes.
    public func send(arguments: [ByteBuffer], timeout: TimeAmount? = nil) async throws -> RESPValue {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        enqueue(RedisRequest(arguments: arguments, promise: promise, timeout: timeout ?? configuration.commandTimeout))
        return try await promise.futureResult.get()
    }

    /// Writes a request. One written after the connection closed (its handler gone) fails at
    /// once rather than leaving its promise unanswered.
    private func enqueue(_ request: RedisRequest) {
        if channel.eventLoop.inEventLoop {
            // On the loop the handler is in the pipeline for as long as the channel is active.
            guard channel.isActive else {
                request.promise.fail(RedisConnectionError(code: .closed, server: server, command: request.prepared?.name,
                                                          message: "connection closed"))
                return
            }
            channel.writeAndFlush(request, promise: nil)
        } else {
            let written = channel.eventLoop.makePromise(of: Void.self)
            let reply = request.promise
            written.futureResult.whenFailure { reply.fail($0) }
            channel.writeAndFlush(request, promise: written)
        }
    }

    /// Sends a prepared command; the future completes on the connection's event loop, in the
    /// order the replies arrive (no task per reply, for callers that already run on that loop).
    public func submit(_ command: PreparedCommand, timeout: TimeAmount? = nil) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        // On the loop, straight to the handler (see `RedisClientHandler.writeAndFlush`).
        if let handler, channel.eventLoop.inEventLoop {
            if !channel.isActive || !handler.value.writeAndFlush(command, reply: .promise(promise), timeout: timeout ?? configuration.commandTimeout) {
                promise.fail(RedisConnectionError(code: .closed, server: server, command: command.name, message: "connection closed"))
            }
            return promise.futureResult
        }
        enqueue(RedisRequest(prepared: command, promise: promise, timeout: timeout ?? configuration.commandTimeout))
        return promise.futureResult
    }

    /// Sends a prepared command; `onReply` is called on the connection's event loop with its
    /// reply, in the order replies arrive, and not at all if the command fails (a timeout, the
    /// connection closed). Called on that loop, nothing is allocated per command for the reply
    /// (no promise, future or callback): a sentinel watching hundreds of masters sends thousands
    /// of PINGs and hellos a second. Elsewhere it falls back on `submit(_:timeout:)`.
    public func submit(_ command: PreparedCommand, timeout: TimeAmount? = nil,
                       onReply: (@Sendable (RESPValue) -> Void)?) {
        if let handler, channel.eventLoop.inEventLoop {
            if channel.isActive {
                let reply: ReplyTarget = onReply.map { .callback($0) } ?? .callback(Self.ignoreReply)
                _ = handler.value.writeAndFlush(command, reply: reply, timeout: timeout ?? configuration.commandTimeout)
            }
            return
        }
        let future = submit(command, timeout: timeout)
        if let onReply { future.whenSuccess(onReply) }
    }

    private static let ignoreReply: @Sendable (RESPValue) -> Void = { _ in }

    /// Sends a command given as bytes; the future completes on the connection's event loop, in
    /// reply order. Commands submitted one after another on that loop go out in that order with
    /// nothing between them (the cluster proxy's ASKING relies on it).
    public func submit(arguments: [ByteBuffer], timeout: TimeAmount? = nil) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        enqueue(RedisRequest(arguments: arguments, promise: promise, timeout: timeout ?? configuration.commandTimeout))
        return promise.futureResult
    }

    /// The event loop the connection's I/O and its futures run on.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Sends all commands in one write and returns their replies in order.
    public func pipeline(_ commands: [[String]], timeout: TimeAmount? = nil) async throws -> [RESPValue] {
        var futures: [EventLoopFuture<RESPValue>] = []
        futures.reserveCapacity(commands.count)
        for arguments in commands {
            let promise = channel.eventLoop.makePromise(of: RESPValue.self)
            channel.write(RedisRequest(arguments: arguments.map { ByteBuffer(string: $0) }, promise: promise,
                                       timeout: timeout ?? configuration.commandTimeout), promise: nil)
            futures.append(promise.futureResult)
        }
        channel.flush()
        var replies: [RESPValue] = []
        replies.reserveCapacity(futures.count)
        for future in futures { replies.append(try await future.get()) }
        return replies
    }

    /// Sends a command and throws `.serverError` if Redis answers with an error reply.
    @discardableResult
    public func command(_ arguments: [String], timeout: TimeAmount? = nil) async throws -> RESPValue {
        let reply = try await send(arguments, timeout: timeout)
        if let message = reply.errorMessage {
            throw RedisConnectionError(code: .serverError, server: server, command: describeCommand(arguments), message: message)
        }
        return reply
    }

    /// `PING`, expecting `PONG` (or `-LOADING`/`-MASTERDOWN`, which Sentinel also counts as alive,
    /// are returned as server errors for the caller to judge).
    public func ping(timeout: TimeAmount? = nil) async throws {
        let reply = try await command(["PING"], timeout: timeout)
        guard reply.string == "PONG" || reply.array?.first?.string == "pong" else {
            throw RedisConnectionError(code: .unexpectedReply, server: server, command: "PING", message: "expected PONG, got \(reply)")
        }
    }

    /// `INFO [section]`, parsed.
    public func info(_ section: String? = nil) async throws -> RedisInfo {
        let reply = try await command(["INFO"] + (section.map { [$0] } ?? []))
        guard let text = reply.string else {
            throw RedisConnectionError(code: .unexpectedReply, server: server, command: "INFO", message: "expected a bulk string, got \(reply)")
        }
        return RedisInfo(parsing: text)
    }

    /// `ROLE`, parsed.
    public func role() async throws -> RedisRole {
        let reply = try await command(["ROLE"])
        guard let role = RedisRole(reply: reply) else {
            throw RedisConnectionError(code: .unexpectedReply, server: server, command: "ROLE", message: "cannot parse \(reply)")
        }
        return role
    }

    // MARK: Pub/sub

    /// Subscribes to channels; messages arrive on `messages`.
    public func subscribe(_ channels: [String]) async throws {
        try await subscription("SUBSCRIBE", channels, needsNames: true)
    }

    /// Subscribes to glob-style patterns; messages arrive on `messages` with `pattern` set.
    public func psubscribe(_ patterns: [String]) async throws {
        try await subscription("PSUBSCRIBE", patterns, needsNames: true)
    }

    /// Unsubscribes from the channels, or from all when none are given.
    public func unsubscribe(_ channels: [String] = []) async throws {
        try await subscription("UNSUBSCRIBE", channels)
    }

    /// Unsubscribes from the patterns, or from all when none are given.
    public func punsubscribe(_ patterns: [String] = []) async throws {
        try await subscription("PUNSUBSCRIBE", patterns)
    }

    private func subscription(_ verb: String, _ names: [String], needsNames: Bool = false) async throws {
        if needsNames && names.isEmpty {
            throw RedisConnectionError(code: .unexpectedReply, server: server, command: verb, message: "needs at least one name")
        }
        try await command([verb] + names)
    }

    /// The local IP address of this connection (what a peer sees as our address).
    public var localIP: String? { channel.localAddress?.ipAddress }

    /// Completes when the connection has closed, for whatever reason.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Returns when the connection has closed, for whatever reason.
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }

    /// Closes the connection; outstanding requests fail with `.closed`.
    public func close() async {
        try? await channel.close().get()
    }

    /// Starts closing the connection without waiting (`closeFuture` says when it is closed);
    /// outstanding requests fail with `.closed`.
    public func closeNow() {
        channel.close(promise: nil)
    }
}
