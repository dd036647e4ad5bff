import NIOCore
import RESP

/// The values `ProxySession` takes and gives: its configuration, the actions for the shell,
/// the commands, the reply slots, the connection state to replay, and the facts about backend
/// links the shell passes in.
extension ProxySession {
    /// What the session is configured with (all values, read once).
    struct Configuration {
        /// How long a command may wait for a usable master before it gets -MASTERDOWN.
        var hold: TimeAmount
        /// The master group's name, for -MASTERDOWN.
        var groupName: String
        /// AUTH with the proxy's own credentials, sent first on a connection of the client's
        /// own unless the client authenticates itself; and how many replies it produces.
        var handshake = ByteBuffer()
        var handshakeReplies = 0
        /// A command larger than this arriving in pieces is streamed to the master.
        var streamThreshold = 64 * 1024
        /// Reading from the client pauses while more commands than this wait.
        var maxSlots = 4096
        /// `durability: replicated`: writes are answered only once this many replicas have
        /// them (WAIT after each batch that holds a write); nil: Redis's own asynchronous
        /// replication.
        var durability: Durability?
    }

    /// A write is confirmed to the client only after `replicas` replicas acknowledged it,
    /// waiting at most `timeoutMilliseconds` (Redis's WAIT).
    struct Durability {
        var replicas: Int
        var timeoutMilliseconds: Int
        /// `WAIT replicas timeout`, encoded once.
        let waitCommand: ByteBuffer

        init(replicas: Int, timeoutMilliseconds: Int) {
            self.replicas = replicas
            self.timeoutMilliseconds = timeoutMilliseconds
            var command = ByteBuffer()
            command.writeRESPCommand(["WAIT", String(replicas), String(timeoutMilliseconds)])
            waitCommand = command
        }

        /// Sent before the WAIT that follows a blocking write, on the same connection. A pop
        /// that blocked and was then served by another client's push is replicated as part of
        /// that client's command; redis-server 7.0's WAIT on the popping connection counts only
        /// the replication offset reached when the pop blocked, and answered at once with every
        /// replica stopped. A master outside cluster mode replicates PUBLISH, and this one runs
        /// once the pop was served, so the WAIT after it covers the pop. Its answer is
        /// swallowed with the WAIT's (a refusal is logged: `BackendLink`).
        static let offsetRefresh: ByteBuffer = {
            var command = ByteBuffer()
            command.writeRESPCommand(["PUBLISH", offsetRefreshChannel, "sync"])
            return command
        }()
        static let offsetRefreshChannel = "__tandem__:durability"
    }

    /// Counters the shell adds to the loop's `INFO proxy` figures.
    enum Counter: Equatable {
        /// A reply made by the proxy that is an error.
        case proxyError
        /// A held command timed out (also counted as a proxy error).
        case heldTimeout
        /// A command answered -READONLY is sent again.
        case retriedCommand
        /// The client moved to a connection of its own.
        case becameDedicated
        /// A batch of writes was not confirmed by enough replicas: its writes were answered
        /// with -NOREPLICAS.
        case unconfirmedWrites
    }

    /// What the shell must do, in order.
    enum Action {
        /// Write these bytes to the client (flushed at the end of the event-loop turn).
        case write(ByteBuffer)
        /// Flush and close the client (its last reply was written).
        case close
        /// Write this error, flush, then close the client.
        case failAndClose(ByteBuffer)
        /// Flush the client now.
        case flush
        /// Wake `holdExpired(now:)` at this deadline.
        case armHold(NIODeadline)
        /// The hold timer is no longer needed.
        case cancelHold
        /// Fetch `INFO proxy` and pass it to `infoReady(seq:text:)`.
        case fetchInfo(seq: UInt64)
        /// Try to send queued commands (the shell resolves the link and calls `sendQueued`).
        case pump
        /// The client may be read again: scan the input already buffered.
        case resumeInput
        case count(Counter)
    }

