/// keepalived's `vrrp_script` result logic: `fall` consecutive failures make a check down,
/// `rise` consecutive successes make it up again. Pure: the shell runs the script and feeds
/// each result (a timeout is a failure).
public struct CheckTracker: Sendable, Hashable {
    public let fall: Int
    public let rise: Int
    public private(set) var up: Bool
    private var failures = 0
    private var successes = 0

    /// `initiallyUp: false` is keepalived's `init_fail`.
    public init(fall: Int = 1, rise: Int = 1, initiallyUp: Bool = true) {
        self.fall = max(fall, 1)
        self.rise = max(rise, 1)
        self.up = initiallyUp
    }

    /// Records one result; returns the new state when it changed.
    public mutating func record(success: Bool) -> Bool? {
        if success {
            failures = 0
            successes += 1
            if !up && successes >= rise {
                up = true
                return true
            }
        } else {
            successes = 0
            failures += 1
            if up && failures >= fall {
                up = false
                return false
            }
        }
        return nil
    }
}
