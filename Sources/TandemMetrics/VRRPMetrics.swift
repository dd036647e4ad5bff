import Prometheus
import VRRP
import VRRPCore

extension MetricsRegistry {
    /// `tandem_vrrp_*` per instance: the state (one series per state, 1 for the current one, as
    /// node_exporter shows an enum) and the number of transitions.
    public func addVRRP(_ daemon: VRRPDaemon) {
        let names = daemon.instanceNames
        let all: [VRRPState] = [.initialize, .backup, .master, .fault, .stopped]
        let stateGauges = names.map { name in
            all.map { state in (state, gauge("tandem_vrrp_state", "1 for the state the VRRP instance is in (INIT, BACKUP, MASTER, FAULT, STOP).",
                                             [("instance", name), ("state", state.rawValue)])) }
        }
        let transitions = names.map {
            CounterMirror(counter("tandem_vrrp_transitions_total", "State changes of the VRRP instance.", [("instance", $0)]))
        }
        let isMaster = names.map { gauge("tandem_vrrp_master", "1 while this node is MASTER of the VRRP instance (holds its addresses).", [("instance", $0)]) }
        addCollector {
            let states = daemon.states
            let counts = daemon.transitionCounts
            for i in names.indices {
                let current = i < states.count ? states[i] : .initialize
                for (state, gauge) in stateGauges[i] { gauge.set(to: state == current ? 1 : 0) }
                isMaster[i].set(to: current == .master ? 1 : 0)
                if i < counts.count { transitions[i].follow(counts[i]) }
            }
        }
    }
}
