/// PURE: reads a sentinel's own events into failover outcomes for the metrics. A failover this
/// sentinel tries starts at `+try-failover`; it succeeds at `+switch-master` and is aborted at
/// any `-failover-abort-*` (a sentinel that tried but lost the election ends in
/// `-failover-abort-not-elected`). A `+switch-master` learnt from another sentinel's hello,
/// with no attempt of this one's open, is no outcome.
public struct FailoverTracker: Sendable {
    public enum Outcome: Sendable, Equatable {
        case success(master: String, seconds: Double)
        case abort(master: String, reason: String)
    }

    /// Open attempts: master name → when it started (seconds on any monotonic clock).
    private var started: [String: Double] = [:]

    public init() {}

    /// One event (`type`, `payload` as published) at `now`.
    public mutating func observe(type: String, payload: String, now: Double) -> Outcome? {
        let words = payload.split(separator: " ", omittingEmptySubsequences: true)
        switch type {
        case "+try-failover":
            // "master NAME IP PORT"
            guard words.count >= 2, words[0] == "master" else { return nil }
            started[String(words[1])] = now
            return nil
        case "+switch-master":
            // "NAME OLD-IP OLD-PORT NEW-IP NEW-PORT"
            guard let name = words.first.map(String.init), let since = started.removeValue(forKey: name) else { return nil }
            return .success(master: name, seconds: max(0, now - since))
        default:
            guard type.hasPrefix("-failover-abort-"), words.count >= 2, words[0] == "master" else { return nil }
            let name = String(words[1])
            guard started.removeValue(forKey: name) != nil else { return nil }
            return .abort(master: name, reason: String(type.dropFirst("-failover-abort-".count)))
        }
    }
}
