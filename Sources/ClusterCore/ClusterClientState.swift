import NIOCore
import RESP

/// Which of a client's own backend connections a command goes to.
public enum OwnTarget: Sendable, Hashable {
    /// The master serving this slot.
    case slot(Int)
    /// Any master (a transaction without keys).
    case anyMaster
}

/// A command sent on a client's own connection.
public struct OwnCommand: Sendable, Hashable {
    /// What becomes of the server's reply.
    public enum Reply: Sendable, Hashable {
        /// It goes to the client.
        case deliver
        /// Dropped: the proxy already answered (a command queued before the transaction was pinned).
        case drop
        /// The client gets this instead (when the server's reply arrives).
        case replace(RESPValue)
    }
    public var arguments: [ByteBuffer]
    public var reply: Reply

    public init(_ arguments: [ByteBuffer], reply: Reply = .deliver) {
        self.arguments = arguments
        self.reply = reply
    }
}

/// What to do with one client command in cluster mode.
public enum ClusterStep: Sendable, Hashable {
    /// Answer with this reply.
    case reply(RESPValue)
    /// Answer with this reply, then close the client.
    case replyAndClose(RESPValue)
    /// `INFO proxy`: the proxy's own lines (the shell knows them).
    case infoProxy
    /// HELLO, checked and taken: `HELLO <protocol>` goes to a master on a connection that
    /// speaks that protocol, and the node's reply goes to the client (as a cluster node answers).
    case hello(protocol: Int)
    /// Stateless: on the shared connections, by this route.
    case route(ClusterRoute)
    /// On the client's own connection to the target's master, in order; one reply goes to the
    /// client (from the commands with `deliver`).
    case own(OwnTarget, [OwnCommand])
    /// On the client's subscription connection (opened to the target's master when there is
    /// none); what that connection sends back goes to the client as it comes (confirmations,
    /// messages), after the replies the client is still owed.
    case subscription(OwnTarget)
    /// WAIT: answered by the proxy once the replicas of the masters the client wrote to have
    /// its writes (`ClusterWait`), after the replies to its earlier commands; its later
    /// commands run after the answer, as a node runs them after a blocked WAIT.
    case wait(ClusterWait.Request)
    /// MONITOR: `+OK`, then the commands every master runs stream to the client (each master's
    /// own MONITOR), until RESET or the end of the connection.
    case monitor
    /// Nothing to answer (MONITOR while monitoring: a node ignores it).
    case noReply
    /// RESET while subscribed: once the answers to the client's earlier subscription commands
    /// are written, its subscription connections are closed (a node unsubscribes without
    /// confirmations) and this reply is written; its later commands wait until then.
    case endSubscriptions(RESPValue)
    /// CLIENT TRACKING: sent to a master on the client's own tracking connections (opened with
    /// the commands already accepted); the node's answer is the client's, and an +OK is given
    /// to `trackingAccepted` (and sent on the client's other tracking connections).
    case tracking([ByteBuffer])
}

/// One client's connection state in cluster mode, and every decision that depends on it:
/// transactions pinned to the slot of their first key (WATCH or the first keyed command after
/// MULTI), `-CROSSSLOT` for a later key in another slot, blocking commands on the client's own
/// connection, SELECT refused as Redis Cluster refuses it, and what the proxy answers itself.
/// Pure: the shell (`ClusterClient`) carries the steps out.
public struct ClusterClientState: Sendable {
    /// Credentials clients must give with AUTH (the proxy's own, `--user`/`--auth`).
    public struct Configuration: Sendable {
        public var user: String?
        public var password: String?
        public init(user: String? = nil, password: String? = nil) {
            self.user = user
            self.password = password
        }
    }

    enum Transaction: Sendable, Hashable {
        case none
        /// WATCH sent on the connection to the master of `slot`.
        case watching(slot: Int)
        /// Inside MULTI. `pinned`: the slot whose master holds the transaction (nil while no key
        /// was named: MULTI and keyless commands are kept in `held`). `dirty`: a command was
        /// refused, EXEC will abort.
        case multi(pinned: Int?, held: [[ByteBuffer]], dirty: Bool, watchLost: Bool)
    }

