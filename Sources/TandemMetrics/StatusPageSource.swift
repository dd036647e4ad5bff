import Foundation
import Proxy
import Sentinel
import SentinelCore
import Status
import Synchronization
import VRRP
import VRRPCore

/// What `GET /status.json` shows: each part of the daemon (its monitor, its proxy, its VRRP
/// instances, the node agent) adds a contributor that fills its part of the document from the
/// state the daemon keeps anyway, read when the page asks. The shell records when events
/// happened; `FailoverTimeline` (pure) makes failovers of them.
public final class StatusPageSource: Sendable {
    private let daemon: String
    private let node: String?
    private let contributors = Mutex<[@Sendable (inout StatusPage) async -> Void]>([])
    private let timeline = Mutex(FailoverTimeline())

    /// `daemon`: `sentinel`, `node`, `proxy` or `vrrp`; `node` the node's name.
    public init(daemon: String, node: String? = nil) {
        self.daemon = daemon
        self.node = node
    }

    /// Adds a part of the document.
    public func addContributor(_ contribute: @escaping @Sendable (inout StatusPage) async -> Void) {
        contributors.withLock { $0.append(contribute) }
    }

    /// The document now.
    public func page() async -> StatusPage {
        var page = StatusPage(daemon: daemon, node: node, time: Self.wallClock())
        for contribute in contributors.withLock({ $0 }) { await contribute(&page) }
        page.failovers = timeline.withLock { $0.failovers }
        return page
    }

    /// `INFO failovers`' lines: the failovers recorded so far (`tandem status` shows them).
    public func failoverInfoLines() -> [String] {
        FailoverSummary.infoLines(timeline.withLock { $0.failovers })
    }

    /// The monitor's groups from its own state, and its failovers from the events it publishes.
    public func addSentinel(_ runtime: SentinelRuntime) async {
        let myID = await runtime.state.myID
        timeline.withLock { $0.myID = myID }
        await runtime.addEventObserver { event in self.record(event) }
        addContributor { page in
            let s = await runtime.statusSnapshot()
            page.monitor = s.address
            page.groups = s.groups.map {
                var group = StatusReport.Group(master: $0.master, replicas: $0.replicas, sentinels: $0.sentinels, asked: s.address,
                                               askedRunID: s.myID, masterOffset: $0.masterOffset)
                // Its own epochs as its hellos say them; the peers' are heard only by `tandem status`.
                group.monitors[0].currentEpoch = Int64(truncatingIfNeeded: s.currentEpoch)
                group.monitors[0].configEpoch = group.configEpoch
                group.monitors[0].helloMaster = group.master
                return group
            }
        }
    }

    /// The proxy's counters (`INFO proxy`), `listen` the address clients use.
    public func addProxy(_ statistics: ProxyStatistics, listen: String?) {
        addContributor { page in
            guard let s = try? await statistics.snapshot() else { return }
            page.proxy = StatusPage.Proxy(listen: listen, masterKnown: s.masterKnown, connectedClients: s.connectedClients,
                                          commands: s.commands, masterSwitches: s.masterSwitches)
        }
    }

    /// The VRRP instances' states and their virtual addresses.
    public func addVRRP(_ daemon: VRRPDaemon, addresses: [[String]]) {
        addContributor { page in
            let names = daemon.instanceNames
            let states = daemon.states
            page.vrrp = names.indices.map { i in
                StatusPage.VRRPInstance(name: names[i], state: i < states.count ? states[i].rawValue : "INIT",
                                        addresses: i < addresses.count ? addresses[i] : [])
            }
        }
    }

    /// The VRRP instances' states and their virtual addresses as now configured (`tandem vrrp`,
    /// whose reload changes them).
    public func addVRRP(_ daemon: VRRPDaemon) {
        addContributor { page in
            let names = daemon.instanceNames
            let states = daemon.states
            let addresses = daemon.instanceAddresses
            page.vrrp = names.indices.map { i in
                StatusPage.VRRPInstance(name: names[i], state: i < states.count ? states[i].rawValue : "INIT",
                                        addresses: i < addresses.count ? addresses[i] : [])
            }
        }
    }

    /// One event the monitor published, with the time it happened.
    private func record(_ event: SentinelEvent) {
        let at = Self.wallClock()
        timeline.withLock { $0.observe(type: event.type, payload: event.payload, at: at) }
    }

    /// The node agent's VIP came to this node: a step of the failover that led to it.
    public func recordVIP(holder: String) {
        let at = Self.wallClock()
        timeline.withLock { $0.observeVIP(holder: holder, at: at) }
    }

    static func wallClock() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
