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
    /// CLIENT TRACKING state (no key is ever invalidated on a sentinel's port, but the state
    /// is kept and reported as 7.0 keeps it), and CLIENT NO-EVICT.
    let tracking = NIOLockedValueBox(TrackingState())
    let noEvict = NIOLockedValueBox(false)
    /// Buffers, for CLIENT LIST's memory fields.
    let buffers = NIOLockedValueBox(Buffers())
    /// Closes the connection (CLIENT KILL, ACL DELUSER, SHUTDOWN).
    private let closer: @Sendable () -> Void
    /// Set when killed: the client is gone for CLIENT LIST / KILL at once, as in Redis, even
    /// before its connection has finished closing.
    let killed = NIOLockedValueBox(false)

    /// Bytes of requests received and not yet run (shared with the connection's InputCounter).
    let unprocessedInput: NIOLockedValueBox<Int>

    init(id: UInt64, address: String = "?:0", localAddress: String = "?:0",
         unprocessedInput: NIOLockedValueBox<Int> = NIOLockedValueBox(0), closer: @escaping @Sendable () -> Void = {}) {
        self.unprocessedInput = unprocessedInput
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

/// The connected clients, for CLIENT LIST / KILL and INFO.
final class ClientRegistry: Sendable {
    private let sessions = NIOLockedValueBox<[UInt64: ClientSession]>([:])
    let stats = NIOLockedValueBox(Stats())

    /// Samples for INFO's instantaneous_* fields, as Redis takes them: every 100 ms, the
    /// average of the last 16.
    let samples = NIOLockedValueBox(InstantaneousMetrics())
    /// The largest request and reply of each of the last 8 seconds (client_recent_max_*).
    let recentPeaks = NIOLockedValueBox(RecentPeaks())

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

/// `trackInstantaneousMetric`: rates measured every 100 ms, averaged over the last 16 samples.
struct InstantaneousMetrics: Sendable {
    private var last: (at: ContinuousClock.Instant, commands: Int, input: Int, output: Int)?
    private var rates: [(commands: Double, input: Double, output: Double)] = []

    mutating func sample(_ stats: ClientRegistry.Stats, now: ContinuousClock.Instant) {
        let current = (at: now, commands: stats.commandsProcessed, input: stats.inputBytes, output: stats.outputBytes)
        guard let last else {
            self.last = current
            return
        }
        guard now - last.at >= .milliseconds(100) else { return }
        let d = now - last.at
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        rates.append((Double(current.commands - last.commands) / seconds,
                      Double(current.input - last.input) / seconds,
                      Double(current.output - last.output) / seconds))
        if rates.count > 16 { rates.removeFirst(rates.count - 16) }
        self.last = current
    }

    var opsPerSecond: Int { rates.isEmpty ? 0 : Int(rates.map(\.commands).reduce(0, +) / Double(rates.count)) }
    var inputKbps: Double { rates.isEmpty ? 0 : rates.map(\.input).reduce(0, +) / Double(rates.count) / 1024 }
    var outputKbps: Double { rates.isEmpty ? 0 : rates.map(\.output).reduce(0, +) / Double(rates.count) / 1024 }
}

/// The largest input and output buffer of any client, per second over the last 8 seconds
/// (Redis's CLIENTS_PEAK_MEM_USAGE_SLOTS).
struct RecentPeaks: Sendable {
    private var slots: [(second: Int64, input: Int, output: Int)] = []

    mutating func record(input: Int, output: Int, second: Int64) {
        slots.removeAll { $0.second <= second - 8 }
        if let i = slots.firstIndex(where: { $0.second == second }) {
            slots[i].input = max(slots[i].input, input)
            slots[i].output = max(slots[i].output, output)
        } else {
            slots.append((second, input, output))
        }
    }

    func maxima(second: Int64) -> (input: Int, output: Int) {
        let recent = slots.filter { $0.second > second - 8 }
        return (recent.map(\.input).max() ?? 0, recent.map(\.output).max() ?? 0)
    }
}