    let configuration: Configuration
    var transaction: Transaction = .none
    /// The connection holding the WATCH or the transaction closed: the next EXEC fails.
    var ownConnectionLost = false
    /// The last HELLO queued inside MULTI: applied to the client's state at EXEC, when the
    /// node runs it (its answer is inside EXEC's).
    var helloInTransaction: [ByteBuffer]?
    /// Subscribed to a channel, pattern or shard channel (until the server confirms none is left).
    public private(set) var subscribed = false
    /// What the client is subscribed to, to subscribe again on a new connection.
    public private(set) var channels: [ByteBuffer] = []
    public private(set) var patterns: [ByteBuffer] = []
    public private(set) var shardChannels: [ByteBuffer] = []
    /// MONITOR was taken (until RESET).
    public internal(set) var monitoring = false
    /// The slots this client wrote to (what its WAIT waits for).
    public private(set) var written = WrittenSlots()
    /// CLIENT TRACKING: whether the client tracks, with which options, and the commands that
    /// set it up (`ClusterClientState+Tracking`).
    public internal(set) var tracking = ClusterTracking()
    /// CLIENT CACHING yes|no to send just before this command, on its connection (set by `step`).
    public private(set) var cachingPrefix: [ByteBuffer]?
    /// CLIENT SETNAME (or HELLO … SETNAME), answered by the proxy.
    public internal(set) var clientName: ByteBuffer?
    /// The protocol the client chose with HELLO (2 or 3): every backend connection its
    /// commands use speaks it, and the proxy's own replies are written in it.
    public internal(set) var protocolVersion = 2
    /// Whether the client may send commands: from the start without a password configured,
    /// else after AUTH or HELLO … AUTH with the proxy's credentials (until RESET).
    public internal(set) var authenticated: Bool

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.authenticated = configuration.password == nil
    }

    /// Whether the client is inside MULTI or holds a WATCH (its commands may need its own connection).
    public var inTransaction: Bool { transaction != .none }

    /// RESETs taken (the shell ends what the client set up on its own connections).
    public internal(set) var resets = 0

    /// Inside MULTI (a WATCH alone is not: commands after it run at once).
    public var inMulti: Bool {
        if case .multi = transaction { return true }
        return false
    }

    private static func error(_ text: String) -> ClusterStep { .reply(.simpleError(text)) }
    private static let ok = ClusterStep.reply(.simpleString("OK"))
    private static let queued = ClusterStep.reply(.simpleString("QUEUED"))
    static let execAbort = "EXECABORT Transaction discarded because of previous errors."
    static func unsupported(_ name: String) -> ClusterStep {
        error("ERR Tandem proxy: \(name) is not supported in cluster mode yet")
    }

    /// An error for a command inside MULTI, which also fails the transaction (EXEC answers
    /// EXECABORT), as a node's error at queue time does: the client is not left with an EXEC
    /// reply that lacks an element for a command it sent inside the transaction.
    mutating func refusedInTransaction(_ step: ClusterStep) -> ClusterStep {
        if case .multi(let pinned, let held, _, let watchLost) = transaction {
            transaction = .multi(pinned: pinned, held: held, dirty: true, watchLost: watchLost)
        }
        return step
    }

    /// Commands refused (not yet supported in cluster mode, or meaningless through a proxy).
    static let refused: Set<String> = [
        "SYNC", "PSYNC", "REPLCONF", "WAITAOF", "MIGRATE",
    ]

    /// CLIENT subcommands forwarded to any master; the others are answered or refused.
    static let forwardedClientSubcommands: Set<String> = ["CLIENT|LIST", "CLIENT|INFO", "CLIENT|HELP", "CLIENT|KILL"]

    /// The step for one command (`arguments`, name first).
    public mutating func step(_ arguments: [ByteBuffer]) -> ClusterStep {
        step(arguments, info: CommandKeys.info(for: arguments))
    }

    /// The same with the command's table entry already looked up (`CommandKeys.info(for:)`):
    /// the shell needs it too, and looks it up once per command.
    public mutating func step(_ arguments: [ByteBuffer], info: CommandInfo?) -> ClusterStep {
        cachingPrefix = tracking.caching == nil || arguments.isEmpty ? nil : takeCaching(CommandKeys.word(arguments, 0))
        let step = decide(arguments, info: info)
        if let info, !info.flags.contains(.readonly) { noteWrite(step, info: info) }
        return step
    }

    /// Remembers where a command that may write went (a command not flagged read-only: a
    /// script or a WATCH counts too, which only makes a later WAIT look at one more master).
    private mutating func noteWrite(_ step: ClusterStep, info: CommandInfo) {
        switch step {
        case .route(.slot(let slot)), .own(.slot(let slot), _):
            written.insert(slot)
        case .route(.split(let plan)):
            for part in plan.parts { written.insert(part.slot) }
        case .own(.anyMaster, _):
            // A transaction without keys (or a keyless blocking command): its master is not known here.
            written.insertEveryMaster()
        case .route(.allMasters), .route(.anyMaster):
            // Keyless: only a write of the whole keyspace or of scripts/functions (FLUSHALL,
            // FUNCTION LOAD, EVAL without keys) makes every master count.
            if info.flags.contains(.write) || info.flags.contains(.movablekeys) { written.insertEveryMaster() }
        default:
            break
        }
    }

    private mutating func decide(_ arguments: [ByteBuffer], info: CommandInfo?) -> ClusterStep {
        guard !arguments.isEmpty else { return Self.error("ERR unknown command ''") }
        let name = CommandKeys.word(arguments, 0)
        if !authenticated, let step = unauthenticatedStep(name, arguments, info: info) { return step }
        if let step = subscriptionStep(name, arguments) { return step }
        switch name {
        case "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH":
            return transactionCommand(name, arguments)
        case "SELECT":
            guard arguments.count == 2 else { return Self.error("ERR wrong number of arguments for 'select' command") }
            guard let db = Int(String(decoding: arguments[1].readableBytesView, as: UTF8.self)), db >= Int(Int32.min), db <= Int(Int32.max) else {
                return Self.error(ClusterErrors.notInteger)
            }
            return db == 0 ? Self.ok : Self.error(ClusterErrors.selectNotAllowed)
        case "QUIT":
            return .replyAndClose(.simpleString("OK"))
        case "INFO" where arguments.count == 2 && CommandKeys.word(arguments, 1) == "PROXY":
            return .infoProxy
        case "ASKING", "READONLY", "READWRITE":
            return arguments.count == 1 ? Self.ok : Self.error("ERR wrong number of arguments for '\(name.lowercased())' command")
        case "AUTH":
            // Answered by the proxy (the client's credentials are checked here, not on a node):
            // not inside a transaction, where a node would queue it for EXEC.
            if case .multi = transaction { return refusedInTransaction(Self.unsupported("AUTH inside a transaction")) }
            return auth(arguments)
        case "RESET":
            guard arguments.count == 1 else { return Self.error("ERR wrong number of arguments for 'reset' command") }
            return reset()
        case "HELLO":
            if case .multi = transaction {
                // Queued like any command; it runs at EXEC, where the client's protocol changes.
                helloInTransaction = arguments
                return queueInTransaction(arguments)
            }
            return hello(arguments)
        case "CLIENT":
            let sub = arguments.count >= 2 ? "CLIENT|" + CommandKeys.word(arguments, 1) : "CLIENT"
            if case .multi = transaction {
                // Those a node answers are queued on it; those the proxy answers (SETNAME,
                // GETNAME, TRACKING…) would be answered at once, not at EXEC: refused.
                if Self.forwardedClientSubcommands.contains(sub) { return queueInTransaction(arguments) }
                return refusedInTransaction(Self.unsupported(sub.split(separator: "|").joined(separator: " ") + " inside a transaction"))
            }
            if sub == "CLIENT|SETNAME" && arguments.count == 3 {
                if arguments[2].readableBytesView.contains(where: { $0 <= 32 || $0 >= 127 }) {
                    return Self.error("ERR Client names cannot contain spaces, newlines or special characters.")
                }
                clientName = arguments[2].readableBytes == 0 ? nil : arguments[2]
                return Self.ok
            }
            if sub == "CLIENT|GETNAME" && arguments.count == 2 {
                return .reply(clientName.map { RESPValue.bulkString($0) } ?? .nullBulkString)
            }
            if let step = trackingStep(sub, arguments) { return step }
            if Self.forwardedClientSubcommands.contains(sub) { return .route(.anyMaster) }
            return Self.unsupported(sub.split(separator: "|").joined(separator: " "))
        default:
            break
        }
        if Self.refused.contains(name) { return Self.unsupported(name) }
        if name == "MONITOR" {
            guard arguments.count == 1 else { return Self.error("ERR wrong number of arguments for 'monitor' command") }
            // A node queues it and refuses it at EXEC (no blocking inside a transaction).
            guard !inTransaction else { return refusedInTransaction(Self.unsupported("MONITOR inside a transaction")) }
            if monitoring { return .noReply }
            monitoring = true
            return .monitor
        }
        if case .multi = transaction { return queueInTransaction(arguments) }
        if name == "WAIT" {
            switch ClusterWait.check(arguments) {
            case .refused(let reply): return .reply(reply)
            case .valid(let replicas, let timeout):
                return .wait(ClusterWait.Request(replicas: replicas, timeoutMilliseconds: timeout, written: written))
            }
        }
        let route = ClusterRouting.route(arguments, info: info)
        if let info, info.flags.contains(.blocking) {
            // A blocking command would stall the shared connection: the client's own one.
            switch route {
            case .slot(let slot): return .own(.slot(slot), [OwnCommand(arguments)])
            case .anyMaster: return .own(.anyMaster, [OwnCommand(arguments)])
            case .error(let text): return Self.error(text)
            case .split, .allMasters, .scan: return Self.error(ClusterErrors.crossSlot)
            }
        }
        return .route(route)
    }

    /// Pub/sub: SUBSCRIBE and PSUBSCRIBE on one connection to one master (the cluster
    /// broadcasts PUBLISH to every node), SSUBSCRIBE to the master of its shard channels' slot.
    /// While subscribed, PING goes to that connection too and QUIT closes; other commands get
    /// Redis's refusal for a subscribed RESP2 client.
    private mutating func subscriptionStep(_ name: String, _ arguments: [ByteBuffer]) -> ClusterStep? {
        // Most commands are none of these: the channel list is made only for those that are.
        switch name {
        case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "QUIT", "PING", "RESET": break
        default: return subscribed && protocolVersion == 2 ? Self.subscribedRefusal(name) : nil
        }
        let rest = Array(arguments.dropFirst())
        func update(_ list: inout [ByteBuffer], adding: Bool) {
            if adding {
                for item in rest where !list.contains(item) { list.append(item) }
            } else {
                list = rest.isEmpty ? [] : list.filter { !rest.contains($0) }
            }
        }
        switch name {
        case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE":
            guard !rest.isEmpty else { return Self.error("ERR wrong number of arguments for '\(name.lowercased())' command") }
            guard !inTransaction else { return refusedInTransaction(Self.unsupported("\(name) inside a transaction")) }
            var target = OwnTarget.anyMaster
            if name == "SSUBSCRIBE" {
                guard let common = ClusterRouting.commonSlot(rest), let slot = common else { return Self.error(ClusterErrors.crossSlot) }
                target = .slot(slot)
                update(&shardChannels, adding: true)
            } else if name == "SUBSCRIBE" {
                update(&channels, adding: true)
            } else {
                update(&patterns, adding: true)
            }
            subscribed = true
            return .subscription(target)
        case "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
            guard !inTransaction else { return nil }
            switch name {
            case "UNSUBSCRIBE": update(&channels, adding: false)
            case "PUNSUBSCRIBE": update(&patterns, adding: false)
            default: update(&shardChannels, adding: false)
            }
            return .subscription(.anyMaster)
        case "QUIT", "RESET":
            return nil
        case "PING":
            // RESP3: a subscribed client's PING is an ordinary command (Redis answers +PONG).
            return subscribed && protocolVersion == 2 ? .subscription(.anyMaster) : nil
        default:
            return nil
        }
    }

    /// RESP2: Redis's answer to a subscribed client's other commands, given here (a node would
    /// answer a key elsewhere with MOVED first). RESP3 clients may send any command while
    /// subscribed (messages come as pushes).
    private static func subscribedRefusal(_ name: String) -> ClusterStep {
        error("ERR Can't execute '\(name.lowercased())': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
    }

    /// The subscription connection confirmed that no subscription is left.
    public mutating func subscriptionsEnded() {
        subscribed = false
        channels = []
        patterns = []
        shardChannels = []
    }

    /// `HELLO [protover [AUTH username password] [SETNAME clientname]]`, checked in a cluster
    /// node's order and with its texts: the version, the options, the credentials (the
    /// proxy's own, as for AUTH), the name.
    private mutating func hello(_ arguments: [ByteBuffer]) -> ClusterStep {
        var version = protocolVersion
        if arguments.count >= 2 {
            let text = String(decoding: arguments[1].readableBytesView, as: UTF8.self)
            guard let given = Int64(text) else { return Self.error("ERR Protocol version is not an integer or out of range") }
            guard given == 2 || given == 3 else { return Self.error("NOPROTO unsupported protocol version") }
            version = Int(given)
        }
        var credentials: (user: ByteBuffer, password: ByteBuffer)?
        var name: ByteBuffer?
        var index = 2
        while index < arguments.count {
            let option = CommandKeys.word(arguments, index)
            let more = arguments.count - 1 - index
            if option == "AUTH" && more >= 2 {
                credentials = (arguments[index + 1], arguments[index + 2])
                index += 3
            } else if option == "SETNAME" && more >= 1 {
                name = arguments[index + 1]
                index += 2
            } else {
                return Self.error("ERR Syntax error in HELLO option '\(String(decoding: arguments[index].readableBytesView, as: UTF8.self))'")
            }
        }
        // Not a node's limit: the proxy keeps one protocol per client for a subscription's connection.
        guard !subscribed || version == protocolVersion else { return Self.unsupported("HELLO changing the protocol while subscribed") }
        if let credentials {
            guard credentialsMatch(user: credentials.user, password: credentials.password) else { return Self.error(Self.wrongPass) }
            authenticated = true
        }
        // As a node: authenticated (now or before) to go on; a name refused after a successful
        // AUTH leaves the client authenticated.
        guard authenticated else { return Self.error(Self.helloNoAuth) }
        if let name {
            if name.readableBytesView.contains(where: { $0 <= 32 || $0 >= 127 }) {
                return Self.error("ERR Client names cannot contain spaces, newlines or special characters.")
            }
            clientName = name.readableBytes == 0 ? nil : name
        }
        protocolVersion = version
        return .hello(protocol: version)
    }

    private mutating func transactionCommand(_ name: String, _ arguments: [ByteBuffer]) -> ClusterStep {
        switch (name, transaction) {
        case ("MULTI", .multi):
            return Self.error("ERR MULTI calls can not be nested")
        case ("MULTI", .watching(let slot)):
            transaction = .multi(pinned: slot, held: [], dirty: false, watchLost: false)
            return .own(.slot(slot), [OwnCommand(arguments)])
        case ("MULTI", .none):
            transaction = .multi(pinned: nil, held: [arguments], dirty: false, watchLost: ownConnectionLost)
            ownConnectionLost = false
            return Self.ok
        case ("EXEC", .multi(let pinned, let held, let dirty, let watchLost)):
            transaction = .none
            let queuedHello = helloInTransaction
            helloInTransaction = nil
            if !dirty && !watchLost, let queuedHello {
                // The node runs it inside EXEC: the replies after it there, and the client's from
                // then on, are in its protocol. Checked here as outside a transaction; a HELLO
                // the node refuses (NOPROTO, a bad option) changes nothing here either.
                _ = hello(queuedHello)
            }
            if dirty || watchLost {
                // Redis's answers: an error queued → EXECABORT; a watched key changed → nil.
                let answer: RESPValue = dirty ? .simpleError(Self.execAbort) : .nullArray
                if let pinned { return .own(.slot(pinned), [OwnCommand(Self.words(["DISCARD"]), reply: .replace(answer))]) }
                return .reply(answer)
            }
            if let pinned { return .own(.slot(pinned), [OwnCommand(arguments)]) }
            return .own(.anyMaster, held.map { OwnCommand($0, reply: .drop) } + [OwnCommand(arguments)])
        case ("DISCARD", .multi(let pinned, _, _, _)):
            transaction = .none
            helloInTransaction = nil
            if let pinned { return .own(.slot(pinned), [OwnCommand(arguments)]) }
            return Self.ok
        case ("EXEC", _), ("DISCARD", _):
            if name == "EXEC" && ownConnectionLost {
                ownConnectionLost = false
            }
            return Self.error("ERR \(name) without MULTI")
        case ("WATCH", .multi(let pinned, _, _, _)):
            if let pinned { return .own(.slot(pinned), [OwnCommand(arguments)]) }
            return Self.error("ERR WATCH inside MULTI is not allowed")
        case ("WATCH", _):
            guard arguments.count >= 2 else { return Self.error("ERR wrong number of arguments for 'watch' command") }
            guard let common = ClusterRouting.commonSlot(Array(arguments.dropFirst())), let slot = common else {
                return Self.error(ClusterErrors.crossSlot)
            }
            if case .watching(let watched) = transaction, watched != slot { return Self.error(ClusterErrors.crossSlot) }
            transaction = .watching(slot: slot)
            return .own(.slot(slot), [OwnCommand(arguments)])
        case ("UNWATCH", .watching(let slot)):
            transaction = .none
            return .own(.slot(slot), [OwnCommand(arguments)])
        case ("UNWATCH", .multi(let pinned, _, _, _)):
            if let pinned { return .own(.slot(pinned), [OwnCommand(arguments)]) }
            return Self.queued
        default:  // UNWATCH without WATCH
            ownConnectionLost = false
            return Self.ok
        }
    }

    private static func words(_ words: [String]) -> [ByteBuffer] { words.map { ByteBuffer(string: $0) } }

    /// A command inside MULTI: queued on the pinned master, pinning the transaction to its keys'
    /// slot when it is the first with keys; -CROSSSLOT (and EXEC will abort) for keys elsewhere.
    private mutating func queueInTransaction(_ arguments: [ByteBuffer]) -> ClusterStep {
        guard case .multi(let pinned, var held, let dirty, let watchLost) = transaction else { return Self.error("ERR internal") }
        // Redis queues nothing more once a transaction has failed, but still answers QUEUED.
        if dirty { return Self.queued }
        let keys = CommandKeys.keys(arguments)
        if keys.isEmpty {
            if let pinned { return .own(.slot(pinned), [OwnCommand(arguments)]) }
            held.append(arguments)
            transaction = .multi(pinned: nil, held: held, dirty: dirty, watchLost: watchLost)
            return Self.queued
        }
        guard let common = ClusterRouting.commonSlot(keys), let slot = common, pinned == nil || pinned == slot else {
            transaction = .multi(pinned: pinned, held: held, dirty: true, watchLost: watchLost)
            return Self.error(ClusterErrors.crossSlot)
        }
        if let pinned { return .own(.slot(pinned), [OwnCommand(arguments)]) }
        transaction = .multi(pinned: slot, held: [], dirty: dirty, watchLost: watchLost)
        return .own(.slot(slot), held.map { OwnCommand($0, reply: .drop) } + [OwnCommand(arguments)])
    }

    /// The client's own connection that held its WATCH or transaction closed: the transaction
    /// is gone on the server; EXEC will abort (a WATCH lost before MULTI makes the transaction
    /// abort too, as if a watched key had changed: Redis's promise holds either way).
    public mutating func ownConnectionClosed() {
        switch transaction {
        case .none:
            return
        case .watching:
            transaction = .none
            ownConnectionLost = true
        case .multi(_, let held, _, let watchLost):
            transaction = .multi(pinned: nil, held: held, dirty: true, watchLost: watchLost)
        }
    }
}
