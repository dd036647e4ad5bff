/// PURE: which VRRP state changes become alerts, on a clock the caller reads (milliseconds).
///
/// An instance starts in INIT and, while a weight-0 tracked object is down, goes to FAULT before
/// its first BACKUP or MASTER. Two kinds of FAULT are told apart by their causes (the tracked
/// objects down):
///
/// - **Held out by its own daemon** (every cause is one of `ownCauses`: the node agent's
///   `node eligible`, down while the node may not hold the VIP — at start until it has heard a
///   majority, and for good on a replica's node in direct placement). No trouble: not alerted
///   from INIT; from MASTER it is the VIP leaving (warning), from BACKUP info.
/// - **A real fault** (a tracked script or interface down, or a sync group's): critical at once,
///   except the FAULT an instance starts in before its first BACKUP or MASTER (a `track_script`
///   not run yet), which is alerted only if it is still FAULT when the startup grace ends
///   (`tick`): an instance that never gets going is still reported.
public struct VRRPAlertFilter: Sendable {
    /// How long after the start a real FAULT with no BACKUP or MASTER before it is taken as the start.
    public let startupGraceMilliseconds: Int64
    /// When the daemon started (the grace counts from here).
    public let startedAt: Int64
    /// Tracked objects the daemon itself sets down to hold an instance out (not faults).
    public let ownCauses: Set<String>

    private struct Waiting: Sendable {
        var priority: Int
        var addresses: [String]
        var causes: [String]
    }

    /// Each instance's last state (keepalived's word) as told.
    private var last: [String: String] = [:]
    /// Instances past their start: been BACKUP or MASTER, or their startup FAULT alerted.
    private var settled: Set<String> = []
    /// Instances in their startup FAULT, not alerted yet.
    private var waiting: [String: Waiting] = [:]

    public init(startedAt: Int64, startupGraceMilliseconds: Int64 = 30_000, ownCauses: Set<String> = []) {
        self.startedAt = startedAt
        self.startupGraceMilliseconds = max(0, startupGraceMilliseconds)
        self.ownCauses = ownCauses
    }

    /// When the startup grace ends: the caller's one `tick` is due then.
    public var graceEndsAt: Int64 { startedAt + startupGraceMilliseconds }

    /// Instance `instance` changed to `state` (keepalived's notify word: INIT, BACKUP, MASTER,
    /// FAULT, STOP) with `faultCauses` down: the alert to send now, or nil.
    public mutating func stateChanged(instance: String, state: String, priority: Int, addresses: [String],
                                      faultCauses: [String] = [], now: Int64) -> Alert? {
        let previous = last[instance]
        last[instance] = state
        if state == "FAULT", !faultCauses.isEmpty, faultCauses.allSatisfy(ownCauses.contains) {
            waiting[instance] = nil
            return heldOut(instance: instance, from: previous, priority: priority, addresses: addresses, causes: faultCauses)
        }
        if !settled.contains(instance) {
            switch state {
            case "FAULT" where now < graceEndsAt && (previous == nil || previous == "INIT" || previous == "FAULT"):
                waiting[instance] = Waiting(priority: priority, addresses: addresses, causes: faultCauses)
                return nil
            case "INIT", "INITIALIZE":
                return nil
            default:
                // BACKUP, MASTER, STOP, or a real FAULT after the grace: the start is over.
                waiting[instance] = nil
                settled.insert(instance)
            }
        }
        var alert = AlertRules.vrrpState(instance: instance, state: state, priority: priority, addresses: addresses)
        if state == "FAULT", !faultCauses.isEmpty { alert?.fields["fault"] = faultCauses.joined(separator: ",") }
        return alert
    }

    /// The startup FAULTs still waiting when the grace has ended, as critical alerts (each once).
    public mutating func tick(now: Int64) -> [Alert] {
        guard now >= graceEndsAt, !waiting.isEmpty else { return [] }
        let due = waiting.sorted { $0.key < $1.key }
        waiting = [:]
        return due.compactMap { instance, w in
            settled.insert(instance)
            guard var alert = AlertRules.vrrpState(instance: instance, state: "FAULT", priority: w.priority,
                                                   addresses: w.addresses) else { return nil }
            let seconds = startupGraceMilliseconds / 1000
            alert.summary = "VRRP instance \(instance) is still FAULT \(seconds) s after its start: it has not held"
                + (w.addresses.isEmpty ? " its addresses" : " \(w.addresses.joined(separator: " "))")
            alert.fields["since_start"] = "1"
            if !w.causes.isEmpty { alert.fields["fault"] = w.causes.joined(separator: ",") }
            return alert
        }
    }

    /// A FAULT its own daemon imposes: nothing from INIT (or FAULT), info from BACKUP, a warning
    /// from MASTER (the addresses leave this host).
    private func heldOut(instance: String, from previous: String?, priority: Int, addresses: [String],
                         causes: [String]) -> Alert? {
        guard let previous, previous == "MASTER" || previous == "BACKUP",
              var alert = AlertRules.vrrpState(instance: instance, state: "FAULT", priority: priority, addresses: addresses)
        else { return nil }
        let list = addresses.joined(separator: " ")
        alert.severity = previous == "MASTER" ? .warning : .info
        alert.summary = "VRRP instance \(instance) is FAULT, held out (\(causes.joined(separator: ", "))): "
            + (previous == "MASTER" ? "no longer holds" : "does not bid for") + (list.isEmpty ? " its addresses" : " \(list)")
        alert.fields["fault"] = causes.joined(separator: ",")
        alert.fields["held_out"] = "1"
        return alert
    }
}
