import Foundation
import Logging
import NIOCore
import RESP
import RedisConnection
import SentinelConfig
import SentinelCore

#if canImport(Glibc)
import Glibc
#endif

/// The core's actions carried out: links opened and closed, periodic commands, hellos, votes
/// asked, the failover's transactions (SLAVEOF with CONFIG REWRITE and CLIENT KILL, demotions of
/// an old master), events, saves.
extension SentinelRuntime {
    func perform(_ actions: [SentinelAction]) {
        // An input that changed the current epoch, a vote, a config epoch or a master's address
        // is saved once, before any of its actions goes out, with all it changed: 7.0's
        // sentinelFlushConfig runs before its buffered writes leave, so a candidate killed after
        // asking for votes cannot come back without its own vote (and give it to another
        // candidate in that epoch; the Sentinel simulator's kills found it, seed 174).
        var saved = false
        if actions.contains(.saveConfig), configurationChangedSinceSave() {
            savePending = true
            saveIfPending()
            saved = true
        }
        for action in actions where !(saved && action == .saveConfig) { perform(action) }
    }

    private func perform(_ action: SentinelAction) {
        switch action {
        case .connect(let ref, let address):
            if isSentinel(ref) { joinPeerLink(ref, address) } else { openLink(ref, address) }
        case .disconnect(let ref):
            if isSentinel(ref) {
                leavePeerLink(ref)
            } else {
                links.removeValue(forKey: ref)?.task.cancel()
                if let c = connections.removeValue(forKey: ref) { retire(c) }
            }
        case .reconnect(let ref, let address):
            if isSentinel(ref), peerAddresses[ref] == address, let c = peerLinks[address]?.connection {
                // The shared link is closed for all the peer's entries; its task reconnects.
                Task { await c.close() }
            } else {
                perform(.disconnect(ref))
                perform(.connect(ref, address))
            }
        case .ping(let ref):
            send(ref, prepared(ref, Self.ping), timeout: .seconds(60)) { runtime, reply in
                runtime.input(.pingReply(ref, PingReply(text: reply.string, errorCode: reply.errorCode)))
            }
        case .scriptKill(let ref):
            send(ref, prepared(ref, PreparedCommand(["SCRIPT", "KILL"])), timeout: .seconds(10))
        case .info(let ref):
            guard let address = links[ref]?.address else { return }
            send(ref, prepared(ref, Self.info), timeout: .seconds(60)) { runtime, reply in
                guard let text = reply.string else {
                    if runtime.state.isCurrent(address, of: ref) { runtime.input(.infoFailed(ref)) }
                    return
                }
                runtime.infoReceived(ref, from: address, text)
            }
        case .publishHello(let ref, let payload):
            send(ref, prepared(ref, PreparedCommand(["PUBLISH", "__sentinel__:hello", payload], name: "PUBLISH")), timeout: .seconds(10))
        case .askMasterState(let ref, let master, let epoch, let runID):
            guard case .sentinel(let name, let peer) = ref else { return }
            let ask = PreparedCommand(["SENTINEL", "is-master-down-by-addr", master.ip, String(master.port), String(epoch), runID])
            send(ref, ask, timeout: .seconds(10)) { runtime, reply in
                guard let r = reply.array, r.count == 3, let down = r[0].int, let leader = r[1].string, let epoch = r[2].int else { return }
                runtime.input(.masterDownReply(master: name, sentinel: peer, down: down == 1,
                                               leader: leader == "*" ? nil : leader, leaderEpoch: UInt64(max(0, epoch))))
            }
        case .promote(let ref):
            sendTransaction(ref, slaveOf: ["NO", "ONE"])
        case .replicate(let ref, let address):
            sendTransaction(ref, slaveOf: [address.ip, String(address.port)])
        case .pauseWrites(let ref, let timeout):
            // On a connection of its own, as the demote later: a PUBLISH (a peer's hello) on the
            // link would wait out the pause and hold up the INFO behind it.
            let name = ref.masterName
            guard let address = links[ref]?.address, connections[ref] != nil else {
                input(.pauseFailed(master: name, .noLink))
                return
            }
            let pause = configuration.master(name)?.renamedCommands["CLIENT"] ?? "CLIENT"
            let config = linkConfiguration(ref, address)
            let logger = self.logger
            Task { [weak self] in
                let answer: SentinelInput
                do {
                    let offset = try await Self.withOwnConnection(config) { c in
                        let reply = try await c.send([pause, "PAUSE", String(timeout), "WRITE"], timeout: .seconds(5))
                        if let error = reply.errorMessage {
                            throw RedisConnectionError(code: .serverError, server: c.server, message: "CLIENT PAUSE: \(error)")
                        }
                        guard let offset = try await c.info("replication").replication.masterReplOffset else {
                            throw RedisConnectionError(code: .serverError, server: c.server, message: "INFO replication: no master_repl_offset")
                        }
                        return offset
                    }
                    answer = .writesPaused(master: name, offset: offset)
                } catch {
                    logger.warning("CLIENT PAUSE on \(address.ip):\(address.port) failed: \(error)")
                    answer = .pauseFailed(master: name, .failed(String(describing: error)))
                }
                await self?.input(answer)
            }
        case .unpauseWrites(let ref):
            // An abandoned switchover: also on a connection of its own, so that a hello sent on
            // the link just before cannot hold the UNPAUSE up until the pause runs out.
            guard let address = links[ref]?.address else { return }
            let client = configuration.master(ref.masterName)?.renamedCommands["CLIENT"] ?? "CLIENT"
            let config = linkConfiguration(ref, address)
            let logger = self.logger
            Task {
                do {
                    try await Self.withOwnConnection(config) { c in _ = try await c.send([client, "UNPAUSE"], timeout: .seconds(5)) }
                } catch {
                    logger.warning("CLIENT UNPAUSE on \(address.ip):\(address.port) failed: \(error)")
                }
            }
        case .demote(let name, let oldMaster, let newMaster, let attempt):
            demote(name, at: oldMaster, to: newMaster, attempt: attempt)
        case .publish(let event):
            // `loglevel verbose` is Logger's .info (SentinelMain), so VERBOSE events log there.
            let level: Logger.Level = switch event.level {
            case .warning: .warning
            case .notice: .notice
            case .verbose: .info
            case .debug: .debug
            }
            logger.log(level: level, "\(event.type) \(event.payload)", metadata: event.logMetadata)
            if event.level > .debug { hub.publish(channel: event.type, message: event.payload) }
            for observer in eventObservers { observer(event) }
        case .notificationScript(let master, let event):
            scheduleNotification(master: master, event)
        case .simulatedCrash:
            simulatedCrashDue = true
        case .saveConfig:
            // Once per pass of the event loop, after the inputs it carries: discovering 200
            // masters' replicas and peers asked for ~600 saves in a few seconds, each reading,
            // rewriting and fsyncing the whole file on the loop — the timer stalled past 2 s and
            // every sentinel entered TILT (a kill -9 then waited for TILT's end). A new epoch or
            // vote is saved before the input's actions (`perform(_:)` above), and a vote before
            // its reply by `saveIfPending` (is-master-down-by-addr).
            scheduleSave()
        case .clientReconfigScript(let master, let role, let state, let from, let to):
            scheduleReconfig(master: master, role: role, state: state, from: from, to: to)
        }
    }

