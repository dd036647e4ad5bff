import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// A failure talking to one Redis server: which server, which command, what went wrong.
///
/// An error *reply* from Redis (`-ERR …`) is normally a `RESPValue`; it becomes this error
/// (code `.serverError`) only through the typed helpers that need a successful reply.
public struct RedisConnectionError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Hashable, Sendable {
            case connectFailed = "connect failed"
            case connectTimeout = "connect timed out"
            case timeout = "timed out"
            case closed = "connection closed"
            case tlsFailed = "TLS failed"
            case protocolError = "protocol error"
            case authenticationFailed = "authentication failed"
            case serverError = "server error"
            case unexpectedReply = "unexpected reply"
        }
        fileprivate let base: Base

        /// The TCP connection could not be made.
        public static let connectFailed = Code(base: .connectFailed)
        /// The TCP connection was not made within the connect timeout.
        public static let connectTimeout = Code(base: .connectTimeout)
        /// No reply within the command's timeout (the server may be stopped or overloaded).
        public static let timeout = Code(base: .timeout)
        /// The connection closed before the reply arrived.
        public static let closed = Code(base: .closed)
        /// The TLS handshake or a TLS record failed (the message says why: unknown CA, …).
        public static let tlsFailed = Code(base: .tlsFailed)
        /// The server sent bytes that are not valid RESP.
        public static let protocolError = Code(base: .protocolError)
        /// AUTH or HELLO … AUTH was refused.
        public static let authenticationFailed = Code(base: .authenticationFailed)
        /// The server answered with an error reply where a result was needed.
        public static let serverError = Code(base: .serverError)
        /// The reply had a shape the typed helper did not expect.
        public static let unexpectedReply = Code(base: .unexpectedReply)

        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// `host:port` of the server.
    public var server: String
    /// The command concerned (name and, for container commands, subcommand), if any.
    public var command: String?
    /// What happened, for a person.
    public var message: String
    /// The error underneath, if any (a socket error, a `RESPProtocolError`).
    public var underlying: (any Error)?

    public init(code: Code, server: String, command: String? = nil, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.server = server
        self.command = command
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        var text = "redis \(server)"
        if let command { text += " \(command)" }
        text += ": \(code): \(message)"
        if let underlying { text += " (\(underlying))" }
        return text
    }
}

/// Names a command for errors and logs without its arguments (which may hold secrets).
func describeCommand<S: StringProtocol>(_ arguments: [S]) -> String {
    guard let first = arguments.first else { return "(empty command)" }
    let name = first.uppercased()
    if containerCommands.contains(name), arguments.count > 1 {
        return name + " " + arguments[1].uppercased()
    }
    return name
}

/// Commands whose first argument is a subcommand worth naming in errors.
private let containerCommands: Set<String> = [
    "CLIENT", "CONFIG", "SENTINEL", "ACL", "COMMAND", "CLUSTER", "MEMORY", "OBJECT", "XINFO",
    "SCRIPT", "FUNCTION", "DEBUG", "MODULE", "LATENCY", "SLOWLOG",
]

extension RedisConnectionError {
    /// The connection was actively refused (TCP RST, `ECONNREFUSED`): the host is up and
    /// answered, but nothing listens on the port. A connect timeout, an unreachable network or
    /// a reset after connecting is not a refusal.
    public var isConnectionRefused: Bool {
        code == .connectFailed && underlying.map(Self.isRefusal) == true
    }

    static func isRefusal(_ error: any Error) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        if let e = error as? NIOConnectionError {
            // Every address tried refused (with a name that resolves to several, all of them).
            return !e.connectionErrors.isEmpty && e.connectionErrors.allSatisfy { isRefusal($0.error) }
        }
        return false
    }
}
