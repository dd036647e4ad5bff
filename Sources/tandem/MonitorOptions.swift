import ArgumentParser
import Foundation
import NodeConfig
import RESP

#if canImport(Glibc)
import Glibc
#endif

/// The options of the commands that ask a monitor (`status`, `switchover`): which monitor, and
/// the credentials, from the command line or from a node.yaml.
struct MonitorOptions: ParsableArguments {
    @Option(name: .long, help: "The monitor to ask (HOST:PORT). Default: the node's monitor with --config, else 127.0.0.1:26379.")
    var monitor: String?

    @Option(name: .long, help: "A node.yaml: its monitor, group and Redis password.")
    var config: String?

    @Option(name: .long, help: "Password for the monitor (requirepass of the sentinel).")
    var monitorPassword: String?

    @Option(name: .long, help: "Password for the group's Redis servers. Default: the node's group.password with --config.")
    var password: String?

    /// What the options name, node.yaml filling what the command line left out.
    struct Resolved {
        var host: String
        var port: Int
        var group: String?
        var redisUser: String?
        var redisPassword: String?
    }

    /// Resolves the options; a bad value ends the command with `tandem <command>: …` and exit 1.
    func resolve(command: String) -> Resolved {
        var address = monitor ?? "127.0.0.1:26379"
        var group: String?
        var redisPassword = password
        var redisUser: String?
        if let config {
            let c: NodeConfiguration
            do {
                c = try NodeConfiguration(parsing: try String(contentsOfFile: config, encoding: .utf8), file: config)
            } catch {
                Self.fail(command, "\(config): \(error)")
            }
            if monitor == nil, let me = c.me { address = "\(me.address):\(me.monitorPort)" }
            group = c.group.name
            if password == nil { redisPassword = c.redis?.password ?? c.group.password }
            redisUser = c.redis?.user ?? c.group.user
        }
        guard let (host, port) = Self.hostPort(address) else { Self.fail(command, "--monitor \(address): expected HOST:PORT") }
        return Resolved(host: host, port: port, group: group, redisUser: redisUser, redisPassword: redisPassword)
    }

    static func fail(_ command: String, _ message: String) -> Never {
        let text = "tandem \(command): \(message)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(1)
    }

    static func hostPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// A Sentinel reply's flat key/value array as a dictionary.
    static func fields(_ reply: RESPValue) -> [String: String] {
        var fields: [String: String] = [:]
        let parts = reply.array ?? []
        var i = 0
        while i + 1 < parts.count {
            if let key = parts[i].string, let value = parts[i + 1].string { fields[key] = value }
            i += 2
        }
        return fields
    }
}
