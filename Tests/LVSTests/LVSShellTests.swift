import KeepalivedConfig
import LVSCore
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing
@testable import LVS

private func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

@Suite("HTTP_GET's verdict on a response")
struct HTTPResponseCheckTests {
    let url = HTTPCheck.URL(path: "/health", statusCodes: [200...200, 204...206], digest: nil, virtualhost: nil)

    @Test("status codes in the ranges pass, others fail naming the code")
    func statusCodes() {
        #expect(HTTPResponseCheck.verdict(buffer("HTTP/1.0 200 OK\r\n\r\nok"), url: url) == .success)
        #expect(HTTPResponseCheck.verdict(buffer("HTTP/1.1 205 Reset\r\nX: y\r\n\r\n"), url: url) == .success)
        #expect(HTTPResponseCheck.verdict(buffer("HTTP/1.1 503 Busy\r\n\r\n"), url: url)
            == .failure(reason: "HTTP status code error to [/health] status_code = 503"))
    }

    @Test("digest: the body's MD5, lower-case hex")
    func digest() {
        var withDigest = url
        withDigest.digest = "d41d8cd98f00b204e9800998ecf8427e"  // MD5 of nothing
        #expect(HTTPResponseCheck.verdict(buffer("HTTP/1.0 200 OK\r\n\r\n"), url: withDigest) == .success)
        guard case .failure(let reason) = HTTPResponseCheck.verdict(buffer("HTTP/1.0 200 OK\r\n\r\nx"), url: withDigest) else {
            Issue.record("a different body passed")
            return
        }
        #expect(reason == "MD5 digest error to [/health], MD5SUM [9dd4e461268c8034f5c8564e155c67a6]")
    }

    @Test("hostile or broken replies fail with a reason, never crash", arguments: [
        "", "HTTP/1.0 200 OK\r\n", "garbage\r\n\r\n", "HTTP/1.0 abc\r\n\r\n", "HTTP/1.0\r\n\r\n", "\r\n\r\n", "HTTP/1.0 99999999999999999999999 x\r\n\r\n",
    ])
    func broken(reply: String) {
        guard case .failure = HTTPResponseCheck.verdict(buffer(reply), url: url) else {
            Issue.record("'\(reply)' passed")
            return
        }
    }
}

@Suite("REDIS_CHECK's reading of PING and INFO replication")
struct RedisReplyCheckTests {
    @Test("role:master is up, a replica is down naming its role, an error reply is down naming it")
    func verdicts() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
        let master = "+PONG\r\n$\(info.utf8.count)\r\n\(info)\r\n"
        #expect(RedisReplyCheck.verdict(buffer(master), expected: 2, requireMaster: true) == .success)
        let replicaInfo = "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\n"
        let replica = "+PONG\r\n$\(replicaInfo.utf8.count)\r\n\(replicaInfo)\r\n"
        #expect(RedisReplyCheck.verdict(buffer(replica), expected: 2, requireMaster: true) == .failure(reason: "role:slave, not role:master"))
        #expect(RedisReplyCheck.verdict(buffer(replica), expected: 2, requireMaster: false) == .success)
        let noauth = "-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n"
        #expect(RedisReplyCheck.verdict(buffer(noauth), expected: 2, requireMaster: true) == .failure(reason: "Redis replied -NOAUTH Authentication required."))
    }

    @Test("a reply in pieces is complete only once every reply has arrived")
    func partial() {
        let info = "role:master\r\n"
        let whole = "+OK\r\n+PONG\r\n$\(info.utf8.count)\r\n\(info)\r\n"
        for cut in 0..<whole.utf8.count {
            let part = ByteBuffer(bytes: Array(whole.utf8.prefix(cut)))
            #expect(RedisReplyCheck.replies(in: part, expected: 3) == nil, "complete at \(cut) bytes")
        }
        #expect(RedisReplyCheck.replies(in: buffer(whole), expected: 3)?.count == 3)
    }

    @Test("unexpected reply types and bad lengths fail, never crash", arguments: [
        ":1\r\n$3\r\nabc\r\n", "+PONG\r\n$abc\r\nxyz\r\n", "+PONG\r\n*1\r\n", "+PONG\r\n$-1\r\n",
    ])
    func hostile(reply: String) {
        #expect(RedisReplyCheck.verdict(buffer(reply), expected: 2, requireMaster: true) != .success)
    }
}

/// Counts the read requests that reach the head of a pipeline (what the socket would be asked).
private final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = NIOAny
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

@Suite("The glue between a client and its real server")
struct GlueHandlerTests {
    @Test("bytes go across both ways; a side reads only while the other can write")
    func forwardingAndBackpressure() throws {
        let client = EmbeddedChannel()
        let server = EmbeddedChannel()
        let clientReads = ReadCounter()
        try client.pipeline.syncOperations.addHandler(clientReads)
        let (clientSide, serverSide) = GlueHandler.matchedPair()
        try client.pipeline.syncOperations.addHandler(clientSide)
        try server.pipeline.syncOperations.addHandler(serverSide)

        try client.writeInbound(buffer("PING\r\n"))
        #expect(try server.readOutbound(as: ByteBuffer.self) == buffer("PING\r\n"))
        try server.writeInbound(buffer("+PONG\r\n"))
        #expect(try client.readOutbound(as: ByteBuffer.self) == buffer("+PONG\r\n"))

        client.read()
        #expect(clientReads.reads == 1)
        server.isWritable = false
        server.pipeline.fireChannelWritabilityChanged()
        client.read()
        #expect(clientReads.reads == 1, "read while the real server's side was full")
        server.isWritable = true
        server.pipeline.fireChannelWritabilityChanged()
        #expect(clientReads.reads == 2, "the held read goes on once the real server's side drains")
        _ = try? client.finish()
        _ = try? server.finish()
    }

