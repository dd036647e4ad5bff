import NIOCore
import RESP

/// The slots a client has written to, as a bit per slot (allocated at its first write): what a
/// WAIT through the proxy must wait for. A client's writes go on connections shared with
/// other clients, so no node's own WAIT can count them; the proxy waits for the replicas of the
/// masters it wrote to instead (`ClusterWait.Progress`).
public struct WrittenSlots: Sendable, Hashable {
    private var bits: [UInt64] = []
    /// A keyless write (FLUSHALL, FUNCTION LOAD, a script without keys): every master counts.
    public private(set) var everyMaster = false

    public init() {}

    public var isEmpty: Bool { !everyMaster && bits.allSatisfy { $0 == 0 } }

    public mutating func insert(_ slot: Int) {
        guard (0..<HashSlot.count).contains(slot) else { return }
        if bits.isEmpty { bits = Array(repeating: 0, count: HashSlot.count / 64) }
        bits[slot >> 6] |= 1 << UInt64(slot & 63)
    }

    public mutating func insertEveryMaster() { everyMaster = true }

    public func contains(_ slot: Int) -> Bool {
        guard !bits.isEmpty, (0..<HashSlot.count).contains(slot) else { return false }
        return bits[slot >> 6] & (1 << UInt64(slot & 63)) != 0
    }

    /// The slots, in order.
    public var slots: [Int] {
        var result: [Int] = []
        for (word, value) in bits.enumerated() where value != 0 {
            for bit in 0..<64 where value & (1 << UInt64(bit)) != 0 { result.append(word * 64 + bit) }
        }
        return result
    }
}

/// `WAIT numreplicas timeout` in cluster mode: parsed and checked as a node does, then answered
/// by the proxy from the replication offsets of the masters the client wrote to and of their
/// replicas. Pure: the shell (`ClusterWaitRun`) asks the nodes and feeds their INFO replies in.
public enum ClusterWait {
    /// What the client asked for.
    public struct Request: Sendable, Hashable {
        /// Replicas each master must have with the client's writes (may be 0 or negative: answered at once).
        public var replicas: Int64
        /// Milliseconds; 0 waits without limit.
        public var timeoutMilliseconds: Int64
        /// Where the client wrote.
        public var written: WrittenSlots

        public init(replicas: Int64, timeoutMilliseconds: Int64, written: WrittenSlots) {
            self.replicas = replicas
            self.timeoutMilliseconds = timeoutMilliseconds
            self.written = written
        }
    }

    /// WAIT's arguments, or a node's answer to bad ones (redis-server 7.0.15's texts and order).
    public enum Checked: Sendable, Hashable {
        case valid(replicas: Int64, timeoutMilliseconds: Int64)
        case refused(RESPValue)
    }

    public static func check(_ arguments: [ByteBuffer]) -> Checked {
        guard arguments.count == 3 else { return .refused(.simpleError("ERR wrong number of arguments for 'wait' command")) }
        guard let replicas = RESPFrameScanner.parseInteger(arguments[1]) else { return .refused(.simpleError("ERR value is not an integer or out of range")) }
        guard let timeout = RESPFrameScanner.parseInteger(arguments[2]) else { return .refused(.simpleError("ERR timeout is not an integer or out of range")) }
        guard timeout >= 0 else { return .refused(.simpleError("ERR timeout is negative")) }
        return .valid(replicas: replicas, timeoutMilliseconds: timeout)
    }

    /// The fields of an `INFO replication` reply the wait needs.
    public struct ReplicationInfo: Sendable, Hashable {
        public var role: String?
        public var replicationID: String?
        /// A master's `master_repl_offset`, a replica's `slave_repl_offset`.
        public var offset: Int64?
        /// A replica's `master_link_status:up`.
        public var linkUp = false

        public init(_ text: String) {
            var masterOffset: Int64?
            var replicaOffset: Int64?
            for line in text.split(whereSeparator: \.isNewline) {  // "\r\n" is one Character
                guard let colon = line.firstIndex(of: ":") else { continue }
                let value = line[line.index(after: colon)...]
                switch line[..<colon] {
                case "role": role = String(value)
                case "master_replid": replicationID = String(value)
                case "master_repl_offset": masterOffset = Int64(value)
                case "slave_repl_offset": replicaOffset = Int64(value)
                case "master_link_status": linkUp = value == "up"
                default: break
                }
            }
            offset = role == "slave" ? replicaOffset : masterOffset
        }
    }

