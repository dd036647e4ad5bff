/// PURE: reads a sentinel's own events into failover outcomes for the metrics. An attempt
/// starts at `+try-failover`; this sentinel runs the failover once it is `+elected-leader`.
/// A failover it runs succeeds at `+switch-master` and is aborted at any `-failover-abort-*`.
/// An attempt that loses the election (`-failover-abort-not-elected`, or another sentinel's
/// `+switch-master` learnt from its hello) is no outcome of this sentinel's: otherwise every
/// ordinary failover would also count the losers' attempts.
public struct FailoverTracker: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// A new attempt (`+try-failover`), whatever becomes of it.
        case attempt(master: String)
        case success(master: String, seconds: Double)
        case abort(master: String, reason: String)
    }

    private struct Attempt: Sendable {
        var since: Double
        var elected = false
    }

    /// Open attempts by master name; times in seconds on any monotonic clock.
    private var open: [String: Attempt] = [:]

    public init() {}

    /// One event (`type`, `payload` as published) at `now`.
    public mutating func observe(type: String, payload: String, now: Double) -> Outcome? {
        let words = payload.split(separator: " ", omittingEmptySubsequences: true)
        // Instance events say "master NAME IP PORT"; +switch-master says "NAME OLD-IP OLD-PORT NEW-IP NEW-PORT".
        let instanceMaster = words.count >= 2 && words[0] == "master" ? String(words[1]) : nil
        switch type {
        case "+try-failover":
            guard let name = instanceMaster else { return nil }
            open[name] = Attempt(since: now)
            return .attempt(master: name)
        case "+elected-leader":
            guard let name = instanceMaster else { return nil }
            open[name]?.elected = true
            return nil
        case "+switch-master":
            guard let name = words.first.map(String.init), let attempt = open.removeValue(forKey: name), attempt.elected else { return nil }
            return .success(master: name, seconds: max(0, now - attempt.since))
        default:
            guard type.hasPrefix("-failover-abort-"), let name = instanceMaster,
                  let attempt = open.removeValue(forKey: name), attempt.elected else { return nil }
            return .abort(master: name, reason: String(type.dropFirst("-failover-abort-".count)))
        }
    }
}
