import Crypto
import KeepalivedConfig
import LVSCore
import NIOCore
import NIOPosix
import NIOSSL
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// The network checkers (TCP_CHECK, HTTP_GET, REDIS_CHECK) on one event loop: each ends in a
/// `CheckOutcome`, never in a failed future.
struct NetworkChecks {
    let loop: any EventLoop

    /// Largest HTTP response or Redis INFO read (a health page is small; more is a failure).
    static let maxResponse = 1 << 20

    func run(_ check: CheckerConfig) -> EventLoopFuture<CheckOutcome> {
        switch check.kind {
        case .tcp:
            return connect(check).flatMap { channel in
                channel.close(promise: nil)
                return loop.makeSucceededFuture(.success)
            }.recover { .failure(reason: describe($0)) }
        case .http(let http):
            return httpGet(check, http, urls: http.urls[...])
        case .redis(let redis):
            return redisCheck(check, redis)
        case .udp(let udp):
            return udpCheck(check, udp)
        case .misc:
            return loop.makeSucceededFuture(.failure(reason: "MISC_CHECK is run as a script"))
        }
    }

    private func socketAddress(_ service: ServiceAddress) throws -> SocketAddress {
        try SocketAddress(ipAddress: service.address.description, port: service.port)
    }

    /// `url`: SSL_GET's url being fetched (its SNI name, with `enable_sni`).
    private func connect(_ check: CheckerConfig, url: HTTPCheck.URL? = nil, handler: (any ChannelHandler & Sendable)? = nil) -> EventLoopFuture<any Channel> {
        var bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(Int64(check.connectTimeout * 1000)))
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        // SSL_GET: TLS first; SNI with `enable_sni` only, and only for a host name (an IP
        // address may not be sent).
        var tlsName: String??
        if case .http(let http) = check.kind, http.tls {
            let name = url.flatMap { http.sniName($0) }
            tlsName = .some(name.flatMap { IPAddress($0) == nil ? $0 : nil })
        }
        if handler != nil || tlsName != nil {
            let serverName = tlsName
            bootstrap = bootstrap.channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let serverName {
                        let context = try sslGetContext.get()
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                    }
                    if let handler { try channel.pipeline.syncOperations.addHandler(handler) }
                }
            }
        }
        do {
            if let bind = check.bindAddress {
                bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: bind.description, port: check.bindPort ?? 0))
            }
            return bootstrap.connect(to: try socketAddress(check.connectAddress))
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    /// Sends `request`, reads until the server closes (or `complete` says the reply is whole),
    /// within connect_timeout for the connect and connect_timeout again for the reply.
    private func exchange(_ check: CheckerConfig, url: HTTPCheck.URL? = nil, request: [UInt8],
                          complete: @escaping @Sendable (ByteBuffer) -> Bool) -> EventLoopFuture<ByteBuffer> {
        let promise = loop.makePromise(of: ByteBuffer.self)
        let collector = ResponseCollector(promise: promise, complete: complete)
        let loop = self.loop
        connect(check, url: url, handler: collector).whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(error)
            case .success(let channel):
                channel.writeAndFlush(ByteBuffer(bytes: request), promise: nil)
                let timeout = loop.scheduleTask(in: .milliseconds(Int64(check.connectTimeout * 1000))) {
                    promise.fail(CheckFailure("no complete reply within \(check.connectTimeout) s"))
                }
                promise.futureResult.whenComplete { _ in
                    timeout.cancel()
                    channel.close(promise: nil)
                }
            }
        }
        return promise.futureResult
    }

    // MARK: HTTP_GET

    private func httpGet(_ check: CheckerConfig, _ http: HTTPCheck, urls: ArraySlice<HTTPCheck.URL>) -> EventLoopFuture<CheckOutcome> {
        guard let url = urls.first else { return loop.makeSucceededFuture(.success) }
        let request = http.request(url, server: check.connectAddress)
        return exchange(check, url: url, request: Array(request.utf8), complete: { _ in false }).flatMap { response in
            switch HTTPResponseCheck.verdict(response, url: url) {
            case .success: return httpGet(check, http, urls: urls.dropFirst())
            case let failure: return loop.makeSucceededFuture(failure)
            }
        }.recover { error in
            if let failure = error as? CheckFailure, failure.message == "connection closed" {
                return .failure(reason: "HTTP GET \(url.path): empty reply")
            }
            return .failure(reason: "HTTP GET \(url.path): \(describe(error))")
        }
    }

    // MARK: REDIS_CHECK

    private func redisCheck(_ check: CheckerConfig, _ redis: RedisCheck) -> EventLoopFuture<CheckOutcome> {
        var commands: [[String]] = []
        if let password = redis.password {
            commands.append(redis.user.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        commands.append(["PING"])
        commands.append(["INFO", "replication"])
        var request: [UInt8] = []
        for command in commands {
            request += Array("*\(command.count)\r\n".utf8)
            for word in command { request += Array("$\(word.utf8.count)\r\n\(word)\r\n".utf8) }
        }
        let expected = commands.count
        return exchange(check, request: request, complete: { RedisReplyCheck.replies(in: $0, expected: expected) != nil })
            .map { buffer in RedisReplyCheck.verdict(buffer, expected: expected, requireMaster: redis.requireMaster) }
            .recover { .failure(reason: describe($0)) }
    }
}

extension NetworkChecks {
    // MARK: UDP_CHECK

    /// The payload on a connected UDP socket (so an ICMP port unreachable comes back as an
    /// error), then within connect_timeout: an error fails; a reply passes if `UDPCheck.accepts`
    /// it; silence passes unless `require_reply` (keepalived's `udp_socket_state`).
    fileprivate func udpCheck(_ check: CheckerConfig, _ udp: UDPCheck) -> EventLoopFuture<CheckOutcome> {
        let promise = loop.makePromise(of: CheckOutcome.self)
        let loop = self.loop
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: check.connectAddress.address.description, port: check.connectAddress.port)
        } catch {
            return loop.makeSucceededFuture(.failure(reason: describe(error)))
        }
        var bootstrap = DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPReplyCollector(udp: udp, promise: promise))
                }
            }
        if let bind = check.bindAddress {
            do {
                let local = try SocketAddress(ipAddress: bind.description, port: check.bindPort ?? 0)
                bootstrap = bootstrap.channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                return bootstrap.bind(to: local).flatMap { channel in
                    channel.connect(to: address).map { channel }
                }.flatMap { channel in
                    Self.sendAndWait(channel, udp: udp, check: check, promise: promise, loop: loop)
                }.recover { .failure(reason: describe($0)) }
            } catch {
                return loop.makeSucceededFuture(.failure(reason: describe(error)))
            }
        }
        return bootstrap.connect(to: address).flatMap { channel in
            Self.sendAndWait(channel, udp: udp, check: check, promise: promise, loop: loop)
        }.recover { .failure(reason: describe($0)) }
    }

    private static func sendAndWait(_ channel: any Channel, udp: UDPCheck, check: CheckerConfig, promise: EventLoopPromise<CheckOutcome>,
                                    loop: any EventLoop) -> EventLoopFuture<CheckOutcome> {
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: channel.remoteAddress!, data: ByteBuffer(bytes: udp.payload)))
            .whenFailure { promise.succeed(.failure(reason: "UDP send: \(describe($0))")) }
        let timeout = loop.scheduleTask(in: .milliseconds(Int64(check.connectTimeout * 1000))) {
            promise.succeed(udp.requireReply ? .failure(reason: "no UDP reply within \(check.connectTimeout) s") : .success)
        }
        promise.futureResult.whenComplete { _ in
            timeout.cancel()
            channel.close(promise: nil)
        }
        return promise.futureResult
    }
}

