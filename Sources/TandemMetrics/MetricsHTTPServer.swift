import HostPort
import NIOCore
import NIOHTTP1
import NIOPosix
import Status
import Synchronization

/// `--http ADDR:PORT`: answers `GET /metrics` with the registry's exposition and, given a status
/// source, `GET /` with the status page and `GET /status.json` with its document; 404 for any
/// other path. A thin shell: one NIO event loop of the shared group; nothing here decides.
public final class MetricsHTTPServer: Sendable {
    private let channel: any Channel

    /// The bound address (port 0 asks for any free port).
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) { self.channel = channel }

    /// Binds now; a bind failure is an error naming the address.
    public static func start(_ endpoint: HTTPEndpoint, metrics: MetricsRegistry, status: StatusPageSource? = nil,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> MetricsHTTPServer {
        do {
            return MetricsHTTPServer(channel: try await bootstrap(group, metrics, status).bind(host: endpoint.host, port: endpoint.port).get())
        } catch {
            throw HTTPStartError("cannot listen for HTTP on \(endpoint): \(error)")
        }
    }

    /// `start` for a caller that is not async (`tandem vrrp`'s thread runs a poll loop).
    public static func startBlocking(_ endpoint: HTTPEndpoint, metrics: MetricsRegistry, status: StatusPageSource? = nil,
                                     group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws -> MetricsHTTPServer {
        do {
            return MetricsHTTPServer(channel: try bootstrap(group, metrics, status).bind(host: endpoint.host, port: endpoint.port).wait())
        } catch {
            throw HTTPStartError("cannot listen for HTTP on \(endpoint): \(error)")
        }
    }

    /// `close` for a caller that is not async.
    public func closeBlocking() {
        try? channel.close().wait()
    }

    private static func bootstrap(_ group: any EventLoopGroup, _ metrics: MetricsRegistry, _ status: StatusPageSource?) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics, status: status))
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
        guard let address = HostPort(text, ports: 0...65535) else {
            throw HTTPStartError("--http \(text): expected ADDR:PORT (e.g. 127.0.0.1:9121)")
        }
        self.host = address.host
        self.port = address.port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// One HTTP/1.1 connection: requests answered in order, keep-alive as the client asks.
final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let metrics: MetricsRegistry
    private let status: StatusPageSource?
    private var head: HTTPRequestHead?

    init(metrics: MetricsRegistry, status: StatusPageSource?) {
        self.metrics = metrics
        self.status = status
    }

    /// The paths served, and how each body is made.
    private enum Resource {
        case metrics, page, statusJSON
    }

    private func resource(_ path: String) -> Resource? {
        switch path {
        case "/metrics": return .metrics
        case "/", "/index.html": return status == nil ? nil : .page
        case "/status.json": return status == nil ? nil : .statusJSON
        default: return nil
        }
    }

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
            guard let resource = resource(path) else {
                let known = status == nil ? "GET /metrics" : "GET /, /status.json, /metrics"
                respond(context: context, version: version, keepAlive: keepAlive, status: .notFound,
                        contentType: "text/plain; charset=utf-8", body: Array("not found: \(known)\n".utf8), includeBody: head.method != .HEAD)
                return
            }
            guard head.method == .GET || head.method == .HEAD else {
                respond(context: context, version: version, keepAlive: keepAlive, status: .methodNotAllowed,
                        contentType: "text/plain; charset=utf-8", body: Array("only GET\n".utf8), includeBody: true, allow: true)
                return
            }
            let includeBody = head.method == .GET
            if case .page = resource {
                respond(context: context, version: version, keepAlive: keepAlive, status: .ok,
                        contentType: "text/html; charset=utf-8", body: Self.page, includeBody: includeBody, noStore: true)
                return
            }
            let metrics = self.metrics
            let status = self.status
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            Task {
                let body: [UInt8]
                let contentType: String
                if case .statusJSON = resource, let status {
                    body = await status.page().json()
                    contentType = "application/json"
                } else {
                    body = await metrics.render()
                    contentType = "text/plain; version=0.0.4; charset=utf-8"
                }
                eventLoop.execute {
                    let (handler, context) = loopBound.value
                    handler.respond(context: context, version: version, keepAlive: keepAlive, status: .ok,
                                    contentType: contentType, body: body, includeBody: includeBody, noStore: resource == .statusJSON)
                }
            }
        }
    }

    private static let page = Array(StatusPageHTML.page.utf8)

    /// A request that is no HTTP: NIO's error handler has answered 400; the connection ends
    /// here (left open, a bad client held it until it gave up).
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(context: ChannelHandlerContext, version: HTTPVersion, keepAlive: Bool, status: HTTPResponseStatus,
                         contentType: String, body: [UInt8], includeBody: Bool, allow: Bool = false, noStore: Bool = false) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        if allow { headers.add(name: "Allow", value: "GET, HEAD") }
        if noStore { headers.add(name: "Cache-Control", value: "no-store") }
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
