import Dispatch
import Foundation
import KeepalivedConfig
import Logging
import NIOCore
import NodeConfig
import NodeCore
import Proxy
import RESP
import RedisConnection
import Sentinel
import Status
import Synchronization
import VRRP
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// What the observers saw and the core decided, shared between tasks; `INFO node` reads it.
final class NodeStatus: Sendable {
    struct Snapshot: Sendable {
        var name = ""
        var role = ""
        var group = ""
        var placement = ""
        var members: [String] = []
        var groupMaster: String?
        var groupEpoch: Int64 = 0
        var groupInFailover = false
        var groupVotedEpoch: Int64?
        var groupMasterHealthy = true
        /// When the group's master last answered the local monitor (`status.now()`'s clock).
        var groupMasterAnsweredAt: Int64?
        /// `redis.supervise`: a replica of the group's master answers the local monitor.
        var groupReplicaAnswers = false
        var peerViews: [String: MasterView] = [:]
        var localRole: NodeState.RedisRole = .down
        var lastPong: [String: Int64] = [:]
        /// When each peer's host last refused the heartbeat's connection (its agent not running).
        var lastRefused: [String: Int64] = [:]
        var proxyUp = false
        /// The proxy's clients and commands at the last sample, and its throughput.
        var proxyClients: Int?
        var proxyCommands: Int64?
        var proxyThroughput = ProxyThroughput()
        var fenced = false
        var majority = false
        var vipEligible = false
        var vipState = "none"
        var decidedAt: Int64 = 0
        /// Exits of the supervised redis-server not yet handled: when, and how.
        var redisExits: [(Int64, String)] = []
    }

    private let state = Mutex(Snapshot())
    private let origin = ContinuousClock.now

    /// Milliseconds since the agent started: the core's clock.
    func now() -> Int64 {
        let d = origin.duration(to: .now)
        return d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }

    @discardableResult
    func update<T>(_ change: (inout Snapshot) -> T) -> T { state.withLock { change(&$0) } }
    func read<T>(_ body: (Snapshot) -> T) -> T { state.withLock { body($0) } }

    static func decimal(_ d: Double) -> String { String(Double(Int((d * 100).rounded())) / 100) }

    func infoLines() -> [String] {
        let s = read { $0 }
        let now = now()
        let peers = s.members.filter { $0 != s.name }.map { name in
            "\(name)=" + (s.lastPong[name].map { "\(now - $0)ms" } ?? "never")
        }
        var lines = ["# Node", "node_name:\(s.name)", "node_role:\(s.role)", "group_name:\(s.group)",
                     "group_master:\(s.groupMaster ?? "")", "peers_last_heard:\(peers.joined(separator: ","))"]
        if s.role == "data" {
            lines += ["local_redis:\(s.localRole)", "majority_contact:\(s.majority ? 1 : 0)", "fenced:\(s.fenced ? 1 : 0)",
                      "vip_mode:\(s.placement)", "vip_eligible:\(s.vipEligible ? 1 : 0)", "vip_state:\(s.vipState)",
                      "proxy:\(s.proxyUp ? "up" : "none")"]
            if let clients = s.proxyClients, let commands = s.proxyCommands {
                let t = s.proxyThroughput
                lines += ["proxy_clients:\(clients)", "proxy_commands:\(commands)"]
                if let c = t.commandsPerSecond, let i = t.bytesInPerSecond, let o = t.bytesOutPerSecond {
                    lines += ["proxy_commands_per_sec:\(Self.decimal(c))", "proxy_input_bytes_per_sec:\(Self.decimal(i))",
                              "proxy_output_bytes_per_sec:\(Self.decimal(o))"]
                }
            }
        }
        return lines
    }
}

/// A one-shot result handed from a callback to an awaiting task.
final class Completion: Sendable {
    private let state = Mutex<(done: Bool, value: String?, waiters: [CheckedContinuation<String?, Never>])>((false, nil, []))

    func complete(_ value: String?) {
        let waiters = state.withLock { s -> [CheckedContinuation<String?, Never>] in
            guard !s.done else { return [] }
            s.done = true
            s.value = value
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume(returning: value) }
    }

    func wait() async -> String? {
        await withCheckedContinuation { continuation in
            let ready: String?? = state.withLock { s in
                if s.done { return .some(s.value) }
                s.waiters.append(continuation)
                return .none
            }
            if let value = ready { continuation.resume(returning: value) }
        }
    }
}

/// SIGTERM and SIGINT, caught (not the default exit) so the agent can drain in order.
/// (`@unchecked`: the signal sources are only kept alive, never touched after `init`.)
final class TerminationSignals: @unchecked Sendable {
    private let caught = Completion()
    private let sources: [any DispatchSourceSignal]

    init() {
        signal(SIGPIPE, SIG_IGN)
        var made: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let caught = caught
            source.setEventHandler { caught.complete(number == SIGTERM ? "SIGTERM" : "SIGINT") }
            source.resume()
            made.append(source)
        }
        sources = made
    }

    var received: Bool { caught.isDone }

    /// The signal's name, or why the monitor ended.
    func wait(orUntil monitor: Task<Void, Never>) async -> String {
        let caught = caught
        Task {
            await monitor.value
            caught.complete("the monitor stopped")
        }
        return await caught.wait() ?? "stopped"
    }
}

extension Completion {
    var isDone: Bool { state.withLock { $0.done } }
}
