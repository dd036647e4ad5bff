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
import Synchronization
import VRRP
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// Keeps one connection to a server and runs `probe` on it every `every` ms; a failure closes
/// it (reconnected at the next round) and calls `onFailure` with the error.
/// `wakeup`: kicked, the next round runs at once. `period`, if given, says the wait before each
/// next round instead of `every`.
func probeLoop(host: String, port: Int, password: String?, user: String?, every: Int64, timeout: Int64, wakeup: Wakeup? = nil,
               period: (@Sendable () -> Int64)? = nil,
                       probe: @Sendable (RedisConnection) async throws -> Void, onFailure: @Sendable (any Error) -> Void) async {
    var connection: RedisConnection?
    var seen = 0
    while !Task.isCancelled {
        do {
            if connection == nil || connection?.isActive == false {
                await connection?.close()
                connection = try await RedisConnection.connect(RedisConnectionConfiguration(
                    host: host, port: port, username: user, password: password,
                    connectTimeout: .milliseconds(max(timeout, 50)), commandTimeout: .milliseconds(max(timeout, 50))))
            }
            try await probe(connection!)
        } catch {
            await connection?.close()
            connection = nil
            onFailure(error)
        }
        let wait = period?() ?? every
        if let wakeup {
            await wakeup.sleep(milliseconds: wait, seen: &seen)
        } else {
            try? await Task.sleep(for: .milliseconds(wait))
        }
    }
    await connection?.close()
}

/// Commands the core asks of the local Redis (CLIENT PAUSE/UNPAUSE, REPLICAOF), over a
/// connection of their own: a write-paused server holds up later commands of a connection
/// that sent a write, and the probe's must stay free.
actor LocalRedisActions {
    let configuration: RedisConnectionConfiguration
    let logger: Logger
    var connection: RedisConnection?

    init(host: String, port: Int, password: String?, user: String?, timeout: Int64, logger: Logger) {
        configuration = RedisConnectionConfiguration(host: host, port: port, username: user, password: password,
                                                     connectTimeout: .milliseconds(max(timeout, 50)),
                                                     commandTimeout: .milliseconds(max(timeout, 50)))
        self.logger = logger
    }

    func run(_ command: [String]) async {
        for attempt in 0..<2 {
            do {
                if connection == nil || connection?.isActive == false {
                    connection = try await RedisConnection.connect(configuration)
                }
                let reply = try await connection!.send(command)
                if let error = reply.errorMessage {
                    logger.warning("node: \(command.joined(separator: " ")) on \(configuration.serverDescription): \(error)")
                }
                return
            } catch {
                await connection?.close()
                connection = nil
                if attempt == 1 { logger.warning("node: \(command.joined(separator: " ")) on \(configuration.serverDescription) failed: \(error)") }
            }
        }
    }
}

