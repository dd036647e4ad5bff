import ClusterCore
import NIOCore
import RESP

/// Carries out one WAIT in cluster mode (the decisions are `ClusterWait.Progress`'s): asks each
/// master the client wrote to, and each of its replicas, for `INFO replication` every 10 ms —
/// one request per node at a time, so a node that does not answer holds up only itself —
/// until the progress has an answer or the client is gone. Used only on the pool's loop.
final class ClusterWaitRun {
    static let pollInterval = TimeAmount.milliseconds(10)
    private let pool: ClusterLoopPool
    private var progress: ClusterWait.Progress
    private let cancelled: () -> Bool
    private let done: (RESPValue) -> Void
    private var asking: Set<ClusterNodeAddress> = []
    private var finished = false

    /// `master`: only that node and its replicas are asked (a blocking write's, which ran there),
    /// whatever the slots written say.
    init(pool: ClusterLoopPool, request: ClusterWait.Request, master: ClusterNodeAddress? = nil, cancelled: @escaping () -> Bool,
         done: @escaping (RESPValue) -> Void) {
        self.pool = pool
        self.cancelled = cancelled
        self.done = done
        let map = pool.topology.map
        var addresses: [ClusterNodeAddress] = []
        if let master {
            addresses = [master]
        } else if request.written.isEmpty || request.written.everyMaster {
            addresses = map.masters
        } else {
            var seen: Set<ClusterNodeAddress> = []
            for slot in request.written.slots {
                if let master = map.master(forSlot: slot), seen.insert(master).inserted { addresses.append(master) }
            }
        }
        let masters = addresses.map { address in
            ClusterWait.Master(address: address, replicas: map.shards.first { $0.master == address }?.replicas ?? [])
        }
        progress = ClusterWait.Progress(request: request, masters: masters, now: Self.now())
    }

    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    func start() {
        pool.eventLoop.assumeIsolated().execute { [self] in tick() }
    }

    private func tick() {
        guard !finished else { return }
        if cancelled() {
            finished = true
            return
        }
        if check() { return }
        for master in progress.masters {
            ask(master.address) { [self] info in
                progress.master(master.address, info: info)
                askReplicas(of: master.address)  // at once: not a poll interval later
            }
            askReplicas(of: master.address)
        }
        var delay = Self.pollInterval
        if let deadline = progress.deadline {
            delay = min(delay, .milliseconds(max(0, deadline - Self.now())))
        }
        pool.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in tick() }
    }

    /// The replicas of `address`, once its history is known (its first reply).
    private func askReplicas(of address: ClusterNodeAddress) {
        guard !finished, let master = progress.masters.first(where: { $0.address == address }), master.replicationID != nil else { return }
        for replica in master.replicas {
            ask(replica) { [self] info in progress.replica(replica, of: address, info: info) }
        }
    }

    /// Answers when the progress has an answer; whether it did.
    @discardableResult
    private func check() -> Bool {
        guard !finished else { return true }
        guard let answer = progress.answer(now: Self.now()) else { return false }
        finished = true
        done(answer)
        return true
    }

    private func ask(_ node: ClusterNodeAddress, _ record: @escaping (ClusterWait.ReplicationInfo) -> Void) {
        guard asking.insert(node).inserted else { return }
        pool.run([ByteBuffer(string: "INFO"), ByteBuffer(string: "replication")], target: .node(node), readOnly: true,
                 protocolVersion: 2, toReplica: false) { [self] reply in
            asking.remove(node)
            guard !finished else { return }
            record(ClusterWait.ReplicationInfo(reply.value.string ?? ""))
            check()
        }
    }
}
