import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import RESP
import RedisConnection
import SentinelConfig

#if canImport(Glibc)
import Glibc
#endif

/// The sentinel port: accepts Redis clients and peers, answers commands through the runtime.
public final class SentinelServer: Sendable {
    let runtime: SentinelRuntime
    let logger: Logger
    private let nextClientID = NIOLockedValueBox<UInt64>(0)
    /// Connections accepted and not yet taken by `serve` (at shutdown some never are: they are
    /// closed here, as NIO requires of an async channel, instead of trapping at deinit), and
    /// whether the server has stopped: a connection whose set-up runs after that (accepted as
    /// the listener closed) is refused before it is wrapped, or it would be left here unclosed
    /// and trap at deinit ("Deinited NIOAsyncWriter without calling finish()": `tandem run`
    /// stopped by SIGTERM just after it started, its own probe connecting to the monitor; a
    /// fresh-clone CI run, LogFormatTests).
    private let unserved = NIOLockedValueBox<(stopped: Bool, clients: [ObjectIdentifier: NIOAsyncChannel<RESPRequest, ByteBuffer>])>((false, [:]))

    public init(runtime: SentinelRuntime, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
    }

    /// Binds every address on the plain port and on the TLS port (each skipped when 0, as
    /// Redis's `port 0` / `tls-port 0`) and serves until the task is cancelled. Returns the
    /// bound ports through `onBound` once listening.
    public func run(hosts: [String], port: Int, tlsPort: Int = 0, tls: NIOSSLContext? = nil,
                    onBound: @Sendable ([Int]) -> Void = { _ in }) async throws {
        var listeners: [(host: String, port: Int, tls: NIOSSLContext?)] = []
        for host in hosts {
            if port != 0 { listeners.append((host, port, nil)) }
            if tlsPort != 0, let tls { listeners.append((host, tlsPort, tls)) }
        }
        guard !listeners.isEmpty else { throw SentinelStartError(description: "Configured to not listen anywhere, exiting.") }
        let executor = EventLoopTaskExecutor(runtime.loop)
        let logger = self.logger
        try await withThrowingDiscardingTaskGroup { group in
            var ports: [Int] = []
            for listener in listeners {
                let numbering = ClientNumbering(next: nextClientID)
                // On the runtime's loop, client connections too (see EventLoopTaskExecutor).
                let server = try await ServerBootstrap(group: runtime.loop)
                    .serverChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(numbering) }
                    }
                    .serverChannelOption(.backlog, value: 511)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .bind(host: listener.host, port: listener.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            if let tls = listener.tls {
                                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                                try channel.pipeline.syncOperations.addHandler(TLSAcceptFailureLogger(logger: logger))
                            }
                            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPRequestDecoder()))
                            let id = numbering.take(channel)
                            let counter = InputCounter(clientID: id)
                            try channel.pipeline.syncOperations.addHandler(counter)
                            // Replies to a peer's pipelined hellos leave in one write, not one each:
                            // the flush waits while requests already read are still unanswered
                            // (each one hops between the loop's tasks; 200 masters' hellos from
                            // a peer were ~170 writes a second of ":1").
                            try channel.pipeline.syncOperations.addHandler(FlushCoalescingHandler(holdWhile: {
                                counter.unprocessed.withLockedValue { $0 > 0 }
                            }))
                            return try self.unserved.withLockedValue { state in
                                guard !state.stopped else { throw ChannelError.ioOnClosedChannel }
                                let client = try NIOAsyncChannel<RESPRequest, ByteBuffer>(wrappingChannelSynchronously: channel)
                                state.clients[ObjectIdentifier(channel)] = client
                                return client
                            }
                        }
                    }
                ports.append(server.channel.localAddress?.port ?? listener.port)
                group.addTask {
                    do {
                        try await withTaskCancellationHandler {
                            try await server.executeThenClose { inbound in
                                try await withThrowingDiscardingTaskGroup { clients in
                                    for try await client in inbound {
                                        clients.addTask(executorPreference: executor) { await self.serve(client) }
                                    }
                                }
                            }
                        } onCancel: {
                            server.channel.close(promise: nil)
                        }
                    } catch {
                        await self.closeUnserved()
                        throw error
                    }
                    await self.closeUnserved()
                }
            }
            onBound(ports)
        }
    }

    /// Closes the connections accepted that `serve` never took (the server stopped first).
    private func closeUnserved() async {
        let left = unserved.withLockedValue { state in
            defer { state.clients.removeAll() }
            state.stopped = true
            return Array(state.clients.values)
        }
        for client in left {
            try? await client.executeThenClose { _, _ in }
        }
    }

    private func serve(_ client: NIOAsyncChannel<RESPRequest, ByteBuffer>) async {
        _ = unserved.withLockedValue { $0.clients.removeValue(forKey: ObjectIdentifier(client.channel)) }
        do {
            try await client.executeThenClose { inbound, outbound in
                let channel = client.channel
                guard let counter = try? await channel.pipeline.handler(type: InputCounter.self).get() else { return }
                let id = counter.clientID
                let unread = counter.unprocessed
                let client = SentinelClient(id: id, address: channel.remoteAddress?.clientListForm ?? "?:0",
                                            localAddress: channel.localAddress?.clientListForm ?? "?:0",
                                            unprocessedInput: unread,
                                            closer: { channel.close(promise: nil) })
                if let denial = await runtime.connectionLimitDenial() {
                    var buffer = ByteBuffer()
                    buffer.writeString(denial)
                    try? await outbound.write(buffer)
                    return
                }
                if let denial = await runtime.protectedModeDenial(for: channel.remoteAddress) {
                    var buffer = ByteBuffer()
                    buffer.writeString(denial)
                    try? await outbound.write(buffer)
                    return
                }
                // As 7.0's createClient: a connection made while the default user is enabled
                // and needs no password starts authenticated, and stays so whatever later
                // happens to that user (ACL SETUSER default off, a new password).
                let open = await runtime.newConnectionsStartAuthenticated()
                client.update { $0.authenticated = open }
                runtime.clients.add(client)
                defer { runtime.clients.remove(id) }
                // Events for this client go through one queue and one writer, so a subscriber
                // sees them in the order they were published.
                let (pushes, pushQueue) = AsyncStream.makeStream(of: ByteBuffer.self)
                // client-output-buffer-limit: a subscriber whose events pile up unread is closed,
                // as Redis closes it (checked when output is added, as 7.0 checks it).
                let limits = await runtime.configuration.outputBufferLimits
                let hub = runtime.hub
                let runtime = runtime
                runtime.hub.register(id) { value in
                    var buffer = ByteBuffer()
                    let proto = client.protocolVersion
                    if proto == 3, case .array(let elements) = value {
                        buffer.writeRESPValue(.push(elements))
                    } else {
                        buffer.writeRESPValue(value)
                    }
                    let kind: OutputBufferClass = hub.subscriptionCount(id) > 0 ? .pubsub : .normal
                    let limit = limits[kind] ?? OutputBufferLimit(hard: 0, soft: 0, softSeconds: 0)
                    let seconds = Int64(Date().timeIntervalSince1970)
                    let overLimit = client.update {
                        $0.buffers.pendingOutput += buffer.readableBytes
                        $0.buffers.pendingMessages += 1
                        guard !$0.killed else { return false }
                        return $0.outputLimit.exceeded(used: UInt64($0.buffers.pendingOutput), limit: limit, nowSeconds: seconds)
                    }
                    if overLimit {
                        let info = runtime.clientInfoLine(client)
                        client.close()
                        runtime.logger.warning("Client \(info) scheduled to be closed ASAP for overcoming of output buffer limits.")
                        return
                    }
                    pushQueue.yield(buffer)
                }
                defer { runtime.hub.unregister(id) }
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await buffer in pushes {
                            try? await outbound.write(buffer)
                            client.update {
                                $0.buffers.pendingOutput -= buffer.readableBytes
                                $0.buffers.pendingMessages -= 1
                            }
                        }
                    }
                    do {
                        for try await request in inbound {
                            client.update {
                                $0.lastInteraction = .now
                                if $0.replyMode == .skipNext { $0.replyMode = .skip }
                                $0.buffers.query = request.raw.readableBytes
                                $0.buffers.arguments = request.arguments.reduce(0) { $0 + $1.readableBytes }
                            }
                            // Counted as read before it runs, as Redis counts its input.
                            runtime.clients.update { $0.stats.inputBytes += request.raw.readableBytes }
                            defer { unread.withLockedValue { $0 -= request.raw.readableBytes } }
                            let replies = await runtime.execute(request, client: client)
                            // CLIENT CACHING applies to the next command that is not CLIENT.
                            if request.arguments.first.map({ String(buffer: $0).lowercased() }) != "client" {
                                client.update { $0.tracking.caching = false }
                            }
                            var buffer = ByteBuffer()
                            let proto = client.protocolVersion
                            // CLIENT REPLY: nothing while off, nothing for CLIENT REPLY OFF / SKIP
                            // themselves, nothing for the command after SKIP (unless it is ON).
                            let silent = client.update { fields in
                                switch fields.replyMode {
                                case .on: return false
                                case .off, .skipNext: return true
                                case .skip:
                                    fields.replyMode = .on
                                    return true
                                }
                            }
                            if !silent {
                                for reply in replies { buffer.writeRESPValue(adapt(reply, protocolVersion: proto)) }
                            }
                            let second = Int64(Date().timeIntervalSince1970)
                            client.update {
                                $0.buffers.query = 0
                                $0.buffers.arguments = 0
                                $0.buffers.replyBuffer = buffer.capacity
                                $0.buffers.replyPeak = max($0.buffers.replyPeak, buffer.readableBytes)
                            }
                            let errors = replies.filter { $0.errorMessage != nil }.count
                            runtime.clients.update {
                                $0.recentPeaks.record(input: request.raw.readableBytes, output: buffer.readableBytes, second: second)
                                $0.stats.commandsProcessed += 1
                                $0.stats.outputBytes += buffer.readableBytes
                                $0.stats.errorReplies += errors
                            }
                            if buffer.readableBytes > 0 { try await outbound.write(buffer) }
                            if client.closeAfterReply { break }
                        }
                    } catch let error as RESPProtocolError {
                        var buffer = ByteBuffer()
                        buffer.writeRESPValue(.simpleError("ERR \(error.message)"))
                        try? await outbound.write(buffer)
                        logger.debug("closing client \(id): \(error)")
                    } catch {
                        logger.debug("client \(id) closed: \(error)")
                    }
                    pushQueue.finish()
                }
            }
        } catch {
            logger.debug("client closed: \(error)")
        }
    }
}