    /// `MULTI; SLAVEOF …; CONFIG REWRITE; CLIENT KILL TYPE normal; CLIENT KILL TYPE pubsub; EXEC`
    /// on the instance's link, then INFO to confirm the new role at once.
    private func sendTransaction(_ ref: InstanceRef, slaveOf target: [String]) {
        guard let connection = connections[ref], let address = links[ref]?.address else { return }
        let commands = Self.slaveOfTransaction(slaveOf: target, unpause: false, rename: renamedCommands(ref))
        let logger = self.logger
        transactionStarted(connection)
        Task { [weak self] in
            do {
                try await Self.runTransaction(commands, on: connection)
                // Confirm the new role at once rather than at the next INFO period (only while
                // the link still goes to that address: a switch may have moved the ref).
                let reply = try await connection.send(["INFO"], timeout: .seconds(10))
                if let text = reply.string { await self?.infoReceived(ref, from: address, text) }
            } catch {
                logger.warning("SLAVEOF \(target.joined(separator: " ")) failed: \(error)")
            }
            await self?.transactionEnded(connection)
        }
    }

    /// Coordinated switchover: the old master (paused) follows the new one, unpausing in the same
    /// transaction. Its clients are killed only after EXEC has returned: by then the writes held
    /// by the pause have been answered -READONLY (not run), so a client or proxy can safely send
    /// them to the new master; killed while paused, their outcome would be unknown to the client.
    /// Sent on a connection of its own, never on the link: a PUBLISH there (a peer's hello) waits
    /// out the pause and would hold the demote up behind it until the old master had run the
    /// held writes. One attempt; the core decides on another (`SentinelState.Demotion`).
    private func demote(_ name: String, at oldMaster: InstanceAddress, to newMaster: InstanceAddress, attempt: Int) {
        let rename = renamedCommands(.master(name))
        let demote = Self.slaveOfTransaction(slaveOf: [newMaster.ip, String(newMaster.port)], unpause: true, rename: rename)
        let kill = [[rename["MULTI"] ?? "MULTI"]] + Self.clientKills(rename) + [[rename["EXEC"] ?? "EXEC"]]
        let config = linkConfiguration(.master(name), oldMaster)
        let logger = self.logger
        Task { [weak self] in
            var failure: String?
            do {
                try await Self.withOwnConnection(config) { c in
                    try await Self.runTransaction(demote, on: c)
                    _ = try? await c.pipeline(kill, timeout: .seconds(10))
                }
                if attempt > 1 { logger.notice("Old master \(oldMaster.ip):\(oldMaster.port) demoted on attempt \(attempt)") }
            } catch {
                logger.warning("Demoting the old master \(oldMaster.ip):\(oldMaster.port) to follow \(newMaster.ip):\(newMaster.port) failed (attempt \(attempt)): \(error)")
                failure = String(describing: error)
            }
            await self?.input(.demoteResult(master: name, at: oldMaster, failure: failure))
        }
    }

