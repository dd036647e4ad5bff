import ArgumentParser
import Foundation
import NodeConfig

#if canImport(Glibc)
import Glibc
#endif

/// `tandem run node.yaml [--check]`: the node agent. So far only `--check` works: it reads and
/// validates the file like `keepalived -t` and exits 0 (valid) or 1 (each error named with its
/// file, line and key). Running the agent itself is not implemented yet (exit 2).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run monitor, proxy and virtual IP as one node agent from node.yaml (only --check works yet).")

    @Argument(help: "node.yaml path.")
    var path: String

    @Flag(name: .long, help: "Check the file and exit: 0 if it is valid, 1 with the errors if not.")
    var check = false

    func run() async throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            fail("cannot read \(path): \((error as NSError).localizedDescription)", code: 1)
        }
        let configuration: NodeConfiguration
        do {
            configuration = try NodeConfiguration(parsing: text, file: path)
        } catch {
            fail("\(error)", code: 1)
        }
        guard check else { fail("running the node agent is not implemented yet (--check validates \(path))", code: 2) }
        let parts = ["monitor on port \(configuration.monitor.port)"]
            + (configuration.redis.map { ["redis on port \($0.port)\($0.supervise ? " (supervised)" : "")"] } ?? [])
            + (configuration.proxy.map { ["proxy on \($0.listen.joined(separator: ", "))"] } ?? [])
            + (configuration.vip.map { ["virtual IP \($0.address) on \($0.interface) (\($0.placement.rawValue), VRRPv\($0.vrrpVersion))"] } ?? [])
        print("\(path): configuration OK: node \(configuration.name) (\(configuration.role.rawValue)) of group \(configuration.group.name) with \(configuration.group.members.count) nodes; \(parts.joined(separator: "; "))")
    }

    private func fail(_ message: String, code: Int32) -> Never {
        let text = "tandem run: \(message)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(code)
    }
}
