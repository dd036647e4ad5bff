import ConstantTime
import NIOCore
import RESP

/// Authentication in cluster mode, as a redis-server 7.0.15 node with `requirepass` (or an ACL
/// user with a password) treats a client: with a password configured (`--auth`, with `--user`
/// for an ACL user), a client that has not authenticated gets the node's answers — an unknown
/// command or a wrong argument count first, then `-NOAUTH Authentication required.` for every
/// command but AUTH, HELLO (which answers its own NOAUTH text unless it carries AUTH), QUIT and
/// RESET. Credentials are checked by the proxy against its own (the ones its connections to the
/// nodes use): every command a client sends runs on those connections, as that user, so
/// accepting another user of the cluster would give that user the proxy's rights.
extension ClusterClientState {
    static let noAuth = "NOAUTH Authentication required."
    static let helloNoAuth = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
    static let wrongPass = "WRONGPASS invalid username-password pair or user is disabled."

    /// Commands a client may send before it authenticates (redis-server 7.0's `no-auth` flag).
    static let allowedBeforeAuth: Set<String> = ["AUTH", "HELLO", "QUIT", "RESET"]

    /// The answer to a command from a client that has not authenticated (nil: AUTH, HELLO, QUIT
    /// or RESET, taken as usual). In a node's order: the command's existence and argument count
    /// are checked before authentication; EXEC's refusal comes as EXECABORT.
    func unauthenticatedStep(_ name: String, _ arguments: [ByteBuffer], info: CommandInfo?) -> ClusterStep? {
        if let text = Self.existenceAndArityError(arguments, info: info) {
            return .reply(.simpleError(name == "EXEC" ? "EXECABORT Transaction discarded because of: " + text.dropFirst(4) : text))
        }
        if Self.allowedBeforeAuth.contains(name) { return nil }
        return .reply(.simpleError(name == "EXEC" ? "EXECABORT Transaction discarded because of: " + Self.noAuth : Self.noAuth))
    }

    /// redis-server 7.0's `commandCheckExistence` and `commandCheckArity` texts (nil when the
    /// command is known and its argument count right).
    static func existenceAndArityError(_ arguments: [ByteBuffer], info: CommandInfo?) -> String? {
        let name = CommandKeys.word(arguments, 0)
        let isContainer = CommandKeys.containers.contains(name)
        guard let info, !(isContainer && arguments.count >= 2 && !info.name.contains("|")) else {
            if isContainer && arguments.count >= 2 {
                return "ERR unknown subcommand '\(clipped(arguments[1], 128))'. Try \(name) HELP."
            }
            var args = ""
            for argument in arguments.dropFirst() where args.utf8.count < 128 {
                args += "'\(clipped(argument, 128 - args.utf8.count))' "
            }
            return "ERR unknown command '\(clipped(arguments[0], 128))', with args beginning with: \(args)"
        }
        guard info.accepts(argumentCount: arguments.count) else {
            return "ERR wrong number of arguments for '\(info.name.lowercased())' command"
        }
        return nil
    }

    /// At most `limit` bytes of an argument, newlines as spaces (a node's `%.128s` and its
    /// `sdsmapchars(err, "\r\n", "  ")`, so the error stays one line).
    private static func clipped(_ buffer: ByteBuffer, _ limit: Int) -> String {
        let bytes = buffer.readableBytesView.prefix(max(0, limit)).map { $0 == 13 || $0 == 10 ? 32 : $0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `user`/`password` are the proxy's credentials (without a password configured,
    /// the default user with any password, as Redis's `nopass` default user).
    func credentialsMatch(user: ByteBuffer, password: ByteBuffer) -> Bool {
        let userMatches = String(buffer: user) == (configuration.user ?? "default")
        guard let expected = configuration.password else { return userMatches }
        // The password in constant time (a reply's timing must not tell how much of it was right).
        let passwordMatches = ConstantTime.equals(Array(password.readableBytesView), Array(expected.utf8))
        return passwordMatches && userMatches
    }

    /// `AUTH [user] password`, with a node's texts; a failed AUTH leaves an authenticated
    /// client authenticated, as on a node.
    mutating func auth(_ arguments: [ByteBuffer]) -> ClusterStep {
        guard arguments.count >= 2 else { return .reply(.simpleError("ERR wrong number of arguments for 'auth' command")) }
        guard arguments.count <= 3 else { return .reply(.simpleError("ERR syntax error")) }
        if arguments.count == 2 && configuration.password == nil {
            return .reply(.simpleError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"))
        }
        let user = arguments.count == 3 ? arguments[1] : ByteBuffer(string: "default")
        guard credentialsMatch(user: user, password: arguments[arguments.count - 1]) else {
            return .reply(.simpleError(Self.wrongPass))
        }
        authenticated = true
        return .reply(.simpleString("OK"))
    }

    /// `RESET`, as a node does it: out of any transaction (UNWATCH or DISCARD on the connection
    /// that holds it), name cleared, protocol 2, and no longer authenticated when a password is
    /// configured. Subscribed (never inside a transaction or WATCH: SUBSCRIBE is refused
    /// there): every subscription ended without confirmations (`endSubscriptions`).
    mutating func reset() -> ClusterStep {
        let wasSubscribed = subscribed
        if wasSubscribed { subscriptionsEnded() }
        let held = transaction
        transaction = .none
        ownConnectionLost = false
        helloInTransaction = nil
        resets += 1
        clientName = nil
        protocolVersion = 2
        authenticated = configuration.password == nil
        monitoring = false
        tracking = ClusterTracking()
        let answer = RESPValue.simpleString("RESET")
        if wasSubscribed { return .endSubscriptions(answer) }
        switch held {
        case .watching(let slot):
            return .own(.slot(slot), [OwnCommand([ByteBuffer(string: "UNWATCH")], reply: .replace(answer))])
        case .multi(let pinned?, _, _, _):
            return .own(.slot(pinned), [OwnCommand([ByteBuffer(string: "DISCARD")], reply: .replace(answer))])
        case .multi, .none:
            return .reply(answer)
        }
    }
}
