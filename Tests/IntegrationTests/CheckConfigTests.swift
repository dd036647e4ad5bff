import Foundation
import RedisTestSupport
import Testing

/// A temporary directory removed at the end of the test.
private func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-check-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

private let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
private let nodeExamples = here.appendingPathComponent("../../docs/examples").standardizedFileURL
private let keepalivedFixtures = here.appendingPathComponent("../KeepalivedConfigTests/Fixtures").standardizedFileURL

/// The first seed's sentinel.conf (../shared/seeds/configs/seed1-sentinel.conf).
private let seedSentinelConf = """
    # sentinel.conf from the first seed, in Redis's own syntax
    port 26379
    logfile /var/log/redis/sentinel.log
    dir /tmp
    sentinel monitor mymaster 192.168.1.20 6379 2
    sentinel auth-pass mymaster my-redis-password
    sentinel down-after-milliseconds mymaster 30000
    sentinel parallel-syncs mymaster 1
    sentinel failover-timeout mymaster 180000

    """

@Suite("tandem check-config")
struct CheckConfigTests {
    @Test("the seeds' and the documented files are OK, each kind told from the file; exit 0")
    func validFiles() throws {
        try withTemporaryDirectory { dir in
            let sentinel = dir.appendingPathComponent("sentinel.conf").path
            try seedSentinelConf.write(toFile: sentinel, atomically: true, encoding: .utf8)
            var expected: [(String, String)] = [(sentinel, "sentinel")]
            for name in ["seed1-keepalived-haproxy.conf", "seed1-keepalived-redis.conf", "seed2-keepalived-master.conf", "seed2-keepalived-backup.conf"] {
                expected.append((keepalivedFixtures.appendingPathComponent(name).path, "keepalived"))
            }
            for name in ["three-nodes-n1.yaml", "witness-n1.yaml", "witness-w1.yaml", "adopt-n2.yaml"] {
                expected.append((nodeExamples.appendingPathComponent(name).path, "node"))
            }
            for (path, kind) in expected {
                let result = try runTandem(["check-config", path])
                #expect(result.status == 0, "\(path): \(result.output)")
                #expect(result.output.contains("\(path): OK (\(kind))"), "\(path): \(result.output)")
            }
            // All at once: still 0; keepalived's warnings are printed with their line.
            let all = try runTandem(["check-config"] + expected.map(\.0))
            #expect(all.status == 0, "\(all.output)")
            #expect(all.output.contains("seed2-keepalived-master.conf:48: warning: 'lb_kind NAT'"), "\(all.output)")
        }
    }

    @Test("the kind comes from the content when the name does not tell; --kind overrides")
    func detection() throws {
        try withTemporaryDirectory { dir in
            let node = dir.appendingPathComponent("node.conf").path
            try String(contentsOf: nodeExamples.appendingPathComponent("witness-w1.yaml"), encoding: .utf8)
                .write(toFile: node, atomically: true, encoding: .utf8)
            let keepalived = dir.appendingPathComponent("vrrp.cfg").path
            try String(contentsOf: keepalivedFixtures.appendingPathComponent("seed1-keepalived-redis.conf"), encoding: .utf8)
                .write(toFile: keepalived, atomically: true, encoding: .utf8)
            let sentinel = dir.appendingPathComponent("monitor").path
            try seedSentinelConf.write(toFile: sentinel, atomically: true, encoding: .utf8)
            #expect(try runTandem(["check-config", node]).output.contains("\(node): OK (node)"))
            #expect(try runTandem(["check-config", keepalived]).output.contains("\(keepalived): OK (keepalived)"))
            #expect(try runTandem(["check-config", sentinel]).output.contains("\(sentinel): OK (sentinel)"))
            // Forced: a sentinel.conf read as a node.yaml is invalid.
            let forced = try runTandem(["check-config", "--kind", "node", sentinel])
            #expect(forced.status == 1, "\(forced.output)")
            #expect(forced.output.contains("\(sentinel):"), "\(forced.output)")
            // Nothing tells (an HAProxy config): 2, asking for --kind.
            let haproxy = dir.appendingPathComponent("haproxy.cfg").path
            try "global\n    maxconn 100\ndefaults\n    mode tcp\n".write(toFile: haproxy, atomically: true, encoding: .utf8)
            let unknown = try runTandem(["check-config", haproxy])
            #expect(unknown.status == 2 && unknown.output.contains("--kind"), "\(unknown.output)")
        }
    }

    @Test("an invalid file of each kind: exit 1, the error with file and line")
    func invalidFiles() throws {
        try withTemporaryDirectory { dir in
            let cases: [(name: String, text: String, error: String)] = [
                ("sentinel.conf", "port 26379\nsentinel monitor m 127.0.0.1 6379 2\nsentinel down-after-milliseconds other 100\n",
                 ":3: 'sentinel down-after-milliseconds other 100': No such master with specified name."),
                ("keepalived.conf", "vrrp_instance A {\n  interface eth0\n  virtual_router_id 300\n}\n", ":3: 'virtual_router_id'"),
                ("node.yaml", "node:\n  name: n1\n  colour: blue\n", ":3: 'node.colour': unknown key"),
            ]
            for c in cases {
                let path = dir.appendingPathComponent(c.name).path
                try c.text.write(toFile: path, atomically: true, encoding: .utf8)
                let result = try runTandem(["check-config", path])
                #expect(result.status == 1, "\(c.name): \(result.output)")
                #expect(result.output.contains(path + c.error), "\(c.name): \(result.output)")
                #expect(!result.output.contains("OK"), "\(c.name): \(result.output)")
            }
        }
    }

