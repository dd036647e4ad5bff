import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The proxy's single source of truth for which server is the master. Discovery publishes
/// to it; it tells every event loop. Publishing the same master again confirms it (and
/// ends a loop's doubt after a lost connection).
final class ProxyRouter: Sendable {
    private struct State {
        var endpoint: ProxyEndpoint?
        var target: MasterTarget?
        var generation: UInt64 = 0
        /// Changes of master: counted against the last master routed to, so a switch that
        /// passes through a hold (no master for a moment) still counts once.
        var switches = 0
        var lastMaster: ProxyEndpoint?
        var trouble = false
        var replicas: [ProxyEndpoint] = []
        /// Whom discovery believes and why, as `INFO proxy` fields.
        var belief: [(String, String)] = []
    }

    private let state = NIOLockedValueBox(State())
    private let loops = NIOLockedValueBox<[NIOLoopBound<ProxyLoop>]>([])
    let settings: ProxySettings
    let logger: Logger

    init(settings: ProxySettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    func attach(_ loops: [NIOLoopBound<ProxyLoop>]) {
        self.loops.withLockedValue { $0 = loops }
    }

    var attachedLoops: [NIOLoopBound<ProxyLoop>] { loops.withLockedValue { $0 } }

    /// How many times the master routed to has changed (INFO proxy's `switches`).
    var switchCount: Int { state.withLockedValue { $0.switches } }

    /// The master everything should go to now, or nil for none (commands are held).
    func publish(_ endpoint: ProxyEndpoint?) {
        var address: SocketAddress?
        if let endpoint {
            address = try? SocketAddress.makeAddressResolvingHost(endpoint.host, port: endpoint.port)
            if address == nil { logger.error("cannot resolve master address \(endpoint)") }
        }
        let (target, changed, previous) = state.withLockedValue { s -> (MasterTarget?, Bool, ProxyEndpoint?) in
            let previous = s.endpoint
            if let endpoint, let address {
                if s.endpoint == endpoint, let target = s.target { return (target, false, previous) }
                s.generation += 1
                if let last = s.lastMaster, last != endpoint { s.switches += 1 }
                s.lastMaster = endpoint
                s.endpoint = endpoint
                s.target = MasterTarget(endpoint: endpoint, address: address, generation: s.generation)
                return (s.target, true, previous)
            }
            if s.target == nil { return (nil, false, previous) }
            s.target = nil
            s.endpoint = nil
            return (nil, true, previous)
        }
        if changed {
            if let target {
                logger.notice("master of '\(settings.groupName)' is \(target.endpoint)\(previous.map { " (was \($0))" } ?? "")")
            } else {
                logger.warning("no master for '\(settings.groupName)' (was \(previous.map(\.description) ?? "none")); holding commands")
            }
        }
        for loop in loops.withLockedValue({ $0 }) {
            loop.eventLoop.execute { loop.value.setMaster(target) }
        }
    }

    /// The replicas reads may go to (`--read-from replicas`): healthy ones following the master.
    func publishReplicas(_ endpoints: [ProxyEndpoint]) {
        guard settings.readFromReplicas else { return }
        let targets = endpoints.compactMap { endpoint -> MasterTarget? in
            guard let address = try? SocketAddress.makeAddressResolvingHost(endpoint.host, port: endpoint.port) else { return nil }
            return MasterTarget(endpoint: endpoint, address: address, generation: 0)
        }
        let changed = state.withLockedValue { s in
            defer { s.replicas = endpoints }
            return s.replicas != endpoints
        }
        if changed {
            logger.notice("reads may go to replicas: \(endpoints.isEmpty ? "none" : endpoints.map(\.description).joined(separator: ", "))")
        }
        for loop in loops.withLockedValue({ $0 }) {
            loop.eventLoop.execute { loop.value.setReplicas(targets) }
        }
    }

    /// Every loop: closes its clients and refuses new ones (`refusing`), or takes them again.
    func setRefusing(_ refusing: Bool, closingClients: Bool) async {
        for loop in loops.withLockedValue({ $0 }) {
            try? await loop.eventLoop.submit { loop.value.setRefusing(refusing, closingClients: closingClients) }.get()
        }
    }

    func closeClients() async {
        for loop in loops.withLockedValue({ $0 }) {
            try? await loop.eventLoop.submit { loop.value.closeClients() }.get()
        }
    }

    /// Whom discovery believes and why (`INFO proxy` shows these fields).
    func publishBelief(_ fields: [(String, String)]) {
        state.withLockedValue { $0.belief = fields }
    }

    /// A loop lost its connection to the master or was told -READONLY: check now.
    func reportTrouble() {
        state.withLockedValue { $0.trouble = true }
    }

    /// Whether trouble was reported since the last call.
    func takeTrouble() -> Bool {
        state.withLockedValue { s in
            defer { s.trouble = false }
            return s.trouble
        }
    }

    var currentMaster: ProxyEndpoint? { state.withLockedValue { $0.endpoint } }

    /// The `INFO proxy` text, with counters summed over all loops.
    func infoText(on eventLoop: any EventLoop) -> EventLoopFuture<String> {
        let loops = self.loops.withLockedValue { $0 }
        let futures = loops.map { loop in loop.eventLoop.submit { loop.value.counters } }
        let snapshot = state.withLockedValue { $0 }
        let settings = self.settings
        return EventLoopFuture.whenAllSucceed(futures, on: eventLoop).map { all in
            let c = all.reduce(ProxyCounters(), +)
            var lines = ["# Proxy"]
            switch settings.discovery {
            case .sentinel(let sentinels, let name):
                lines.append("discovery:sentinel")
                lines.append("master_name:\(name)")
                lines.append("sentinels:\(sentinels.map(\.description).joined(separator: ","))")
            case .backends(let backends):
                lines.append("discovery:backends")
                lines.append("backends:\(backends.map(\.description).joined(separator: ","))")
            case .cluster(let nodes):
                lines.append("discovery:cluster")
                lines.append("cluster_seeds:\(nodes.map(\.description).joined(separator: ","))")
            }
            for (key, value) in snapshot.belief { lines.append("\(key):\(value)") }
            lines.append("master:\(snapshot.endpoint?.description ?? "none")")
            lines.append("master_generation:\(snapshot.generation)")
            lines.append("switches:\(snapshot.switches)")
            lines.append("read_from:\(settings.readFromReplicas ? "replicas" : "master")")
            lines.append("durability:\(settings.waitReplicas > 0 ? "replicated" : "async")")
            if settings.waitReplicas > 0 {
                lines.append("wait_replicas:\(settings.waitReplicas)")
                lines.append("wait_timeout_ms:\(settings.waitTimeout.nanoseconds / 1_000_000)")
            }
            if settings.readFromReplicas {
                lines.append("replicas:\(snapshot.replicas.map(\.description).joined(separator: ","))")
            }
            lines.append("connected_clients:\(c.connectedClients)")
            lines.append("dedicated_clients:\(c.dedicatedClients)")
            lines.append("total_connections_received:\(c.connectionsReceived)")
            lines.append("rejected_connections:\(c.connectionsRejected)")
            lines.append("total_commands_processed:\(c.commands)")
            lines.append("proxy_errors:\(c.proxyErrors)")
            lines.append("retried_commands:\(c.retriedCommands)")
            lines.append("unconfirmed_writes:\(c.unconfirmedWrites)")
            lines.append("held_commands_timed_out:\(c.heldTimeouts)")
            lines.append("total_net_input_bytes:\(c.bytesIn)")
            lines.append("total_net_output_bytes:\(c.bytesOut)")
            lines.append("backend_connects:\(c.backendConnects)")
            lines.append("backend_connect_failures:\(c.backendConnectFailures)")
            return lines.joined(separator: "\r\n") + "\r\n"
        }
    }
}
