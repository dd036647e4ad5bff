import KeepalivedConfig
import LVSCore
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import LVS

/// Datagrams a socket received: each with where it came from.
private final class Received: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let datagrams = Mutex<[(from: SocketAddress, text: String)]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        datagrams.withLock { $0.append((envelope.remoteAddress, String(buffer: envelope.data))) }
    }
}

/// A UDP echo service on 127.0.0.1: answers each datagram with `PORT:` and the datagram.
private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let port: Int
    init(port: Int) { self.port = port }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let reply = ByteBuffer(string: "\(port):" + String(buffer: envelope.data))
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
    }
}

private func udpSocket(port: Int = 0, handler: @escaping @Sendable (Int) -> any ChannelHandler) async throws -> any Channel {
    let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: port).get()
    let bound = channel.localAddress?.port ?? 0
    try await channel.eventLoop.submit {
        try channel.pipeline.syncOperations.addHandler(handler(bound))
    }.get()
    return channel
}

/// A free UDP port on 127.0.0.1 (bound and released).
private func freeUDPPort() async throws -> Int {
    let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    return port
}

/// A client socket: sends to the virtual server and waits for the next reply.
private struct UDPClient {
    let channel: any Channel
    let received: Received

    static func make() async throws -> UDPClient {
        let received = Received()
        let channel = try await udpSocket { _ in received }
        return UDPClient(channel: channel, received: received)
    }

    /// Sends `text` to 127.0.0.1:`port`; the reply and where it came from.
    func ask(_ text: String, port: Int) async throws -> (from: SocketAddress, text: String) {
        let before = received.datagrams.withLock { $0.count }
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let deadline = ContinuousClock.now + .seconds(10)
        // UDP may lose a datagram: ask again every 200 ms until a reply or the deadline.
        while ContinuousClock.now < deadline {
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(string: text))).get()
            let resend = ContinuousClock.now + .milliseconds(200)
            while ContinuousClock.now < resend {
                if let reply = received.datagrams.withLock({ $0.count > before ? $0[before] : nil }) { return reply }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        throw CancellationError()
    }

    /// The real server's port a reply names.
    static func servedBy(_ reply: (from: SocketAddress, text: String)) -> Int {
        Int(reply.text.split(separator: ":").first ?? "") ?? 0
    }

    func close() async { try? await channel.close() }
}

private final class Lines: Sendable {
    let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

@Suite("protocol UDP virtual servers in process", .serialized, .timeLimit(.minutes(1)))
struct UDPVirtualServerTests {
    @Test("rr places each client flow (address and port); a flow's datagrams stay on its real server; replies come from the virtual address")
    func roundRobinFlows() async throws {
        let a = try await udpSocket { EchoHandler(port: $0) }
        let b = try await udpSocket { EchoHandler(port: $0) }
        defer { a.close(promise: nil); b.close(promise: nil) }
        let (aPort, bPort) = (a.localAddress!.port!, b.localAddress!.port!)
        let port = try await freeUDPPort()
        let log = Lines()
        let servers = try VirtualServers(configuration: try KeepalivedConfiguration.parse("""
            virtual_server 127.0.0.1 \(port) {
              protocol UDP
              lb_algo rr
              real_server 127.0.0.1 \(aPort) {
              }
              real_server 127.0.0.1 \(bPort) {
              }
            }

            """), log: { log.append($0) })
        try servers.start()
        defer { servers.stop() }
        #expect(servers.boundPorts == [port])
        var served: [Int] = []
        for i in 0..<4 {
            let client = try await UDPClient.make()
            let first = try await client.ask("hello \(i)", port: port)
            #expect(first.text.hasSuffix(":hello \(i)"))
            #expect(first.from.port == port, "a reply comes from the virtual server's address and port")
            let server = UDPClient.servedBy(first)
            for j in 0..<3 {
                let again = try await client.ask("again \(j)", port: port)
                #expect(UDPClient.servedBy(again) == server, "a flow moved")
            }
            served.append(server)
            await client.close()
        }
        #expect(served.sorted() == [aPort, aPort, bPort, bPort].sorted(), "\(served) \(log.all)")
    }

