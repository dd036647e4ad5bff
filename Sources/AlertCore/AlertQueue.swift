/// How a sink retries: `attempts` tries in all, waiting `firstBackoff` after the first failure and
/// twice as long after each next one, up to `maxBackoff`; each try is given `timeout`. At most
/// `capacity` alerts wait (the one being sent included); a full queue drops its oldest waiting
/// alert, and the next one sent says how many were dropped before it.
public struct AlertPolicy: Sendable, Hashable {
    public var attempts: Int
    public var firstBackoffMilliseconds: Int64
    public var maxBackoffMilliseconds: Int64
    public var timeoutMilliseconds: Int64
    public var capacity: Int

    public init(attempts: Int = 4, firstBackoffMilliseconds: Int64 = 1000, maxBackoffMilliseconds: Int64 = 30_000,
                timeoutMilliseconds: Int64 = 5000, capacity: Int = 64) {
        self.attempts = max(1, attempts)
        self.firstBackoffMilliseconds = max(0, firstBackoffMilliseconds)
        self.maxBackoffMilliseconds = max(self.firstBackoffMilliseconds, maxBackoffMilliseconds)
        self.timeoutMilliseconds = max(1, timeoutMilliseconds)
        self.capacity = max(1, capacity)
    }

    /// The wait after failed attempt `n` (1-based).
    public func backoff(afterAttempt n: Int) -> Int64 {
        var wait = firstBackoffMilliseconds
        for _ in 1..<max(1, n) {
            wait *= 2
            if wait >= maxBackoffMilliseconds { return maxBackoffMilliseconds }
        }
        return min(wait, maxBackoffMilliseconds)
    }
}

/// PURE: one sink's queue (the webhook's, the email's) on a clock the caller reads: which alert
/// to send now, when to try again, what to drop. One alert is in flight at a time, in the order
/// they came; the sender's slowness only ever delays other alerts, never the caller of `enqueue`.
public struct AlertQueue: Sendable {
    /// An alert with what the payload says about its sending.
    public struct Entry: Sendable, Hashable {
        /// 1, 2, … in this process, in the order the alerts came.
        public var sequence: UInt64
        public var alert: Alert
        /// When it happened (RFC 3339, from the shell's wall clock).
        public var time: String
        /// This try's number, from 1.
        public var attempt: Int = 0
        /// Alerts dropped (queue full) since the last one delivered, reported by this one.
        public var droppedBefore: Int = 0

        public init(sequence: UInt64, alert: Alert, time: String, attempt: Int = 0, droppedBefore: Int = 0) {
            self.sequence = sequence
            self.alert = alert
            self.time = time
            self.attempt = attempt
            self.droppedBefore = droppedBefore
        }
    }

    public enum Outcome: Sendable, Hashable {
        case delivered(sequence: UInt64, attempts: Int)
        case retry(sequence: UInt64, at: Int64, attempt: Int, error: String)
        case gaveUp(sequence: UInt64, attempts: Int, error: String)
        /// Dropped unsent: the queue was full when a newer alert came.
        case dropped(sequence: UInt64)
    }

    public let policy: AlertPolicy
    private var waiting: [Entry] = []
    private var sending = false
    /// The head's earliest next try (its backoff).
    private var notBefore: Int64 = .min
    private var nextSequence: UInt64 = 1
    private var droppedUnreported = 0
    public private(set) var deliveredCount = 0
    public private(set) var failedCount = 0
    public private(set) var droppedCount = 0

    public init(policy: AlertPolicy) {
        self.policy = policy
    }

    /// Alerts waiting, the one in flight included.
    public var count: Int { waiting.count }
    public var isSending: Bool { sending }

    /// Queues `alert`; when full, the oldest alert not in flight is dropped (returned).
    public mutating func enqueue(_ alert: Alert, time: String, now: Int64) -> [Outcome] {
        var outcomes: [Outcome] = []
        while waiting.count >= policy.capacity {
            let index = sending ? 1 : 0
            guard index < waiting.count else { break }
            let gone = waiting.remove(at: index)
            if index == 0 { notBefore = .min }
            droppedUnreported += 1
            droppedCount += 1
            outcomes.append(.dropped(sequence: gone.sequence))
        }
        waiting.append(Entry(sequence: nextSequence, alert: alert, time: time))
        nextSequence += 1
        return outcomes
    }

    /// The alert to send now, if one is due and none is in flight; it is in flight until `finish`.
    public mutating func start(now: Int64) -> Entry? {
        guard !sending, !waiting.isEmpty, now >= notBefore else { return nil }
        sending = true
        waiting[0].attempt += 1
        waiting[0].droppedBefore = droppedUnreported
        return waiting[0]
    }

    /// When `start` may next return an alert: nil when nothing waits or one is in flight.
    public var wakeAt: Int64? {
        guard !sending, !waiting.isEmpty else { return nil }
        return notBefore
    }

    /// The in-flight alert's try ended: `error` nil if delivered.
    public mutating func finish(error: String?, now: Int64) -> Outcome? {
        guard sending, !waiting.isEmpty else { return nil }
        sending = false
        let head = waiting[0]
        guard let error else {
            waiting.removeFirst()
            notBefore = .min
            droppedUnreported -= head.droppedBefore
            deliveredCount += 1
            return .delivered(sequence: head.sequence, attempts: head.attempt)
        }
        if head.attempt >= policy.attempts {
            waiting.removeFirst()
            notBefore = .min
            failedCount += 1
            return .gaveUp(sequence: head.sequence, attempts: head.attempt, error: error)
        }
        notBefore = now + policy.backoff(afterAttempt: head.attempt)
        return .retry(sequence: head.sequence, at: notBefore, attempt: head.attempt + 1, error: error)
    }
}
