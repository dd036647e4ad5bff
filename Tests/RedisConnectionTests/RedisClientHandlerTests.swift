import Logging
import NIOCore
import NIOEmbedded
import RESP
@testable import RedisConnection
import Testing

/// Conversations with the client handler on an embedded channel: bytes out, bytes in.
@Suite("RedisClientHandler conversations")
struct RedisClientHandlerTests {
    final class Harness {
        let channel = EmbeddedChannel()
        let messages: AsyncStream<RedisPubSubMessage>
        var loop: EmbeddedEventLoop { channel.embeddedEventLoop }

        init() throws {
            let (stream, continuation) = AsyncStream.makeStream(of: RedisPubSubMessage.self)
            messages = stream
            try channel.pipeline.syncOperations.addHandler(RedisClientHandler(
                server: "test:6379", messages: continuation, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        }

        /// Sends a command and returns the future of its reply and the bytes written.
        func send(_ arguments: [String], timeout: TimeAmount? = nil) throws -> (EventLoopFuture<RESPValue>, String) {
            let promise = loop.makePromise(of: RESPValue.self)
            try channel.writeOutbound(RedisRequest(arguments: arguments.map { ByteBuffer(string: $0) }, promise: promise, timeout: timeout))
            var written = ""
            while let out = try channel.readOutbound(as: ByteBuffer.self) { written += String(buffer: out) }
            return (promise.futureResult, written)
        }

        func receive(_ wire: String) throws {
            try channel.writeInbound(ByteBuffer(string: wire))
        }
    }

    /// The outcome of a future on the embedded loop, or nil while it is pending.
    static func result(_ future: EventLoopFuture<RESPValue>) -> Result<RESPValue, any Error>? {
        final class Box: @unchecked Sendable { var result: Result<RESPValue, any Error>? }
        let box = Box()
        future.whenComplete { box.result = $0 }  // runs at once on an embedded loop when complete
        return box.result
    }

    @Test("replies complete requests in FIFO order")
    func fifo() throws {
        let h = try Harness()
        let (a, wireA) = try h.send(["GET", "a"])
        let (b, _) = try h.send(["GET", "b"])
        #expect(wireA == "*2\r\n$3\r\nGET\r\n$1\r\na\r\n")
        try h.receive("$1\r\n1\r\n$-1")
        #expect(try Self.result(a)?.get() == .bulkString("1"))
        #expect(Self.result(b) == nil)
        try h.receive("\r\n")
        #expect(try Self.result(b)?.get() == .nullBulkString)
    }

    @Test("a RESP2 reply shaped like a pub/sub message is an ordinary reply when not subscribed")
    func messageShapedReply() throws {
        let h = try Harness()
        let (f, _) = try h.send(["LRANGE", "l", "0", "-1"])
        try h.receive("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n")
        #expect(try Self.result(f)?.get().array?.count == 3)
    }

    @Test("SUBSCRIBE waits for one confirmation per channel; messages go to the stream")
    func subscribeConfirmations() async throws {
        let h = try Harness()
        let (sub, _) = try h.send(["SUBSCRIBE", "a", "b"])
        try h.receive("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")
        #expect(Self.result(sub) == nil)
        try h.receive("*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n")
        #expect(try Self.result(sub)?.get().array?.count == 2)
        var iterator = h.messages.makeAsyncIterator()
        let message = await iterator.next()
        #expect(message?.channelName == "a" && message?.text == "hi")

        // UNSUBSCRIBE with no arguments expects one confirmation per channel held.
        let (unsub, _) = try h.send(["UNSUBSCRIBE"])
        try h.receive("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n")
        #expect(Self.result(unsub) == nil)
        try h.receive("*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n")
        #expect(try Self.result(unsub)?.get().array?.count == 2)

        // With nothing subscribed, UNSUBSCRIBE gets a single confirmation with a null channel.
        let (again, _) = try h.send(["UNSUBSCRIBE"])
        try h.receive("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n")
        #expect(try Self.result(again)?.get().array?.count == 1)
    }

    @Test("RESP3 pushes are messages even between ordinary replies")
    func resp3Push() async throws {
        let h = try Harness()
        let (get, _) = try h.send(["GET", "k"])
        try h.receive(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nx\r\n_\r\n")
        #expect(try Self.result(get)?.get() == .null)
        var iterator = h.messages.makeAsyncIterator()
        #expect(await iterator.next()?.text == "x")
    }

    @Test("a request past its deadline fails as a timeout; its late reply is dropped")
    func timeout() throws {
        let h = try Harness()
        let (slow, _) = try h.send(["GET", "slow"], timeout: .milliseconds(100))
        let (next, _) = try h.send(["GET", "next"], timeout: .seconds(10))
        h.loop.advanceTime(by: .milliseconds(101))
        guard case .failure(let error) = Self.result(slow) else {
            Issue.record("GET slow did not time out")
            return
        }
        #expect((error as? RedisConnectionError)?.code == .timeout)
        #expect((error as? RedisConnectionError)?.command == "GET")
        try h.receive("$4\r\nlate\r\n$4\r\nmine\r\n")
        #expect(try Self.result(next)?.get() == .bulkString("mine"))
    }

    @Test("malformed bytes from the server fail pending requests with a protocol error")
    func protocolError() async throws {
        let h = try Harness()
        let (f, _) = try h.send(["PING"])
        try h.receive("?bogus\r\n")  // the handler reports the fault to the request and closes
        #expect(!h.channel.isActive)
        guard case .failure(let error) = Self.result(f) else {
            Issue.record("PING was not failed")
            return
        }
        let e = error as? RedisConnectionError
        #expect(e?.code == .protocolError)
        #expect(e?.message == "Protocol error, got \"?\" as reply type byte")
        #expect(e?.server == "test:6379")
        // The pub/sub stream ends too, so nobody waits on it forever.
        var iterator = h.messages.makeAsyncIterator()
        #expect(await iterator.next() == nil)
    }

    @Test("replies split anywhere across reads, and many in one read, are decoded in order")
    func splitReads() throws {
        let h = try Harness()
        let futures = try (0..<3).map { _ in try h.send(["GET", "k"]).0 }
        let wire = "$5\r\nhello\r\n*2\r\n$1\r\na\r\n:7\r\n+OK\r\n"
        // An INFO reply is read in pieces of at most 1 KB: the decoder resumes where it stopped.
        for byte in wire.utf8 { try h.channel.writeInbound(ByteBuffer(bytes: [byte])) }
        #expect(try Self.result(futures[0])?.get() == .bulkString("hello"))
        #expect(try Self.result(futures[1])?.get().array == [.bulkString("a"), .integer(7)])
        #expect(try Self.result(futures[2])?.get() == .simpleString("OK"))
        let more = try (0..<2).map { _ in try h.send(["PING"]).0 }
        try h.receive("+PONG\r\n+PONG\r\n")
        #expect(try more.map { try Self.result($0)?.get() } == [.simpleString("PONG"), .simpleString("PONG")])
    }

    @Test("the connection closed inside a reply fails the request with a protocol error")
    func closedInsideReply() throws {
        let h = try Harness()
        let (whole, _) = try h.send(["GET", "a"])
        let (cut, _) = try h.send(["GET", "b"])
        try h.receive("$1\r\n1\r\n$5\r\nhel")
        #expect(try Self.result(whole)?.get() == .bulkString("1"))
        h.channel.pipeline.fireChannelInactive()
        guard case .failure(let error) = Self.result(cut) else {
            Issue.record("the request cut off was not failed")
            return
        }
        #expect((error as? RedisConnectionError)?.code == .protocolError)
        #expect((error as? RedisConnectionError)?.message == "Protocol error: connection closed inside a reply")
    }

    @Test("a reply for a function target is handed to it on the loop; a timeout does not call it")
    func callbackTarget() throws {
        let h = try Harness()
        let handler = try h.channel.pipeline.syncOperations.handler(type: RedisClientHandler.self)
        final class Replies: @unchecked Sendable { var values: [RESPValue] = [] }
        let replies = Replies()
        #expect(handler.writeAndFlush(PreparedCommand(["PING"]), reply: .callback { replies.values.append($0) }, timeout: .seconds(1)))
        #expect(handler.writeAndFlush(PreparedCommand(["PING"]), reply: .callback { replies.values.append($0) }, timeout: .seconds(1)))
        var written = ""
        while let out = try h.channel.readOutbound(as: ByteBuffer.self) { written += String(buffer: out) }
        #expect(written == "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n")
        try h.receive("+PONG\r\n")
        #expect(replies.values == [.simpleString("PONG")])
        h.loop.advanceTime(by: .seconds(2))  // the second one times out: no call
        try h.receive("+LATE\r\n")  // its late reply is matched to its slot and dropped
        #expect(replies.values == [.simpleString("PONG")])
    }
}