/// Replies are built in RESP3 shapes (maps, null); a RESP2 client gets them as Redis sends
/// them in RESP2 (flat arrays, `$-1`/`*-1`). Subscription confirmations become pushes in RESP3.
func adapt(_ value: RESPValue, protocolVersion: Int, top: Bool = true) -> RESPValue {
    switch value {
    case .map(let pairs) where protocolVersion == 2:
        return .array(pairs.flatMap { [adapt($0.key, protocolVersion: 2, top: false), adapt($0.value, protocolVersion: 2, top: false)] })
    case .map(let pairs):
        return .map(pairs.map { RESPPair(key: $0.key, value: adapt($0.value, protocolVersion: 3, top: false)) })
    case .set(let elements) where protocolVersion == 2:
        return .array(elements.map { adapt($0, protocolVersion: 2, top: false) })
    case .verbatimString(var b) where protocolVersion == 2:
        b.moveReaderIndex(forwardBy: min(4, b.readableBytes))  // the "txt:" format prefix
        return .bulkString(b)
    case .double(let d) where protocolVersion == 2:
        return .bulkString(formatDouble(d))
    case .array(let elements):
        if protocolVersion == 3, top, let kind = elements.first?.string,
           ["subscribe", "psubscribe", "unsubscribe", "punsubscribe"].contains(kind) {
            return .push(elements)
        }
        return .array(elements.map { adapt($0, protocolVersion: protocolVersion, top: false) })
    case .nullArray, .nullBulkString, .null:
        if protocolVersion == 3 { return .null }
        if case .null = value { return .nullBulkString }
        return value
    default:
        return value
    }
}