    @Test("what a client sends before its real server is connected is handed over on attach")
    func earlyData() throws {
        let client = EmbeddedChannel()
        let server = EmbeddedChannel()
        let clientSide = GlueHandler()
        try client.pipeline.syncOperations.addHandler(clientSide)
        try client.writeInbound(buffer("GET / HTTP/1.0\r\n"))
        try client.writeInbound(buffer("\r\n"))
        #expect(try server.readOutbound(as: ByteBuffer.self) == nil)
        try server.pipeline.syncOperations.addHandler(GlueHandler.attach(clientSide))
        clientSide.replayEarly()
        #expect(try server.readOutbound(as: ByteBuffer.self) == buffer("GET / HTTP/1.0\r\n"))
        #expect(try server.readOutbound(as: ByteBuffer.self) == buffer("\r\n"))
        try server.writeInbound(buffer("HTTP/1.0 200 OK\r\n\r\n"))
        #expect(try client.readOutbound(as: ByteBuffer.self) == buffer("HTTP/1.0 200 OK\r\n\r\n"))
        _ = try? client.finish()
        _ = try? server.finish()
    }

    @Test("one side closing closes the other")
    func closeTravels() throws {
        let client = EmbeddedChannel()
        let server = EmbeddedChannel()
        let (clientSide, serverSide) = GlueHandler.matchedPair()
        try client.pipeline.syncOperations.addHandler(clientSide)
        try server.pipeline.syncOperations.addHandler(serverSide)
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        #expect(server.isActive)
        try client.close().wait()
        #expect(!server.isActive)
    }
}

/// Lines the virtual servers log, collected from their loop.
private final class LogLines: Sendable {
    let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
    func index(of text: String) -> Int? { all.firstIndex { $0.contains(text) } }
}

private final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}

/// A loopback port that was free a moment ago.
private func freePort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    return port
}

/// Connects to a loopback port and waits for the other side to close the connection.
private func connectAndWaitForClose(_ port: Int) async throws {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
    try await channel.closeFuture.get()
}

private func waitFor(_ what: String, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw CancellationError() }
        try await Task.sleep(for: .milliseconds(20))
    }
}

@Suite("VirtualServers in process", .timeLimit(.minutes(1)))
struct VirtualServersTests {
    @Test("ha_suspend: without the address no check runs (a dead real server stays in); with it, it is taken out")
    func haSuspend() async throws {
        let port = try await freePort()
        let dead = try await freePort()
        let config = try KeepalivedConfiguration.parse("""
            virtual_server 127.0.0.1 \(port) {
              delay_loop 0.2
              ha_suspend
              real_server 127.0.0.1 \(dead) {
                TCP_CHECK {
                  connect_timeout 0.5
                  retry 0
                  warmup 0
                }
              }
            }
            """)
        let log = LogLines()
        let held = Flag()
        let servers = try VirtualServers(configuration: config, log: { log.append($0) }, addressHeld: { _ in held.value.load(ordering: .relaxed) })
        try servers.start()
        defer { servers.stop() }
        #expect(servers.boundPorts == [port])
        #expect(log.index(of: "checkers suspended (ha_suspend)") != nil, "\(log.all)")
        // The dead server is still in the pool: a client is sent there and closed.
        try await connectAndWaitForClose(port)
        try await waitFor("the failed forward") { log.index(of: "cannot reach real server 127.0.0.1:\(dead)") != nil }
        #expect(log.index(of: "down") == nil, "checked while suspended: \(log.all)")
        held.value.store(true, ordering: .relaxed)
        try await waitFor("the dead server taken out") { log.index(of: "real server 127.0.0.1:\(dead) down") != nil }
        let resumed = try #require(log.index(of: "checkers resume"))
        #expect(resumed < log.index(of: "down")!)
    }

    @Test("IP_FREEBIND: a node listens on a virtual address it does not hold (yet)")
    func freebind() async throws {
        let port = try await freePort()
        // 192.0.2.0/24 is TEST-NET-1: never configured on a host.
        let servers = try VirtualServers(configuration: try KeepalivedConfiguration.parse("virtual_server 192.0.2.77 \(port) {\n}\n"), log: { _ in })
        try servers.start()
        defer { servers.stop() }
        #expect(servers.boundPorts == [port])
    }

    @Test("a virtual server whose port is taken: start fails naming the file:line and the address")
    func bindFailure() async throws {
        let port = try await freePort()
        let first = try VirtualServers(configuration: try KeepalivedConfiguration.parse("virtual_server 127.0.0.1 \(port) {\n}\n"), log: { _ in })
        try first.start()
        defer { first.stop() }
        let second = try VirtualServers(configuration: try KeepalivedConfiguration.parse("\nvirtual_server 127.0.0.1 \(port) {\n}\n", file: "b.conf"), log: { _ in })
        #expect {
            try second.start()
        } throws: { error in
            "\(error)".hasPrefix("b.conf:2: virtual_server 127.0.0.1:\(port): cannot listen")
        }
    }
}
