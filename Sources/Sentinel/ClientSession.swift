import NIOConcurrencyHelpers
import NIOCore

/// Per-connection state of a client of the sentinel port.
final class ClientSession: Sendable {
    let id: UInt64
    let address: String
    let localAddress: String
    let createdAt: ContinuousClock.Instant
    let name = NIOLockedValueBox<String?>(nil)
    let closeAfterReply = NIOLockedValueBox(false)
    let authenticated = NIOLockedValueBox(false)
    /// The ACL user this connection runs as.
    let user = NIOLockedValueBox("default")
    /// 2 or 3, as agreed with HELLO.
    let protocolVersion = NIOLockedValueBox(2)
    let lastInteraction: NIOLockedValueBox<ContinuousClock.Instant>
    /// The last command's full name (`client|list`), as CLIENT LIST's `cmd=` shows it.
    let lastCommand = NIOLockedValueBox("NULL")
    /// `CLIENT REPLY`: replies sent (on), none (off), or the next command's dropped (skip).
    let replyMode = NIOLockedValueBox(ReplyMode.on)
    /// Waiting out a `CLIENT PAUSE` (CLIENT LIST flag `b`, INFO `blocked_clients`).
    let postponed = NIOLockedValueBox(false)
    /// Closes the connection (CLIENT KILL, ACL DELUSER, SHUTDOWN).
    private let closer: @Sendable () -> Void
    /// Set when killed: the client is gone for CLIENT LIST / KILL at once, as in Redis, even
    /// before its connection has finished closing.
    let killed = NIOLockedValueBox(false)

    init(id: UInt64, address: String = "?:0", localAddress: String = "?:0", closer: @escaping @Sendable () -> Void = {}) {
        self.id = id
        self.address = address
        self.localAddress = localAddress
        self.createdAt = .now
        self.lastInteraction = NIOLockedValueBox(.now)
        self.closer = closer
    }

    func close() {
        killed.withLockedValue { $0 = true }
        closer()
    }
}

enum ReplyMode: Sendable {
    case on, off
    /// Set by CLIENT REPLY SKIP: the next command's reply is dropped.
    case skipNext
    /// The command being run is the one after CLIENT REPLY SKIP.
    case skip
}

/// The connected clients, for CLIENT LIST / KILL and INFO.
final class ClientRegistry: Sendable {
    private let sessions = NIOLockedValueBox<[UInt64: ClientSession]>([:])
    let stats = NIOLockedValueBox(Stats())

    struct Stats: Sendable {
        var connectionsReceived = 0
        var commandsProcessed = 0
        var errorReplies = 0
        var rejectedConnections = 0
        var inputBytes = 0
        var outputBytes = 0
    }

    func add(_ s: ClientSession) {
        sessions.withLockedValue { $0[s.id] = s }
        stats.withLockedValue { $0.connectionsReceived += 1 }
    }

    func remove(_ id: UInt64) { sessions.withLockedValue { _ = $0.removeValue(forKey: id) } }

    /// Every client, by id.
    var all: [ClientSession] {
        sessions.withLockedValue { $0.values.filter { !$0.killed.withLockedValue { $0 } }.sorted { $0.id < $1.id } }
    }
}

extension SocketAddress {
    /// `ip:port` as CLIENT LIST writes it.
    var clientListForm: String {
        "\(ipAddress ?? "?"):\(port ?? 0)"
    }
}
