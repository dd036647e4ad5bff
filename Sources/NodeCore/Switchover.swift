/// `tandem switchover`: the decisions of a planned switchover, pure. The command asks a monitor
/// (`SENTINEL MASTER`, `SENTINEL REPLICAS`), plans with `Switchover.plan`, runs `SENTINEL
/// FAILOVER` and reads the monitor's events through `Switchover.Progress`.
public enum Switchover {
    /// A replica as `SENTINEL REPLICAS` lists it.
    public struct Replica: Sendable, Hashable {
        public var address: String
        public var flags: [String]
        public var priority: Int
        public var linkUp: Bool

        public init(address: String, flags: [String], priority: Int, linkUp: Bool) {
            self.address = address
            self.flags = flags
            self.priority = priority
            self.linkUp = linkUp
        }

        /// What Sentinel's replica selection would refuse it for, if anything.
        var unusable: String? {
            if flags.contains("s_down") || flags.contains("o_down") { return "it is down (\(flags.joined(separator: ",")))" }
            if flags.contains("disconnected") { return "the monitor's link to it is down" }
            if !linkUp { return "its replication link to the master is down" }
            if priority == 0 { return "its replica-priority is 0 (never promoted)" }
            return nil
        }
    }

    public struct Plan: Sendable, Hashable {
        /// Replicas to set `replica-priority 0` for the duration (so the monitor promotes the
        /// target); each one's `priority` is what to restore afterwards.
        public var excluded: [Replica]
        public var target: String?

        public init(excluded: [Replica], target: String?) {
            self.excluded = excluded
            self.target = target
        }
    }

    public struct PlanError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// What to do: with `target`, every other usable replica is excluded for the duration; the
    /// target must be a replica the monitor could promote. Without, the monitor chooses.
    public static func plan(masterFlags: [String], replicas: [Replica], target: String?) -> Result<Plan, PlanError> {
        if masterFlags.contains("failover_in_progress") {
            return .failure(PlanError(description: "a failover is already in progress"))
        }
        let usable = replicas.filter { $0.unusable == nil }
        guard let target else {
            if usable.isEmpty {
                let why = replicas.map { "\($0.address): \($0.unusable ?? "")" }.joined(separator: "; ")
                return .failure(PlanError(description: "no replica can be promoted" + (why.isEmpty ? " (the master has none)" : ": " + why)))
            }
            return .success(Plan(excluded: [], target: nil))
        }
        guard let chosen = replicas.first(where: { $0.address == target }) else {
            let known = replicas.map(\.address).joined(separator: ", ")
            return .failure(PlanError(description: "--to \(target) is not a replica of this master (its replicas: \(known.isEmpty ? "none" : known))"))
        }
        if let why = chosen.unusable {
            return .failure(PlanError(description: "--to \(target) cannot be promoted: \(why)"))
        }
        return .success(Plan(excluded: usable.filter { $0.address != target }, target: target))
    }

    /// Reads the monitor's events during the switchover.
    public struct Progress: Sendable, Hashable {
        public enum Outcome: Sendable, Hashable {
            /// `+switch-master`: the group's master is now this address.
            case switched(to: String)
            /// A `-failover-abort-…` event.
            case aborted(String)
        }

        public let group: String
        public private(set) var outcome: Outcome?

        public init(group: String) { self.group = group }

        /// Whether the event concerns this switchover (the group's failover events).
        public func concerns(_ channel: String, _ payload: String) -> Bool {
            guard channel.hasPrefix("+") || channel.hasPrefix("-") else { return false }
            let words = payload.split(separator: " ")
            // "<type> <name> <ip> <port> [@ <master-name> <ip> <port>]", or switch-master's
            // "<name> <old-ip> <old-port> <new-ip> <new-port>".
            if channel == "+switch-master" { return words.first.map(String.init) == group }
            if let at = words.firstIndex(of: "@") { return words.count > at + 1 && String(words[at + 1]) == group }
            return words.count >= 2 && words[0] == "master" && String(words[1]) == group
        }

        /// Feeds one event; returns whether it concerned this switchover.
        @discardableResult
        public mutating func feed(_ channel: String, _ payload: String) -> Bool {
            guard outcome == nil, concerns(channel, payload) else { return false }
            if channel == "+switch-master" {
                let words = payload.split(separator: " ")
                if words.count == 5 { outcome = .switched(to: "\(words[3]):\(words[4])") }
            } else if channel.hasPrefix("-failover-abort") {
                outcome = .aborted(String(channel.dropFirst()))
            }
            return true
        }
    }
}