    /// One master the wait counts replicas of.
    public struct Master: Sendable, Hashable {
        public var address: ClusterNodeAddress
        public var replicas: [ClusterNodeAddress]
        /// The offset every counted replica must reach: the master's when the wait began (which
        /// covers the client's writes, all answered by then), or 0 when the client wrote nothing
        /// (as a node's WAIT on a connection without writes counts every connected replica).
        public var target: Int64?
        public var replicationID: String?
        /// The latest offset seen of each replica that follows this master.
        public var reached: [ClusterNodeAddress: Int64] = [:]
        /// The replicas that answered (or failed to) at least once.
        public var heard: Set<ClusterNodeAddress> = []
        /// The master answered as a replica: failed over while the client waited.
        public var demoted = false

        public init(address: ClusterNodeAddress, replicas: [ClusterNodeAddress]) {
            self.address = address
            self.replicas = replicas
        }

        /// Replicas with every write up to the target.
        public var count: Int64 {
            guard let target else { return 0 }
            return Int64(reached.values.filter { $0 >= target }.count)
        }
    }

    /// A wait under way. Time is the caller's, in milliseconds.
    public struct Progress: Sendable, Hashable {
        public let wanted: Int64
        public let deadline: Int64?
        public let fromZero: Bool
        public private(set) var masters: [Master]

        /// `masters`: those serving the written slots (every master when the client wrote
        /// nothing, or wrote without keys), with the replicas the slot map gives them.
        public init(request: Request, masters: [Master], now: Int64) {
            wanted = request.replicas
            // A timeout past the clock's range waits without limit.
            let (end, overflow) = now.addingReportingOverflow(request.timeoutMilliseconds)
            deadline = request.timeoutMilliseconds > 0 && !overflow ? end : nil
            fromZero = request.written.isEmpty
            self.masters = masters
        }

        /// A master's `INFO replication`. Its offset becomes the target at the first reply.
        public mutating func master(_ address: ClusterNodeAddress, info: ReplicationInfo) {
            guard let index = masters.firstIndex(where: { $0.address == address }) else { return }
            if info.role == "slave" {
                masters[index].demoted = true
                return
            }
            guard info.role == "master", let offset = info.offset else { return }
            if masters[index].target == nil { masters[index].target = fromZero ? 0 : offset }
            if masters[index].replicationID != info.replicationID {
                // A new history (a restart): what replicas reached of the old one does not count.
                masters[index].replicationID = info.replicationID
                masters[index].reached = [:]
            }
        }

        /// A replica's `INFO replication`: counted when it follows the master (same replication
        /// history) with its link up, as a node counts only its online replicas.
        public mutating func replica(_ address: ClusterNodeAddress, of master: ClusterNodeAddress, info: ReplicationInfo) {
            guard let index = masters.firstIndex(where: { $0.address == master }) else { return }
            masters[index].heard.insert(address)
            guard info.role == "slave", info.linkUp, let offset = info.offset, let id = masters[index].replicationID,
                  info.replicationID == id else {
                masters[index].reached[address] = nil
                return
            }
            masters[index].reached[address] = max(offset, masters[index].reached[address] ?? offset)
        }

        /// Every master's target is known and every replica answered once: the count is what
        /// a node would answer without blocking.
        public var heardAll: Bool {
            masters.allSatisfy { master in master.target != nil && master.replicas.allSatisfy { master.heard.contains($0) } }
        }

        /// The answer when the wait is over (enough replicas everywhere, or the timeout), nil
        /// while it goes on. The count is the smallest of the masters'. A wait for 0 (or fewer)
        /// replicas answers after one round, with the count then (a node answers it at once
        /// with the replicas that acknowledged).
        public func answer(now: Int64) -> RESPValue? {
            if masters.contains(where: \.demoted) {
                // A node's answer to a client blocked in WAIT when the node turns replica.
                return .simpleError("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)")
            }
            guard !masters.isEmpty else { return .simpleError("CLUSTERDOWN Tandem proxy: no master known") }
            let least = masters.map(\.count).min() ?? 0
            if least >= wanted && (wanted > 0 || heardAll) { return .integer(least) }
            if let deadline, now >= deadline { return .integer(least) }
            return nil
        }
    }
}
