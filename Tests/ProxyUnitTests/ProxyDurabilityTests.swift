import NIOCore
@testable import Proxy
import RESP
import Testing

/// `durability: replicated` in the proxy's session: a WAIT follows the writes of each batch,
/// and their replies reach the client only once enough replicas acknowledged them.
@Suite("ProxySession durability: writes answered only after a replica has them")
struct ProxyDurabilityTests {
    typealias D = SessionDriver
    static let wait = D.resp("WAIT", "1", "1000")

    static func driver() -> SessionDriver {
        SessionDriver(durability: .init(replicas: 1, timeoutMilliseconds: 1000))
    }

    @Test("a pipelined batch with a write: one WAIT after it; every reply of the batch waits for its answer")
    func batchWaits() {
        var d = Self.driver()
        let link = FakeLink()
        d.command("SET a 1")
        d.command("GET a")
        d.command("INCR n")
        let (bytes, _) = d.send(on: link)
        #expect(bytes == D.resp("SET", "a", "1") + D.resp("GET", "a") + D.resp("INCR", "n") + Self.wait)
        #expect(d.sendOrder == ["0", "1", "2", "W"])
        #expect(d.session.pendingGates == 1)
        #expect(!d.session.acceptsRun(seq: 0, offset: 0), "a held reply is not passed straight through")
        d.reply("+OK\r\n", seq: 0)
        d.reply("$1\r\n1\r\n", seq: 1)
        d.reply(":1\r\n", seq: 2)
        #expect(d.takeOutput() == "", "nothing is confirmed before WAIT answers")
        d.session.syncReplied(replicas: 1)
        d.drain()
        #expect(d.takeOutput() == "+OK\r\n$1\r\n1\r\n:1\r\n")
        #expect(d.session.slots.isEmpty && d.session.pendingGates == 0)
        #expect(!d.counters.contains(.unconfirmedWrites))
    }

    @Test("WAIT answers fewer replicas than required: each write is answered -NOREPLICAS, reads and errors keep their replies")
    func notEnoughReplicas() {
        var d = Self.driver()
        d.command("SET a 1")
        d.command("GET a")
        d.command("INCR s")
        d.send(on: FakeLink())
        d.reply("+OK\r\n", seq: 0)
        d.reply("$1\r\n1\r\n", seq: 1)
        d.reply("-ERR value is not an integer or out of range\r\n", seq: 2)
        d.session.syncReplied(replicas: 0)
        d.drain()
        let out = d.takeOutput()
        #expect(out.hasPrefix("-NOREPLICAS Tandem proxy: only 0 of 1 replicas acknowledged this write within 1000 ms"))
        #expect(out.hasSuffix("$1\r\n1\r\n-ERR value is not an integer or out of range\r\n"))
        #expect(d.counters.contains(.unconfirmedWrites) && d.counters.contains(.proxyError))
    }

    @Test("the connection closes before WAIT answers: the writes are not confirmed")
    func lostBeforeConfirmation() {
        var d = Self.driver()
        d.command("SET a 1")
        d.send(on: FakeLink())
        d.reply("+OK\r\n", seq: 0)
        d.session.syncReplied(replicas: nil)
        d.drain()
        #expect(d.takeOutput().hasPrefix("-NOREPLICAS Tandem proxy: the master did not confirm that a replica has this write"))
    }

    @Test("reads alone send no WAIT and pass straight through; a read before a write is not held")
    func readsAreNotHeld() {
        var d = Self.driver()
        let link = FakeLink()
        d.command("GET a")
        d.command("PING")
        let r1 = d.send(on: link)
        #expect(r1.bytes == D.resp("GET", "a") + D.resp("PING"))
        #expect(d.sendOrder == ["0", "1"] && d.session.pendingGates == 0)
        #expect(d.session.acceptsRun(seq: 0, offset: 0) && d.session.acceptsRun(seq: 1, offset: 1))
        d.session.runDelivered(count: 2)
        d.drain()
        d.command("GET a")
        d.command("DEL a")
        d.send(on: link)
        #expect(d.sendOrder == ["2", "3", "W"])
        d.reply("$-1\r\n", seq: 2)
        #expect(d.takeOutput() == "$-1\r\n", "the read before the write is answered at once")
        d.reply(":0\r\n", seq: 3)
        #expect(d.takeOutput() == "")
        d.session.syncReplied(replicas: 2)
        d.drain()
        #expect(d.takeOutput() == ":0\r\n")
    }

