import NIOConcurrencyHelpers
import NIOCore
import SentinelConfig

/// A client of the sentinel port: what Redis keeps in its `client` struct (name, user, protocol,
/// reply mode, tracking, buffers), for the commands and CLIENT LIST. Its changing fields are one
/// `Fields` value under one lock: read one with `client.name`, change any together with
/// `client.update { $0.name = … }`.
final class SentinelClient: FieldsUnderOneLock {
    let id: UInt64
    let address: String
    let localAddress: String
    let createdAt: ContinuousClock.Instant
    let fields: NIOLockedValueBox<Fields>
    /// Closes the connection (CLIENT KILL, ACL DELUSER, SHUTDOWN).
    private let closer: @Sendable () -> Void

    /// Bytes of requests received and not yet run: the connection's `InputCounter` counts them
    /// on the channel, in a box of its own that this reads.
    let unprocessedInput: NIOLockedValueBox<Int>

    struct Fields: Sendable {
        var name: String?
        var closeAfterReply = false
        var authenticated = false
        /// The ACL user this connection runs as.
        var user = "default"
        /// 2 or 3, as agreed with HELLO.
        var protocolVersion = 2
        var lastInteraction: ContinuousClock.Instant
        /// The last command's full name (`client|list`), as CLIENT LIST's `cmd=` shows it.
        var lastCommand = "NULL"
        /// `CLIENT REPLY`: replies sent (on), none (off), or the next command's dropped (skip).
        var replyMode = ReplyMode.on
        /// Waiting out a `CLIENT PAUSE` (CLIENT LIST flag `b`, INFO `blocked_clients`).
        var postponed = false
        /// CLIENT TRACKING state (no key is ever invalidated on a sentinel's port, but the state
        /// is kept and reported as 7.0 keeps it), and CLIENT NO-EVICT.
        var tracking = TrackingState()
        var noEvict = false
        /// Buffers, for CLIENT LIST's memory fields.
        var buffers = Buffers()
        /// Against `client-output-buffer-limit` (the soft limit's start).
        var outputLimit = OutputLimitTracker()
        /// Set when killed: the client is gone for CLIENT LIST / KILL at once, as in Redis, even
        /// before its connection has finished closing.
        var killed = false
    }

    init(id: UInt64, address: String = "?:0", localAddress: String = "?:0",
         unprocessedInput: NIOLockedValueBox<Int> = NIOLockedValueBox(0), closer: @escaping @Sendable () -> Void = {}) {
        self.unprocessedInput = unprocessedInput
        self.id = id
        self.address = address
        self.localAddress = localAddress
        self.createdAt = .now
        self.fields = NIOLockedValueBox(Fields(lastInteraction: .now))
        self.closer = closer
    }

    func close() {
        update { $0.killed = true }
        closer()
    }
}

/// What a client's connection holds in memory now (CLIENT LIST's qbuf, argv-mem, rbs, rbp,
/// oll, omem, tot-mem).
struct Buffers: Sendable {
    /// Bytes of the request being run.
    var query = 0
    /// Bytes of the arguments of the command being run or held by a pause.
    var arguments = 0
    /// Size of the last reply buffer, and the largest in the last few seconds.
    var replyBuffer = 0
    var replyPeak = 0
    /// Output not yet handed to the socket: event messages queued, and their count.
    var pendingOutput = 0
    var pendingMessages = 0

    var total: Int { query + arguments + replyBuffer + pendingOutput }
}

/// `CLIENT TRACKING` options of one client.
struct TrackingState: Sendable {
    var on = false
    var bcast = false
    var optIn = false
    var optOut = false
    var noLoop = false
    /// CLIENT CACHING yes/no: lasts until a command other than CLIENT runs.
    var caching = false
    var redirect: Int64 = 0
    var prefixes: Set<String> = []
}

enum ReplyMode: Sendable {
    case on, off
    /// Set by CLIENT REPLY SKIP: the next command's reply is dropped.
    case skipNext
    /// The command being run is the one after CLIENT REPLY SKIP.
    case skip
}
