import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// `--http ADDR:PORT`: answers `GET /metrics` with the registry's exposition and 404 for any
/// other path. A thin shell: one NIO event loop of the shared group; nothing here decides.
public final class MetricsHTTPServer: Sendable {
    private let channel: any Channel

    /// The bound address (port 0 asks for any free port).
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) { self.channel = channel }

    /// Binds now; a bind failure is an error naming the address.
    public static func start(_ endpoint: HTTPEndpoint, metrics: MetricsRegistry,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> MetricsHTTPServer {
        do {
            return MetricsHTTPServer(channel: try await bootstrap(group, metrics).bind(host: endpoint.host, port: endpoint.port).get())
        } catch {
            throw HTTPStartError("cannot listen for HTTP on \(endpoint): \(error)")
        }
    }

    /// `start` for a caller that is not async (`tandem vrrp`'s thread runs a poll loop).
    public static func startBlocking(_ endpoint: HTTPEndpoint, metrics: MetricsRegistry,
                                     group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws -> MetricsHTTPServer {
        do {
            return MetricsHTTPServer(channel: try bootstrap(group, metrics).bind(host: endpoint.host, port: endpoint.port).wait())
        } catch {
            throw HTTPStartError("cannot listen for HTTP on \(endpoint): \(error)")
        }
    }

    /// `close` for a caller that is not async.
    public func closeBlocking() {
        try? channel.close().wait()
    }

    private static func bootstrap(_ group: any EventLoopGroup, _ metrics: MetricsRegistry) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics))
                }
            }
    }

    /// Stops accepting (open connections end with their clients).
    public func close() async {
        try? await channel.close()
    }
}

/// Holds the server a start-up callback made, for the caller to close.
public final class MetricsHTTPServerBox: Sendable {
    private let server = Mutex<MetricsHTTPServer?>(nil)
    public init() {}
    public func set(_ s: MetricsHTTPServer) { server.withLock { $0 = s } }
    public func close() async { await server.withLock({ $0 })?.close() }
}

/// A start-up failure of the HTTP endpoint.
public struct HTTPStartError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// `ADDR:PORT` or `[V6]:PORT` for `--http`.
public struct HTTPEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(parsing text: String) throws {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw HTTPStartError("--http \(text): expected ADDR:PORT (e.g. 127.0.0.1:9121)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw HTTPStartError("--http \(text): expected ADDR:PORT (e.g. 127.0.0.1:9121)") }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// One HTTP/1.1 connection: requests answered in order, keep-alive as the client asks.
final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let metrics: MetricsRegistry
    private var head: HTTPRequestHead?

    init(metrics: MetricsRegistry) { self.metrics = metrics }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
            let keepAlive = head.isKeepAlive
            let version = head.version
            guard path == "/metrics" else {
                respond(context: context, version: version, keepAlive: keepAlive, status: .notFound,
                        contentType: "text/plain; charset=utf-8", body: Array("not found: GET /metrics\n".utf8), includeBody: true)
                return
            }
            guard head.method == .GET || head.method == .HEAD else {
                respond(context: context, version: version, keepAlive: keepAlive, status: .methodNotAllowed,
                        contentType: "text/plain; charset=utf-8", body: Array("only GET\n".utf8), includeBody: true, allow: true)
                return
            }
            let includeBody = head.method == .GET
            let metrics = self.metrics
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            Task {
                let body = await metrics.render()
                eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.respond(context: context, version: version, keepAlive: keepAlive, status: .ok,
                                    contentType: "text/plain; version=0.0.4; charset=utf-8", body: body, includeBody: includeBody)
                }
            }
        }
    }

    private func respond(context: ChannelHandlerContext, version: HTTPVersion, keepAlive: Bool, status: HTTPResponseStatus,
                         contentType: String, body: [UInt8], includeBody: Bool, allow: Bool = false) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        if allow { headers.add(name: "Allow", value: "GET, HEAD") }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if includeBody {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
