import NIOCore
@testable import Proxy
import RESP
import Testing

/// An identity for a backend connection (the session only compares them).
final class FakeLink {
    var id: ObjectIdentifier { ObjectIdentifier(self) }
}

/// Plays the shell for one `ProxySession`: feeds it commands and replies on a simulated clock
/// and records what it is told to do.
struct SessionDriver {
    static let groupName = "mymaster"
    static let proxyAuth = SessionDriver.resp("AUTH", "proxy-pass")

    var session: ProxySession
    var now = NIODeadline.uptimeNanoseconds(10_000_000_000)
    /// Bytes written to the client since the last `takeOutput()`.
    var output = ""
    var closed = false
    var holdDeadline: NIODeadline?
    var counters: [ProxySession.Counter] = []
    var pumps = 0
    var resumes = 0
    var flushes = 0
    var infoRequests: [UInt64] = []

    /// With durability on: the order in which the last `send` expected replies ("0", "1", …)
    /// and WAIT answers ("W").
    var sendOrder: [String] = []

    init(holdMs: Int64 = 1000, maxSlots: Int = 4096, streamThreshold: Int = 64 * 1024,
         durability: ProxySession.Durability? = nil) {
        var handshake = ByteBuffer()
        handshake.writeString(Self.proxyAuth)
        session = ProxySession(configuration: .init(
            hold: .milliseconds(holdMs), groupName: Self.groupName, handshake: handshake, handshakeReplies: 1,
            streamThreshold: streamThreshold, maxSlots: maxSlots, durability: durability))
    }

    static func resp(_ words: String...) -> String { resp(words) }
    static func resp(_ words: [String]) -> String {
        var buffer = ByteBuffer()
        buffer.writeRESPCommand(words)
        return String(buffer: buffer)
    }

    mutating func advance(ms: Int64) { now = now + .milliseconds(ms) }

    mutating func drain() {
        while let action = session.nextAction() {
            switch action {
            case .write(let bytes): output += String(buffer: bytes)
            case .close: closed = true
            case .failAndClose(let bytes):
                output += String(buffer: bytes)
                closed = true
            case .flush: flushes += 1
            case .armHold(let deadline): holdDeadline = deadline
            case .cancelHold: holdDeadline = nil
            case .fetchInfo(let seq): infoRequests.append(seq)
            case .pump: pumps += 1
            case .resumeInput: resumes += 1
            case .count(let counter): counters.append(counter)
            }
        }
    }

    mutating func takeOutput() -> String {
        defer { output = "" }
        return output
    }

    /// One command as the shell's scanner and `CommandTraits` would hand it over.
    mutating func command(_ text: String, reads: Bool = false) {
        var buffer = ByteBuffer()
        buffer.writeRESPCommand(text.split(separator: " ").map(String.init))
        var scanner = RESPStreamScanner(mode: .request)
        let end = try! scanner.nextFrameEnd(in: buffer, from: 0)
        precondition(end == buffer.readableBytes)
        let traits = CommandTraits.classify(&scanner, proxyCredentials: [Array("proxy-pass".utf8)],
                                            readRouting: reads && !session.dedicated,
                                            writes: session.configuration.durability != nil)
        var command = ProxySession.Command(bytes: buffer, traits: traits)
        if traits.effect != .none { command.arguments = scanner.arguments.map(Array.init) }
        session.command(command)
        drain()
    }

    /// Asks the session to send its queued commands on `link`: the bytes and the sequence
    /// numbers that now wait for replies.
    @discardableResult
    mutating func send(on link: FakeLink?, writable: Bool = true, replica: Bool = false,
                       replicaAvailable: Bool = false, syncByConnection: Bool = false) -> (bytes: String?, seqs: [UInt64]) {
        var seqs: [UInt64] = []
        var order: [String] = []
        let facts = link.map { ProxySession.LinkFacts(id: $0.id, isWritable: writable, isReplica: replica) }
        let batch = session.sendQueued(on: facts, now: now, replicaAvailable: { replicaAvailable },
                                       expectReply: { seqs.append($0); order.append(String($0)) },
                                       syncByConnection: syncByConnection,
                                       expectSync: { order.append($0 == 0 ? "W" : "W+\($0)") })
        sendOrder = order
        drain()
        return (batch.map { String(buffer: $0) }, seqs)
    }

    /// A whole reply to `seq`; true when it was -READONLY and the command was queued again.
    @discardableResult
    mutating func reply(_ text: String, seq: UInt64, replacedMaster: ProxyEndpoint? = nil) -> Bool {
        let resent = session.receiveReply(ByteBuffer(string: text), seq: seq, ended: true, isError: text.hasPrefix("-"),
                                          replacedMaster: replacedMaster)
        drain()
        return resent
    }

    /// Moves the client to a connection of its own (it has no pending replies).
    mutating func makeDedicated() {
        let moved = session.wantDedicatedConnection()
        #expect(moved)
        drain()
        #expect(session.dedicated)
    }

    mutating func step(current: (generation: UInt64, closed: Bool)?, master: UInt64?, usable: Bool = true)
        -> ProxySession.DedicatedLinkStep {
        let facts = current.map { ProxySession.DedicatedLinkFacts(generation: $0.generation, isClosed: $0.closed) }
        defer { drain() }
        return session.dedicatedLinkStep(current: facts, masterGeneration: master, usable: usable)
    }
}

@Suite("ProxySession: one client's decisions, without sockets, on a simulated clock")
struct ProxySessionTests {
    typealias D = SessionDriver