    @Test("MULTI: a WAIT before it for the earlier writes and one after EXEC; none inside the transaction")
    func transactions() {
        var d = Self.driver()
        let own = FakeLink()
        d.command("SET x 1")
        d.command("MULTI")
        #expect(d.session.dedicated == false)
        // MULTI moves the client to its own connection once SET's reply is in: send SET first.
        d.send(on: FakeLink())
        d.reply("+OK\r\n", seq: 0)
        d.session.syncReplied(replicas: 1)
        d.drain()
        #expect(d.takeOutput() == "+OK\r\n")
        #expect(d.session.dedicated)
        d.command("SET y 1")
        d.command("INCR z")
        d.command("EXEC")
        d.command("SET w 1")
        d.command("MULTI")
        d.command("INCR z")
        let (bytes, _) = d.send(on: own)
        #expect(d.sendOrder == ["1", "2", "3", "4", "5", "W", "6", "7"])
        #expect(bytes == D.resp("MULTI") + D.resp("SET", "y", "1") + D.resp("INCR", "z") + D.resp("EXEC")
            + D.resp("SET", "w", "1") + Self.wait + D.resp("MULTI") + D.resp("INCR", "z"))
        d.reply("+OK\r\n", seq: 1)
        d.reply("+QUEUED\r\n", seq: 2)
        d.reply("+QUEUED\r\n", seq: 3)
        #expect(d.takeOutput() == "+OK\r\n+QUEUED\r\n+QUEUED\r\n", "MULTI and QUEUED replies are not writes")
        d.reply("*2\r\n+OK\r\n:1\r\n", seq: 4)
        d.reply("+OK\r\n", seq: 5)
        d.reply("+OK\r\n", seq: 6)
        d.reply("+QUEUED\r\n", seq: 7)
        #expect(d.takeOutput() == "", "EXEC and everything after it wait for the WAIT after SET w")
        d.session.syncReplied(replicas: 1)
        d.drain()
        #expect(d.takeOutput() == "*2\r\n+OK\r\n:1\r\n+OK\r\n+OK\r\n+QUEUED\r\n")
        d.command("EXEC")
        d.send(on: own)
        #expect(d.sendOrder == ["8", "W"], "the EXEC that ends a transaction is a write")
    }

    @Test("commands go to another connection only once the WAIT owed on the first has answered")
    func switchWaitsForConfirmation() {
        var d = Self.driver()
        let first = FakeLink(), second = FakeLink()
        d.command("SET a 1")
        d.send(on: first)
        d.reply("+OK\r\n", seq: 0)
        d.command("SET b 1")
        let held = d.send(on: second)
        #expect(held.bytes == nil && d.holdDeadline != nil)
        let pumps = d.pumps
        d.session.syncReplied(replicas: 1)
        d.drain()
        #expect(d.pumps == pumps + 1, "the answer lets the held command go")
        let r = d.send(on: second)
        #expect(r.bytes == D.resp("SET", "b", "1") + Self.wait)
    }

    @Test("-READONLY on a held write: it is sent again to the next master and confirmed there")
    func readOnlyResend() {
        var d = Self.driver()
        d.command("SET a 1")
        d.send(on: FakeLink())
        let resent = d.reply("-READONLY You can't write against a read only replica.\r\n", seq: 0)
        #expect(resent)
        d.session.syncReplied(replicas: nil)  // WAIT on a replica is an error
        d.drain()
        #expect(d.takeOutput() == "")
        let r = d.send(on: FakeLink())
        #expect(r.bytes == D.resp("SET", "a", "1") + Self.wait)
        d.reply("+OK\r\n", seq: 0)
        d.session.syncReplied(replicas: 1)
        d.drain()
        #expect(d.takeOutput() == "+OK\r\n")
    }

    @Test("a large write streamed to the master is followed by a WAIT and answered after it")
    func streamedWrite() {
        var d = Self.driver()
        let own = FakeLink()
        d.makeDedicated()
        let began = d.session.beginStreaming(on: own.id)
        #expect(began)
        let seq = d.session.streamedCommandEnded(on: own.id, expectsReply: true, mayWrite: true)
        #expect(seq == 0)
        let wait = d.session.syncAfterStreamedCommand()
        #expect(wait.map { String(buffer: $0.bytes) } == Self.wait && wait?.skipping == 0)
        d.reply("+OK\r\n", seq: 0)
        #expect(d.takeOutput() == "")
        d.session.syncReplied(replicas: 1)
        d.drain()
        #expect(d.takeOutput() == "+OK\r\n")
        // A streamed read: no WAIT.
        let again = d.session.beginStreaming(on: own.id)
        #expect(again)
        _ = d.session.streamedCommandEnded(on: own.id, expectsReply: true, mayWrite: false)
        let none = d.session.syncAfterStreamedCommand()
        #expect(none == nil)
        // A streamed blocking write (a pop with a huge key): PUBLISH, then WAIT.
        let third = d.session.beginStreaming(on: own.id)
        #expect(third)
        _ = d.session.streamedCommandEnded(on: own.id, expectsReply: true, mayWrite: true, blockingWrite: true)
        let refreshed = d.session.syncAfterStreamedCommand()
        #expect(refreshed.map { String(buffer: $0.bytes) } == Self.publish + Self.wait && refreshed?.skipping == 1)
    }

    static let publish = D.resp("PUBLISH", "__tandem__:durability", "sync")

    @Test("a blocking write (BLPOP, XREADGROUP): a PUBLISH goes before its WAIT, so the WAIT also covers a pop served by another client's push; other writes and reads without")
    func blockingWriteRefreshesOffset() {
        var d = Self.driver()
        let own = FakeLink()
        d.command("BLPOP q 0")
        #expect(d.session.dedicated, "a blocking command moves the client to a connection of its own")
        d.command("SET a 1")
        let (bytes, _) = d.send(on: own)
        #expect(bytes == D.resp("BLPOP", "q", "0") + D.resp("SET", "a", "1") + Self.publish + Self.wait)
        #expect(d.sendOrder == ["0", "1", "W+1"], "the PUBLISH's reply is swallowed with the WAIT's")
        d.reply("*2\r\n$1\r\nq\r\n$1\r\nv\r\n", seq: 0)
        d.reply("+OK\r\n", seq: 1)
        #expect(d.takeOutput() == "", "the popped element waits for the replicas")
        d.session.syncReplied(replicas: 0)
        d.drain()
        let refused = d.takeOutput()
        let marker = "-NOREPLICAS Tandem proxy: only 0 of 1"
        #expect(refused.hasPrefix(marker) && refused.dropFirst(marker.count).contains("\r\n" + marker), "both writes unconfirmed: \(refused)")
        // A write alone: WAIT only. A read alone: nothing.
        d.command("SET b 1")
        #expect(d.send(on: own).bytes == D.resp("SET", "b", "1") + Self.wait && d.sendOrder == ["2", "W"])
        d.reply("+OK\r\n", seq: 2)
        d.session.syncReplied(replicas: 1)
        d.command("XREAD BLOCK 0 STREAMS s $")
        #expect(d.send(on: own).bytes == D.resp("XREAD", "BLOCK", "0", "STREAMS", "s", "$") && d.sendOrder == ["3"])
        d.reply("*-1\r\n", seq: 3)
        d.command("XREADGROUP GROUP g c BLOCK 0 STREAMS s >")
        #expect(d.send(on: own).bytes == D.resp("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">") + Self.publish + Self.wait)
        #expect(d.sendOrder == ["4", "W+1"])
        // It timed out: nothing ran, so the null passes even when the WAIT (which counts the
        // PUBLISH) found too few replicas.
        _ = d.takeOutput()
        d.reply("*-1\r\n", seq: 4)
        d.session.syncReplied(replicas: 0)
        d.drain()
        #expect(d.takeOutput() == "*-1\r\n")
        // Inside a transaction BLPOP does not block; the WAIT after EXEC has no PUBLISH.
        d.command("MULTI")
        d.command("BLPOP q 0")
        d.command("EXEC")
        #expect(d.send(on: own).bytes == D.resp("MULTI") + D.resp("BLPOP", "q", "0") + D.resp("EXEC") + Self.wait)
    }

    @Test("on a shared connection the WAIT is the connection's (one for every client's writes of the turn): not in the batch, but awaited")
    func sharedConnectionWait() {
        var d = Self.driver()
        d.command("SET a 1")
        d.command("GET a")
        let r = d.send(on: FakeLink(), syncByConnection: true)
        #expect(r.bytes == D.resp("SET", "a", "1") + D.resp("GET", "a"))
        #expect(d.sendOrder == ["0", "1", "W"] && d.session.pendingGates == 1)
        d.reply("+OK\r\n", seq: 0)
        d.reply("$1\r\n1\r\n", seq: 1)
        #expect(d.takeOutput() == "")
        d.session.syncReplied(replicas: 1)
        d.drain()
        #expect(d.takeOutput() == "+OK\r\n$1\r\n1\r\n")
    }

    @Test("without durability no WAIT is ever sent")
    func off() {
        var d = SessionDriver()
        d.command("SET a 1")
        let r = d.send(on: FakeLink())
        #expect(r.bytes == D.resp("SET", "a", "1") && d.sendOrder == ["0"])
        #expect(d.session.acceptsRun(seq: 0, offset: 0))
    }

    @Test("which commands count as writes")
    func classification() {
        func mayWrite(_ words: String...) -> Bool {
            var buffer = ByteBuffer()
            buffer.writeRESPCommand(words)
            var scanner = RESPStreamScanner(mode: .request)
            _ = try! scanner.nextFrameEnd(in: buffer, from: 0)
            return CommandTraits.classify(&scanner, proxyCredentials: nil, writes: true).mayWrite
        }
        #expect(mayWrite("SET", "a", "1") && mayWrite("incr", "n") && mayWrite("EVAL", "return 1", "0"))
        #expect(mayWrite("SOMEFUTURECOMMAND", "x"), "unknown commands count as writes")
        #expect(mayWrite("BLMOVE", "a", "b", "LEFT", "RIGHT", "0") && mayWrite("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"))
        #expect(!mayWrite("GET", "a") && !mayWrite("PING") && !mayWrite("INFO") && !mayWrite("SUBSCRIBE", "c"))
        #expect(!mayWrite("MULTI") && !mayWrite("WATCH", "k") && !mayWrite("SELECT", "1") && !mayWrite("XREAD", "STREAMS", "s", "0"))
        #expect(!mayWrite("GEORADIUSBYMEMBER_RO", "k", "m", "1", "km"), "a name longer than 16 bytes is looked up too")
    }
}

@Suite("BackendLink: a connection to a replaced master is cut off only when TCP says so")
struct StalledLinkTests {
    @Test("unacknowledged bytes with no acknowledgement for 200 ms: stalled; acknowledged or recent: not")
    func stalled() {
        #expect(BackendLink.isStalled(unackedSegments: 3, millisecondsSinceLastAck: 1_200))
        #expect(BackendLink.isStalled(unackedSegments: 1, millisecondsSinceLastAck: 200))
        #expect(!BackendLink.isStalled(unackedSegments: 0, millisecondsSinceLastAck: 60_000), "idle, everything acknowledged (a paused master)")
        #expect(!BackendLink.isStalled(unackedSegments: 2, millisecondsSinceLastAck: 5), "bytes in flight on a live link")
    }
}
