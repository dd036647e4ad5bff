import RESP

/// What the proxy must do with one client command.
enum CommandRoute: Equatable {
    /// Stateless: any connection to the master serves it, so it may share one.
    case shared
    /// Changes or depends on connection state (MULTI, SELECT, SUBSCRIBE, blocking…): the
    /// client needs a backend connection of its own from now on.
    case dedicated
    /// Answered by the proxy itself.
    case local(LocalCommand)
}

/// Commands the proxy answers itself.
enum LocalCommand: Equatable {
    /// `QUIT`: +OK, then close.
    case quit
    /// `INFO proxy`: the proxy's own statistics.
    case infoProxy
}

/// Connection-state effects the proxy tracks so it can replay them on a new master.
enum StateEffect: Equatable {
    case none
    case auth
    case hello
    case select
    case setName
    /// CLIENT TRACKING: client-side caching, replayed on a new master.
    case tracking
    case subscribe
    case psubscribe
    case unsubscribe
    case punsubscribe
    case multi
    case exec
    case discard
    case watch
    case unwatch
    case reset
}

enum CommandTraits {
    /// Commands that need a connection of their own. Everything else is safe to share.
    static let dedicatedNames: Set<[UInt8]> = Set([
        "AUTH", "HELLO", "SELECT", "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH",
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
        "MONITOR", "SYNC", "PSYNC", "REPLCONF", "CLIENT", "READONLY", "READWRITE", "RESET", "ASKING",
        "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP",
        "WAIT", "WAITAOF", "XREAD", "XREADGROUP", "ACL", "DEBUG", "SHUTDOWN",
    ].map { Array($0.utf8) })

    /// Read-only commands a replica can serve (for `--read-from replicas`).
    static let readOnlyNames: Set<[UInt8]> = Set([
        "GET", "MGET", "STRLEN", "GETRANGE", "EXISTS", "TTL", "PTTL", "TYPE", "HGET", "HMGET", "HGETALL",
        "HLEN", "HKEYS", "HVALS", "HEXISTS", "HSTRLEN", "LRANGE", "LLEN", "LINDEX", "LPOS", "SMEMBERS",
        "SISMEMBER", "SMISMEMBER", "SCARD", "SRANDMEMBER", "SINTER", "SUNION", "SDIFF", "ZRANGE",
        "ZRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYSCORE", "ZRANK", "ZREVRANK", "ZSCORE", "ZMSCORE",
        "ZCARD", "ZCOUNT", "ZLEXCOUNT", "ZRANGEBYLEX", "XRANGE", "XREVRANGE", "XLEN", "GETBIT",
        "BITCOUNT", "BITPOS", "PFCOUNT", "SCAN", "HSCAN", "SSCAN", "ZSCAN", "DBSIZE", "RANDOMKEY",
        "GEODIST", "GEOPOS", "GEOHASH", "GEOSEARCH", "DUMP", "TOUCH", "OBJECT", "MEMORY",
    ].map { Array($0.utf8) })

    /// A command name of up to 16 bytes, upper-cased and packed, for lookups without allocating.
    struct NameKey: Hashable {
        var low: UInt64 = 0
        var high: UInt64 = 0

        init?(_ bytes: ArraySlice<UInt8>) {
            guard bytes.count <= 16 else { return nil }
            var i = 0
            for var c in bytes {
                if c >= 0x61 && c <= 0x7a { c -= 0x20 }
                if i < 8 { low |= UInt64(c) << (8 * UInt64(i)) } else { high |= UInt64(c) << (8 * UInt64(i - 8)) }
                i += 1
            }
        }

        init(_ text: String) {
            self.init(Array(text.utf8)[...])!
        }
    }

    /// Commands that never change data, besides the read-only ones: with durability on, no
    /// WAIT follows them. Anything not named here or there counts as a write (an unknown
    /// command waits for the replicas rather than risk a write answered too early).
    static let nonWriteNames: Set<[UInt8]> = Set([
        "PING", "ECHO", "INFO", "TIME", "COMMAND", "CONFIG", "LASTSAVE", "ROLE", "LOLWUT", "SLOWLOG",
        "LATENCY", "MEMORY", "OBJECT", "PUBLISH", "SPUBLISH", "PUBSUB", "HELLO", "AUTH", "CLIENT",
        "EXISTS", "KEYS", "SRANDMEMBER", "SORT_RO", "EVAL_RO", "EVALSHA_RO", "FCALL_RO", "BITFIELD_RO",
        "GEORADIUS_RO", "GEORADIUSBYMEMBER_RO", "XINFO", "XPENDING", "STRALGO", "LCS", "SUBSTR",
        "HRANDFIELD", "ZRANDMEMBER", "ZRANGESTORE_RO", "ZDIFF", "ZINTER", "ZUNION", "ZINTERCARD",
        "SINTERCARD", "GETEX_RO", "TYPE", "WAIT", "WAITAOF", "FUNCTION_RO", "SCRIPT", "QUIT",
    ].map { Array($0.utf8) })
    /// Commands that need a connection of their own and may change data (a blocking pop, a
    /// group read that moves entries to the pending list).
    static let dedicatedWriteNames: Set<[UInt8]> = Set([
        "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "XREADGROUP",
    ].map { Array($0.utf8) })