/// The first start: asks the other monitors and every data node's Redis until
/// `NodeBootstrap` can decide. nil: stopped by a signal while waiting.
func bootstrap(_ c: NodeConfiguration, timeout: Int64, signals: TerminationSignals, logger: Logger) async -> String? {
    let me = c.me!
    let password = c.redis?.password ?? c.group.password
    let user = c.redis?.user ?? c.group.user
    let wait = max(timeout, 200)
    var lastReason = ""
    while !signals.received {
        var answers: [String] = []
        for peer in c.group.members where peer.name != c.name {
            if let reply = try? await ask(peer.address, peer.monitorPort, password: nil, user: nil, timeout: wait,
                                          ["SENTINEL", "get-master-addr-by-name", c.group.name]),
               let parts = reply.array, parts.count == 2, let host = parts[0].string, let port = parts[1].string {
                answers.append("\(host):\(port)")
            }
        }
        var seen: [(redis: String, seen: NodeBootstrap.Seen)] = []
        for node in c.group.members where node.role == .data {
            let address = "\(node.address):\(node.redisPort)"
            let reply = try? await ask(node.address, node.redisPort, password: password, user: user, timeout: wait, ["ROLE"])
            switch reply.flatMap({ RedisRole(reply: $0) }) {
            case .master(_, let replicas): seen.append((address, .master(replicas: replicas.count)))
            case .replica(let host, let port, _, _): seen.append((address, .replica(of: "\(host):\(port)")))
            case .sentinel, .none: seen.append((address, .down))
            }
        }
        let local = c.role == .data ? "\(me.address):\(me.redisPort)" : nil
        switch NodeBootstrap.decide(monitorAnswers: answers, dataNodes: seen, localRedis: local) {
        case .master(let master, let replicateLocal):
            if replicateLocal {
                let (host, port) = splitHostPort(master)
                logger.notice("node \(c.name): the local Redis is a new empty master; it becomes a replica of \(master)")
                _ = try? await ask(me.address, me.redisPort, password: password, user: user, timeout: wait, ["REPLICAOF", host, String(port)])
            }
            return master
        case .wait(let reason):
            if reason != lastReason {
                logger.notice("node \(c.name): waiting to choose the group's first master: \(reason)")
                lastReason = reason
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
    return nil
}

func ask(_ host: String, _ port: Int, password: String?, user: String?, timeout: Int64, _ command: [String]) async throws -> RESPValue {
    let connection = try await RedisConnection.connect(RedisConnectionConfiguration(
        host: host, port: port, username: user, password: password,
        connectTimeout: .milliseconds(timeout), commandTimeout: .milliseconds(timeout)))
    defer { Task { await connection.close() } }
    return try await connection.send(command)
}

/// A monitor's `SENTINEL MASTER` reply: the master, its configuration epoch, whether healthy.
struct MasterView: Sendable {
    var master: String
    var epoch: Int64
    var healthy: Bool
    var inFailover = false
    /// Milliseconds since the master last answered the monitor's PING (`last-ok-ping-reply`).
    var answeredAgo: Int64?
    /// The monitor's vote for another sentinel's failover of this master whose outcome it has
    /// not heard (Tandem's `failover-vote-epoch` field).
    var votedEpoch: Int64?
}

func masterView(_ reply: RESPValue) -> MasterView? {
    guard let parts = reply.array else { return nil }
    var fields: [String: String] = [:]
    var i = 0
    while i + 1 < parts.count {
        if let key = parts[i].string, let value = parts[i + 1].string { fields[key] = value }
        i += 2
    }
    guard let host = fields["ip"], let port = fields["port"], let flags = fields["flags"] else { return nil }
    return MasterView(master: "\(host):\(port)", epoch: Int64(fields["config-epoch"] ?? "") ?? 0,
                      healthy: flags.split(separator: ",").allSatisfy { $0 == "master" },
                      inFailover: flags.split(separator: ",").contains("failover_in_progress"),
                      answeredAgo: fields["last-ok-ping-reply"].flatMap { Int64($0) }.map { max(0, $0) },
                      votedEpoch: fields["failover-vote-epoch"].flatMap { Int64($0) })
}

/// Whether a `SENTINEL REPLICAS` reply lists a replica that answers (neither down nor
/// disconnected): one the monitors could promote.
func replicaAnswers(_ reply: RESPValue) -> Bool {
    guard let entries = reply.array else { return false }
    return entries.contains { entry in
        guard let parts = entry.array else { return false }
        var i = 0
        while i + 1 < parts.count {
            if parts[i].string == "flags", let flags = parts[i + 1].string {
                let set = flags.split(separator: ",")
                return !set.contains("s_down") && !set.contains("o_down") && !set.contains("disconnected")
            }
            i += 2
        }
        return false
    }
}

func splitHostPort(_ text: String) -> (String, Int) {
    guard let colon = text.lastIndex(of: ":") else { return (text, 6379) }
    return (String(text[..<colon]), Int(text[text.index(after: colon)...]) ?? 6379)
}