/// A double as Redis writes it in RESP2 (`%.17g`).
func formatDouble(_ d: Double) -> String {
    if d.isInfinite { return d > 0 ? "inf" : "-inf" }
    return String(format: "%.17g", d)
}

/// Counts the bytes of requests received and not yet done with (CLIENT LIST's qbuf: Redis
/// keeps them in the client's query buffer until each has run).
final class InputCounter: ChannelInboundHandler, Sendable {
    typealias InboundIn = RESPRequest
    typealias InboundOut = RESPRequest
    let unprocessed = NIOLockedValueBox(0)
    let clientID: UInt64

    init(clientID: UInt64) { self.clientID = clientID }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        unprocessed.withLockedValue { $0 += request.raw.readableBytes }
        context.fireChannelRead(data)
    }
}

/// Numbers accepted connections on the listening channel, in the order they are accepted (the
/// child channels' own set-up runs on several event loops, in no fixed order), as Redis numbers
/// its clients.
final class ClientNumbering: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel
    private let next: NIOLockedValueBox<UInt64>
    private let assigned = NIOLockedValueBox<[ObjectIdentifier: UInt64]>([:])

    init(next: NIOLockedValueBox<UInt64>) { self.next = next }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        let id = next.withLockedValue { $0 += 1; return $0 }
        assigned.withLockedValue { $0[ObjectIdentifier(child)] = id }
        context.fireChannelRead(data)
    }

    /// The number given to `channel` when it was accepted (a fresh one if it went unseen).
    func take(_ channel: any Channel) -> UInt64 {
        assigned.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
            ?? next.withLockedValue { $0 += 1; return $0 }
    }
}