    @Test("pipelined commands go out as one write; replies reach the client in command order")
    func pipelineAndOrder() {
        var d = SessionDriver()
        let link = FakeLink()
        d.command("SET a 1")
        d.command("GET a")
        d.command("INCR n")
        let (bytes, seqs) = d.send(on: link)
        #expect(bytes == D.resp("SET", "a", "1") + D.resp("GET", "a") + D.resp("INCR", "n"))
        #expect(seqs == [0, 1, 2])
        #expect(d.session.sentCount == 3)
        // A run of whole replies goes straight out; the session only drops the slots.
        #expect(d.session.acceptsRun(seq: 0, offset: 0) && d.session.acceptsRun(seq: 1, offset: 1))
        #expect(!d.session.acceptsRun(seq: 1, offset: 0), "a run starts at the first pending reply")
        d.session.runDelivered(count: 3)
        d.drain()
        #expect(d.session.sentCount == 0 && d.session.slots.isEmpty && d.session.firstSeq == 3)

        // INFO proxy is answered by the proxy: a GET sent after it waits for it.
        d.command("INFO proxy")
        #expect(d.infoRequests == [3])
        d.command("GET a")
        let r1 = d.send(on: link)
        #expect(r1.seqs == [4])
        d.reply("$1\r\nx\r\n", seq: 4)
        #expect(d.takeOutput() == "", "the GET's reply waits behind INFO proxy's")
        d.session.infoReady(seq: 3, text: "role:proxy")
        d.drain()
        #expect(d.takeOutput() == "$10\r\nrole:proxy\r\n$1\r\nx\r\n")
    }

    @Test("the first pending reply streams to the client piece by piece; later ones are buffered")
    func partialReplies() {
        var d = SessionDriver()
        let link = FakeLink()
        d.command("GET big")
        d.command("GET small")
        d.send(on: link)
        d.session.receiveReply(ByteBuffer(string: "$10\r\n01234"), seq: 0, ended: false, isError: false)
        d.drain()
        #expect(d.takeOutput() == "$10\r\n01234")
        #expect(!d.session.acceptsRun(seq: 0, offset: 0), "a reply already partly written is not part of a run")
        d.session.receiveReply(ByteBuffer(string: "56789\r\n"), seq: 0, ended: true, isError: false)
        d.reply("$1\r\ns\r\n", seq: 1)
        #expect(d.takeOutput() == "56789\r\n$1\r\ns\r\n")
    }

    @Test("QUIT: +OK after the earlier replies, then close; nothing more is read")
    func quit() {
        var d = SessionDriver()
        d.command("GET a")
        d.send(on: FakeLink())
        d.command("QUIT")
        #expect(d.session.closing && !d.closed)
        #expect(d.session.shouldPauseReading(bufferedInput: 0, clientWritable: true))
        #expect(d.takeOutput() == "")
        d.reply("$1\r\nv\r\n", seq: 0)
        #expect(d.takeOutput() == "$1\r\nv\r\n+OK\r\n")
        #expect(d.closed)
    }

    @Test("malformed input: Redis's protocol error after the earlier replies, then close")
    func protocolError() {
        var d = SessionDriver()
        d.session.protocolError("Protocol error: invalid multibulk length")
        d.drain()
        #expect(d.takeOutput() == "-ERR Protocol error: invalid multibulk length\r\n")
        #expect(d.closed && d.session.closing)
        #expect(d.counters == [.proxyError])
    }

    @Test("a stateful command moves the client to a connection of its own once its pending replies are in")
    func dedicatedSwitch() {
        var d = SessionDriver()
        let shared = FakeLink(), own = FakeLink()
        d.command("GET a")
        d.send(on: shared)
        d.command("SELECT 2")
        #expect(d.session.wantDedicated && !d.session.dedicated)
        #expect(!d.session.hasQueued, "SELECT waits outside the queue while replies are owed on the shared connection")
        #expect(d.session.shouldPauseReading(bufferedInput: 0, clientWritable: true), "no reading while switching")
        d.reply("$1\r\nv\r\n", seq: 0)
        #expect(d.session.dedicated && !d.session.wantDedicated)
        #expect(d.counters == [.becameDedicated])
        #expect(d.resumes == 1, "the input read meanwhile is scanned again")
        #expect(d.session.hasQueued)
        // Its own connection starts with the proxy's AUTH: the client did not authenticate itself.
        guard case .open(let handshake, let replies, let retire) = d.step(current: nil, master: 1) else {
            Issue.record("expected a connection to be opened")
            return
        }
        #expect(String(buffer: handshake) == D.proxyAuth && replies == 1 && !retire)
        let r2 = d.send(on: own)
        #expect(r2.bytes == D.resp("SELECT", "2"))
        #expect(d.takeOutput() == "$1\r\nv\r\n")
    }