    @Test("cannot read (missing, a directory) and usage errors: exit 2; several files: the worst status")
    func unreadableAndUsage() throws {
        try withTemporaryDirectory { dir in
            let missing = try runTandem(["check-config", dir.appendingPathComponent("none.conf").path])
            #expect(missing.status == 2 && missing.output.contains("cannot read: no such file"), "\(missing.output)")
            let directory = try runTandem(["check-config", dir.path])
            #expect(directory.status == 2 && directory.output.contains("is a directory"), "\(directory.output)")
            let none = try runTandem(["check-config"])
            #expect(none.status == 2, "\(none.output)")
            let badKind = try runTandem(["check-config", "--kind", "haproxy", dir.path])
            #expect(badKind.status == 2 && badKind.output.contains("--kind haproxy"), "\(badKind.output)")

            let good = dir.appendingPathComponent("sentinel.conf").path
            try seedSentinelConf.write(toFile: good, atomically: true, encoding: .utf8)
            let bad = dir.appendingPathComponent("bad.yaml").path
            try "node: [\n".write(toFile: bad, atomically: true, encoding: .utf8)
            let mixed = try runTandem(["check-config", good, bad])
            #expect(mixed.status == 1, "\(mixed.output)")
            #expect(mixed.output.contains("\(good): OK (sentinel)"), "\(mixed.output)")
            let worst = try runTandem(["check-config", good, bad, dir.appendingPathComponent("none").path])
            #expect(worst.status == 2, "\(worst.output)")
        }
    }

    /// The files of docs/operations.md's "Configure" section, each code block's part after a
    /// `# /etc/tandem/NAME` line, keyed by NAME.
    static func configureSectionFiles() throws -> [String: String] {
        let text = try String(contentsOf: here.appendingPathComponent("../../docs/operations.md").standardizedFileURL, encoding: .utf8)
        let start = try #require(text.range(of: "## Configure\n"))
        let end = try #require(text.range(of: "\n## Upgrade\n", range: start.upperBound..<text.endIndex))
        var files: [String: String] = [:]
        var current: String?
        var inBlock = false
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inBlock.toggle()
                current = nil
                continue
            }
            guard inBlock else { continue }
            if line.hasPrefix("# /etc/tandem/") {
                let name = String(line.dropFirst("# /etc/tandem/".count).prefix { $0 != " " })
                current = name
                files[name] = ""
            } else if let name = current {
                files[name, default: ""] += line + "\n"
            }
        }
        return files
    }

    @Test("docs/operations.md's Configure files: check-config 0 on the .conf and .yaml, 2 on the proxy's .env, --check summaries")
    func documentedConfigureFiles() throws {
        let files = try Self.configureSectionFiles()
        #expect(Set(files.keys) == ["n1.yaml", "sentinel-main.conf", "keepalived-main.conf", "proxy-main.env"], "\(files.keys)")
        try withTemporaryDirectory { dir in
            for (name, text) in files {
                try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
            let path = { (name: String) in dir.appendingPathComponent(name).path }
            let checked = try runTandem(["check-config", path("keepalived-main.conf"), path("sentinel-main.conf"), path("n1.yaml")])
            #expect(checked.status == 0, "\(checked.output)")
            for (name, kind) in [("keepalived-main.conf", "keepalived"), ("sentinel-main.conf", "sentinel"), ("n1.yaml", "node")] {
                #expect(checked.output.contains("\(path(name)): OK (\(kind))"), "\(checked.output)")
            }
            let env = try runTandem(["check-config", path("proxy-main.env")])
            #expect(env.status == 2 && env.output.contains("cannot tell whether this is a sentinel.conf, a keepalived.conf or a node.yaml"),
                    "\(env.output)")
            let node = try runTandem(["run", "--check", path("n1.yaml")])
            #expect(node.status == 0 && node.output.contains("proxy on 0.0.0.0:6380; virtual IP 10.0.0.100/24 on eth0 (proxy, VRRPv3); metrics and status page on 127.0.0.1:9121"),
                    "\(node.output)")
            #expect(try runTandem(["vrrp", "--check", path("keepalived-main.conf")]).status == 0)
            // The proxy's line: its options as the unit passes them (split at white space).
            let line = try #require(files["proxy-main.env"]?.split(separator: "\n").first { $0.hasPrefix("TANDEM_PROXY_ARGS=") })
            #expect(line.contains("--http 127.0.0.1:9122"))
            let bad = try runTandem(["proxy", "--listen", "127.0.0.1:0", "--sentinel", "127.0.0.1:1", "--master-name", "m", "--http", "nonsense"])
            #expect(bad.status == 1 && bad.output.contains("tandem proxy: --http nonsense: expected ADDR:PORT (e.g. 127.0.0.1:9121)"), "\(bad.output)")
        }
    }
}