    /// One client command: its bytes (or nil once sent and too large to keep) and what
    /// became of it.
    struct Slot {
        enum State: UInt8 { case queued, sent, done }
        var state: State
        var streamed = false
        var expectsReply = true
        var insideTransaction = false
        /// May be served by a replica (`--read-from replicas`).
        var readOnly = false
        /// May change data (with durability on): its reply waits for the replicas' WAIT.
        var write = false
        /// After this command the connection is outside MULTI: a WAIT may follow it.
        var syncPoint = true
        /// Its reply is held until the WAIT sent after it answers.
        var gated = false
        /// A write that may block (BLPOP, XREADGROUP…): the WAIT after it is preceded by
        /// `Durability.offsetRefresh`.
        var blockingWrite = false
        var effect: StateEffect = .none
        /// The command's bytes, kept so it can be sent again after -READONLY or a failed
        /// connect; nil when it was streamed.
        var command: ByteBuffer?
        /// Reply bytes received while an earlier reply was still pending.
        var reply: ByteBuffer?
        /// What few commands need, kept out of line so the common slot stays small.
        private var extra: SlotExtra?

        private final class SlotExtra {
            var queuedAt: NIODeadline?
            var closeAfter = false
            var replacement: ByteBuffer?
            var effectArguments: [[UInt8]] = []
            var transactionPosition = 0
        }

        init(state: State, command: ByteBuffer?, reply: ByteBuffer? = nil) {
            self.state = state
            self.command = command
            self.reply = reply
        }

        private mutating func withExtra(_ body: (SlotExtra) -> Void) {
            if extra == nil { extra = SlotExtra() }
            body(extra!)
        }

        var queuedAt: NIODeadline? {
            get { extra?.queuedAt }
            set { if newValue != nil || extra != nil { withExtra { $0.queuedAt = newValue } } }
        }
        var closeAfter: Bool {
            get { extra?.closeAfter ?? false }
            set { if newValue || extra != nil { withExtra { $0.closeAfter = newValue } } }
        }
        /// Sent instead of the server's reply (EXEC after the master changed under WATCH).
        var replacement: ByteBuffer? {
            get { extra?.replacement }
            set { if newValue != nil || extra != nil { withExtra { $0.replacement = newValue } } }
        }
        var effectArguments: [[UInt8]] {
            get { extra?.effectArguments ?? [] }
            set { if !newValue.isEmpty || extra != nil { withExtra { $0.effectArguments = newValue } } }
        }
        /// A command queued inside MULTI: its element in EXEC's reply.
        var transactionPosition: Int {
            get { extra?.transactionPosition ?? 0 }
            set { if newValue != 0 || extra != nil { withExtra { $0.transactionPosition = newValue } } }
        }
    }

    /// What the client changed on its connection, replayed on a new master.
    struct ReplayState: Equatable {
        var hello: [[UInt8]]?
        var auth: [[UInt8]]?
        var select: [[UInt8]]?
        var setName: [[UInt8]]?
        /// The CLIENT TRACKING ON commands the master accepted since tracking was last off, in
        /// order (each distinct one once: BCAST prefixes add up over them); empty: not tracking.
        var tracking: [[[UInt8]]] = []
        var channels: [[UInt8]] = []
        var patterns: [[UInt8]] = []
        var resp3 = false
    }

    /// A parsed client command, as the shell's scanner found it.
    struct Command {
        var bytes: ByteBuffer
        var traits: CommandTraits.Classification
        /// The arguments, name first; only needed (and only filled) when `traits.effect` is
        /// not `.none`.
        var arguments: [[UInt8]] = []
    }

    /// A backend connection as the session sees it when choosing where commands go.
    struct LinkFacts {
        var id: ObjectIdentifier
        var isWritable = true
        var isReplica = false
    }

    /// The client's own connection as it stands, for `dedicatedLinkStep`.
    struct DedicatedLinkFacts {
        var generation: UInt64
        var isClosed: Bool
    }

    /// What to do about the client's own connection.
    enum DedicatedLinkStep: Equatable {
        /// Send on the current one.
        case use
        /// Nothing to send on now; if `retire`, let the current one go (once its replies are in).
        case none(retire: Bool)
        /// Open a connection to the usable master, starting with `handshake` (the proxy's AUTH
        /// and the client's replayed state) whose `replies` are swallowed; retire the current one
        /// first if `retire`.
        case open(handshake: ByteBuffer, replies: Int, retire: Bool)
    }
}
