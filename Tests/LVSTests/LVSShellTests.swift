import KeepalivedConfig
import LVSCore
import NIOCore
import NIOEmbedded
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
