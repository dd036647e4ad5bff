import ClusterCore
import NIOCore
import RESP
import Testing

/// A cluster client's pub/sub over connections to two masters ("A", "B"), answered as one
/// node's connection would be.
@Suite("Cluster core: pub/sub over several masters' connections")
struct PubSubSequencerTests {
    static func b(_ s: String) -> RESPValue { .bulkString(ByteBuffer(string: s)) }
    static func confirm(_ kind: String, _ channel: String?, _ count: Int64, push: Bool = false) -> RESPValue {
        let items: [RESPValue] = [b(kind), channel.map(b) ?? .nullBulkString, .integer(count)]
        return push ? .push(items) : .array(items)
    }
    static func message(_ kind: String, _ channel: String, _ text: String) -> RESPValue { .array([b(kind), b(channel), b(text)]) }
    static let pong: RESPValue = .array([b("pong"), b("")])

    @Test("confirmations come in the order of the commands, whichever connection answers first; shard counts are the client's, not each node's")
    func orderAndCounts() {
        var s = PubSubSequencer<String>()
        s.sent(on: "A", kind: .client())  // SSUBSCRIBE x (A's slot)
        s.sent(on: "B", kind: .client())  // SSUBSCRIBE y (B's slot)
        // B answers first: held until A's command is done.
        #expect(s.received(Self.confirm("ssubscribe", "y", 1), from: "B").write.isEmpty)
        #expect(s.received(Self.pong, from: "B").write.isEmpty)
        // A's confirmation goes at once (its command is the oldest), then its end lets B's out.
        #expect(s.received(Self.confirm("ssubscribe", "x", 1), from: "A").write == [Self.confirm("ssubscribe", "x", 1)])
        #expect(s.received(Self.pong, from: "A").write == [Self.confirm("ssubscribe", "y", 2)], "B's own count 1 is the client's 2")
        #expect(s.isIdle)
        // Messages of either connection with nothing pending: at once.
        #expect(s.received(Self.message("smessage", "y", "hi"), from: "B").write == [Self.message("smessage", "y", "hi")])
        // SUNSUBSCRIBE of both (one command per connection): counts down to 0 across them.
        s.sent(on: "A", kind: .client(), unsubscribing: [ByteBuffer(string: "x")])
        s.sent(on: "B", kind: .client(), unsubscribing: [ByteBuffer(string: "y")])
        var out = s.received(Self.confirm("sunsubscribe", "y", 0), from: "B").write
        out += s.received(Self.pong, from: "B").write
        out += s.received(Self.confirm("sunsubscribe", "x", 0), from: "A").write
        out += s.received(Self.pong, from: "A").write
        #expect(out == [Self.confirm("sunsubscribe", "x", 1), Self.confirm("sunsubscribe", "y", 0)])
        #expect(s.shardChannels.isEmpty)
    }

    @Test("a message keeps its place among its connection's values: after the confirmations it follows, held while an older command on another connection is unfinished")
    func messagesKeepTheirPlace() {
        var s = PubSubSequencer<String>()
        s.sent(on: "A", kind: .client())
        s.sent(on: "B", kind: .client())
        #expect(s.received(Self.confirm("ssubscribe", "y", 1), from: "B").write.isEmpty)
        #expect(s.received(Self.pong, from: "B").write.isEmpty)
        // B's command is done but not yet written: a message after it waits behind it.
        #expect(s.received(Self.message("smessage", "y", "1"), from: "B").write.isEmpty)
        var out = s.received(Self.confirm("ssubscribe", "x", 1), from: "A").write
        out += s.received(Self.pong, from: "A").write
        #expect(out == [Self.confirm("ssubscribe", "x", 1), Self.confirm("ssubscribe", "y", 2), Self.message("smessage", "y", "1")])
    }

    @Test("the client's PING: its first answer is its reply, the second ends it; a message before it is not taken for the reply")
    func clientPing() {
        var s = PubSubSequencer<String>()
        s.sent(on: "A", kind: .client(ping: true))
        #expect(s.received(Self.message("message", "c", "m"), from: "A").write == [Self.message("message", "c", "m")])
        #expect(s.received(Self.pong, from: "A").write == [Self.pong])
        #expect(s.received(Self.pong, from: "A").write.isEmpty)
        #expect(s.isIdle)
        // Not subscribed (RESP2) or RESP3: +PONG ends a command as well.
        s.sent(on: "A", kind: .client())
        #expect(s.received(Self.confirm("unsubscribe", nil, 0), from: "A").write == [Self.confirm("unsubscribe", nil, 0)])
        #expect(s.received(.simpleString(ByteBuffer(string: "PONG")), from: "A").write.isEmpty)
        #expect(s.isIdle)
    }

