import ArgumentParser
import Foundation
import NIOCore
import NodeConfig
import RESP
import RedisConnection
import Status

#if canImport(Glibc)
import Glibc
#endif

/// `tandem status`: asks one monitor (a node agent's, a `tandem sentinel`'s or a
/// redis-sentinel's port) for its groups, their replicas and monitors, the master's offset,
/// every peer monitor's `INFO node`, and hears every monitor's hello for its epochs
/// (`HelloListener`); prints `StatusReport`'s table or JSON. `--watch` repeats a second after
/// each report until SIGINT or SIGTERM (exit 0).
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the groups a monitor watches: master, replicas and lag, monitors, nodes and VIP.")

    @OptionGroup var target: MonitorOptions

    @Flag(name: .long, help: "Print JSON (schema in docs/operations.md) instead of the table.")
    var json = false

    @Flag(name: .long, help: "Print again every second until interrupted.")
    var watch = false

    func run() async throws {
        let resolved = target.resolve(command: "status")
        let (host, port) = (resolved.host, resolved.port)
        let monitorAddress = "\(host):\(port)"
        let monitorPassword = target.monitorPassword
        let redisUser = resolved.redisUser
        let redisPassword = resolved.redisPassword
        let stopSources = watch ? Self.stopOnSignals() : []
        defer { stopSources.forEach { $0.cancel() } }
        // Subscribed once: under --watch only the first screen waits for the monitors' hellos.
        let listener = HelloListener(redisUser: redisUser, redisPassword: redisPassword)
        repeat {
            let report: StatusReport
            do {
                report = try await Self.report(host: host, port: port, monitorPassword: monitorPassword,
                                               redisUser: redisUser, redisPassword: redisPassword, listener: listener)
            } catch {
                if !watch { fail("\(monitorAddress): \(error)") }
                print("\u{1B}[H\u{1B}[2J\(monitorAddress): \(error)")
                fflush(nil)
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print((watch ? "\u{1B}[H\u{1B}[2J" : "") + report.table())
            }
            // Each screen whole as soon as it is made, also into a pipe or a file (fully buffered).
            if watch { fflush(nil) }
            if watch { try? await Task.sleep(for: .seconds(1)) }
        } while watch
        await listener.close()
    }

    /// `--watch` ends on SIGINT (Ctrl-C) or SIGTERM with exit status 0, the last screen whole
    /// (stdout is flushed after each one).
    private static func stopOnSignals() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { Glibc.exit(0) }
            source.resume()
            return source
        }
    }

    static func report(host: String, port: Int, monitorPassword: String?, redisUser: String?, redisPassword: String?,
                       listener: HelloListener) async throws -> StatusReport {
        let asked = "\(host):\(port)"
        let c = try await RedisConnection.connect(RedisConnectionConfiguration(
            host: host, port: port, password: monitorPassword, connectTimeout: .seconds(2), commandTimeout: .seconds(3)))
        defer { Task { await c.close() } }
        let masters = try await c.send(["SENTINEL", "MASTERS"])
        if let error = masters.errorMessage { throw StatusFailure("SENTINEL MASTERS: \(error)") }
        let ownNode = (try? await c.send(["INFO", "node"]))?.string.flatMap { StatusReport.NodeInfo(info: $0) }
        // Its run ID, to find its own hellos (redis-sentinel before 6.2 has no MYID: by address then).
        let ownID = (try? await c.send(["SENTINEL", "MYID"]))?.string
        var groups: [StatusReport.Group] = []
        var nodeOf: [String: StatusReport.NodeInfo?] = [:]
        for entry in masters.array ?? [] {
            let f = MonitorOptions.fields(entry)
            guard let name = f["name"] else { continue }
            let replicas = (try await c.send(["SENTINEL", "REPLICAS", name]).array ?? []).map { MonitorOptions.fields($0) }
            let sentinels = (try await c.send(["SENTINEL", "SENTINELS", name]).array ?? []).map { MonitorOptions.fields($0) }
            var offset: Int64?
            if let ip = f["ip"], let p = f["port"].flatMap({ Int($0) }),
               let m = try? await RedisConnection.connect(RedisConnectionConfiguration(
                   host: ip, port: p, username: redisUser, password: redisPassword,
                   connectTimeout: .milliseconds(500), commandTimeout: .seconds(1))) {
                if let info = try? await m.info("replication") {
                    offset = info.section("Replication")?["master_repl_offset"].flatMap { Int64($0) }
                }
                await m.close()
            }
            var group = StatusReport.Group(master: f, replicas: replicas, sentinels: sentinels, asked: asked, askedRunID: ownID,
                                           masterOffset: offset)
            group.monitors[0].node = ownNode
            for i in group.monitors.indices.dropFirst() {
                let address = group.monitors[i].address
                if nodeOf[address] == nil, let (h, p) = MonitorOptions.hostPort(address) {
                    nodeOf[address] = await Self.nodeInfo(host: h, port: p, password: monitorPassword)
                }
                group.monitors[i].node = nodeOf[address] ?? nil
            }
            groups.append(group)
        }
        // Every monitor's epochs, from its own hellos.
        await listener.hear(groups)
        let hellos = listener.hellos
        for i in groups.indices { groups[i].apply(hellos: hellos) }
        // A tandem monitor's failover history; redis-sentinel has no such section (nil).
        let failovers = (try? await c.send(["INFO", "failovers"]))?.string.flatMap { FailoverSummary.parse(info: $0) }
        return StatusReport(monitor: asked, groups: groups, failovers: failovers)
    }

    /// A peer monitor's `INFO node` (nil: not a node agent, or not reachable in time).
    static func nodeInfo(host: String, port: Int, password: String?) async -> StatusReport.NodeInfo? {
        guard let c = try? await RedisConnection.connect(RedisConnectionConfiguration(
            host: host, port: port, password: password, connectTimeout: .milliseconds(500), commandTimeout: .seconds(1))) else { return nil }
        defer { Task { await c.close() } }
        return (try? await c.send(["INFO", "node"]))?.string.flatMap { StatusReport.NodeInfo(info: $0) }
    }

    private func fail(_ message: String) -> Never { MonitorOptions.fail("status", message) }
}

private struct StatusFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
