/// The client classes `client-output-buffer-limit` names (Redis's getClientTypeByName, less
/// `master`, which the directive refuses).
public enum OutputBufferClass: String, Sendable, Hashable, CaseIterable {
    case normal
    case replica
    case pubsub

    /// `normal`, `replica` or its old name `slave`, `pubsub` (any case); nil otherwise.
    public init?(name: String) {
        switch name.lowercased() {
        case "normal": self = .normal
        case "replica", "slave": self = .replica
        case "pubsub": self = .pubsub
        default: return nil
        }
    }
}

/// One class's `client-output-buffer-limit <class> <hard> <soft> <soft seconds>`: a client whose
/// pending output reaches `hard` bytes, or stays at `soft` bytes or more for longer than
/// `softSeconds`, is closed. 0 disables a limit.
public struct OutputBufferLimit: Sendable, Hashable {
    public var hard: UInt64
    public var soft: UInt64
    public var softSeconds: UInt64

    public init(hard: UInt64, soft: UInt64, softSeconds: UInt64) {
        self.hard = hard
        self.soft = soft
        self.softSeconds = softSeconds
    }

    /// Redis 7.0's defaults: normal 0 0 0, replica 256mb 64mb 60, pubsub 32mb 8mb 60.
    public static let defaults: [OutputBufferClass: OutputBufferLimit] = [
        .normal: OutputBufferLimit(hard: 0, soft: 0, softSeconds: 0),
        .replica: OutputBufferLimit(hard: 256 << 20, soft: 64 << 20, softSeconds: 60),
        .pubsub: OutputBufferLimit(hard: 32 << 20, soft: 8 << 20, softSeconds: 60),
    ]

    /// The directive's arguments (after its name): one or more quadruples, all checked before
    /// any applies, with redis-server 7.0's messages.
    public static func parse(_ arguments: [String]) -> Result<[(OutputBufferClass, OutputBufferLimit)], OutputBufferLimitError> {
        guard !arguments.isEmpty, arguments.count % 4 == 0 else {
            return .failure(OutputBufferLimitError("Wrong number of arguments in buffer limit configuration."))
        }
        var parsed: [(OutputBufferClass, OutputBufferLimit)] = []
        for start in stride(from: 0, to: arguments.count, by: 4) {
            guard let kind = OutputBufferClass(name: arguments[start]) else {
                return .failure(OutputBufferLimitError("Invalid client class specified in buffer limit configuration."))
            }
            guard let hard = memoryValue(arguments[start + 1]), let soft = memoryValue(arguments[start + 2]),
                  let seconds = memoryValue(arguments[start + 3]) else {
                return .failure(OutputBufferLimitError("Error in hard, soft or soft_seconds setting in buffer limit configuration."))
            }
            parsed.append((kind, OutputBufferLimit(hard: hard, soft: soft, softSeconds: seconds)))
        }
        return .success(parsed)
    }

    /// Redis's memtoull: digits (none means 0) and an optional unit b, k, kb, m, mb, g, gb in
    /// any case (k = 1000, kb = 1024, …); nil for anything else or an overflow.
    public static func memoryValue(_ text: String) -> UInt64? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count).lowercased()
        let multiplier: UInt64
        switch unit {
        case "", "b": multiplier = 1
        case "k": multiplier = 1000
        case "kb": multiplier = 1024
        case "m": multiplier = 1_000_000
        case "mb": multiplier = 1 << 20
        case "g": multiplier = 1_000_000_000
        case "gb": multiplier = 1 << 30
        default: return nil
        }
        guard digits.count < 128 else { return nil }
        guard let value = digits.isEmpty ? 0 : UInt64(digits) else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }
}

public struct OutputBufferLimitError: Error, Sendable, Hashable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// One client's standing against its class's limit (Redis's checkClientOutputBufferLimits and
/// `obuf_soft_limit_reached_time`). Pure: the caller passes the pending bytes and the time in
/// whole seconds (Redis compares `server.unixtime`).
public struct OutputLimitTracker: Sendable, Hashable {
    /// When the soft limit was first seen reached, in the caller's seconds (nil: it is not).
    public private(set) var softReachedAt: Int64?

    public init() {}

    /// Whether the client must be closed now, with `used` bytes of output pending.
    public mutating func exceeded(used: UInt64, limit: OutputBufferLimit, nowSeconds: Int64) -> Bool {
        let hard = limit.hard > 0 && used >= limit.hard
        var soft = limit.soft > 0 && used >= limit.soft
        if soft {
            if let since = softReachedAt {
                // Reached only once it has lasted more than softSeconds, as 7.0 counts.
                let elapsed = nowSeconds - since
                if elapsed < 0 || UInt64(elapsed) <= limit.softSeconds { soft = false }
            } else {
                softReachedAt = nowSeconds
                soft = false
            }
        } else {
            softReachedAt = nil
        }
        return soft || hard
    }
}
