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
}
