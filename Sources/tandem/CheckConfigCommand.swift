import ArgumentParser
import Foundation
import KeepalivedConfig
import NodeConfig
import SentinelConfig

#if canImport(Glibc)
import Glibc
#endif

/// `tandem check-config FILE…`: reads each file with the reader its daemon uses and exits
/// 0 (all valid), 1 (some file is invalid: each error with its file and line) or 2 (a file
/// cannot be read or its kind cannot be told, or the command line is wrong). For systemd's
/// `ExecStartPre=`, `keepalived -t`, `redis-server --test-config`-style.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a sentinel.conf, keepalived.conf or node.yaml and exit (0 valid, 1 invalid, 2 unreadable).",
        discussion: """
            The kind is told from the file: .yaml/.yml is a node.yaml; a 'sentinel …' line makes a \
            sentinel.conf; a block ('{') or a keepalived section (vrrp_instance, global_defs, …) \
            makes a keepalived.conf. --kind overrides. Prints 'FILE: OK (KIND)' on standard output, \
            errors and warnings on standard error. Exit status: 0 every file is valid, 1 some file is \
            invalid, 2 some file cannot be read or its kind cannot be told (or a usage error).
            """)

    @Argument(help: "The files to check.")
    var files: [String] = []

    @Option(name: .long, help: "sentinel, keepalived or node: the kind of every file (default: told from each file).")
    var kind: String?

    func run() throws {
        guard !files.isEmpty else { usage("no file given (tandem check-config [--kind sentinel|keepalived|node] FILE…)") }
        var forced: ConfigKind?
        if let kind {
            guard let k = ConfigKind(rawValue: kind) else { usage("--kind \(kind): must be sentinel, keepalived or node") }
            forced = k
        }
        var worst: Int32 = 0
        for file in files { worst = max(worst, check(file, kind: forced)) }
        if worst != 0 { throw ExitCode(worst) }
    }

    /// Checks one file; its exit status.
    func check(_ path: String, kind forced: ConfigKind?) -> Int32 {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return say(2, "\(path): cannot read: no such file") }
        if isDirectory.boolValue { return say(2, "\(path): cannot read: is a directory") }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            return say(2, "\(path): cannot read: \((error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription)")
        }
        guard let kind = forced ?? ConfigKind.detect(path: path, text: text) else {
            return say(2, "\(path): cannot tell whether this is a sentinel.conf, a keepalived.conf or a node.yaml; use --kind")
        }
        switch kind {
        case .sentinel:
            do {
                let c = try SentinelConfiguration(parsing: text, file: path)
                for warning in c.warnings { _ = say(0, "\(warning.file):\(warning.line): warning: '\(warning.directive)': \(warning.message)") }
            } catch {
                return say(1, "\(error)")
            }
        case .keepalived:
            // The reader `tandem vrrp` uses (includes are read relative to the file).
            do {
                let c = try KeepalivedConfiguration.load(file: path)
                for warning in c.warnings { _ = say(0, "\(warning)") }
                if c.instances.isEmpty { _ = say(0, "\(path): warning: no vrrp_instance") }
            } catch {
                return say(1, "\(error)")
            }
        case .node:
            // The reader `tandem run --check` uses.
            do {
                _ = try NodeConfiguration(parsing: text, file: path)
            } catch {
                return say(1, "\(error)")
            }
        }
        // write(2), not print: in order with the warnings when both streams are one pipe.
        let ok = "\(path): OK (\(kind.rawValue))\n"
        _ = ok.withCString { write(1, $0, strlen($0)) }
        return 0
    }

    /// A line on standard error; returns `status`.
    private func say(_ status: Int32, _ message: String) -> Int32 {
        let text = message + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        return status
    }

    private func usage(_ message: String) -> Never {
        _ = say(2, "tandem check-config: \(message)")
        Glibc.exit(2)
    }
}

/// The three configuration files Tandem reads.
enum ConfigKind: String, CaseIterable {
    case sentinel, keepalived, node

    /// keepalived.conf's top-level sections and keywords (a sentinel.conf has none of them).
    static let keepalivedWords: Set<String> = [
        "global_defs", "vrrp_instance", "vrrp_script", "vrrp_sync_group", "include", "virtual_server",
        "virtual_server_group", "static_ipaddress", "static_routes", "static_rules", "vrrp_track_process",
        "track_file", "net_namespace", "linkbeat_use_polling",
    ]

    /// The kind told from the file's name and first telling line; nil when nothing tells.
    static func detect(path: String, text: String) -> ConfigKind? {
        let ext = (path as NSString).pathExtension.lowercased()
        if ext == "yaml" || ext == "yml" { return .node }
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("!") || line == "---" { continue }
            let word = String(line.prefix { !$0.isWhitespace && $0 != "{" })
            if word.lowercased() == "sentinel" { return .sentinel }
            if keepalivedWords.contains(word) || line.contains("{") { return .keepalived }
            // YAML: `key:` or `key: value` at the top level.
            if word.hasSuffix(":") && raw.first?.isWhitespace != true { return .node }
        }
        return nil
    }
}