/// UDP_CHECK's socket: the first reply or error decides.
private final class UDPReplyCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let udp: UDPCheck
    private let promise: EventLoopPromise<CheckOutcome>

    init(udp: UDPCheck, promise: EventLoopPromise<CheckOutcome>) {
        self.udp = udp
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        promise.succeed(udp.accepts(bytes) ? .success : .failure(reason: "UDP reply data mismatch (\(bytes.count) bytes)"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.succeed(.failure(reason: "UDP: \(describe(error))"))
    }
}

/// SSL_GET's TLS: no certificate verification, as keepalived's SSL_GET without an `ssl` block
/// (health checks commonly meet self-signed certificates); made once.
private let sslGetContext = Result<NIOSSLContext, any Error> {
    var configuration = TLSConfiguration.makeClientConfiguration()
    configuration.certificateVerification = .none
    return try NIOSSLContext(configuration: configuration)
}

/// Collects a reply until the peer closes or `complete` is satisfied.
private final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private var buffer = ByteBuffer()
    private let promise: EventLoopPromise<ByteBuffer>
    private let complete: @Sendable (ByteBuffer) -> Bool

    init(promise: EventLoopPromise<ByteBuffer>, complete: @escaping @Sendable (ByteBuffer) -> Bool) {
        self.promise = promise
        self.complete = complete
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        if buffer.readableBytes > NetworkChecks.maxResponse {
            promise.fail(CheckFailure("reply longer than \(NetworkChecks.maxResponse) bytes"))
        } else if complete(buffer) {
            promise.succeed(buffer)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if buffer.readableBytes > 0 {
            promise.succeed(buffer)
        } else {
            promise.fail(CheckFailure("connection closed"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // SSL_GET: a server that closes without TLS's close_notify (common, and what an HTTP/1.0
        // reply read to the end meets) has still sent its whole reply.
        if let tls = error as? NIOSSLError, case .uncleanShutdown = tls, buffer.readableBytes > 0 {
            promise.succeed(buffer)
        } else {
            promise.fail(error)
        }
        context.close(promise: nil)
    }
}

struct CheckFailure: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

func describe(_ error: any Error) -> String {
    if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
    if error is ChannelError, case ChannelError.connectTimeout = error { return "connect timeout" }
    return "\(error)"
}

/// HTTP_GET's verdict on a whole response: the status code in the accepted ranges and, when a
/// digest is configured, the body's MD5.
enum HTTPResponseCheck {
    static func verdict(_ response: ByteBuffer, url: HTTPCheck.URL) -> CheckOutcome {
        let bytes = Array(response.readableBytesView)
        guard let headerEnd = find([13, 10, 13, 10], in: bytes) else {
            return .failure(reason: "HTTP GET \(url.path): no end of headers in the reply")
        }
        let statusLine = String(decoding: bytes.prefix { $0 != 13 }, as: UTF8.self)
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            return .failure(reason: "HTTP GET \(url.path): not an HTTP status line: \(statusLine.prefix(60))")
        }
        guard url.statusCodes.contains(where: { $0.contains(status) }) else {
            return .failure(reason: "HTTP status code error to [\(url.path)] status_code = \(status)")
        }
        if let digest = url.digest {
            let body = bytes[(headerEnd + 4)...]
            let actual = Insecure.MD5.hash(data: Array(body)).map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }.joined()
            guard actual == digest else {
                return .failure(reason: "MD5 digest error to [\(url.path)], MD5SUM [\(actual)]")
            }
        }
        return .success
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }
}

/// REDIS_CHECK's reading of the replies to [AUTH,] PING and INFO replication.
enum RedisReplyCheck {
    /// The first `expected` replies as (first byte, text), nil until all have arrived. Only the
    /// reply shapes these commands give: simple strings, errors, bulk strings.
    static func replies(in buffer: ByteBuffer, expected: Int) -> [(UInt8, String)]? {
        let bytes = Array(buffer.readableBytesView)
        var replies: [(UInt8, String)] = []
        var i = 0
        while replies.count < expected {
            guard i < bytes.count, let lineEnd = HTTPResponseCheck.find([13, 10], in: Array(bytes[i...])).map({ $0 + i }) else { return nil }
            let kind = bytes[i]
            let line = String(decoding: bytes[(i + 1)..<lineEnd], as: UTF8.self)
            switch kind {
            case UInt8(ascii: "$"):
                guard let length = Int(line) else { return [(UInt8(ascii: "-"), "unexpected reply")] }
                if length < 0 {
                    replies.append((kind, ""))
                    i = lineEnd + 2
                    continue
                }
                let start = lineEnd + 2
                guard bytes.count >= start + length + 2 else { return nil }
                replies.append((kind, String(decoding: bytes[start..<(start + length)], as: UTF8.self)))
                i = start + length + 2
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                replies.append((kind, line))
                i = lineEnd + 2
            default:
                return [(UInt8(ascii: "-"), "unexpected reply '\(String(decoding: [kind], as: UTF8.self))'")]
            }
        }
        return replies
    }

    static func verdict(_ buffer: ByteBuffer, expected: Int, requireMaster: Bool) -> CheckOutcome {
        guard let replies = replies(in: buffer, expected: expected) else {
            return .failure(reason: "incomplete reply")
        }
        if let error = replies.first(where: { $0.0 == UInt8(ascii: "-") }) {
            return .failure(reason: "Redis replied -\(error.1)")
        }
        guard requireMaster else { return .success }
        let info = replies.last?.1 ?? ""
        // "\r\n" is one Character: split on newlines, not on "\r" and "\n".
        let role = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("role:") }
        guard let role else { return .failure(reason: "no role in INFO replication") }
        return role == "role:master" ? .success : .failure(reason: "\(role), not role:master")
    }
}