    @Test("a node's sunsubscribe nobody asked for (its slot moved away) is not written: the channel is to be subscribed again; one asked for is written")
    func slotMovedAway() {
        var s = PubSubSequencer<String>()
        s.sent(on: "A", kind: .client())
        _ = s.received(Self.confirm("ssubscribe", "x", 1), from: "A")
        _ = s.received(Self.pong, from: "A")
        let notice = s.received(Self.confirm("sunsubscribe", "x", 0), from: "A")
        #expect(notice.write.isEmpty && notice.moved == [ByteBuffer(string: "x")])
        // Subscribed again by the proxy on B: its confirmation is not written, the count stays 1.
        s.sent(on: "B", kind: .own)
        #expect(s.received(Self.confirm("ssubscribe", "x", 1), from: "B").write.isEmpty)
        #expect(s.received(Self.message("smessage", "x", "after"), from: "B").write == [Self.message("smessage", "x", "after")],
                "a message of the own command's connection is kept")
        #expect(s.received(Self.pong, from: "B").write.isEmpty)
        #expect(s.shardChannels == [ByteBuffer(string: "x")])
        // Also while another command is pending on that connection (not a SUNSUBSCRIBE of it).
        s.sent(on: "B", kind: .client(ping: true))
        let during = s.received(Self.confirm("sunsubscribe", "x", 0), from: "B")
        #expect(during.moved == [ByteBuffer(string: "x")] && during.write.isEmpty)
        // The client's own SUNSUBSCRIBE (all) is answered as usual.
        _ = s.received(Self.pong, from: "B")
        _ = s.received(Self.pong, from: "B")
        s.sent(on: "B", kind: .client(), unsubscribing: [])
        #expect(s.received(Self.confirm("sunsubscribe", "x", 0), from: "B").write == [Self.confirm("sunsubscribe", "x", 0)])
    }

    @Test("a MOVED answer is not written: the command is sent again (on the new master) and keeps its place")
    func movedIsResent() {
        var s = PubSubSequencer<String>()
        let command = [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "x")]
        let first = s.sent(on: "A", kind: .client(), command: command)
        s.sent(on: "B", kind: .client())
        #expect(s.received(.simpleError(ByteBuffer(string: "MOVED 42 10.0.0.2:6379")), from: "A").write.isEmpty)
        _ = s.received(Self.confirm("ssubscribe", "y", 1), from: "B")
        _ = s.received(Self.pong, from: "B")
        let done = s.received(Self.pong, from: "A")
        #expect(done.resend == [.init(id: first, command: command)] && done.write.isEmpty, "B's answer still waits behind the redirected one")
        s.resent(first, on: "B")
        var out = s.received(Self.confirm("ssubscribe", "x", 2), from: "B").write
        out += s.received(Self.pong, from: "B").write
        #expect(out == [Self.confirm("ssubscribe", "x", 1), Self.confirm("ssubscribe", "y", 2)])
        #expect(s.isIdle)
    }

    @Test("a node answering -LOADING (or any error) to both the command and the proxy's PING does not stall the connection: one error ends the command's own answers, the next answer (the PING's, whatever it is) ends it")
    func errorsEndCommands() {
        var s = PubSubSequencer<String>()
        let loading = RESPValue.simpleError(ByteBuffer(string: "LOADING Redis is loading the dataset in memory"))
        s.sent(on: "A", kind: .client(), command: [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "x")])
        s.sent(on: "A", kind: .client(), command: [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "y")])
        #expect(s.received(loading, from: "A").write == [loading])
        #expect(s.received(loading, from: "A").write.isEmpty, "the PING's error ends the first command")
        #expect(s.received(Self.confirm("ssubscribe", "y", 1), from: "A").write == [Self.confirm("ssubscribe", "y", 1)],
                "the second command's answer is its own, not the first's")
        #expect(s.received(Self.pong, from: "A").write.isEmpty)
        #expect(s.isIdle)
        // A command with two channels: two confirmations, then the PING's pong.
        s.sent(on: "A", kind: .client(), command: ["SSUBSCRIBE", "{t}a", "{t}b"].map { ByteBuffer(string: $0) })
        _ = s.received(Self.confirm("ssubscribe", "{t}a", 2), from: "A")
        _ = s.received(Self.confirm("ssubscribe", "{t}b", 3), from: "A")
        #expect(!s.isIdle)
        _ = s.received(Self.pong, from: "A")
        #expect(s.isIdle && s.shardChannels.count == 3)
    }

    @Test("a client's subscribe whose connection closed before any answer is sent again (confirmed and counted); a message of a resent command's new connection never comes before the confirmations of commands sent earlier there")
    func closedSubscribeIsResent() {
        var s = PubSubSequencer<String>()
        let command = [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "x")]
        let first = s.sent(on: "A", kind: .client(), command: command)
        s.sent(on: "B", kind: .client(), command: [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "y")])
        _ = s.received(Self.confirm("ssubscribe", "y", 1), from: "B")
        _ = s.received(Self.pong, from: "B")
        _ = s.received(Self.message("smessage", "y", "m1"), from: "B")
        let out = s.closed("A")
        #expect(out.resend == [.init(id: first, command: command)] && out.write.isEmpty)
        s.resent(first, on: "B")
        // y's later message arrives before x's confirmation on B: it stays after y's confirmation.
        _ = s.received(Self.message("smessage", "y", "m2"), from: "B")
        var written = s.received(Self.confirm("ssubscribe", "x", 2), from: "B").write
        written += s.received(Self.pong, from: "B").write
        #expect(written == [Self.confirm("ssubscribe", "x", 1), Self.confirm("ssubscribe", "y", 2),
                            Self.message("smessage", "y", "m1"), Self.message("smessage", "y", "m2")])
    }

    @Test("a connection closed: its unfinished commands are written as far as they got, later ones are not held up; answers of the proxy's own in their place; RESP3 pushes keep their kind")
    func closedAndAnswered() {
        var s = PubSubSequencer<String>()
        s.sent(on: "A", kind: .client())
        s.sent(on: "B", kind: .client())
        _ = s.received(Self.confirm("ssubscribe", "y", 1, push: true), from: "B")
        _ = s.received(.simpleString(ByteBuffer(string: "PONG")), from: "B")
        #expect(s.closed("A").write == [Self.confirm("ssubscribe", "y", 1, push: true)])
        // SUNSUBSCRIBE of a channel nobody holds: answered by the proxy, after what comes before.
        s.sent(on: "B", kind: .client())
        #expect(s.answered([Self.confirm("sunsubscribe", "zz", 9)]).write.isEmpty)
        var out = s.received(Self.confirm("ssubscribe", "w", 2), from: "B").write
        out += s.received(Self.pong, from: "B").write
        #expect(out == [Self.confirm("ssubscribe", "w", 2), Self.confirm("sunsubscribe", "zz", 2)])
    }

    @Test("thousands of pipelined subscribes over two connections: written in the client's order with the client's counts, a message after its connection's last command, one resent elsewhere keeps its place")
    func manyPipelined() {
        var s = PubSubSequencer<String>()
        let n = 3_000
        func command(_ i: Int) -> [ByteBuffer] { [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "c\(i)")] }
        func confirmed(_ range: Range<Int>) -> [RESPValue] { range.map { Self.confirm("ssubscribe", "c\($0)", Int64($0 + 1)) } }
        for i in 0..<n { s.sent(on: i % 2 == 0 ? "A" : "B", kind: .client(), command: command(i)) }
        // B answers all of its commands first: held behind A's first.
        for i in stride(from: 1, to: n, by: 2) {
            #expect(s.received(Self.confirm("ssubscribe", "c\(i)", Int64(i / 2 + 1)), from: "B").write.isEmpty)
            #expect(s.received(Self.pong, from: "B").write.isEmpty)
        }
        // A message on B belongs after B's last command; one on A after A's last (c\(n - 2)),
        // read before that command's confirmation: it is written just before it.
        #expect(s.received(Self.message("smessage", "c1", "b"), from: "B").write.isEmpty)
        #expect(s.received(Self.message("smessage", "c0", "a"), from: "A").write.isEmpty)
        var out: [RESPValue] = []
        for i in stride(from: 0, to: n - 2, by: 2) {
            out += s.received(Self.confirm("ssubscribe", "c\(i)", Int64(i / 2 + 1)), from: "A").write
            out += s.received(Self.pong, from: "A").write
        }
        #expect(out == confirmed(0..<(n - 2)) + [Self.message("smessage", "c0", "a")])
        // A's last command is answered MOVED: to be sent again, on B; it keeps its place.
        #expect(s.received(.simpleError(ByteBuffer(string: "MOVED 1 10.0.0.2:6379")), from: "A").write.isEmpty)
        let resend = s.received(Self.pong, from: "A")
        #expect(resend.write.isEmpty)
        #expect(resend.resend.map(\.command) == [command(n - 2)])
        guard let redirected = resend.resend.first else { return }
        s.resent(redirected.id, on: "B")
        // Nothing of A's is left: a message on A now is written at once.
        #expect(s.received(Self.message("smessage", "c0", "a2"), from: "A").write == [Self.message("smessage", "c0", "a2")])
        out = s.received(Self.confirm("ssubscribe", "c\(n - 2)", 1), from: "B").write
        out += s.received(Self.pong, from: "B").write
        #expect(out == confirmed((n - 2)..<n) + [Self.message("smessage", "c1", "b")])
        #expect(s.isIdle)
        #expect(s.shardChannels.count == n)
    }

    @Test("a message on a connection whose newest command was resent elsewhere goes after that connection's last command still there")
    func messageAfterAnOlderCommand() {
        var s = PubSubSequencer<String>()
        let command = [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "z")]
        s.sent(on: "A", kind: .client(), command: [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "x")])
        s.sent(on: "B", kind: .client(), command: [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "y")])
        let third = s.sent(on: "A", kind: .client(), command: command)
        // A answers its first command but not its end; the third is answered MOVED and resent on B.
        #expect(s.received(Self.confirm("ssubscribe", "x", 1), from: "A").write == [Self.confirm("ssubscribe", "x", 1)])
        #expect(s.received(Self.pong, from: "A").write.isEmpty, "B's command is not done")
        #expect(s.received(.simpleError(ByteBuffer(string: "MOVED 1 10.0.0.2:6379")), from: "A").write.isEmpty)
        #expect(s.received(Self.pong, from: "A").resend.map(\.id) == [third])
        s.resent(third, on: "B")
        // A's first command is written and gone: a message on A has nothing of A's left, at once.
        #expect(s.received(Self.message("smessage", "x", "1"), from: "A").write == [Self.message("smessage", "x", "1")])
        // A new command on A, then its newest resent elsewhere again: a message on A waits behind
        // the one still on A, not behind the resent one.
        s.sent(on: "A", kind: .client(), command: [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "w")])
        let fifth = s.sent(on: "A", kind: .client(), command: [ByteBuffer(string: "SSUBSCRIBE"), ByteBuffer(string: "v")])
        _ = s.received(Self.confirm("ssubscribe", "w", 2), from: "A")
        _ = s.received(Self.pong, from: "A")
        _ = s.received(.simpleError(ByteBuffer(string: "MOVED 2 10.0.0.2:6379")), from: "A")
        #expect(s.received(Self.pong, from: "A").resend.map(\.id) == [fifth])
        s.resent(fifth, on: "B")
        #expect(s.received(Self.message("smessage", "w", "2"), from: "A").write.isEmpty, "held behind B's unfinished command")
        #expect(s.received(Self.message("smessage", "w", "3"), from: "A").write.isEmpty)
        // B answers y, z and v: everything in the client's order, A's messages right after w's confirmation.
        var out: [RESPValue] = []
        for channel in ["y", "z", "v"] {
            out += s.received(Self.confirm("ssubscribe", channel, 1), from: "B").write
            out += s.received(Self.pong, from: "B").write
        }
        #expect(out == [Self.confirm("ssubscribe", "y", 2), Self.confirm("ssubscribe", "z", 3), Self.confirm("ssubscribe", "w", 4),
                        Self.message("smessage", "w", "2"), Self.message("smessage", "w", "3"), Self.confirm("ssubscribe", "v", 5)])
        #expect(s.isIdle)
    }
}
