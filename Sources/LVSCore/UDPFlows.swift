/// UDP "connections" of a virtual server, as IPVS keeps them: a flow is one client address and
/// port; its first datagram is placed by the scheduler (`VirtualServerState.connect`), and every
/// later datagram of that client goes to the same real server until the flow has seen no
/// datagram either way for `idleTimeout` (IPVS's UDP timeout, 300 s by default). The shell owns
/// a socket per flow; this table only decides when a flow is over. Pure: time comes in `now`.
public struct UDPFlows<Flow: Hashable & Sendable>: Sendable {
    /// IPVS's default UDP timeout (`ipvsadm --set`'s third value).
    public static var defaultIdleTimeout: Duration { .seconds(300) }

    public let idleTimeout: Duration
    /// Each flow's last datagram, either way.
    private var lastSeen: [Flow: Duration] = [:]

    public init(idleTimeout: Duration = .seconds(300)) {
        self.idleTimeout = idleTimeout
    }

    /// Flows open now.
    public var count: Int { lastSeen.count }

    public func contains(_ flow: Flow) -> Bool { lastSeen[flow] != nil }

    /// A new flow (its first datagram was placed) or a datagram on one, either way: its idle
    /// time starts again.
    public mutating func seen(_ flow: Flow, now: Duration) {
        lastSeen[flow] = now
    }

    /// A flow that ended otherwise (its socket failed, the virtual server stopped).
    public mutating func remove(_ flow: Flow) {
        lastSeen[flow] = nil
    }

    /// The flows idle for `idleTimeout` by `now`, removed from the table: the shell closes their
    /// sockets and tells the core each connection closed.
    public mutating func expire(now: Duration) -> [Flow] {
        let over = lastSeen.filter { now - $0.value >= idleTimeout }.map { $0.key }
        for flow in over { lastSeen[flow] = nil }
        return over
    }

    /// When the next flow runs idle (nil: none open).
    public var nextDeadline: Duration? {
        lastSeen.values.min().map { $0 + idleTimeout }
    }
}
