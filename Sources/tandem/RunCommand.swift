import ArgumentParser
import Daemon
import Foundation
import KeepalivedConfig
import Logging
import Node
import NodeConfig
import TandemMetrics

#if canImport(Glibc)
import Glibc
#endif

/// `tandem run node.yaml [--check]`: the node agent (Sources/Node). `--check` reads and
/// validates the file like `keepalived -t` and exits 0 (valid) or 1 (each error named with its
/// file, line and key); without it the agent runs until SIGTERM/SIGINT.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run monitor, proxy and virtual IP as one node agent from node.yaml.")

    @Argument(help: "node.yaml path.")
    var path: String

    @Flag(name: .long, help: "Check the file and exit: 0 if it is valid, 1 with the errors if not.")
    var check = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel = "notice"

    @Option(name: .customLong("log-format"), help: "text (default) or json: one JSON object per line.")
    var logFormat: LogFormat = .text
    @Option(name: .customLong("http"), help: "Serve GET /metrics (Prometheus), the status page (GET /) and /status.json on ADDR:PORT (overrides node.http.listen).")
    var http: String?

    func run() async throws {
        let text: String
        guard (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) != nil else {
            fail("cannot read \(path): no such file", code: 1)
        }
        guard (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeRegular else {
            fail("cannot read \(path): not a regular file", code: 1)
        }
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            fail("cannot read \(path): \((error as NSError).localizedDescription)", code: 1)
        }
        var configuration: NodeConfiguration
        do {
            configuration = try NodeConfiguration(parsing: text, file: path)
        } catch {
            fail("\(error)", code: 1)
        }
        // virtual-servers.config: its file read and checked now (errors name its file:line).
        let virtualServers: KeepalivedConfiguration?
        do {
            virtualServers = try loadVirtualServers(configuration, nodeFile: path)
        } catch {
            fail("\(error)", code: 1)
        }
        if check {
            for warning in virtualServers?.warnings ?? [] {
                let text = "tandem run: \(warning)\n"
                _ = text.withCString { write(2, $0, strlen($0)) }
            }
        }
        if let http {
            guard (try? HTTPEndpoint(parsing: http)) != nil else { fail("--http \(http): expected ADDR:PORT (e.g. 127.0.0.1:9121)", code: 1) }
            configuration.httpListen = http
        }
        guard check else {
            bootstrapLogging(format: logFormat)
            let notifier = SystemdNotifier.takeFromEnvironment()
            signal(SIGHUP, SIG_IGN)  // nothing to reload; a stray SIGHUP must not stop the node
            var logger = Logger(label: "tandem.node")
            guard let level = Logger.Level(rawValue: logLevel) else { fail("--log-level \(logLevel): must be one of trace, debug, info, notice, warning, error", code: 1) }
            logger.logLevel = level
            do {
                try await runNode(configuration: configuration, source: path, logger: logger, addressGuard: addressGuardLaunch, onReady: { notifier?.ready() })
            } catch {
                fail("\(error)", code: 1)
            }
            return
        }
        let parts = ["monitor on port \(configuration.monitor.port)"]
            + (configuration.redis.map { ["redis on port \($0.port)\($0.supervise ? " (supervised)" : "")"] } ?? [])
            + (configuration.proxy.map { ["proxy on \($0.listen.joined(separator: ", "))"] } ?? [])
            + (configuration.vip.map { ["virtual IP \($0.address) on \($0.interface) (\($0.placement.rawValue), VRRPv\($0.vrrpVersion))"] } ?? [])
            + (virtualServers.map { ["\($0.virtualServers.count) virtual server(s) from \(configuration.virtualServers!.config)"] } ?? [])
            + (configuration.httpListen.map { ["metrics and status page on \($0)"] } ?? [])
        print("\(path): configuration OK: node \(configuration.name) (\(configuration.role.rawValue)) of group \(configuration.group.name) with \(configuration.group.members.count) nodes; \(parts.joined(separator: "; "))")
    }

    private func fail(_ message: String, code: Int32) -> Never {
        let text = "tandem run: \(message)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(code)
    }
}