    @Test("persistence_timeout: every flow of one client address goes to the same real server; weight 0 takes no new flow")
    func persistenceAndWeight() async throws {
        let a = try await udpSocket { EchoHandler(port: $0) }
        let b = try await udpSocket { EchoHandler(port: $0) }
        let c = try await udpSocket { EchoHandler(port: $0) }
        defer { a.close(promise: nil); b.close(promise: nil); c.close(promise: nil) }
        let (aPort, bPort, cPort) = (a.localAddress!.port!, b.localAddress!.port!, c.localAddress!.port!)
        let port = try await freeUDPPort()
        let servers = try VirtualServers(configuration: try KeepalivedConfiguration.parse("""
            virtual_server 127.0.0.1 \(port) {
              protocol UDP
              lb_algo wrr
              persistence_timeout 50
              real_server 127.0.0.1 \(aPort) {
                weight 0
              }
              real_server 127.0.0.1 \(bPort) {
              }
              real_server 127.0.0.1 \(cPort) {
              }
            }

            """), log: { _ in })
        try servers.start()
        defer { servers.stop() }
        var served: Set<Int> = []
        for i in 0..<4 {
            let client = try await UDPClient.make()
            let reply = try await client.ask("p \(i)", port: port)
            served.insert(UDPClient.servedBy(reply))
            await client.close()
        }
        #expect(served.count == 1 && !served.contains(aPort), "\(served)")
    }

    @Test("a TCP and a UDP virtual server on one address and port are two services")
    func tcpAndUDPOnOnePort() async throws {
        let echo = try await udpSocket { EchoHandler(port: $0) }
        defer { echo.close(promise: nil) }
        let port = try await freeUDPPort()
        let config = try KeepalivedConfiguration.parse("""
            virtual_server 127.0.0.1 \(port) {
              protocol UDP
              real_server 127.0.0.1 \(echo.localAddress!.port!) {
              }
            }
            virtual_server 127.0.0.1 \(port) {
              protocol TCP
            }

            """)
        #expect(config.virtualServers.map(\.name) == ["127.0.0.1:\(port)/udp", "127.0.0.1:\(port)"])
        let servers = try VirtualServers(configuration: config, log: { _ in })
        try servers.start()
        defer { servers.stop() }
        let client = try await UDPClient.make()
        let reply = try await client.ask("both", port: port)
        #expect(reply.text.hasSuffix(":both"))
        await client.close()
    }
}

/// UDP_CHECK (keepalived 2.2.7's check_udp.c) run by the checker's shell against UDP services
/// on loopback: an echo, a server that never answers, a port nobody listens on.
@Suite("UDP_CHECK against UDP services", .serialized, .timeLimit(.minutes(1)))
struct UDPCheckTests {
    static func checker(_ port: Int, _ body: String) throws -> CheckerConfig {
        let config = try KeepalivedConfiguration.parse("""
            virtual_server 127.0.0.1 9 {
              protocol UDP
              real_server 127.0.0.1 \(port) {
                UDP_CHECK {
                  connect_timeout 0.5
            \(body)
                }
              }
            }

            """)
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        return try #require(config.virtualServers.first?.realServers.first?.checkers.first)
    }

    static func run(_ port: Int, _ body: String) async throws -> CheckOutcome {
        try await NetworkChecks(loop: MultiThreadedEventLoopGroup.singleton.next()).run(try checker(port, body)).get()
    }

    static func failed(_ outcome: CheckOutcome) -> Bool {
        if case .failure = outcome { return true }
        return false
    }

    @Test("a matching reply (x nibbles match anything) is up, another reply down; no reply is up unless require_reply; an ICMP port unreachable is down; lengths bound a reply with data")
    func outcomes() async throws {
        let echo = try await udpSocket { EchoHandler(port: $0) }
        let silent = try await udpSocket { _ in Received() }
        defer { echo.close(promise: nil); silent.close(promise: nil) }
        let (e, s) = (echo.localAddress!.port!, silent.localAddress!.port!)
        let closed = try await freeUDPPort()
        // The echo answers "PORT:" and the payload ("hi" = 68 69).
        let prefix = Array("\(e):".utf8).map { String($0, radix: 16) }.joined(separator: " ")
        #expect(try await Self.run(e, "payload 68 69\nrequire_reply \(prefix) 68 69") == .success)
        #expect(try await Self.run(e, "payload 6869\nrequire_reply \(prefix) 6x xx") == .success)
        #expect(Self.failed(try await Self.run(e, "payload 6869\nrequire_reply \(prefix) 68 70")))
        #expect(try await Self.run(e, "payload 6869\nrequire_reply") == .success)
        // Reply lengths bound a reply only when reply bytes are given (as check_udp_reply).
        #expect(Self.failed(try await Self.run(e, "payload 6869\nrequire_reply \(prefix)\nmax_reply_length 3")))
        #expect(try await Self.run(e, "payload 6869\nrequire_reply\nmax_reply_length 3") == .success)
        #expect(try await Self.run(s, "payload 00") == .success, "silence is up without require_reply")
        #expect(Self.failed(try await Self.run(s, "payload 00\nrequire_reply")))
        #expect(Self.failed(try await Self.run(closed, "payload 00")), "port unreachable")
        #expect(Self.failed(try await Self.run(closed, "")), "an empty datagram, port unreachable")
    }
}
