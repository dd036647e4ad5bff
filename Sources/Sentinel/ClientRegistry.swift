import NIOConcurrencyHelpers
import NIOCore

/// The connected clients, for CLIENT LIST / KILL and INFO, and the counters over them: one
/// `Fields` value under one lock (read with `clients.stats`, change with `clients.update`).
final class ClientRegistry: FieldsUnderOneLock {
    let fields = NIOLockedValueBox(Fields())

    struct Fields: Sendable {
        var byID: [UInt64: SentinelClient] = [:]
        var stats = Stats()
        /// Samples for INFO's instantaneous_* fields, as Redis takes them: every 100 ms, the
        /// average of the last 16.
        var samples = InstantaneousMetrics()
        /// The largest request and reply of each of the last 8 seconds (client_recent_max_*).
        var recentPeaks = RecentPeaks()
    }

    struct Stats: Sendable {
        var connectionsReceived = 0
        var commandsProcessed = 0
        var errorReplies = 0
        var rejectedConnections = 0
        var inputBytes = 0
        var outputBytes = 0
    }

    func add(_ s: SentinelClient) {
        update {
            $0.byID[s.id] = s
            $0.stats.connectionsReceived += 1
        }
    }

    func remove(_ id: UInt64) { update { _ = $0.byID.removeValue(forKey: id) } }

    /// Every client, by id.
    var all: [SentinelClient] {
        fields.withLockedValue { $0.byID.values.filter { !$0.killed }.sorted { $0.id < $1.id } }
    }
}

/// A class whose changing state is one `Fields` value under one lock: `owner.name` reads a
/// field, `owner.update { … }` changes any of them together.
@dynamicMemberLookup
protocol FieldsUnderOneLock: AnyObject, Sendable {
    associatedtype Fields: Sendable
    var fields: NIOLockedValueBox<Fields> { get }
}

extension FieldsUnderOneLock {
    /// One field, read under the lock.
    subscript<T>(dynamicMember field: KeyPath<Fields, T>) -> T {
        fields.withLockedValue { $0[keyPath: field] }
    }

    /// Changes fields under the lock; what `change` returns.
    @discardableResult
    func update<T>(_ change: (inout Fields) -> T) -> T {
        fields.withLockedValue(change)
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
