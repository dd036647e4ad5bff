import ClusterCore
import NIOCore
import RESP
import Testing

private let noAuth = ClusterStep.reply(.simpleError("NOAUTH Authentication required."))
private let helloNoAuth = ClusterStep.reply(.simpleError(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"))
private let wrongPass = ClusterStep.reply(.simpleError("WRONGPASS invalid username-password pair or user is disabled."))
private let ok = ClusterStep.reply(.simpleString("OK"))
private let resetReply = ClusterStep.reply(.simpleString("RESET"))
private let foo = 12182

/// Authentication in cluster mode: the texts are a redis-server 7.0.15 node's with
/// `requirepass` (read from one; `ClusterProxyTests.matchesRedis` compares them on a cluster).
@Suite struct ClusterClientAuthTests {
    static let withPassword = ClusterClientState.Configuration(password: "s3cret")

    /// Before AUTH: a node's answers, the command's existence and arity first.
    @Test(arguments: [
        ("GET foo", noAuth),
        ("PING", noAuth),
        ("SET foo bar", noAuth),
        ("MGET foo bar", noAuth),
        ("MULTI", noAuth),
        ("DISCARD", noAuth),
        ("WATCH foo", noAuth),
        ("SUBSCRIBE ch", noAuth),
        ("SSUBSCRIBE ch", noAuth),
        ("SELECT 1", noAuth),
        ("READONLY", noAuth),
        ("ASKING", noAuth),
        ("INFO proxy", noAuth),
        ("CLIENT SETNAME w", noAuth),
        ("CLIENT GETNAME", noAuth),
        ("CLIENT LIST", noAuth),
        ("SCAN 0", noAuth),
        ("BLPOP foo 0", noAuth),
        ("WAIT 0 0", noAuth),
        ("MONITOR", noAuth),
        ("EXEC", .reply(.simpleError("EXECABORT Transaction discarded because of: NOAUTH Authentication required."))),
        ("EXEC x", .reply(.simpleError("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"))),
        ("get foo x", .reply(.simpleError("ERR wrong number of arguments for 'get' command"))),
        ("CONFIG get", .reply(.simpleError("ERR wrong number of arguments for 'config|get' command"))),
        ("object", .reply(.simpleError("ERR wrong number of arguments for 'object' command"))),
        ("CLIENT", .reply(.simpleError("ERR wrong number of arguments for 'client' command"))),
        ("CLIENT FOO", .reply(.simpleError("ERR unknown subcommand 'FOO'. Try CLIENT HELP."))),
        ("cluster nosuch", .reply(.simpleError("ERR unknown subcommand 'nosuch'. Try CLUSTER HELP."))),
        ("foobar a b", .reply(.simpleError("ERR unknown command 'foobar', with args beginning with: 'a' 'b' "))),
        ("FooBar", .reply(.simpleError("ERR unknown command 'FooBar', with args beginning with: "))),
        ("AUTH", .reply(.simpleError("ERR wrong number of arguments for 'auth' command"))),
        ("AUTH a b c", .reply(.simpleError("ERR syntax error"))),
        ("AUTH nope", wrongPass),
        ("AUTH s3cret x", wrongPass),
        ("AUTH nobody s3cret", wrongPass),
        ("HELLO", helloNoAuth),
        ("HELLO 3", helloNoAuth),
        ("HELLO 2 SETNAME x", helloNoAuth),
        ("HELLO 4", .reply(.simpleError("NOPROTO unsupported protocol version"))),
        ("HELLO x", .reply(.simpleError("ERR Protocol version is not an integer or out of range"))),
        ("HELLO 3 AUTH default", .reply(.simpleError("ERR Syntax error in HELLO option 'AUTH'"))),
        ("HELLO 3 AUTH default nope", wrongPass),
        ("RESET x", .reply(.simpleError("ERR wrong number of arguments for 'reset' command"))),
        ("RESET", resetReply),
        ("QUIT", .replyAndClose(.simpleString("OK"))),
        ("QUIT x", .replyAndClose(.simpleString("OK"))),
    ])
    func beforeAuth(text: String, step: ClusterStep) {
        var state = ClusterClientState(configuration: Self.withPassword)
        #expect(state.step(command(text)) == step)
        #expect(state.authenticated == false)
        #expect(state.protocolVersion == 2)
    }

    /// A node's texts are one line however the arguments look, and quote at most 128 bytes.
    @Test func unknownCommandTextIsClipped() {
        var state = ClusterClientState(configuration: Self.withPassword)
        let a = String(repeating: "a", count: 100), b = String(repeating: "b", count: 100)
        let step = state.step([ByteBuffer(string: "foo"), ByteBuffer(string: a), ByteBuffer(string: b), ByteBuffer(string: "c")])
        #expect(step == .reply(.simpleError("ERR unknown command 'foo', with args beginning with: '\(a)' '\(b.prefix(25))' ")))
        let odd = state.step([ByteBuffer(string: "foo\r\nbar"), ByteBuffer(string: "x\ny")])
        #expect(odd == .reply(.simpleError("ERR unknown command 'foo  bar', with args beginning with: 'x y' ")))
    }

    @Test func authOpensEverything() {
        var state = ClusterClientState(configuration: Self.withPassword)
        #expect(state.step(command("GET foo")) == noAuth)
        #expect(state.step(command("AUTH s3cret")) == ok)
        #expect(state.authenticated)
        #expect(state.step(command("GET foo")) == .route(.slot(foo)))
        // A failed AUTH later does not take it back (as on a node).
        #expect(state.step(command("AUTH nope")) == wrongPass)
        #expect(state.step(command("GET foo")) == .route(.slot(foo)))
        #expect(state.step(command("HELLO 3")) == .hello(protocol: 3))
    }

    @Test func aclUserWithPassword() {
        var state = ClusterClientState(configuration: .init(user: "app", password: "pw"))
        #expect(state.step(command("AUTH pw")) == wrongPass, "the default user is not the proxy's user")
        #expect(state.step(command("AUTH default pw")) == wrongPass)
        #expect(state.step(command("AUTH app pw")) == ok)
        #expect(state.step(command("GET foo")) == .route(.slot(foo)))
    }

    @Test func helloWithAuth() {
        var state = ClusterClientState(configuration: .init(user: "app", password: "pw"))
        #expect(state.step(command("HELLO 3 AUTH app nope")) == wrongPass)
        #expect(state.authenticated == false)
        #expect(state.step(command("HELLO 3 AUTH app pw SETNAME w1")) == .hello(protocol: 3))
        #expect(state.authenticated && state.protocolVersion == 3)
        #expect(state.step(command("CLIENT GETNAME")) == .reply(.bulkString("w1")))
    }

    /// A name refused after a good AUTH: the error, but authenticated (and the protocol unchanged).
    @Test func helloAuthWithABadName() {
        var state = ClusterClientState(configuration: Self.withPassword)
        let step = state.step([ByteBuffer(string: "HELLO"), ByteBuffer(string: "3"), ByteBuffer(string: "AUTH"),
                               ByteBuffer(string: "default"), ByteBuffer(string: "s3cret"), ByteBuffer(string: "SETNAME"), ByteBuffer(string: "bad name")])
        #expect(step == .reply(.simpleError("ERR Client names cannot contain spaces, newlines or special characters.")))
        #expect(state.authenticated && state.protocolVersion == 2)
    }

    /// Without a password configured nothing changes: served from the start; AUTH with a user
    /// accepts the default user with any password (Redis's `nopass` default user).
    @Test func withoutPassword() {
        var state = ClusterClientState()
        #expect(state.authenticated)
        #expect(state.step(command("GET foo")) == .route(.slot(foo)))
        #expect(state.step(command("AUTH default anything")) == ok)
        #expect(state.step(command("AUTH someone anything")) == wrongPass)
        #expect(state.step(command("RESET")) == resetReply)
        #expect(state.authenticated)
    }

    /// RESET: authentication, name, protocol and transaction back to a new connection's.
    @Test func resetForgetsTheClient() {
        var state = ClusterClientState(configuration: Self.withPassword)
        _ = state.step(command("HELLO 3 AUTH default s3cret SETNAME w1"))
        #expect(state.step(command("RESET")) == resetReply)
        #expect(!state.authenticated && state.protocolVersion == 2 && state.clientName == nil)
        #expect(state.step(command("GET foo")) == noAuth)
        _ = state.step(command("AUTH s3cret"))
        // A WATCH or a pinned transaction is dropped on its connection; the client gets +RESET.
        _ = state.step(command("WATCH foo"))
        #expect(state.step(command("RESET")) == .own(.slot(foo), [OwnCommand(command("UNWATCH"), reply: .replace(.simpleString("RESET")))]))
        #expect(!state.inTransaction)
        _ = state.step(command("AUTH s3cret"))
        _ = state.step(command("MULTI"))
        _ = state.step(command("SET foo 1"))
        #expect(state.step(command("RESET")) == .own(.slot(foo), [OwnCommand(command("DISCARD"), reply: .replace(.simpleString("RESET")))]))
        #expect(!state.inTransaction)
        _ = state.step(command("AUTH s3cret"))
        _ = state.step(command("MULTI"))
        #expect(state.step(command("RESET")) == resetReply, "a transaction not yet pinned is only the proxy's")
        #expect(state.step(command("EXEC")) == .reply(.simpleError("EXECABORT Transaction discarded because of: NOAUTH Authentication required.")))
    }

    /// Subscribed: RESET ends every subscription (the shell closes the connections, a node
    /// sends no confirmations) and answers +RESET; the rest of RESET as usual.
    @Test func resetWhileSubscribed() {
        var state = ClusterClientState()
        _ = state.step(command("HELLO 3"))
        _ = state.step(command("SUBSCRIBE ch"))
        _ = state.step(command("SSUBSCRIBE {s}a"))
        #expect(state.step(command("RESET")) == .endSubscriptions(.simpleString("RESET")))
        #expect(!state.subscribed && state.channels.isEmpty && state.shardChannels.isEmpty && state.protocolVersion == 2)
        #expect(state.step(command("GET x")) != .reply(.simpleError("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")))
    }

    /// WAITAOF and CLIENT NO-EVICT: an error naming the command, never forwarded.
    @Test(arguments: ["WAITAOF 0 1 0", "CLIENT NO-EVICT on"])
    func unsupportedCommandsAreNamed(text: String) {
        var state = ClusterClientState()
        let step = state.step(command(text))
        let name = text.split(separator: " ").prefix(text.hasPrefix("CLIENT") ? 2 : 1).joined(separator: " ")
        #expect(step == .reply(.simpleError("ERR Tandem proxy: \(name) is not supported in cluster mode yet")))
    }
}