    static let dedicatedKeys: Set<NameKey> = Set(dedicatedNames.map { NameKey($0[...])! })
    static let readOnlyKeys: Set<NameKey> = Set(readOnlyNames.map { NameKey($0[...])! })
    static let nonWriteKeys: Set<NameKey> = Set(nonWriteNames.compactMap { NameKey($0[...]) })
    private static let quitKey = NameKey("QUIT")
    private static let infoKey = NameKey("INFO")

    static func upperName(_ scanner: RESPStreamScanner) -> [UInt8]? {
        guard let name = scanner.argument(0), name.count <= 24 else { return nil }
        return name.map { $0 >= 0x61 && $0 <= 0x7a ? $0 - 0x20 : $0 }
    }

    /// What the proxy does with a command, and the state it changes.
    struct Classification {
        var route: CommandRoute
        var effect: StateEffect
        /// SUBSCRIBE and friends answer with pushes (RESP3) or messages (RESP2), not a reply.
        var expectsReply: Bool
        /// A read-only command a replica may serve (only worked out when reads may go to replicas).
        var readOnly = false
        /// May change data (only worked out with durability on; then unknown commands count).
        var mayWrite = false
        /// A blocking pop or group read that may change data (only with durability on): if it
        /// blocks and another client's write serves it, Redis counts its replication in that
        /// client's WAIT, not in this one's (`Durability.offsetRefresh`).
        var blockingWrite: Bool { route == .dedicated && mayWrite }
    }

    /// Classifies the command the scanner just finished.
    /// With `writes`, also whether the command may change data (`mayWrite`).
    static func classify(_ scanner: inout RESPStreamScanner, proxyCredentials: [[UInt8]]?, readRouting: Bool = false,
                         writes: Bool = false) -> Classification {
        if let first = scanner.argument(0), let key = NameKey(first), !dedicatedKeys.contains(key) {
            if readRouting && readOnlyKeys.contains(key) {
                return Classification(route: .shared, effect: .none, expectsReply: true, readOnly: true)
            }
            if key == quitKey { return Classification(route: .local(.quit), effect: .none, expectsReply: true) }
            if key == infoKey, scanner.argumentCount == 2, scanner.argument(1, is: "proxy") {
                return Classification(route: .local(.infoProxy), effect: .none, expectsReply: true)
            }
            return Classification(route: .shared, effect: .none, expectsReply: true,
                                  mayWrite: writes && !readOnlyKeys.contains(key) && !nonWriteKeys.contains(key))
        }
        guard let name = upperName(scanner) else {
            return Classification(route: .shared, effect: .none, expectsReply: true, mayWrite: writes)
        }
        guard dedicatedNames.contains(name) else {
            if name == quit { return Classification(route: .local(.quit), effect: .none, expectsReply: true) }
            if name == info, scanner.argumentCount == 2, scanner.argument(1, is: "proxy") {
                return Classification(route: .local(.infoProxy), effect: .none, expectsReply: true)
            }
            return Classification(route: .shared, effect: .none, expectsReply: true,
                                  mayWrite: writes && !readOnlyNames.contains(name) && !nonWriteNames.contains(name))
        }
        let effect = effect(name, scanner)
        let expectsReply = !subscriptionNames.contains(name)
        if name == auth, let proxyCredentials, scanner.argumentsComplete,
           Array(scanner.arguments.dropFirst()).map(Array.init) == proxyCredentials {
            // The shared connections are already logged in as this user.
            return Classification(route: .shared, effect: .none, expectsReply: true)
        }
        if name == hello && (scanner.argumentCount == 1 || (scanner.argumentCount == 2 && scanner.argument(1, is: "2"))) {
            return Classification(route: .shared, effect: .none, expectsReply: true)
        }
        return Classification(route: .dedicated, effect: effect, expectsReply: expectsReply,
                              mayWrite: writes && dedicatedWriteNames.contains(name))
    }

    private static let quit = Array("QUIT".utf8)
    private static let info = Array("INFO".utf8)
    private static let auth = Array("AUTH".utf8)
    private static let hello = Array("HELLO".utf8)
    private static let subscriptionNames: Set<[UInt8]> = Set(
        ["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"].map { Array($0.utf8) })

    static func isReadOnly(_ scanner: RESPStreamScanner) -> Bool {
        guard let name = upperName(scanner) else { return false }
        return readOnlyNames.contains(name)
    }

    /// The state the command changes, for replay on a new master.
    private static func effect(_ name: [UInt8], _ scanner: RESPStreamScanner) -> StateEffect {
        switch String(decoding: name, as: UTF8.self) {
        case "AUTH": return .auth
        case "HELLO": return .hello
        case "SELECT": return .select
        case "CLIENT": return scanner.argument(1, is: "SETNAME") ? .setName : scanner.argument(1, is: "TRACKING") ? .tracking : .none
        case "SUBSCRIBE": return .subscribe
        case "PSUBSCRIBE": return .psubscribe
        case "UNSUBSCRIBE": return .unsubscribe
        case "PUNSUBSCRIBE": return .punsubscribe
        case "MULTI": return .multi
        case "EXEC": return .exec
        case "DISCARD": return .discard
        case "WATCH": return .watch
        case "UNWATCH": return .unwatch
        case "RESET": return .reset
        default: return .none
        }
    }
}