    @Test("on a new master the client's state is replayed: HELLO, AUTH, SELECT, CLIENT SETNAME, channels, patterns")
    func stateReplay() {
        var d = SessionDriver()
        let own = FakeLink()
        d.makeDedicated()
        for command in ["AUTH app secret", "SELECT 2", "CLIENT SETNAME worker", "SELECT 99"] { d.command(command) }
        d.command("SUBSCRIBE a b c")
        d.command("PSUBSCRIBE n.*")
        d.command("UNSUBSCRIBE b")
        let (_, seqs) = d.send(on: own)
        #expect(seqs == [0, 1, 2, 3], "subscriptions answer with messages, not replies")
        d.reply("+OK\r\n", seq: 0)
        d.reply("+OK\r\n", seq: 1)
        d.reply("+OK\r\n", seq: 2)
        d.reply("-ERR DB index is out of range\r\n", seq: 3)
        #expect(d.session.replay.select == [Array("SELECT".utf8), Array("2".utf8)], "a refused SELECT is not replayed")
        guard case .open(let handshake, let replies, let retire) = d.step(current: (1, false), master: 2) else {
            Issue.record("expected a new connection")
            return
        }
        #expect(retire, "the old master's connection is let go")
        #expect(String(buffer: handshake) == D.resp("AUTH", "app", "secret") + D.resp("SELECT", "2")
            + D.resp("CLIENT", "SETNAME", "worker") + D.resp("SUBSCRIBE", "a", "c") + D.resp("PSUBSCRIBE", "n.*"),
            "the client's own AUTH replaces the proxy's")
        #expect(replies == 3 + 2 + 1, "one reply per command, one per channel and pattern")
    }

    @Test("HELLO with AUTH replaces the proxy's AUTH; HELLO 3 makes a nil reply RESP3's; RESET forgets it all")
    func helloAndReset() {
        var d = SessionDriver()
        d.makeDedicated()
        d.command("HELLO 3 AUTH app secret")
        d.send(on: FakeLink())
        d.reply("%1\r\n+proto\r\n:3\r\n", seq: 0)
        #expect(d.session.replay.resp3)
        guard case .open(let handshake, let replies, _) = d.step(current: nil, master: 1) else {
            Issue.record("expected a connection to be opened")
            return
        }
        #expect(String(buffer: handshake) == D.resp("HELLO", "3", "AUTH", "app", "secret") && replies == 1)
        d.command("RESET")
        #expect(d.session.replay == ProxySession.ReplayState())
        guard case .open(let again, _, _) = d.step(current: nil, master: 1) else {
            Issue.record("expected a connection to be opened")
            return
        }
        #expect(String(buffer: again) == D.proxyAuth)
    }

    @Test("state changed inside MULTI (SELECT, CLIENT SETNAME, CLIENT TRACKING) is replayed only once EXEC ran it, per element of EXEC's reply; DISCARD, EXECABORT and a nil EXEC record nothing")
    func stateInsideTransactions() {
        var d = SessionDriver()
        d.makeDedicated()
        func run(_ commands: [String], _ replies: [String]) {
            for c in commands { d.command(c) }
            let (_, seqs) = d.send(on: FakeLink())
            #expect(seqs.count == replies.count)
            for (seq, reply) in zip(seqs, replies) { d.reply(reply, seq: seq) }
            _ = d.takeOutput()
        }
        // Queued, then discarded: nothing happened on the master.
        run(["MULTI", "SELECT 2", "CLIENT TRACKING on", "DISCARD"], ["+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+OK\r\n"])
        #expect(d.session.replay.select == nil && d.session.replay.tracking.isEmpty)
        // Queued, then EXECABORT or a nil EXEC (WATCH): nothing either.
        run(["MULTI", "SELECT 2", "FOO", "EXEC"], ["+OK\r\n", "+QUEUED\r\n", "-ERR unknown command 'FOO'\r\n",
                                              "-EXECABORT Transaction discarded because of previous errors.\r\n"])
        run(["WATCH k", "MULTI", "SELECT 2", "EXEC"], ["+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "*-1\r\n"])
        #expect(d.session.replay.select == nil)
        // EXEC ran them: each change recorded unless its element is an error.
        run(["SELECT 1", "MULTI", "SET a 1", "SELECT 3", "CLIENT SETNAME x", "SELECT 99", "CLIENT TRACKING on", "EXEC"],
            ["+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n",
             "*5\r\n+OK\r\n+OK\r\n+OK\r\n-ERR DB index is out of range\r\n+OK\r\n"])
        #expect(d.session.replay.select == [Array("SELECT".utf8), Array("3".utf8)], "SELECT 99 failed at EXEC: SELECT 3 stands")
        #expect(d.session.replay.setName == [Array("CLIENT".utf8), Array("SETNAME".utf8), Array("x".utf8)])
        #expect(d.session.replay.tracking.count == 1)
        // Outside a transaction a change is recorded at its reply, as before.
        run(["SELECT 4"], ["+OK\r\n"])
        #expect(d.session.replay.select == [Array("SELECT".utf8), Array("4".utf8)])
        // A nested MULTI and a WATCH inside MULTI are refused at once and take no element:
        // the positions after them still match EXEC's reply, and the transaction goes on.
        run(["MULTI", "SELECT 5", "MULTI", "WATCH k", "SELECT 99", "SET a 1", "EXEC"],
            ["+OK\r\n", "+QUEUED\r\n", "-ERR MULTI calls can not be nested\r\n", "-ERR WATCH inside MULTI is not allowed\r\n",
             "+QUEUED\r\n", "+QUEUED\r\n", "*3\r\n+OK\r\n-ERR DB index is out of range\r\n+OK\r\n"])
        #expect(d.session.replay.select == [Array("SELECT".utf8), Array("5".utf8)], "SELECT 5 ran, SELECT 99 failed")
        #expect(!d.session.watching, "a WATCH refused inside MULTI watches nothing")
        // A large element before the change (a 2 MB GET in EXEC's reply, more than the proxy
        // keeps of it, arriving in pieces): the change counts as run.
        for c in ["MULTI", "GET big", "SELECT 6", "EXEC"] { d.command(c) }
        let (_, seqs) = d.send(on: FakeLink())
        for (seq, reply) in zip(seqs, ["+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n"]) { d.reply(reply, seq: seq) }
        let big = String(repeating: "x", count: 2 << 20)
        let exec = "*2\r\n$\(big.utf8.count)\r\n" + big + "\r\n+OK\r\n"
        let cut = exec.utf8.count / 2
        _ = d.session.receiveReply(ByteBuffer(string: String(exec.prefix(cut))), seq: seqs[3], ended: false, isError: false)
        d.reply(String(exec.dropFirst(cut)), seq: seqs[3])
        _ = d.takeOutput()
        #expect(d.session.replay.select == [Array("SELECT".utf8), Array("6".utf8)])
        #expect(d.session.execReply == nil, "nothing kept after EXEC")
        // A command streamed inside MULTI (larger than one read) has its element too.
        let own = FakeLink()
        d.command("MULTI")
        let multi = d.send(on: own).seqs
        d.reply("+OK\r\n", seq: multi[0])
        let began = d.session.beginStreaming(on: own.id)
        #expect(began)
        let streamed = d.session.streamedCommandEnded(on: own.id, expectsReply: true)
        d.reply("+QUEUED\r\n", seq: try! #require(streamed))
        d.command("SELECT 99")
        d.command("EXEC")
        let rest = d.send(on: own).seqs
        d.reply("+QUEUED\r\n", seq: rest[0])
        d.reply("*2\r\n+OK\r\n-ERR DB index is out of range\r\n", seq: rest[1])
        _ = d.takeOutput()
        #expect(d.session.replay.select == [Array("SELECT".utf8), Array("6".utf8)], "SELECT 99 failed at EXEC")
    }

    @Test("what the start of EXEC's reply says: an array or not, which elements read whole are errors; past what was kept, run")
    func transactionReplies() {
        typealias T = ProxySession.TransactionReply
        let three = T(ByteBuffer(string: "*3\r\n+OK\r\n-ERR no\r\n!5\r\nerror\r\n"))
        #expect(three.ran(0) && !three.ran(1) && !three.ran(2) && !three.ran(3))
        let cut = T(ByteBuffer(string: "*3\r\n+OK\r\n$100\r\nabc"))
        #expect(cut.ran(0) && cut.ran(1) && cut.ran(2), "elements past the bytes kept count as run")
        for notRun in ["*-1\r\n", "_\r\n", "-EXECABORT Transaction discarded because of previous errors.\r\n", "+OK\r\n", ""] {
            #expect(!T(ByteBuffer(string: notRun)).ran(0), "\(notRun)")
        }
        let nested = T(ByteBuffer(string: "*2\r\n*2\r\n-ERR inner\r\n:1\r\n-ERR outer\r\n"))
        #expect(nested.ran(0) && !nested.ran(1), "an array element holding an error ran")
    }

    @Test("CLIENT TRACKING: the accepted ON commands are replayed on a new connection and a RESP3 client is told to drop its whole cache; OFF, RESET or a refusal leave nothing; REDIRECT cannot be restored: the client is told and closed")
    func trackingReplay() {
        var d = SessionDriver()
        d.makeDedicated()
        d.command("HELLO 3")
        d.command("CLIENT TRACKING on BCAST PREFIX a:")
        d.command("CLIENT TRACKING on BCAST PREFIX b:")
        d.command("CLIENT TRACKING on BCAST PREFIX b:")
        d.command("CLIENT TRACKING on OPTIN")
        let (_, seqs) = d.send(on: FakeLink())
        d.reply("%1\r\n+proto\r\n:3\r\n", seq: seqs[0])
        d.reply("+OK\r\n", seq: seqs[1])
        d.reply("+OK\r\n", seq: seqs[2])
        d.reply("+OK\r\n", seq: seqs[3])
        d.reply("-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.\r\n", seq: seqs[4])
        _ = d.takeOutput()
        guard case .open(let handshake, let replies, let retire) = d.step(current: (1, false), master: 2) else {
            Issue.record("expected a new connection")
            return
        }
        #expect(retire)
        #expect(String(buffer: handshake) == D.proxyAuth + D.resp("HELLO", "3") + D.resp("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:")
            + D.resp("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b:"), "each accepted ON once, in order; the refused one not")
        #expect(replies == 1 + 1 + 2)
        #expect(d.takeOutput() == ">2\r\n$10\r\ninvalidate\r\n_\r\n", "the whole cache dropped, as after FLUSHALL")
        // A connection replaced while not tracking says nothing.
        d.command("CLIENT TRACKING off")
        let (_, off) = d.send(on: FakeLink())
        d.reply("+OK\r\n", seq: off[0])
        _ = d.takeOutput()
        guard case .open(let plain, _, _) = d.step(current: (2, true), master: 2) else {
            Issue.record("expected a new connection")
            return
        }
        #expect(String(buffer: plain) == D.proxyAuth + D.resp("HELLO", "3"))
        #expect(d.takeOutput() == "")
        // The connection closed (a switchover's CLIENT KILL): told once, at the loss, not again
        // when the closed connection is let go.
        d.command("CLIENT TRACKING on")
        let (_, on) = d.send(on: FakeLink())
        d.reply("+OK\r\n", seq: on[0])
        #expect(d.session.replay.tracking.count == 1)
        _ = d.takeOutput()
        d.session.dedicatedLinkClosed()
        d.drain()
        #expect(d.takeOutput() == ">2\r\n$10\r\ninvalidate\r\n_\r\n")
        guard case .open(let reopened, _, _) = d.step(current: (3, true), master: 2) else {
            Issue.record("expected a new connection")
            return
        }
        #expect(String(buffer: reopened) == D.proxyAuth + D.resp("HELLO", "3") + D.resp("CLIENT", "TRACKING", "on"))
        #expect(d.takeOutput() == "")
        // RESET forgets tracking with the rest.
        d.command("RESET")
        #expect(d.session.replay.tracking.isEmpty)

        // RESP2 with REDIRECT: the ID belongs to the old server; the client is told and closed.
        var r = SessionDriver()
        r.makeDedicated()
        r.command("CLIENT TRACKING ON REDIRECT 7")
        let (_, redirect) = r.send(on: FakeLink())
        r.reply("+OK\r\n", seq: redirect[0])
        _ = r.takeOutput()
        r.session.dedicatedLinkClosed()
        r.drain()
        #expect(r.step(current: (1, true), master: 2) == .none(retire: true), "closing: no new connection")
        #expect(r.closed)
        #expect(r.takeOutput().hasPrefix("-ERR Tandem proxy: this connection's CLIENT TRACKING … REDIRECT cannot be restored"))
        // RESP2 without REDIRECT gets no invalidations at all (Redis sends none): replayed, nothing written.
        var plain2 = SessionDriver()
        plain2.makeDedicated()
        plain2.command("CLIENT TRACKING ON")
        let (_, p2) = plain2.send(on: FakeLink())
        plain2.reply("+OK\r\n", seq: p2[0])
        _ = plain2.takeOutput()
        guard case .open(let h2, _, _) = plain2.step(current: (1, false), master: 2) else {
            Issue.record("expected a new connection")
            return
        }
        #expect(String(buffer: h2) == D.proxyAuth + D.resp("CLIENT", "TRACKING", "ON"))
        #expect(plain2.takeOutput() == "")
    }

    @Test("a RESP2 subscriber's commands take no reply slots (its messages are not replies)")
    func rawSubscriber() {
        var d = SessionDriver()
        d.makeDedicated()
        d.command("SUBSCRIBE news")
        d.command("PING")
        let (bytes, seqs) = d.send(on: FakeLink())
        #expect(bytes == D.resp("SUBSCRIBE", "news") + D.resp("PING"))
        #expect(seqs.isEmpty && d.session.slots.isEmpty)
        #expect(!d.session.isIdle, "a subscriber is never idle")
    }

    /// A client on its own connection with MULTI and one queued command answered, when the
    /// master changes (generation 1 → 2).
    private static func transactionBroken() -> SessionDriver {
        var d = SessionDriver()
        d.makeDedicated()
        d.command("MULTI")
        d.command("SET k v")
        d.send(on: FakeLink())
        d.reply("+OK\r\n", seq: 0)
        d.reply("+QUEUED\r\n", seq: 1)
        _ = d.takeOutput()
        guard case .open = d.step(current: (1, false), master: 2) else {
            Issue.record("expected a new connection")
            return d
        }
        return d
    }

    @Test("MULTI when the master changes: commands get an error, MULTI is nested, EXEC gets -EXECABORT; then all is normal")
    func multiThenExecAbort() {
        var d = Self.transactionBroken()
        d.command("SET k2 v")
        d.command("MULTI")
        d.command("EXEC")
        #expect(d.takeOutput() == "-ERR Tandem proxy: the master changed during MULTI; the transaction will be discarded at EXEC\r\n"
            + "-ERR MULTI calls can not be nested\r\n"
            + "-EXECABORT Transaction discarded because the master changed during the transaction.\r\n")
        #expect(!d.session.hasQueued, "nothing of the broken transaction reaches the new master")
        #expect(d.counters.filter { $0 == .proxyError }.count == 3)
        d.command("SET k3 v")
        let r3 = d.send(on: FakeLink())
        #expect(r3.bytes == D.resp("SET", "k3", "v"))
    }

    @Test("a replaced master's answers: writes become 'may or may not have run', reads and errors pass, -READONLY is sent again")
    func replacedMasterAnswers() {
        let old = ProxyEndpoint(host: "10.0.0.1", port: 6379)
        let unknown = "-ERR Tandem proxy: master 10.0.0.1:6379 answered after the group had replaced it; the command may or may not have run, and if it ran there it may be lost\r\n"
        var d = SessionDriver()
        let link = FakeLink()
        for command in ["SET a 1", "GET a", "INCR n", "PING", "EVAL x 0", "SET b 2", "DEL a"] { d.command(command) }
        let (_, seqs) = d.send(on: link)
        #expect(seqs == [0, 1, 2, 3, 4, 5, 6])
        d.reply("+OK\r\n", seq: 0, replacedMaster: old)
        d.reply("$1\r\n1\r\n", seq: 1, replacedMaster: old)
        d.reply(":1\r\n", seq: 2, replacedMaster: old)
        d.reply("+PONG\r\n", seq: 3, replacedMaster: old)
        d.reply("-ERR boom\r\n", seq: 4, replacedMaster: old)
        #expect(d.takeOutput() == unknown + "$1\r\n1\r\n" + unknown + "+PONG\r\n" + "-ERR boom\r\n")
        #expect(d.counters.filter { $0 == .proxyError }.count == 2)
        // Held by a switchover's pause and answered -READONLY once the old master follows the
        // new one: it did not run, so it goes to the next master as before.
        let resent = d.reply("-READONLY You can't write against a read only replica.\r\n", seq: 5, replacedMaster: old)
        #expect(resent && d.session.hasQueued)
        // The same reply from the current master is the client's acknowledgement.
        d.reply(":1\r\n", seq: 6)
        #expect(d.takeOutput() == "", "DEL waits behind the SET sent again")
        let again = d.send(on: FakeLink())
        #expect(again.bytes == D.resp("SET", "b", "2"))
        d.reply("+OK\r\n", seq: 5)
        #expect(d.takeOutput() == "+OK\r\n:1\r\n")
    }

    @Test("a replaced master's answers inside MULTI: QUEUED passes, EXEC's result does not")
    func replacedMasterTransaction() {
        let old = ProxyEndpoint(host: "10.0.0.1", port: 6379)
        var d = SessionDriver()
        d.makeDedicated()
        d.command("MULTI")
        d.command("SET k v")
        d.command("EXEC")
        d.send(on: FakeLink())
        d.reply("+OK\r\n", seq: 0, replacedMaster: old)
        d.reply("+QUEUED\r\n", seq: 1, replacedMaster: old)
        d.reply("*1\r\n+OK\r\n", seq: 2, replacedMaster: old)
        let output = d.takeOutput()
        #expect(output.hasPrefix("+OK\r\n+QUEUED\r\n-ERR Tandem proxy: master 10.0.0.1:6379 answered after"))
        #expect(!output.contains("*1"))
    }

    @Test("MULTI when the master changes, ended by DISCARD: +OK from the proxy")
    func multiThenDiscard() {
        var d = Self.transactionBroken()
        d.command("DISCARD")
        #expect(d.takeOutput() == "+OK\r\n")
        #expect(!d.session.inMulti && !d.session.multiBroken && !d.session.hasQueued)
    }

    @Test("WATCH when the master changes: EXEC goes as DISCARD and the client gets the nil of a failed WATCH")
    func watchBroken() {
        for resp3 in [false, true] {
            var d = SessionDriver()
            d.makeDedicated()
            var seq: UInt64 = 0
            if resp3 {
                d.command("HELLO 3")
                d.send(on: FakeLink())
                d.reply("%0\r\n", seq: seq)
                seq += 1
            }
            d.command("WATCH k")
            d.send(on: FakeLink())
            d.reply("+OK\r\n", seq: seq)
            _ = d.takeOutput()
            guard case .open = d.step(current: (1, false), master: 2) else {
                Issue.record("expected a new connection")
                return
            }
            d.command("MULTI")
            d.command("SET k v")
            d.command("EXEC")
            let (bytes, seqs) = d.send(on: FakeLink())
            #expect(bytes == D.resp("MULTI") + D.resp("SET", "k", "v") + D.resp("DISCARD"))
            for (reply, s) in zip(["+OK\r\n", "+QUEUED\r\n", "+OK\r\n"], seqs) { d.reply(reply, seq: s) }
            #expect(d.takeOutput() == "+OK\r\n+QUEUED\r\n" + (resp3 ? "_\r\n" : "*-1\r\n"))
            #expect(!d.session.watching && !d.session.watchBroken)
        }
    }

    @Test("UNWATCH before the master changes: EXEC goes as EXEC")
    func unwatch() {
        var d = SessionDriver()
        d.makeDedicated()
        d.command("WATCH k")
        d.command("UNWATCH")
        d.send(on: FakeLink())
        d.reply("+OK\r\n", seq: 0)
        d.reply("+OK\r\n", seq: 1)
        guard case .open = d.step(current: (1, false), master: 2) else {
            Issue.record("expected a new connection")
            return
        }
        d.command("MULTI")
        d.command("EXEC")
        let r4 = d.send(on: FakeLink())
        #expect(r4.bytes == D.resp("MULTI") + D.resp("EXEC"))
    }

    @Test("no usable master: commands are held for the hold time, then get -MASTERDOWN; the client stays")
    func holdThenMasterDown() {
        var d = SessionDriver(holdMs: 1000)
        let start = d.now
        d.command("SET a 1")
        let r5 = d.send(on: nil)
        #expect(r5.bytes == nil)
        #expect(d.holdDeadline == start + .milliseconds(1000))
        d.advance(ms: 400)
        d.command("GET b")
        d.send(on: nil)
        #expect(d.holdDeadline == start + .milliseconds(1000), "the timer follows the oldest held command")
        d.advance(ms: 600)
        d.session.holdExpired(now: d.now)
        d.drain()
        #expect(d.takeOutput() == "-MASTERDOWN Tandem proxy: no master for 'mymaster' within 1000 ms\r\n")
        #expect(d.counters == [.heldTimeout, .proxyError])
        #expect(d.flushes == 1 && !d.closed)
        #expect(d.session.hasQueued, "GET b came while the timer ran")
        d.send(on: nil)
        #expect(d.holdDeadline == start + .milliseconds(2000),
                "a command that came while the timer ran starts its hold when the timer is armed again")
        d.advance(ms: 999)
        d.session.holdExpired(now: d.now)
        d.drain()
        #expect(d.takeOutput() == "", "not before its own hold time")
        d.send(on: nil)
        #expect(d.holdDeadline == start + .milliseconds(2000), "armed again for the oldest held command, not from now")
        d.advance(ms: 1)
        d.session.holdExpired(now: d.now)
        d.drain()
        #expect(d.takeOutput() == "-MASTERDOWN Tandem proxy: no master for 'mymaster' within 1000 ms\r\n")
        #expect(!d.session.hasQueued && !d.closed)
    }

    @Test("heldCommandCount (tandem_proxy_held_commands): none before a hold, every queued command while held, none once a master takes them")
    func heldCommandCount() {
        var d = SessionDriver(holdMs: 1000)
        d.command("SET a 1")
        #expect(d.session.heldCommandCount == 0, "queued, not yet held: no send was tried")
        d.send(on: nil)
        #expect(d.session.heldCommandCount == 1)
        d.command("GET b")
        d.command("GET c")
        d.send(on: FakeLink(), writable: false)
        #expect(d.session.heldCommandCount == 3, "a connection that cannot take them holds them too")
        d.send(on: FakeLink())
        #expect(d.session.heldCommandCount == 0)
    }

    @Test("a master usable within the hold time takes the held commands and the timer is cancelled")
    func holdThenMaster() {
        var d = SessionDriver(holdMs: 1000)
        d.command("SET a 1")
        d.send(on: nil)
        #expect(d.holdDeadline != nil)
        d.advance(ms: 900)
        let r6 = d.send(on: FakeLink())
        #expect(r6.bytes == D.resp("SET", "a", "1"))
        #expect(d.holdDeadline == nil && !d.session.holdArmed)
        d.advance(ms: 200)
        d.session.holdExpired(now: d.now)  // a timer that fired anyway
        d.drain()
        #expect(d.takeOutput() == "" && d.counters.isEmpty)
    }

    @Test("-READONLY: the command is queued again and goes to the next master in order; the client never sees it")
    func readOnlyResend() {
        var d = SessionDriver()
        d.command("SET a 1")
        d.command("SET b 2")
        let r7 = d.send(on: FakeLink())
        #expect(r7.seqs == [0, 1])
        let readOnly = "-READONLY You can't write against a read only replica.\r\n"
        let r8 = d.reply(readOnly, seq: 0)
        #expect(r8)
        #expect(d.pumps == 0, "the second command is still owed by the old master")
        let r9 = d.reply(readOnly, seq: 1)
        #expect(r9)
        #expect(d.pumps == 1, "all replies in: send again")
        #expect(d.counters == [.retriedCommand, .retriedCommand])
        #expect(d.takeOutput() == "")
        let (bytes, seqs) = d.send(on: FakeLink())
        #expect(bytes == D.resp("SET", "a", "1") + D.resp("SET", "b", "2") && seqs == [0, 1])
        d.reply("+OK\r\n", seq: 0)
        d.reply("+OK\r\n", seq: 1)
        #expect(d.takeOutput() == "+OK\r\n+OK\r\n")
    }

    @Test("-READONLY inside MULTI is the client's to see: the transaction is not sent again")
    func readOnlyInTransaction() {
        var d = SessionDriver()
        d.makeDedicated()
        d.command("MULTI")
        d.command("SET a 1")
        d.send(on: FakeLink())
        d.reply("+OK\r\n", seq: 0)
        let r10 = d.reply("-READONLY You can't write against a read only replica.\r\n", seq: 1)
        #expect(!r10)
        #expect(d.takeOutput() == "+OK\r\n-READONLY You can't write against a read only replica.\r\n")
        #expect(!d.session.hasQueued)
    }

    @Test("commands go to another connection only once the replies owed on the first are in")
    func oneConnectionAtATime() {
        var d = SessionDriver()
        let first = FakeLink(), second = FakeLink()
        d.command("GET a")
        d.send(on: first)
        d.command("GET b")
        let r11 = d.send(on: second)
        #expect(r11.bytes == nil)
        #expect(d.holdDeadline != nil, "held meanwhile")
        let r12 = d.send(on: first, writable: false)
        #expect(r12.bytes == nil, "nor to an unwritable connection")
        d.reply("$1\r\na\r\n", seq: 0)
        #expect(d.pumps == 1)
        let r13 = d.send(on: second)
        #expect(r13.bytes == D.resp("GET", "b"))
    }

    @Test("a connection lost before it connected: the command goes to the next one; after: an error that it may have run")
    func linkLost() {
        var d = SessionDriver()
        let master = ProxyEndpoint(host: "10.0.0.1", port: 6379)
        d.command("SET a 1")
        d.send(on: FakeLink())
        d.session.linkLost(seq: 0, master: master, commandsWereSent: false)
        d.drain()
        #expect(d.session.hasQueued && d.pumps == 1 && d.takeOutput() == "")
        let r14 = d.send(on: FakeLink())
        #expect(r14.bytes == D.resp("SET", "a", "1"))
        d.session.linkLost(seq: 0, master: master, commandsWereSent: true)
        d.drain()
        #expect(d.takeOutput() == "-ERR Tandem proxy: the connection to master 10.0.0.1:6379 closed before the reply; the command may or may not have run\r\n")
        #expect(d.counters == [.proxyError] && !d.session.hasQueued)
    }

    @Test("backpressure: reading pauses with too many pending commands, a large unfinished one, or a client that cannot take more")
    func backpressure() {
        var d = SessionDriver(maxSlots: 2, streamThreshold: 100)
        #expect(!d.session.shouldPauseReading(bufferedInput: 100, clientWritable: true))
        #expect(d.session.shouldPauseReading(bufferedInput: 101, clientWritable: true))
        #expect(d.session.shouldPauseReading(bufferedInput: 0, clientWritable: false))
        d.command("GET a")
        d.command("GET b")
        #expect(!d.session.shouldPauseReading(bufferedInput: 0, clientWritable: true))
        d.command("GET c")
        #expect(d.session.shouldPauseReading(bufferedInput: 0, clientWritable: true))
    }

    @Test("a client that stops reading its replies on a shared connection moves to its own once its replies are in")
    func slowClientLeavesShared() {
        var d = SessionDriver()
        d.command("GET a")
        d.send(on: FakeLink())
        let r15 = d.session.wantDedicatedConnection()
        #expect(r15)
        let r16 = d.session.wantDedicatedConnection()
        #expect(!r16, "once")
        #expect(!d.session.dedicated && d.session.shouldPauseReading(bufferedInput: 0, clientWritable: true))
        d.reply("$1\r\na\r\n", seq: 0)
        #expect(d.session.dedicated && d.counters == [.becameDedicated])
    }

    @Test("--read-from replicas: reads go to a replica and writes to the master, in order and never in one write")
    func readRouting() {
        var d = SessionDriver()
        let replica = FakeLink(), master = FakeLink()
        d.command("GET a", reads: true)
        d.command("SET b 1", reads: true)
        d.command("GET c", reads: true)
        #expect(d.session.firstQueuedIsReadOnly)
        let r17 = d.send(on: replica, replica: true)
        #expect(r17.bytes == D.resp("GET", "a"))
        #expect(!d.session.firstQueuedIsReadOnly)
        let r18 = d.send(on: master)
        #expect(r18.bytes == nil, "the replica still owes a reply")
        d.reply("$1\r\na\r\n", seq: 0)
        let r19 = d.send(on: master, replicaAvailable: true)
        #expect(r19.bytes == D.resp("SET", "b", "1"))
        d.reply("+OK\r\n", seq: 1)
        #expect(d.session.firstQueuedIsReadOnly)
        // With no replica to go to, the read goes to the master after all.
        d.command("SET d 1", reads: true)
        let r20 = d.send(on: master, replicaAvailable: false)
        #expect(r20.bytes == D.resp("GET", "c") + D.resp("SET", "d", "1"))
    }

    @Test("the client's own connection: kept for the current master, idle while in doubt or owed replies, replaced after a switch")
    func dedicatedLinkSteps() {
        var d = SessionDriver()
        d.makeDedicated()
        let r21 = d.step(current: (1, false), master: 1)
        #expect(r21 == .use)
        let r22 = d.step(current: (1, false), master: 1, usable: false)
        #expect(r22 == .none(retire: false), "in doubt: hold")
        d.command("GET a")
        d.send(on: FakeLink())
        let r23 = d.step(current: (1, false), master: 2)
        #expect(r23 == .none(retire: false), "the old master still owes a reply")
        let r24 = d.step(current: (1, false), master: nil, usable: false)
        #expect(r24 == .none(retire: false))
        d.reply("$1\r\na\r\n", seq: 0)
        let r25 = d.step(current: (1, false), master: nil, usable: false)
        #expect(r25 == .none(retire: false), "no master: keep it")
        let r26 = d.step(current: (1, true), master: nil, usable: false)
        #expect(r26 == .none(retire: true), "closed: let it go")
        guard case .open(_, _, let retire) = d.step(current: (1, false), master: 2) else {
            Issue.record("expected a new connection")
            return
        }
        #expect(retire)
    }

    @Test("a large command streams only with nothing queued and nothing owed elsewhere; a lost connection drops its rest with an error")
    func streaming() {
        var d = SessionDriver(streamThreshold: 100)
        let own = FakeLink(), other = FakeLink()
        #expect(d.session.shouldStream(bufferedInput: 100, insideFrame: true))
        #expect(!d.session.shouldStream(bufferedInput: 99, insideFrame: true))
        #expect(!d.session.shouldStream(bufferedInput: 100, insideFrame: false))
        d.makeDedicated()
        d.command("GET a")
        let r27 = d.session.beginStreaming(on: own.id)
        #expect(!r27, "a queued command goes first")
        d.send(on: other)
        let r28 = d.session.beginStreaming(on: own.id)
        #expect(!r28, "another connection owes a reply")
        d.reply("$1\r\na\r\n", seq: 0)
        let r29 = d.session.beginStreaming(on: own.id)
        #expect(r29)
        #expect(d.session.shouldStream(bufferedInput: 1, insideFrame: true), "once streaming, every piece goes")
        let r30 = d.session.streamedCommandEnded(on: own.id, expectsReply: true)
        #expect(r30 == 1)
        #expect(d.session.sentCount == 1 && !d.session.streaming)
        d.reply("+OK\r\n", seq: 1)
        _ = d.takeOutput()

        let r31 = d.session.beginStreaming(on: own.id)
        #expect(r31)
        d.session.dedicatedLinkClosed()
        #expect(d.session.discarding && !d.session.streaming)
        d.session.discardedCommandEnded(wasEmpty: false)
        d.drain()
        #expect(d.takeOutput() == "-ERR Tandem proxy: the connection to the master was lost while the command was being sent; it did not run\r\n")
        #expect(!d.session.discarding)
    }

    @Test("a connection that refuses the replayed state: the client is told why and closed")
    func replayFailed() {
        var d = SessionDriver()
        d.session.replayFailed(master: "10.0.0.2:6379", error: "WRONGPASS invalid username-password pair")
        d.drain()
        #expect(d.takeOutput() == "-ERR Tandem proxy: could not restore this connection's state on master 10.0.0.2:6379: WRONGPASS invalid username-password pair\r\n")
        #expect(d.closed && d.session.closing)
    }
}
