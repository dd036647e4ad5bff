import AlertCore
import Foundation

/// The VRRP state changes' alerts for one daemon (`tandem vrrp`, `tandem run`): `VRRPAlertFilter`
/// decides, this posts to the dispatcher and runs the filter's one `tick` when the startup grace
/// ends (a real FAULT the daemon started in and never left is alerted then).
public final class VRRPAlerts: @unchecked Sendable {
    private let lock = NSLock()
    private var filter: VRRPAlertFilter
    private let dispatcher: AlertDispatcher

    /// `ownCauses`: the tracked objects the daemon sets down itself to hold an instance out.
    public init(dispatcher: AlertDispatcher, startupGraceMilliseconds: Int64 = 30_000, ownCauses: Set<String> = []) {
        self.dispatcher = dispatcher
        filter = VRRPAlertFilter(startedAt: monotonicMilliseconds(), startupGraceMilliseconds: startupGraceMilliseconds,
                                 ownCauses: ownCauses)
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(startupGraceMilliseconds))) { [self] in
            lock.lock()
            let due = filter.tick(now: monotonicMilliseconds())
            lock.unlock()
            due.forEach(dispatcher.post)
        }
    }

    /// An instance's new state (the VRRP daemon's `onStateChange`).
    public func stateChanged(instance: String, state: String, priority: Int, addresses: [String], faultCauses: [String]) {
        lock.lock()
        let alert = filter.stateChanged(instance: instance, state: state, priority: priority, addresses: addresses,
                                        faultCauses: faultCauses, now: monotonicMilliseconds())
        lock.unlock()
        if let alert { dispatcher.post(alert) }
    }
}
