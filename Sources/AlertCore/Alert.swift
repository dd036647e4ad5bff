/// One thing an operator is told about: a failover's start, end or abort, a master switch, an
/// ODOWN, an unreachable node or sentinel, a fence, a VIP move. PURE: built from the daemons'
/// own events by `AlertRules`; the shell only adds the wall-clock time and sends it.
public struct Alert: Sendable, Hashable {
    /// What happened, as the payload's `event` field.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case failoverStart = "failover-start"
        case failoverEnd = "failover-end"
        case failoverAbort = "failover-abort"
        case masterSwitched = "master-switched"
        case odown
        case odownCleared = "odown-cleared"
        case unreachable
        case reachable
        case fenced
        case unfenced
        case vipState = "vip-state"
    }

    /// `critical` (act now), `warning` (look soon), `info` (recovered or expected).
    public enum Severity: String, Sendable, Hashable { case critical, warning, info }

    public var kind: Kind
    public var severity: Severity
    /// The group: the Sentinel master name, or the VRRP instance for `vip-state`.
    public var group: String?
    /// One line a person reads (the email subject, the webhook's `summary`).
    public var summary: String
    /// What it came from: the Sentinel event name (`+odown`), `fence` or `vrrp`.
    public var origin: String
    /// The event's text as published (a Sentinel event's payload), when there is one.
    public var detail: String?
    /// Named parts: `instance_type`, `name`, `ip`, `port`, `from`, `to`, `state`, `reason`…
    public var fields: [String: String]

    public init(kind: Kind, severity: Severity, group: String?, summary: String, origin: String,
                detail: String? = nil, fields: [String: String] = [:]) {
        self.kind = kind
        self.severity = severity
        self.group = group
        self.summary = summary
        self.origin = origin
        self.detail = detail
        self.fields = fields
    }
}
