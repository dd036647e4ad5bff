#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RESP
import SentinelConfig
import SentinelCore

extension SentinelRuntime {
    var table: SentinelCommandTable { .shared }

    /// Answers one command from a client of the sentinel port, in the order Redis's
    /// `processCommand` checks: lookup and arity, authentication, ACL, subscribe context.
    /// Returns one reply, or several for (P)(UN)SUBSCRIBE (one confirmation per name).
    func execute(_ request: RESPRequest, client: SentinelClient) async -> [RESPValue] {
        let args = request.arguments.map { String(buffer: $0) }
        guard let first = args.first else { return [] }
        let name = first.lowercased()
        let entry: SentinelCommandTable.Entry
        switch table.lookup(args) {
        case .rejected(let message): return [.simpleError("ERR " + message)]
        case .found(let e): entry = e
        }
        client.update { $0.lastCommand = entry.name }
        let userName = client.user
        let user = users[userName]
        let defaultUser = users["default"]!
        let authRequired = (!defaultUser.noPass || !defaultUser.enabled) && !client.authenticated
        if authRequired && !entry.flags.contains("no_auth") {
            return [.simpleError("NOAUTH Authentication required.")]
        }
        if !entry.flags.contains("no_auth"), user?.canRun(entry.name) != true {
            logACL(reason: "command", object: entry.name, username: userName, client: client)
            return [.simpleError("NOPERM this user has no permissions to run the '\(entry.name)' command")]
        }
        if let user, !user.allChannels, ["subscribe", "psubscribe", "publish"].contains(name) {
            let channels = name == "publish" ? [args[1]] : Array(args.dropFirst())
            for channel in channels where !user.canUse(channel: channel, asPattern: name == "psubscribe") {
                logACL(reason: "channel", object: channel, username: userName, client: client)
                return [.simpleError("NOPERM this user has no permissions to access one of the channels used as arguments")]
            }
        }
        if hub.subscriptionCount(client.id) > 0, client.protocolVersion == 2,
           !["subscribe", "psubscribe", "unsubscribe", "punsubscribe", "ping", "quit", "reset"].contains(name) {
            return [.simpleError("ERR Can't execute '\(entry.name)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")]
        }
        // CLIENT PAUSE is checked last, as in 7.0: errors above are answered at once.
        if isPaused(name) { await waitOutPause(name, client: client) }
        switch name {
        case "ping":
            if args.count > 2 { return [arity("ping")] }
            if hub.subscriptionCount(client.id) > 0 && client.protocolVersion == 2 {
                return [.array([.bulkString("pong"), .bulkString(args.count == 2 ? args[1] : "")])]
            }
            return [args.count == 2 ? .bulkString(args[1]) : .simpleString("PONG")]
        case "sentinel":
            if args.count > 1, args[1].lowercased() == "monitor" { return [await monitor(Array(args.dropFirst()))] }
            return [sentinelCommand(Array(args.dropFirst()))]
        case "info":
            return [.bulkString(info(sections: args.dropFirst().map { $0.lowercased() }))]
        case "role":
            return [.array([.bulkString("sentinel"), .array(state.masterNames.map { .bulkString($0) })])]
        case "subscribe", "psubscribe", "unsubscribe", "punsubscribe":
            return hub.change(client.id, verb: name, names: Array(args.dropFirst()))
        case "publish":
            guard args[1] == "__sentinel__:hello" else {
                return [.simpleError("ERR Only HELLO messages are accepted by Sentinel instances.")]
            }
            input(.hello(args[2]))
            return [.integer(1)]
        case "auth":
            if args.count == 2 && defaultUser.noPass {
                return [.simpleError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")]
            }
            let username = args.count == 3 ? args[1] : "default"
            guard authenticate(username, args.last!, client: client) else {
                return [.simpleError("WRONGPASS invalid username-password pair or user is disabled.")]
            }
            return [.simpleString("OK")]
        case "hello":
            return [hello(args, client: client)]
        case "client":
            return [clientCommand(Array(args.dropFirst()), client: client)]
        case "command":
            return [commandCommand(Array(args.dropFirst()), client: client)]
        case "acl":
            return [aclCommand(Array(args.dropFirst()), client: client)]
        case "shutdown":
            return shutdown(Array(args.dropFirst()))
        default:
            return [.simpleError("ERR unknown command '\(first)', with args beginning with: ")]
        }
    }

    func arity(_ command: String) -> RESPValue {
        .simpleError("ERR wrong number of arguments for '\(command)' command")
    }

    /// Whether a new connection starts authenticated (7.0's createClient): the default user is
    /// enabled and needs no password.
    func newConnectionsStartAuthenticated() -> Bool {
        guard let defaultUser = users["default"] else { return false }
        return defaultUser.noPass && defaultUser.enabled
    }

    /// Checks a user's password; on success the connection runs as that user, on failure the
    /// attempt goes to ACL LOG.
    func authenticate(_ username: String, _ password: String, client: SentinelClient) -> Bool {
        guard let user = users[username], user.checks(password: password) else {
            logACL(reason: "auth", object: "AUTH", username: username, client: client)
            return false
        }
        client.update {
            $0.user = username
            $0.authenticated = true
        }
        return true
    }

    func hello(_ args: [String], client: SentinelClient) -> RESPValue {
        var proto = client.protocolVersion
        var i = 1
        if args.count > 1 {
            guard let v = Int(args[1]) else { return .simpleError("ERR Protocol version is not an integer or out of range") }
            guard v == 2 || v == 3 else { return .simpleError("NOPROTO unsupported protocol version") }
            proto = v
            i = 2
        }
        var setName: String?
        while i < args.count {
            let more = args.count - i - 1
            switch args[i].lowercased() {
            case "auth" where more >= 2:
                guard authenticate(args[i + 1], args[i + 2], client: client) else {
                    return .simpleError("WRONGPASS invalid username-password pair or user is disabled.")
                }
                i += 3
            case "setname" where more >= 1:
                guard isValidClientName(args[i + 1]) else {
                    return .simpleError("ERR Client names cannot contain spaces, newlines or special characters.")
                }
                setName = args[i + 1]
                i += 2
            default:
                return .simpleError("ERR Syntax error in HELLO option '\(args[i])'")
            }
        }
        let defaultUser = users["default"]!
        if (!defaultUser.noPass || !defaultUser.enabled) && !client.authenticated {
            return .simpleError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
        }
        client.update {
            if let setName { $0.name = setName.isEmpty ? nil : setName }
            $0.protocolVersion = proto
        }
        return .map([
            RESPPair(key: .bulkString("server"), value: .bulkString("redis")),
            RESPPair(key: .bulkString("version"), value: .bulkString("7.0.15")),
            RESPPair(key: .bulkString("proto"), value: .integer(Int64(proto))),
            RESPPair(key: .bulkString("id"), value: .integer(Int64(client.id))),
            RESPPair(key: .bulkString("mode"), value: .bulkString("sentinel")),
            RESPPair(key: .bulkString("modules"), value: .array([])),
        ])
    }

    func isValidClientName(_ name: String) -> Bool {
        name.utf8.allSatisfy { $0 >= 33 && $0 <= 126 }
    }

    /// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: a sentinel has nothing to save; it
    /// saves its config and stops serving.
    func shutdown(_ args: [String]) -> [RESPValue] {
        var abort = false
        for a in args {
            switch a.lowercased() {
            case "nosave", "save", "now", "force": break
            case "abort": abort = true
            default: return [.simpleError("ERR syntax error")]
            }
        }
        if abort { return [.simpleError("ERR No shutdown in progress.")] }
        logger.warning("User requested shutdown...")
        try? saveConfig()
        if let pidfile = configuration.pidfile, !pidfile.isEmpty { unlink(pidfile) }
        logger.warning("Sentinel is now ready to exit, bye bye...")
        exit(0)
    }

    // MARK: COMMAND

    func commandCommand(_ args: [String], client: SentinelClient) -> RESPValue {
        guard let sub = args.first?.lowercased() else {
            return .array(table.order.map { table.commands[$0]!.reply })
        }
        switch sub {
        case "count":
            return .integer(Int64(table.order.count))
        case "list":
            var names = table.allNames
            if args.count > 1 {
                guard args.count == 4, args[1].lowercased() == "filterby" else { return .simpleError("ERR syntax error") }
                switch args[2].lowercased() {
                case "module": names = []
                case "aclcat":
                    guard table.categories.contains(args[3].lowercased()) else { names = []; break }
                    names = table.allEntries.filter { $0.categories.contains("@" + args[3].lowercased()) }.map(\.name)
                case "pattern":
                    names = names.filter { globMatch(pattern: Array(args[3].lowercased().utf8), string: Array($0.utf8)) }
                default: return .simpleError("ERR syntax error")
                }
            }
            return .array(names.map { .bulkString($0) })
        case "info":
            if args.count == 1 { return .array(table.order.map { table.commands[$0]!.reply }) }
            return .array(args.dropFirst().map { table.entry(named: $0)?.reply ?? .nullBulkString })
        case "docs":
            if args.count == 1 {
                return .map(table.docsOrder.map { RESPPair(key: .bulkString($0), value: table.docs[$0]!) })
            }
            return .map(args.dropFirst().compactMap { n in
                let lower = n.lowercased()
                return table.docs[lower].map { RESPPair(key: .bulkString(lower), value: $0) }
            })
        case "getkeys", "getkeysandflags":
            guard table.entry(named: args[1]) != nil, case .found = table.lookup(Array(args.dropFirst())) else {
                return .simpleError("ERR Invalid command specified")
            }
            return .simpleError("ERR The command has no key arguments")
        case "help":
            return SentinelCommandTable.captured("command-help")
        default:
            return .simpleError("ERR unknown subcommand '\(args[0])'. Try COMMAND HELP.")
        }
    }
}
