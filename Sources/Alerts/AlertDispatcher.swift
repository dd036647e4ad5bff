import AlertCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The alerts' shell: `post` queues an alert and returns at once (a short lock, no I/O); one
/// thread per sink (webhook, email) asks its `AlertQueue` what to send and when, and does the
/// HTTP or SMTP. A slow or dead sink delays only the alerts behind it, never the daemon.
public final class AlertDispatcher: @unchecked Sendable {
    private enum Target {
        case webhook(WebhookURL)
        case email(SMTPAlert)
    }

    /// Its queue is read and changed only under `condition`.
    private final class Sink: @unchecked Sendable {
        let name: String
        let target: Target
        var queue: AlertQueue
        init(name: String, target: Target, queue: AlertQueue) {
            self.name = name
            self.target = target
            self.queue = queue
        }
    }

    private let condition = NSCondition()
    private let sinks: [Sink]
    private var closed = false
    private let sender: AlertPayload.Sender
    private let log: @Sendable (String) -> Void
    private let timeout: Int64

    /// nil when `settings` names no sink.
    public init?(settings: AlertSettings, daemon: String, source: String, log: @escaping @Sendable (String) -> Void) {
        guard !settings.isEmpty else { return nil }
        let host = Self.hostName()
        sender = AlertPayload.Sender(daemon: daemon, source: source, host: host)
        self.log = log
        timeout = settings.policy.timeoutMilliseconds
        var sinks: [Sink] = []
        if let url = settings.webhook {
            sinks.append(Sink(name: "webhook \(url)", target: .webhook(url), queue: AlertQueue(policy: settings.policy)))
        }
        if let email = settings.email {
            let smtp = SMTPAlert(host: email.host, port: email.port, from: email.from, to: email.to, heloName: host,
                                 connectTimeout: Int(max(1, (settings.policy.timeoutMilliseconds + 999) / 1000)))
            sinks.append(Sink(name: "email via \(email.server)", target: .email(smtp), queue: AlertQueue(policy: settings.policy)))
        }
        self.sinks = sinks
        for sink in sinks {
            let thread = Thread { [self] in run(sink) }
            thread.name = "tandem-alerts"
            thread.start()
        }
    }

    /// Queues `alert` for every sink. Never waits on a sink.
    public func post(_ alert: Alert) {
        let time = Self.rfc3339Now()
        var notes: [String] = []
        condition.lock()
        if !closed {
            for sink in sinks {
                for case .dropped(let sequence) in sink.queue.enqueue(alert, time: time, now: monotonicMilliseconds()) {
                    notes.append("alert #\(sequence) dropped: the \(sink.name) queue is full")
                }
            }
            condition.broadcast()
        }
        condition.unlock()
        notes.forEach(log)
    }

    /// Stops the senders after their current try; what is still queued is not sent.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Per sink: delivered, given up, dropped (for tests and the logs).
    public var counts: [(sink: String, delivered: Int, failed: Int, dropped: Int)] {
        condition.lock()
        defer { condition.unlock() }
        return sinks.map { ($0.name, $0.queue.deliveredCount, $0.queue.failedCount, $0.queue.droppedCount) }
    }

    private func run(_ sink: Sink) {
        condition.lock()
        while !closed {
            let now = monotonicMilliseconds()
            if let entry = sink.queue.start(now: now) {
                condition.unlock()
                let error = deliver(entry, to: sink.target)
                condition.lock()
                let outcome = sink.queue.finish(error: error, now: monotonicMilliseconds())
                condition.unlock()
                if let outcome { report(outcome, entry, sink) }
                condition.lock()
            } else if let wake = sink.queue.wakeAt {
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(max(1, wake - now)) / 1000))
            } else {
                condition.wait()
            }
        }
        condition.unlock()
    }

    private func deliver(_ entry: AlertQueue.Entry, to target: Target) -> String? {
        switch target {
        case .webhook(let url):
            return WebhookPost.send(url, body: AlertPayload.json(entry, sender: sender), timeoutMilliseconds: timeout)
        case .email(let smtp):
            let (subject, body) = AlertPayload.email(entry, sender: sender)
            return smtp.deliver(subject: subject, body: body)
        }
    }

    private func report(_ outcome: AlertQueue.Outcome, _ entry: AlertQueue.Entry, _ sink: Sink) {
        let what = "alert #\(entry.sequence) \(entry.alert.kind.rawValue)"
        switch outcome {
        case .delivered(_, let attempts):
            log("\(what) sent by \(sink.name)" + (attempts > 1 ? " (attempt \(attempts))" : ""))
        case .retry(_, let at, let attempt, let error):
            log("\(what) not sent by \(sink.name): \(error); attempt \(attempt) in \(max(0, at - monotonicMilliseconds())) ms")
        case .gaveUp(_, let attempts, let error):
            log("\(what) not sent by \(sink.name) after \(attempts) attempts, given up: \(error)")
        case .dropped:
            break
        }
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `2026-12-05T15:04:05.123Z`.
    static func rfc3339Now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var tm = tm()
        gmtime_r(&seconds, &tm)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &tm)
        let base = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let ms = Int(ts.tv_nsec / 1_000_000)
        return base + "." + String(repeating: "0", count: ms < 10 ? 2 : ms < 100 ? 1 : 0) + String(ms) + "Z"
    }
}
