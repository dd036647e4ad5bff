import ArgumentParser
import Foundation
import NIOCore
import NodeConfig
import NodeCore
import RESP
import RedisConnection

#if canImport(Glibc)
import Glibc
#endif

/// `tandem switchover`: a planned switchover through a monitor (a node agent's or any
/// `tandem sentinel`'s port, or a redis-sentinel's): `SENTINEL FAILOVER`, which tandem runs with
/// writes paused until the chosen replica has caught up (zero loss), its events printed as they
/// come with their time. `--to` picks the replica: the others get `replica-priority 0` for the
/// duration and their own value back afterwards. Decisions: `Switchover` (NodeCore).
struct SwitchoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchover",
        abstract: "Move a group's master to a replica, without losing an acknowledged write.")

    @OptionGroup var target: MonitorOptions

    @Option(name: .long, help: "The group (Sentinel's master name). Default: the node's group with --config, else mymaster.")
    var group: String?

    @Option(name: .long, help: "The replica to promote (HOST:PORT as the monitor lists it). Default: the monitor chooses.")
    var to: String?

    @Option(name: .long, help: "Give up after this many seconds (default: the group's failover-timeout).")
    var timeout: Double?

    func run() async throws {
        let resolved = target.resolve(command: "switchover")
        let (host, port) = (resolved.host, resolved.port)
        let monitorAddress = "\(host):\(port)"
        let groupName = group ?? resolved.group ?? "mymaster"
        let redisPassword = resolved.redisPassword
        let redisUser = resolved.redisUser
        let monitorPassword = target.monitorPassword
        if let to, MonitorOptions.hostPort(to) == nil { fail("--to \(to): expected HOST:PORT") }

        let started = ContinuousClock.now
        @Sendable func stamp() -> String {
            let d = started.duration(to: .now)
            let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
            return String(format: "%6d ms", ms)
        }
        let monitorConfiguration = RedisConnectionConfiguration(host: host, port: port, password: monitorPassword,
                                                                connectTimeout: .seconds(3), commandTimeout: .seconds(5))
        let control: RedisConnection
        do { control = try await RedisConnection.connect(monitorConfiguration) } catch {
            fail("cannot reach the monitor at \(monitorAddress): \(error)")
        }
        defer { Task { await control.close() } }

        // The group as the monitor sees it.
        let masterReply: RESPValue
        do { masterReply = try await control.send(["SENTINEL", "MASTER", groupName]) } catch { fail("SENTINEL MASTER \(groupName): \(error)") }
        if let error = masterReply.errorMessage { fail("the monitor at \(monitorAddress): \(error)") }
        let master = MonitorOptions.fields(masterReply)
        guard let masterIP = master["ip"], let masterPort = master["port"] else { fail("the monitor's SENTINEL MASTER reply has no address") }
        let failoverTimeout = Double(master["failover-timeout"] ?? "") ?? 180_000
        let replicas: [Switchover.Replica]
        do {
            let reply = try await control.send(["SENTINEL", "REPLICAS", groupName])
            replicas = (reply.array ?? []).map { Self.replica(MonitorOptions.fields($0)) }
        } catch { fail("SENTINEL REPLICAS \(groupName): \(error)") }
        let plan: Switchover.Plan
        switch Switchover.plan(masterFlags: (master["flags"] ?? "").split(separator: ",").map(String.init), replicas: replicas, target: to) {
        case .success(let p): plan = p
        case .failure(let error): fail("group \(groupName): \(error)")
        }
        print("\(stamp())  group \(groupName): master \(masterIP):\(masterPort), replicas \(replicas.map(\.address).joined(separator: ", ")); "
              + (plan.target.map { "promoting \($0)" } ?? "the monitor chooses the replica"))

        // --to: the other replicas are made unpromotable for the duration.
        var lowered: [Switchover.Replica] = []
        func restore() async {
            for r in lowered {
                guard let (h, p) = MonitorOptions.hostPort(r.address) else { continue }
                do {
                    let c = try await RedisConnection.connect(RedisConnectionConfiguration(host: h, port: p, username: redisUser, password: redisPassword,
                                                                                           connectTimeout: .seconds(3), commandTimeout: .seconds(3)))
                    _ = try await c.send(["CONFIG", "SET", "replica-priority", String(r.priority)])
                    await c.close()
                    print("\(stamp())  \(r.address): replica-priority \(r.priority) again")
                } catch {
                    print("\(stamp())  \(r.address): could not restore replica-priority \(r.priority): \(error) — set it by hand")
                }
            }
        }
        for r in plan.excluded {
            guard let (h, p) = MonitorOptions.hostPort(r.address) else { continue }
            do {
                let c = try await RedisConnection.connect(RedisConnectionConfiguration(host: h, port: p, username: redisUser, password: redisPassword,
                                                                                       connectTimeout: .seconds(3), commandTimeout: .seconds(3)))
                let reply = try await c.send(["CONFIG", "SET", "replica-priority", "0"])
                await c.close()
                if let error = reply.errorMessage { throw SwitchoverFailure(error) }
                lowered.append(r)
                print("\(stamp())  \(r.address): replica-priority 0 for the switchover (was \(r.priority))")
            } catch {
                await restore()
                fail("\(r.address): CONFIG SET replica-priority 0: \(error)")
            }
        }
        if !lowered.isEmpty {
            // The monitor reads priorities from the replicas' INFO: wait until it has.
            let deadline = ContinuousClock.now + .seconds(15)
            var seen = false
            while ContinuousClock.now < deadline {
                if let reply = try? await control.send(["SENTINEL", "REPLICAS", groupName]) {
                    let now = (reply.array ?? []).map { Self.replica(MonitorOptions.fields($0)) }
                    if lowered.allSatisfy({ r in now.contains { $0.address == r.address && $0.priority == 0 } }) { seen = true; break }
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
            if !seen {
                await restore()
                fail("the monitor did not see the lowered replica-priority within 15 s")
            }
        }

        // Events, then the failover.
        let events: RedisConnection
        do {
            events = try await RedisConnection.connect(monitorConfiguration)
            try await events.psubscribe(["*"])
        } catch {
            await restore()
            fail("cannot subscribe to the monitor's events: \(error)")
        }
        let reply: RESPValue
        do { reply = try await control.send(["SENTINEL", "FAILOVER", groupName]) } catch {
            await events.close()
            await restore()
            fail("SENTINEL FAILOVER \(groupName): \(error)")
        }
        if let error = reply.errorMessage {
            await events.close()
            await restore()
            fail("SENTINEL FAILOVER \(groupName): \(error)")
        }
        print("\(stamp())  SENTINEL FAILOVER \(groupName): \(reply.string ?? "OK")")
        let limit = (timeout ?? failoverTimeout / 1000) + 5
        let name = groupName
        let waiter = Task {
            var progress = Switchover.Progress(group: name)
            for await message in events.messages {
                let channel = String(buffer: message.channel)
                let payload = String(buffer: message.payload)
                if progress.feed(channel, payload) {
                    print("\(stamp())  \(channel) \(payload)")
                    if progress.outcome != nil { break }
                }
            }
            return progress.outcome
        }
        let timer = Task {
            try? await Task.sleep(for: .milliseconds(Int64(limit * 1000)))
            await events.close()
        }
        let outcome = await waiter.value
        timer.cancel()
        await events.close()
        await restore()
        switch outcome {
        case .switched(let to)?:
            print("\(stamp())  switched: the master of \(groupName) is \(to)")
        case .aborted(let why)?:
            fail("the switchover was aborted (\(why)); the master is still \(masterIP):\(masterPort)")
        case nil:
            fail("no +switch-master within \(Int(limit)) s; check SENTINEL MASTER \(groupName) on the monitors")
        }
    }

    static func replica(_ f: [String: String]) -> Switchover.Replica {
        let address = (f["ip"] ?? "") + ":" + (f["port"] ?? "")
        let flags: [String] = (f["flags"] ?? "").split(separator: ",").map { String($0) }
        let priority: Int = Int(f["slave-priority"] ?? "") ?? 100
        return Switchover.Replica(address: address, flags: flags, priority: priority, linkUp: f["master-link-status"] == "ok")
    }

    private func fail(_ message: String) -> Never { MonitorOptions.fail("switchover", message) }
}

private struct SwitchoverFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
