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
