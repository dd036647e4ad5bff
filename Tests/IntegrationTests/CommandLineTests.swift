import Foundation
import RedisTestSupport
import Testing

/// Runs the built `tandem` executable.
func runTandem(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try runProgram(try tandemExecutable(), arguments)
}

@Suite("The tandem command line")
struct CommandLineTests {
    @Test("--version prints the version and --help lists every subcommand")
    func versionAndHelp() throws {
        let version = try runTandem(["--version"])
        #expect(version.status == 0)
        #expect(version.output.hasPrefix("0."))
        let help = try runTandem(["--help"])
        #expect(help.status == 0)
        for subcommand in ["sentinel", "proxy", "vrrp", "run", "switchover", "status", "check-config"] {
            #expect(help.output.contains(subcommand), "help does not list \(subcommand)")
        }
    }

    @Test("tandem run --check validates node.yaml (0 valid, 1 with file:line:key); a run that cannot set up exits 1 naming why")
    func runCheck() throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/examples")
        for name in ["three-nodes-n1.yaml", "witness-n1.yaml", "witness-w1.yaml", "adopt-n2.yaml"] {
            let result = try runTandem(["run", "--check", examples.appendingPathComponent(name).path])
            #expect(result.status == 0 && result.output.contains("configuration OK"), "\(name): \(result.output)")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("node.yaml").path
        try "node:\n  name: n1\n  colour: blue\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try runTandem(["run", "--check", bad])
        #expect(refused.status == 1 && refused.output.contains("\(bad):3: 'node.colour': unknown key"), "\(refused.output)")
        let missing = try runTandem(["run", "--check", dir.appendingPathComponent("none.yaml").path])
        #expect(missing.status == 1 && missing.output.contains("cannot read"), "\(missing.output)")
        // The agent's state directory cannot be made (a file is in the way): exit 1 before anything starts.
        let blocker = dir.appendingPathComponent("file").path
        try "".write(toFile: blocker, atomically: true, encoding: .utf8)
        let example = try String(contentsOf: examples.appendingPathComponent("witness-w1.yaml"), encoding: .utf8)
        let unstartable = dir.appendingPathComponent("w1.yaml").path
        try example.replacingOccurrences(of: "  role: witness\n", with: "  role: witness\n  state-dir: \(blocker)/state\n")
            .write(toFile: unstartable, atomically: true, encoding: .utf8)
        let failed = try runTandem(["run", unstartable])
        #expect(failed.status == 1 && failed.output.contains("cannot create node.state-dir \(blocker)/state"), "\(failed.output)")
    }

    @Test("tandem vrrp --check loads both seeds' keepalived.conf; its virtual_server loads, lb_kind NAT a warning with its line")
    func vrrpCheckSeeds() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../KeepalivedConfigTests/Fixtures")
        for name in ["seed1-keepalived-haproxy.conf", "seed1-keepalived-redis.conf", "seed2-keepalived-master.conf", "seed2-keepalived-backup.conf"] {
            let path = fixtures.appendingPathComponent(name).standardizedFileURL.path
            let result = try runTandem(["vrrp", "--check", path])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("is valid"), "\(result.output)")
            if name.hasPrefix("seed2") {
                #expect(result.output.contains("\(path):48: warning: 'lb_kind NAT'"), "\(result.output)")
                #expect(result.output.contains("(1 instance(s), 1 virtual server(s), 2 warning(s))"), "\(result.output)")
            }
        }
    }

    @Test("tandem vrrp with a malformed keepalived.conf names file and line and exits 1")
    func vrrpBadConfig() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-bad-\(ProcessInfo.processInfo.processIdentifier).conf").path
        try "vrrp_instance A {\n  interface eth0\n  virtual_router_id 300\n}\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runTandem(["vrrp", path])
        #expect(result.status == 1)
        #expect(result.output.contains("\(path):3: 'virtual_router_id'"), "\(result.output)")
    }

    @Test("an unknown subcommand is an error naming it")
    func unknown() throws {
        let result = try runTandem(["frobnicate"])
        #expect(result.status != 0)
        #expect(result.output.contains("frobnicate"))
    }
}