    /// `MULTI; SLAVEOF …; CONFIG REWRITE; <client kills or CLIENT UNPAUSE>; EXEC`.
    static func slaveOfTransaction(slaveOf target: [String], unpause: Bool, rename: [String: String]) -> [[String]] {
        func cmd(_ name: String) -> String { rename[name] ?? name }
        let tail = unpause ? [[cmd("CLIENT"), "UNPAUSE"]] : clientKills(rename)
        return [[cmd("MULTI")], [cmd("SLAVEOF")] + target, [cmd("CONFIG"), "REWRITE"]] + tail + [[cmd("EXEC")]]
    }

    /// `CLIENT KILL TYPE normal`, `CLIENT KILL TYPE pubsub`.
    static func clientKills(_ rename: [String: String]) -> [[String]] {
        let client = rename["CLIENT"] ?? "CLIENT"
        return [[client, "KILL", "TYPE", "normal"], [client, "KILL", "TYPE", "pubsub"]]
    }

    /// Runs `body` on a connection of its own to an instance (not its link), then closes it.
    static func withOwnConnection<T: Sendable>(_ config: RedisConnectionConfiguration,
                                               _ body: (RedisConnection) async throws -> T) async throws -> T {
        let connection = try await RedisConnection.connect(config)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Sends a transaction; throws unless EXEC ran it.
    static func runTransaction(_ commands: [[String]], on connection: RedisConnection) async throws {
        let replies = try await connection.pipeline(commands, timeout: .seconds(10))
        if let exec = replies.last, exec.array == nil {
            throw RedisConnectionError(code: .serverError, server: connection.server,
                                       message: "EXEC: \(exec.errorMessage ?? "no transaction result")")
        }
    }

    private func renamedCommands(_ ref: InstanceRef) -> [String: String] {
        configuration.master(ref.masterName)?.renamedCommands ?? [:]
    }

    private func transactionStarted(_ c: RedisConnection) {
        transactionsInFlight[ObjectIdentifier(c), default: 0] += 1
    }

    private func transactionEnded(_ c: RedisConnection) {
        let id = ObjectIdentifier(c)
        transactionsInFlight[id, default: 1] -= 1
        guard transactionsInFlight[id]! <= 0 else { return }
        transactionsInFlight[id] = nil
        if let c = retiring.removeValue(forKey: id) { Task { await c.close() } }
    }

    /// Closes a link's connection that is no longer the instance's, once its transactions are answered.
    func retire(_ c: RedisConnection) {
        if transactionsInFlight[ObjectIdentifier(c), default: 0] > 0 {
            retiring[ObjectIdentifier(c)] = c
        } else {
            Task { await c.close() }
        }
    }

    static let ping = PreparedCommand(["PING"])
    static let info = PreparedCommand(["INFO"])

    /// `command` as sent to `ref`: renamed if its master has a `rename-command` for it.
    private func prepared(_ ref: InstanceRef, _ command: PreparedCommand) -> PreparedCommand {
        guard !renames.isEmpty, !isSentinel(ref), let rename = renames[ref.masterName], let renamed = rename[command.arguments[0]]
        else { return command }
        return PreparedCommand([renamed] + command.arguments.dropFirst())
    }

    static func renames(_ configuration: SentinelConfiguration) -> [String: [String: String]] {
        var renames: [String: [String: String]] = [:]
        for m in configuration.masters where !m.renamedCommands.isEmpty { renames[m.name] = m.renamedCommands }
        return renames
    }

    /// Sends on the instance's link. The reply is handled on the actor's loop from the future's
    /// callback: no task per command, replies taken in the order they arrive.
    private func send(_ ref: InstanceRef, _ command: PreparedCommand, timeout: TimeAmount,
                      _ handler: (@Sendable (isolated SentinelRuntime, RESPValue) -> Void)? = nil) {
        guard let connection = connections[ref] else { return }
        guard let handler else {
            connection.submit(command, timeout: timeout, onReply: nil)
            return
        }
        // Every link is made on the actor's loop, so its replies arrive there; a connection on
        // another loop (none today) would take the future's way, hopping to ours.
        guard connection.eventLoop === loop else {
            connection.submit(command, timeout: timeout).hop(to: loop).whenSuccess { [weak self] reply in
                self?.assumeIsolated { handler($0, reply) }
            }
            return
        }
        connection.submit(command, timeout: timeout) { [weak self] reply in
            self?.assumeIsolated { handler($0, reply) }
        }
    }

    func isSentinel(_ ref: InstanceRef) -> Bool {
        if case .sentinel = ref { return true }
        return false
    }
}
