/// keepalived's `vrrp_sync_group`, pure: when one member changes state, what every member is
/// told. Members follow one another to MASTER and (from MASTER) to BACKUP, and a member's own
/// FAULT puts the others in FAULT until it clears (through the group's tracked object, weight 0).
public struct VRRPSyncGroup: Sendable, Hashable {
    /// The tracked object through which the group's fault reaches each member.
    public let object: String
    /// The members' indices, in the configuration's order.
    public let members: [Int]

    public init(name: String, members: [Int]) {
        self.object = "sync group \(name)"
        self.members = members
    }

    /// The events to feed, in order, after `member` went from `from` to `to`. `ownFault(m)`:
    /// whether member `m` is faulty by its own tracked objects (`isFaulty(excluding: object)`).
    public func propagate(member: Int, from: VRRPState, to: VRRPState, ownFault: (Int) -> Bool) -> [(member: Int, event: VRRPEvent)] {
        guard members.contains(member) else { return [] }
        var out: [(member: Int, event: VRRPEvent)] = []
        let others = members.filter { $0 != member }
        if to == .master {
            out += others.map { ($0, .syncMaster) }
        } else if to == .backup && from == .master {
            out += others.map { ($0, .syncBackup) }
        }
        if to == .fault || from == .fault {
            for m in members {
                let othersFaulty = members.contains { $0 != m && ownFault($0) }
                out.append((m, .tracked(name: object, up: !othersFaulty)))
            }
        }
        return out
    }
}

extension CheckTracker {
    /// A check whose script cannot be started at all (not found, not executable, insecure)
    /// counts as failed, as in keepalived.
    public mutating func recordCannotRun() -> Bool? { record(success: false) }
}

extension VRRPSyncGroup {
    /// The group's own state (what its `notify*` scripts and the notify FIFO are told) after a
    /// member entered `to`, with every member's state now in `members`; nil when it stays
    /// `current`. As keepalived 2.2.7: MASTER and FAULT as soon as one member enters them,
    /// BACKUP once no member is FAULT, STOP once every member has stopped.
    public static func groupState(current: VRRPState, memberEntered to: VRRPState, members: [VRRPState]) -> VRRPState? {
        let next: VRRPState
        switch to {
        case .master: next = .master
        case .fault: next = .fault
        case .backup: next = members.contains(.fault) ? .fault : .backup
        case .stopped: next = members.allSatisfy { $0 == .stopped } ? .stopped : current
        case .initialize: return nil
        }
        return next == current ? nil : next
    }
}

/// keepalived's notify FIFO lines (`notify_fifo`, `vrrp_notify_fifo`), newline-terminated.
public enum NotifyFIFO {
    /// `INSTANCE "VI_1" MASTER 100`
    public static func instance(_ name: String, state: VRRPState, priority: UInt8) -> String {
        "INSTANCE \"\(name)\" \(state.rawValue) \(priority)\n"
    }

    /// `GROUP "G" MASTER 0` (a group has no priority; keepalived writes 0).
    public static func group(_ name: String, state: VRRPState) -> String {
        "GROUP \"\(name)\" \(state.rawValue) 0\n"
    }
}
