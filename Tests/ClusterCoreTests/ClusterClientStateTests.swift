import ClusterCore
import NIOCore
import RESP
import Testing

private func own(_ slot: Int, _ commands: [(String, OwnCommand.Reply)]) -> ClusterStep {
    .own(.slot(slot), commands.map { OwnCommand(command($0.0), reply: $0.1) })
}

private let crossSlot = ClusterStep.reply(.simpleError("CROSSSLOT Keys in request don't hash to the same slot"))
private let ok = ClusterStep.reply(.simpleString("OK"))
private let queued = ClusterStep.reply(.simpleString("QUEUED"))
private let foo = 12182, bar = 5061

@Suite struct ClusterClientStateTests {
    /// Texts as a redis-server 7.0.15 cluster node answers them.
    @Test(arguments: [
        ("SELECT 0", ClusterStep.reply(.simpleString("OK"))),
        ("SELECT 1", .reply(.simpleError("ERR SELECT is not allowed in cluster mode"))),
        ("SELECT 16", .reply(.simpleError("ERR SELECT is not allowed in cluster mode"))),
        ("SELECT x", .reply(.simpleError("ERR value is not an integer or out of range"))),
        ("SELECT", .reply(.simpleError("ERR wrong number of arguments for 'select' command"))),
        ("EXEC", .reply(.simpleError("ERR EXEC without MULTI"))),
        ("DISCARD", .reply(.simpleError("ERR DISCARD without MULTI"))),
        ("UNWATCH", .reply(.simpleString("OK"))),
        ("QUIT", .replyAndClose(.simpleString("OK"))),
        ("READONLY", .reply(.simpleString("OK"))),
        ("HELLO 3", .hello(protocol: 3)),
        ("HELLO 2", .hello(protocol: 2)),
        ("HELLO", .hello(protocol: 2)),
        ("HELLO 4", .reply(.simpleError("NOPROTO unsupported protocol version"))),
        ("HELLO x", .reply(.simpleError("ERR Protocol version is not an integer or out of range"))),
        ("HELLO 3 AUTH default", .reply(.simpleError("ERR Syntax error in HELLO option 'AUTH'"))),
        ("HELLO 3 SETNAME", .reply(.simpleError("ERR Syntax error in HELLO option 'SETNAME'"))),
        ("HELLO 3 AUTH default anything SETNAME w1", .hello(protocol: 3)),
        ("HELLO 3 AUTH someone anything", .reply(.simpleError("WRONGPASS invalid username-password pair or user is disabled."))),
        ("SCAN 0", .route(.scan(ClusterScan.Position(slot: 0, nodeCursor: 0)))),
        ("SUBSCRIBE ch", .subscription(.anyMaster)),
        ("SSUBSCRIBE foo {foo}x", .subscription(.slot(12182))),
        ("SSUBSCRIBE foo bar", .reply(.simpleError("CROSSSLOT Keys in request don't hash to the same slot"))),
        ("MONITOR", .monitor),
        ("MONITOR x", .reply(.simpleError("ERR wrong number of arguments for 'monitor' command"))),
        ("CLIENT TRACKING", .reply(.simpleError("ERR wrong number of arguments for 'client|tracking' command"))),
        ("CLIENT CACHING yes", .reply(.simpleError("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"))),
        ("CLIENT GETREDIR", .reply(.integer(-1))),
        ("CLIENT TRACKINGINFO", .route(.anyMaster)),
        ("CLIENT LIST", .route(.anyMaster)),
        ("INFO proxy", .infoProxy),
        ("INFO", .route(.anyMaster)),
        ("GET foo", .route(.slot(12182))),
        ("BLPOP foo 0", .own(.slot(12182), [OwnCommand(command("BLPOP foo 0"))])),
        ("BLPOP foo bar 0", .reply(.simpleError("CROSSSLOT Keys in request don't hash to the same slot"))),
        ("AUTH x", .reply(.simpleError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"))),
    ])
    func alone(text: String, step: ClusterStep) {
        var state = ClusterClientState()
        #expect(state.step(command(text)) == step)
    }

    @Test func monitorUntilReset() {
        var state = ClusterClientState()
        #expect(state.step(command("MONITOR")) == .monitor && state.monitoring)
        #expect(state.step(command("MONITOR")) == .noReply, "a node ignores MONITOR in monitor mode")
        #expect(state.step(command("GET foo")) == .route(.slot(foo)), "a monitoring client's commands run")
        #expect(state.step(command("RESET")) == .reply(.simpleString("RESET")) && !state.monitoring)
        #expect(state.step(command("MONITOR")) == .monitor)
        var transaction = ClusterClientState()
        _ = transaction.step(command("MULTI"))
        #expect(transaction.step(command("MONITOR")) == .reply(.simpleError("ERR Tandem proxy: MONITOR inside a transaction is not supported in cluster mode yet")))
        #expect(!transaction.monitoring)
    }

    @Test func authAgainstTheProxysCredentials() {
        var state = ClusterClientState(configuration: .init(password: "s3cret"))
        #expect(state.step(command("AUTH s3cret")) == ok)
        #expect(state.step(command("AUTH default s3cret")) == ok)
        #expect(state.step(command("AUTH nope")) == .reply(.simpleError("WRONGPASS invalid username-password pair or user is disabled.")))
    }

    /// HELLO with AUTH is checked against the proxy's credentials; SETNAME is the proxy's
    /// name for the client; the protocol is the client's from then on.
    @Test func helloTakesProtocolCredentialsAndName() {
        var state = ClusterClientState(configuration: .init(password: "s3cret"))
        #expect(state.step(command("HELLO 3 AUTH default nope")) == .reply(.simpleError("WRONGPASS invalid username-password pair or user is disabled.")))
        #expect(state.protocolVersion == 2, "a refused HELLO changes nothing")
        #expect(state.step(command("HELLO 3 AUTH default s3cret SETNAME worker-2")) == .hello(protocol: 3))
        #expect(state.protocolVersion == 3)
        #expect(state.step(command("CLIENT GETNAME")) == .reply(.bulkString("worker-2")))
        #expect(state.step(command("HELLO")) == .hello(protocol: 3), "HELLO alone keeps the protocol")
        #expect(state.step(command("HELLO 2 SETNAME bad name")) == .reply(.simpleError("ERR Syntax error in HELLO option 'name'")))
        #expect(state.step(command("HELLO 2")) == .hello(protocol: 2))
        #expect(state.protocolVersion == 2)
    }

    /// RESP3: a subscribed client may send any command (messages come as pushes); RESP2: only
    /// the subscription commands, PING and QUIT, as Redis.
    @Test func subscribedClientsByProtocol() {
        var resp2 = ClusterClientState()
        _ = resp2.step(command("SUBSCRIBE ch"))
        #expect(resp2.step(command("GET foo")).isRefusal)
        #expect(resp2.step(command("PING")) == .subscription(.anyMaster))
        #expect(resp2.step(command("HELLO 3")).isRefusal)
        var resp3 = ClusterClientState()
        _ = resp3.step(command("HELLO 3"))
        #expect(resp3.step(command("SUBSCRIBE ch")) == .subscription(.anyMaster))
        #expect(resp3.step(command("GET foo")) == .route(.slot(foo)))
        #expect(resp3.step(command("PING")) == .route(.anyMaster))
        #expect(resp3.step(command("HELLO 2")).isRefusal, "the subscription connection speaks RESP3")
        #expect(resp3.step(command("HELLO 3")) == .hello(protocol: 3))
    }

    @Test func clientName() {
        var state = ClusterClientState()
        #expect(state.step(command("CLIENT GETNAME")) == .reply(.nullBulkString))
        #expect(state.step(command("CLIENT SETNAME worker-1")) == ok)
        #expect(state.step(command("CLIENT GETNAME")) == .reply(.bulkString("worker-1")))
    }

    @Test func multiPinnedByFirstKey() {
        var state = ClusterClientState()
        #expect(state.step(command("MULTI")) == ok)
        #expect(state.step(command("PING")) == queued)
        // The first key pins the transaction: MULTI and what was held go first, their replies dropped.
        #expect(state.step(command("SET foo 1")) == own(foo, [("MULTI", .drop), ("PING", .drop), ("SET foo 1", .deliver)]))
        #expect(state.step(command("INCR {foo}n")) == own(foo, [("INCR {foo}n", .deliver)]))
        #expect(state.step(command("PING")) == own(foo, [("PING", .deliver)]))
        #expect(state.step(command("EXEC")) == own(foo, [("EXEC", .deliver)]))
        #expect(state.step(command("GET bar")) == .route(.slot(bar)))
    }

    @Test func laterKeyInAnotherSlotAbortsTheTransaction() {
        var state = ClusterClientState()
        _ = state.step(command("MULTI"))
        _ = state.step(command("SET foo 1"))
        #expect(state.step(command("SET bar 1")) == crossSlot)
        #expect(state.step(command("SET foo 2")) == queued)
        #expect(state.step(command("EXEC")) == own(foo, [("DISCARD", .replace(.simpleError("EXECABORT Transaction discarded because of previous errors.")))]))
        #expect(state.inTransaction == false)
    }

    @Test func crossSlotCommandInsideMulti() {
        var state = ClusterClientState()
        _ = state.step(command("MULTI"))
        #expect(state.step(command("MGET foo bar")) == crossSlot)
        #expect(state.step(command("EXEC")) == .reply(.simpleError("EXECABORT Transaction discarded because of previous errors.")))
    }

    @Test func watchPinsMulti() {
        var state = ClusterClientState()
        #expect(state.step(command("WATCH foo {foo}2")) == own(foo, [("WATCH foo {foo}2", .deliver)]))
        #expect(state.step(command("WATCH bar")) == crossSlot)
        #expect(state.step(command("GET foo")) == .route(.slot(foo)))
        #expect(state.step(command("MULTI")) == own(foo, [("MULTI", .deliver)]))
        #expect(state.step(command("SET bar 1")) == crossSlot)
        #expect(state.step(command("DISCARD")) == own(foo, [("DISCARD", .deliver)]))
        #expect(state.step(command("WATCH foo bar")) == crossSlot)
        #expect(state.step(command("WATCH bar")) == own(bar, [("WATCH bar", .deliver)]))
        #expect(state.step(command("UNWATCH")) == own(bar, [("UNWATCH", .deliver)]))
        #expect(state.inTransaction == false)
    }

    @Test func keylessTransactionGoesToAnyMaster() {
        var state = ClusterClientState()
        _ = state.step(command("MULTI"))
        #expect(state.step(command("MULTI")) == .reply(.simpleError("ERR MULTI calls can not be nested")))
        _ = state.step(command("PING"))
        #expect(state.step(command("EXEC")) == .own(.anyMaster, [OwnCommand(command("MULTI"), reply: .drop), OwnCommand(command("PING"), reply: .drop), OwnCommand(command("EXEC"))]))
    }

    @Test func discardBeforePinning() {
        var state = ClusterClientState()
        _ = state.step(command("MULTI"))
        #expect(state.step(command("DISCARD")) == ok)
        #expect(state.step(command("EXEC")) == .reply(.simpleError("ERR EXEC without MULTI")))
    }

    @Test func connectionLostInsideMulti() {
        var state = ClusterClientState()
        _ = state.step(command("MULTI"))
        _ = state.step(command("SET foo 1"))
        state.ownConnectionClosed()
        // Nothing more is sent: the server's transaction is gone.
        #expect(state.step(command("SET foo 2")) == queued)
        #expect(state.step(command("EXEC")) == .reply(.simpleError("EXECABORT Transaction discarded because of previous errors.")))
    }

    @Test func watchLostMakesExecNil() {
        var state = ClusterClientState()
        _ = state.step(command("WATCH foo"))
        state.ownConnectionClosed()
        #expect(state.step(command("MULTI")) == ok)
        _ = state.step(command("SET foo 1"))
        #expect(state.step(command("EXEC")) == own(foo, [("DISCARD", .replace(.nullArray))]))
    }

    @Test func subscribedClientsTalkToTheirSubscriptionConnection() {
        var state = ClusterClientState()
        #expect(state.step(command("SUBSCRIBE a b")) == .subscription(.anyMaster))
        #expect(state.step(command("PSUBSCRIBE p*")) == .subscription(.anyMaster))
        #expect(state.subscribed && state.channels.map { String(buffer: $0) } == ["a", "b"])
        // Redis's refusal for a subscribed client (a node would answer MOVED first); QUIT still closes.
        #expect(state.step(command("GET foo")) == .reply(.simpleError("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")))
        #expect(state.step(command("PING")) == .subscription(.anyMaster))
        #expect(state.step(command("UNSUBSCRIBE a")) == .subscription(.anyMaster))
        #expect(state.channels.map { String(buffer: $0) } == ["b"])
        #expect(state.step(command("QUIT")) == .replyAndClose(.simpleString("OK")))
        state.subscriptionsEnded()
        #expect(state.step(command("GET foo")) == .route(.slot(foo)))
        #expect(state.channels.isEmpty && state.patterns.isEmpty)
    }

    @Test func noSubscribeInsideATransaction() {
        var state = ClusterClientState()
        _ = state.step(command("MULTI"))
        #expect(state.step(command("SUBSCRIBE a")) == .reply(.simpleError("ERR Tandem proxy: SUBSCRIBE inside a transaction is not supported in cluster mode yet")))
        #expect(state.step(command("EXEC")) == .reply(.simpleError("EXECABORT Transaction discarded because of previous errors.")),
                "refused at queue time: the transaction fails, as after a node's error")
    }

    /// Commands the proxy answers itself are refused inside MULTI (a node would answer them at
    /// EXEC, inside its array) and fail the transaction; CLIENT subcommands a node answers are
    /// queued on it.
    @Test func proxyAnsweredCommandsInsideMulti() {
        for refused in ["CLIENT SETNAME x", "CLIENT GETNAME", "CLIENT TRACKING on", "AUTH secret", "MONITOR"] {
            var state = ClusterClientState()
            _ = state.step(command("MULTI"))
            _ = state.step(command("SET foo 1"))
            let step = state.step(command(refused))
            guard case .reply(let value) = step, value.errorMessage?.hasPrefix("ERR Tandem proxy:") == true,
                  value.errorMessage?.hasSuffix("inside a transaction is not supported in cluster mode yet") == true else {
                Issue.record("\(refused): \(step)")
                continue
            }
            #expect(state.step(command("EXEC")) == own(foo, [("DISCARD", .replace(.simpleError("EXECABORT Transaction discarded because of previous errors.")))]), "\(refused)")
            #expect(state.clientName == nil, "\(refused)")
        }
        var state = ClusterClientState()
        _ = state.step(command("MULTI"))
        _ = state.step(command("SET foo 1"))
        #expect(state.step(command("CLIENT LIST")) == own(foo, [("CLIENT LIST", .deliver)]))
        #expect(state.step(command("EXEC")) == own(foo, [("EXEC", .deliver)]))
        // Outside a transaction the proxy answers them as before.
        #expect(state.step(command("CLIENT SETNAME x")) == .reply(.simpleString("OK")))
    }

    /// HELLO after WATCH runs at once (the WATCH stays); inside MULTI it is queued and the
    /// client's protocol changes at EXEC, when the node runs it.
    @Test func helloInTransactions() {
        var state = ClusterClientState()
        #expect(state.step(command("WATCH foo")) == own(foo, [("WATCH foo", .deliver)]))
        #expect(state.step(command("HELLO 3")) == .hello(protocol: 3))
        #expect(state.protocolVersion == 3 && state.inTransaction, "the WATCH stays")
        _ = state.step(command("UNWATCH"))

        var multi = ClusterClientState()
        #expect(multi.step(command("MULTI")) == ok)
        #expect(multi.step(command("HELLO 3")) == queued, "no key yet: held with MULTI")
        #expect(multi.protocolVersion == 2, "not before EXEC")
        #expect(multi.step(command("SET foo 1")) == own(foo, [("MULTI", .drop), ("HELLO 3", .drop), ("SET foo 1", .deliver)]))
        #expect(multi.step(command("EXEC")) == own(foo, [("EXEC", .deliver)]))
        #expect(multi.protocolVersion == 3, "from EXEC on")

        var refused = ClusterClientState()
        _ = refused.step(command("MULTI"))
        _ = refused.step(command("HELLO 4"))
        _ = refused.step(command("EXEC"))
        #expect(refused.protocolVersion == 2, "the node answers NOPROTO inside EXEC; nothing changes")
        var discarded = ClusterClientState()
        _ = discarded.step(command("MULTI"))
        _ = discarded.step(command("HELLO 3"))
        _ = discarded.step(command("DISCARD"))
        _ = discarded.step(command("MULTI"))
        _ = discarded.step(command("EXEC"))
        #expect(discarded.protocolVersion == 2)
    }

    /// CLIENT TRACKING and CACHING against redis-server 7.0.15's texts (checked with a raw
    /// client): what a node would answer, and what the proxy sends before the next command.
    @Test func trackingRules() {
        var state = ClusterClientState()
        #expect(state.step(command("CLIENT TRACKING on REDIRECT 7")) == .reply(.simpleError(ClusterClientState.redirectRefused)))
        #expect(state.step(command("CLIENT TRACKING on BCAST redirect 7")) == .reply(.simpleError(ClusterClientState.redirectRefused)))
        // Sent to a node; recorded only once the node accepted it.
        #expect(state.step(command("CLIENT TRACKING on OPTIN")) == ClusterStep.tracking(command("CLIENT TRACKING on OPTIN")))
        #expect(!state.tracking.on)
        state.trackingAccepted(command("CLIENT TRACKING on OPTIN"))
        #expect(state.tracking.on && state.tracking.optin && !state.tracking.optout && !state.tracking.broadcast)
        #expect(state.tracking.commands == [command("CLIENT TRACKING on OPTIN")])
        #expect(state.step(command("CLIENT GETREDIR")) == .reply(.integer(0)))
        #expect(state.step(command("CLIENT CACHING no")) == .reply(.simpleError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")))
        #expect(state.step(command("CLIENT CACHING maybe")) == .reply(.simpleError("ERR syntax error")))
        #expect(state.step(command("CLIENT CACHING yes")) == ok)
        // The next command carries it (on whatever connection it goes to); CLIENT … does not take it.
        _ = state.step(command("CLIENT GETREDIR"))
        #expect(state.cachingPrefix == nil)
        #expect(state.step(command("GET foo")) == .route(.slot(foo)))
        #expect(state.cachingPrefix == command("CLIENT CACHING yes"))
        _ = state.step(command("GET foo"))
        #expect(state.cachingPrefix == nil, "only the next command")
        // The same ON again is recorded once; another is added (BCAST prefixes add up over them).
        state.trackingAccepted(command("CLIENT TRACKING on OPTIN NOLOOP"))
        state.trackingAccepted(command("CLIENT TRACKING on OPTIN"))
        #expect(state.tracking.commands == [command("CLIENT TRACKING on OPTIN NOLOOP"), command("CLIENT TRACKING on OPTIN")],
                "given again, it moves to the end: the last decides the mode")
        // Each ON sets the mode afresh, as on a node: a plain ON ends OPTIN.
        state.trackingAccepted(command("CLIENT TRACKING on"))
        #expect(!state.tracking.optin)
        #expect(state.step(command("CLIENT CACHING yes")) == .reply(.simpleError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")))
        #expect(state.step(command("CLIENT TRACKING on BCAST PREFIX redirect")) == ClusterStep.tracking(command("CLIENT TRACKING on BCAST PREFIX redirect")),
                "a prefix named redirect is not the option")
        // OFF and RESET forget it.
        state.trackingAccepted(command("CLIENT TRACKING off"))
        #expect(state.tracking == ClusterTracking())
        state.trackingAccepted(command("CLIENT TRACKING on BCAST PREFIX user:"))
        #expect(state.tracking.broadcast)
        #expect(state.step(command("MULTI")) == ok)
        #expect(state.step(command("CLIENT TRACKING off")) == .reply(.simpleError("ERR Tandem proxy: CLIENT TRACKING inside a transaction is not supported in cluster mode yet")))
        _ = state.step(command("DISCARD"))
        _ = state.step(command("RESET"))
        #expect(state.tracking == ClusterTracking())
    }
}

extension ClusterStep {
    var isRefusal: Bool {
        if case .reply(let value) = self { return value.errorMessage != nil }
        return false
    }
}
