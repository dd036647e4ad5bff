import ClusterCore
import NIOCore
import NIOEmbedded
@testable import Proxy
import RESP
import Testing

/// The cluster proxy's shared node connection on an `EmbeddedChannel`: what it writes, how it
/// cuts the node's bytes into replies, and what a command learns when the connection closes.
@Suite("ClusterNodeLink on an EmbeddedChannel")
struct ClusterNodeLinkTests {
    static let node = ClusterNodeAddress(host: "127.0.0.1", port: 7000)

    final class Replies {
        var items: [Result<ByteBuffer, any Error>] = []
        var frames: [String] { items.compactMap { try? String(buffer: $0.get()) } }
    }

    func connected() throws -> (EmbeddedChannel, ClusterNodeLink, Replies) {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7000)).wait()
        return (channel, try ClusterNodeLink.attach(to: channel, node: Self.node), Replies())
    }

    @Test("commands of one loop pass go out in one write, raw bytes as they are; replies are handed on as the node's bytes, in order, whatever the reads' boundaries")
    func framesInOrder() throws {
        let (channel, link, replies) = try connected()
        link.send(raw: ByteBuffer(string: "*2\r\n$3\r\nGET\r\n$1\r\na\r\n")) { replies.items.append($0) }
        link.send(encoding: ["SET", "b", "1"].map { ByteBuffer(string: $0) }) { replies.items.append($0) }
        link.send(encoding: ["ASKING"].map { ByteBuffer(string: $0) }, completion: nil)
        link.send(raw: ByteBuffer(string: "*2\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n")) { replies.items.append($0) }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil, "nothing written before the loop's pass ends")
        channel.embeddedEventLoop.run()
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: written) == "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n1\r\n*1\r\n$6\r\nASKING\r\n*2\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        // The node's bytes, cut mid-frame and mid-header.
        let bytes = "$5\r\nhello\r\n+OK\r\n+OK\r\n*2\r\n$1\r\nx\r\n:7\r\n"
        for piece in [bytes.prefix(3), bytes.dropFirst(3).prefix(9), bytes.dropFirst(12).prefix(14), bytes.dropFirst(26)] {
            try channel.writeInbound(ByteBuffer(string: String(piece)))
        }
        #expect(replies.frames == ["$5\r\nhello\r\n", "+OK\r\n", "*2\r\n$1\r\nx\r\n:7\r\n"])
        #expect(link.isActive)
        _ = try? channel.finish()
    }

    @Test("when the connection closes, a command that was written may have run; one still waiting to be written was not sent")
    func closeTellsWrittenFromUnsent() throws {
        let (channel, link, replies) = try connected()
        var closed = false
        link.whenClosed { closed = true }
        link.send(encoding: ["SET", "a", "1"].map { ByteBuffer(string: $0) }) { replies.items.append($0) }
        channel.embeddedEventLoop.run()
        link.send(encoding: ["SET", "b", "2"].map { ByteBuffer(string: $0) }) { replies.items.append($0) }
        channel.pipeline.fireChannelInactive()
        #expect(closed)
        #expect(!link.isActive)
        link.send(encoding: ["GET", "c"].map { ByteBuffer(string: $0) }) { replies.items.append($0) }
        let written = replies.items.map { result -> Bool? in
            guard case .failure(let error) = result else { return nil }
            return (error as? ClusterLinkClosed)?.written
        }
        #expect(written == [true, false, false])
        _ = try? channel.finish()
    }

    @Test("a frame the node should not have sent (no command waiting) or bytes that are not RESP close the connection")
    func strayBytesClose() throws {
        let (channel, link, _) = try connected()
        try? channel.writeInbound(ByteBuffer(string: "+OK\r\n"))
        #expect(!channel.isActive)
        #expect(!link.isActive)
        let (other, link2, replies) = try connected()
        link2.send(encoding: ["PING"].map { ByteBuffer(string: $0) }) { replies.items.append($0) }
        other.embeddedEventLoop.run()
        try? other.writeInbound(ByteBuffer(string: "?what\r\n"))
        #expect(!other.isActive)
        #expect(replies.items.count == 1)
        if case .success = replies.items.first { Issue.record("the PING's reply should have failed: \(replies.items)") }
        _ = try? other.finish()
    }

    @Test("a node's reply is read as a value only to merge: frames parse, bad ones become an error naming it")
    func replyValues() {
        #expect(ClusterReply.frame(ByteBuffer(string: "*2\r\n$1\r\na\r\n$-1\r\n")).value == .array([.bulkString("a"), .nullBulkString]))
        #expect(ClusterReply.value(.integer(3)).value == .integer(3))
        #expect(ClusterReply.frame(ByteBuffer(string: "?\r\n")).value.errorMessage?.hasPrefix("ERR Tandem proxy: a cluster node's reply could not be read") == true)
    }

    // MARK: --wait-replicas

    static let durability = ClusterDurability(replicas: 1, timeoutMilliseconds: 250)

    func durable() throws -> (EmbeddedChannel, ClusterNodeLink, Replies, () -> Int) {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7000)).wait()
        final class Count { var n = 0 }
        let count = Count()
        let link = try ClusterNodeLink.attach(to: channel, node: Self.node, durability: Self.durability, unconfirmed: { count.n += 1 })
        return (channel, link, Replies(), { count.n })
    }

    @Test("--wait-replicas: a batch holding a write is followed by WAIT in the same write; the writes' replies are held until it answers, reads are not")
    func waitFollowsWrites() throws {
        let (channel, link, replies, unconfirmed) = try durable()
        link.send(raw: ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"), write: true) { replies.items.append($0) }
        link.send(encoding: ["GET", "b"].map { ByteBuffer(string: $0) }) { replies.items.append($0) }
        channel.embeddedEventLoop.run()
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: written) == "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n250\r\n")
        try channel.writeInbound(ByteBuffer(string: "+OK\r\n$1\r\nx\r\n"))
        #expect(replies.frames == ["$1\r\nx\r\n"], "the GET's reply passes; the SET's waits for the WAIT")
        try channel.writeInbound(ByteBuffer(string: ":1\r\n"))
        #expect(replies.frames == ["$1\r\nx\r\n", "+OK\r\n"])
        #expect(unconfirmed() == 0)

        // A batch of reads only: no WAIT.
        link.send(encoding: ["GET", "c"].map { ByteBuffer(string: $0) }) { replies.items.append($0) }
        channel.embeddedEventLoop.run()
        #expect(String(buffer: try #require(try channel.readOutbound(as: ByteBuffer.self))) == "*2\r\n$3\r\nGET\r\n$1\r\nc\r\n")
        _ = try? channel.finish()
    }

    @Test("--wait-replicas: too few replicas, or a WAIT that fails, turns each held write into -NOREPLICAS; an error waits too but keeps its text; a redirection passes at once")
    func tooFewReplicas() throws {
        let (channel, link, replies, unconfirmed) = try durable()
        for key in ["a", "b"] {
            link.send(encoding: ["SET", key, "1"].map { ByteBuffer(string: $0) }, write: true) { replies.items.append($0) }
        }
        link.send(encoding: ["INCR", "s"].map { ByteBuffer(string: $0) }, write: true) { replies.items.append($0) }
        channel.embeddedEventLoop.run()
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: "+OK\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"))
        #expect(replies.frames.isEmpty, "all held for the WAIT")
        try channel.writeInbound(ByteBuffer(string: ":0\r\n"))
        #expect(replies.frames.count == 3)
        for frame in replies.frames.prefix(2) {
            #expect(frame.hasPrefix("-NOREPLICAS Tandem proxy: only 0 of 1 replicas acknowledged this write within 250 ms"), "\(frame)")
        }
        #expect(replies.frames.last == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
        #expect(unconfirmed() == 2)

        // A redirection: the write did not run there; the pool sends it again at once.
        link.send(encoding: ["SET", "m", "1"].map { ByteBuffer(string: $0) }, write: true) { replies.items.append($0) }
        channel.embeddedEventLoop.run()
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: "-MOVED 3 127.0.0.1:7001\r\n"))
        #expect(replies.frames.last == "-MOVED 3 127.0.0.1:7001\r\n")
        try channel.writeInbound(ByteBuffer(string: ":1\r\n"))

        // WAIT refused (the node turned replica): the write is not confirmed.
        link.send(encoding: ["SET", "c", "1"].map { ByteBuffer(string: $0) }, write: true) { replies.items.append($0) }
        channel.embeddedEventLoop.run()
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: "+OK\r\n-ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.\r\n"))
        #expect(replies.frames.last?.hasPrefix("-NOREPLICAS Tandem proxy: the master did not confirm") == true, "\(replies.frames)")
        _ = try? channel.finish()
    }

    @Test("--wait-replicas: the connection closing after a write's reply and before the WAIT's answers it -NOREPLICAS (it ran); one whose reply never came may or may not have run")
    func closeWhileHeld() throws {
        let (channel, link, replies, _) = try durable()
        link.send(encoding: ["SET", "a", "1"].map { ByteBuffer(string: $0) }, write: true) { replies.items.append($0) }
        link.send(encoding: ["SET", "b", "1"].map { ByteBuffer(string: $0) }, write: true) { replies.items.append($0) }
        channel.embeddedEventLoop.run()
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: "+OK\r\n"))
        #expect(replies.items.isEmpty)
        channel.pipeline.fireChannelInactive()
        #expect(replies.items.count == 2)
        let outcomes = replies.items.map { result -> String in
            switch result {
            case .success(let frame): return String(String(buffer: frame).prefix(11))
            case .failure(let error): return (error as? ClusterLinkClosed)?.written == true ? "may have run" : "\(error)"
            }
        }
        #expect(outcomes == ["may have run", "-NOREPLICAS"], "the unanswered SET b fails first, as the waiters are failed in order; SET a ran")
        _ = try? channel.finish()
    }

    @Test("a RESP3 push (a tracking connection's invalidation) goes to onPush and is never taken for a reply; closeWhenIdle waits for the replies owed")
    func pushesAreOutOfBand() throws {
        let (channel, link, replies) = try connected()
        var pushes: [String] = []
        link.onPush = { pushes.append(String(buffer: $0)) }
        link.send(encoding: ["GET", "a"].map { ByteBuffer(string: $0) }) { replies.items.append($0) }
        link.send(encoding: ["GET", "b"].map { ByteBuffer(string: $0) }) { replies.items.append($0) }
        channel.embeddedEventLoop.run()
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nx\r\n$1\r\n1\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n"))
        #expect(pushes == [">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nx\r\n", ">2\r\n$10\r\ninvalidate\r\n_\r\n"])
        #expect(replies.frames == ["$1\r\n1\r\n"])
        link.closeWhenIdle()
        #expect(link.isActive, "a reply is still owed")
        try channel.writeInbound(ByteBuffer(string: "$1\r\n2\r\n"))
        #expect(replies.frames == ["$1\r\n1\r\n", "$1\r\n2\r\n"])
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive, "closed once idle")
        _ = try? channel.finish()
    }
}
