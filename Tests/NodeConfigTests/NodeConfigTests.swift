import AlertCore
import Foundation
@testable import NodeConfig
import Testing

@Suite("node.yaml: reading and checking")
struct NodeConfigTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/examples")

    static func load(_ name: String) throws -> NodeConfiguration {
        let path = examples.appendingPathComponent(name).path
        return try NodeConfiguration(parsing: try String(contentsOfFile: path, encoding: .utf8), file: name)
    }

    /// The error a text gives (the test fails if it loads).
    static func error(_ text: String) -> NodeConfigError? {
        do {
            _ = try NodeConfiguration(parsing: text, file: "node.yaml")
            return nil
        } catch {
            return error
        }
    }

    static let minimal = """
        node:
          name: n1
        group:
          name: mymaster
          nodes:
            - { name: n1, address: 10.9.0.1 }
            - { name: n2, address: 10.9.0.2 }
            - { name: n3, address: 10.9.0.3 }

        """

    @Test("the documented examples load as docs/configuration.md describes them")
    func examplesLoad() throws {
        let three = try Self.load("three-nodes-n1.yaml")
        #expect(three.name == "n1" && three.role == .data && three.group.members.count == 3 && three.group.quorum == 2)
        #expect(three.group.downAfterMilliseconds == 1000 && three.group.failoverTimeoutMilliseconds == 60_000)
        #expect(three.redis?.port == 6379 && three.redis?.supervise == false && three.monitor.port == 26379)
        #expect(three.proxy?.listen == ["0.0.0.0:6380"])
        let vip = try #require(three.vip)
        #expect(vip.address == "10.0.0.100/24" && vip.interface == "eth0" && vip.placement == .proxy && vip.vrrpVersion == 3)
        #expect(vip.routerID == 51 && vip.advertIntervalMilliseconds == 100 && vip.priority == 100 && vip.authPass == nil)

        let n1 = try Self.load("witness-n1.yaml")
        #expect(n1.group.durability == .replicated && n1.redis?.supervise == true && n1.redis?.configFile == "/etc/redis/redis.conf")
        #expect(n1.vip?.placement == .proxy && n1.proxy?.listen == ["0.0.0.0:6380"])
        let w1 = try Self.load("witness-w1.yaml")
        #expect(w1.role == .witness && w1.redis == nil && w1.proxy == nil && w1.vip == nil && w1.monitor.port == 26379)

        let adopt = try Self.load("adopt-n2.yaml")
        #expect(adopt.group.name == "cache" && adopt.group.downAfterMilliseconds == 30_000)
        #expect(adopt.redis?.password == "my-redis-password" && adopt.monitor.bind == ["198.51.100.12", "127.0.0.1"])
    }

    @Test("collections nested past 64 levels are refused with the line, before the YAML reader recurses (the fuzzer's stack overflow); quotes and comments do not count")
    func deepNesting() throws {
        // The fuzzer's input had a line of ~1,800 `{`; 100,000 would overflow any stack.
        let deep = Self.minimal + "extra:\n  x: " + String(repeating: "{", count: 100_000) + "\n"
        let error = try #require(Self.error(deep))
        let line = (Self.minimal + "extra:\n").filter { $0 == "\n" }.count + 1
        #expect(error.line == line && error.message.contains("nested deeper than 64"), "\(error)")
        let brackets = Self.minimal + "extra: [" + String(repeating: "[", count: 70) + "\n"
        #expect(Self.error(brackets)?.message.contains("nested deeper") == true)
        // Brackets in quotes, in comments and after a plain word's apostrophe are text.
        let quoted = Self.minimal + "# " + String(repeating: "[", count: 100) + "\n"
            + "# don't " + String(repeating: "{", count: 100) + "\n"
        #expect(throws: Never.self) { _ = try NodeConfiguration(parsing: quoted, file: "node.yaml") }
        #expect(NodeConfiguration.lineNestingDeeper(than: 64, in: "a: '" + String(repeating: "[", count: 100) + "'\n") == nil)
        #expect(NodeConfiguration.lineNestingDeeper(than: 64, in: "a: don't\nb: " + String(repeating: "[", count: 65)) == 2)
    }

    @Test("defaults: quorum is a majority, down-after 5 s, the ports from group.nodes, VRRPv3 at 100 ms")
    func defaults() throws {
        let c = try NodeConfiguration(parsing: Self.minimal + "vip:\n  address: 10.9.0.100/24\n  interface: eth0\n", file: "node.yaml")
        #expect(c.group.quorum == 2 && c.group.downAfterMilliseconds == 5_000 && c.group.durability == .async)
        #expect(c.redis?.port == 6379 && c.monitor.port == 26379)
        #expect(c.vip?.placement == .direct && c.vip?.vrrpVersion == 3 && c.vip?.advertIntervalMilliseconds == 100)
        #expect(c.stateDirectory == "/var/lib/tandem/n1" && c.group.password == nil && c.group.user == nil)
        let set = try NodeConfiguration(parsing: Self.minimal.replacingOccurrences(of: "  name: n1\n", with: "  name: n1\n  state-dir: /srv/tandem\n")
            .replacingOccurrences(of: "  name: mymaster\n", with: "  name: mymaster\n  password: secret\n  user: tandem\n"), file: "node.yaml")
        #expect(set.stateDirectory == "/srv/tandem" && set.group.password == "secret" && set.group.user == "tandem")
    }

    @Test("alerts: webhook, email, timeout and attempts; a bad URL or an empty alerts block names its key")
    func alerts() throws {
        let c = try NodeConfiguration(parsing: Self.minimal + """
            alerts:
              webhook: http://127.0.0.1:9099/hook
              email: { server: "127.0.0.1:2525", from: tandem@example, to: [oncall@example] }
              timeout: 2s
              attempts: 3

            """, file: "node.yaml")
        #expect(c.alerts.webhook?.description == "http://127.0.0.1:9099/hook")
        #expect(c.alerts.email?.port == 2525)
        #expect(c.alerts.policy.timeoutMilliseconds == 2000)
        #expect(c.alerts.policy.attempts == 3)
        #expect(try NodeConfiguration(parsing: Self.minimal, file: "node.yaml").alerts.isEmpty)
        let https = Self.error(Self.minimal + "alerts:\n  webhook: https://x/\n")
        #expect(https?.key == "alerts.webhook")
        #expect(https?.message.contains("https is not supported") == true)
        #expect(Self.error(Self.minimal + "alerts:\n  attempts: 3\n")?.key == "alerts.webhook")
        #expect(Self.error(Self.minimal + "alerts:\n  webhook: http://x/\n  retries: 3\n") != nil)
    }

    @Test("a node's address must be an IP address (the monitors name masters by IP)")
    func addressesAreIPs() throws {
        let text = Self.minimal.replacingOccurrences(of: "address: 10.9.0.2", with: "address: redis-b.example")
        let error = try #require(Self.error(text))
        #expect(error.key == "group.nodes" && error.message.contains("'redis-b.example' is not an IP address"), "\(error)")
        let v6 = Self.minimal.replacingOccurrences(of: "address: 10.9.0.2", with: "address: 'fd00::2'")
        #expect(Self.error(v6) == nil)
        #expect(Self.error(Self.minimal.replacingOccurrences(of: "address: 10.9.0.2", with: "address: 10.9.0.256")) != nil)
    }

    @Test("bad files: each error names the line and the key", arguments: [
        ("node:\n  name: n1\n  nmae: x\n", 3, "node.nmae", "unknown key"),
        ("node: [a, b]\n", 1, "node", "expected a mapping"),
        ("node:\n  name: n1\n  role: leader\n", 3, "node.role", "must be one of data, witness"),
        ("node:\n  name: n1\ngroup:\n  name: m\n", 3, "group.nodes", "is required"),
        ("node:\n  name: [n1\n", 3, "", "not valid YAML"),
        ("node:\n  name: n1\n  name: n2\n", 3, "node.name", "given twice"),
    ] as [(String, Int, String, String)])
    func badFiles(text: String, line: Int, key: String, message: String) throws {
        let error = try #require(Self.error(text))
        #expect(error.line == line && error.key == key && error.message.contains(message), "\(error)")
        #expect(error.description.hasPrefix("node.yaml:\(line): "))
    }

    @Test("bad values and impossible combinations are refused with their line and key", arguments: [
        ("  down-after: 1 minute\n", "group.down-after", "expected a duration"),
        ("  down-after: 10ms\n", "group.down-after", "must be from 100 ms"),
        ("  quorum: 4\n", "group.quorum", "from 1 to 3"),
        ("  quorum: -1\n", "group.quorum", "from 1 to 3"),
        ("  quorum: 99999999999999999999999\n", "group.quorum", "from 1 to 3"),
        ("  durability: sync\n", "group.durability", "one of async, replicated"),
    ] as [(String, String, String)])
    func badGroupValues(line: String, key: String, message: String) throws {
        let text = Self.minimal.replacingOccurrences(of: "  name: mymaster\n", with: "  name: mymaster\n" + line)
        let error = try #require(Self.error(text))
        #expect(error.key == key && error.message.contains(message) && error.line == 5, "\(error)")
    }

    @Test("a VIP needs an interface and a prefix; a proxy-placed VIP needs a proxy; VRRP settings are checked", arguments: [
        ("vip:\n  address: 10.9.0.100/24\n", "vip.interface", "is required"),
        ("vip:\n  address: 10.9.0.100\n  interface: eth0\n", "vip.address", "prefix length"),
        ("vip:\n  address: 10.9.0.100/24\n  interface: eth0\n  mode: proxy\n", "vip.mode", "needs a proxy section"),
        ("vip:\n  address: 10.9.0.100/24\n  interface: eth0\n  vrrp:\n    version: 2\n    advert-interval: 1500ms\n", "vip.vrrp.advert-interval", "whole seconds"),
        ("vip:\n  address: 10.9.0.100/24\n  interface: eth0\n  vrrp:\n    auth-pass: secret\n", "vip.vrrp.auth-pass", "no authentication"),
        ("vip:\n  address: 10.9.0.100/24\n  interface: eth0\n  vrrp:\n    router-id: 256\n", "vip.vrrp.router-id", "from 1 to 255"),
        ("vip:\n  address: 10.9.0.100/24\n  interface: eth0\n  vrrp:\n    vmac: a-name-of-16-byt\n", "vip.vrrp.vmac", "Linux allows at most 15"),
        ("vip:\n  address: 10.9.0.100/24\n  interface: eth0\n  vrrp:\n    vmac: eth0\n", "vip.vrrp.vmac", "cannot be named as its interface"),
        ("proxy:\n  listen: [0.0.0.0:6379]\n", "proxy", "takes this node's Redis port 6379"),
        ("proxy:\n  listen: [nowhere]\n", "proxy.listen", "is not HOST:PORT"),
        ("proxy:\n  listen: [0.0.0.0:6380]\n  cluster: [10.0.0.5]\n", "proxy.cluster", "is not HOST:PORT"),
        ("redis:\n  supervise: true\n", "redis.supervise", "needs redis.config"),
    ] as [(String, String, String)])
    func badSections(section: String, key: String, message: String) throws {
        let error = try #require(Self.error(Self.minimal + section))
        #expect(error.key == key && error.message.contains(message), "\(error)")
    }

    @Test("vip.vrrp.vmac: true is keepalived's vrrp.ROUTER-ID, a name is taken, false or absent is none")
    func vmac() throws {
        func vmac(_ value: String?) throws -> String? {
            let vrrp = "  vrrp:\n    router-id: 77\n" + (value.map { "    vmac: \($0)\n" } ?? "")
            return try NodeConfiguration(parsing: Self.minimal + "vip:\n  address: 10.9.0.100/24\n  interface: eth0\n" + vrrp, file: "n.yaml").vip?.vmac
        }
        #expect(try vmac("true") == "vrrp.77")
        #expect(try vmac("vm0") == "vm0")
        #expect(try vmac("false") == nil)
        #expect(try vmac(nil) == nil)
    }

    @Test("proxy.cluster: the proxy fronts a Redis Cluster, also with durability: replicated (not in direct placement)")
    func proxyCluster() throws {
        let config = try NodeConfiguration(parsing: Self.minimal + "proxy:\n  listen: 0.0.0.0:6380\n  cluster: [10.0.0.5:7000, 10.0.0.6:7000]\n", file: "n.yaml")
        #expect(config.proxy?.cluster == ["10.0.0.5:7000", "10.0.0.6:7000"])
        #expect(try NodeConfiguration(parsing: Self.minimal + "proxy:\n  listen: 0.0.0.0:6380\n", file: "n.yaml").proxy?.cluster == [])
        let replicated = Self.minimal.replacingOccurrences(of: "  name: mymaster\n", with: "  name: mymaster\n  durability: replicated\n")
            + "proxy:\n  listen: 0.0.0.0:6380\n  cluster: 10.0.0.5:7000\n"
        #expect(try NodeConfiguration(parsing: replicated, file: "n.yaml").proxy?.cluster == ["10.0.0.5:7000"])
        // Direct placement sends clients past the proxy that holds the writes, cluster or not.
        let error = try #require(Self.error(replicated + "vip:\n  address: 10.9.0.100/24\n  interface: eth0\n  mode: direct\n"))
        #expect(error.key == "vip" && error.message.contains("durability: replicated"), "\(error)")
    }

    @Test("node.http.listen: /metrics's address, HOST:PORT, on no port the node already uses")
    func httpListen() throws {
        let with = { (http: String) in Self.minimal.replacingOccurrences(of: "  name: n1\ngroup", with: "  name: n1\n" + http + "group") }
        let ok = try NodeConfiguration(parsing: with("  http:\n    listen: 127.0.0.1:9121\n"), file: "n.yaml")
        #expect(ok.httpListen == "127.0.0.1:9121")
        #expect(try NodeConfiguration(parsing: Self.minimal, file: "n.yaml").httpListen == nil)
        let bad = try #require(Self.error(with("  http:\n    listen: nowhere\n")))
        #expect(bad.key == "node.http.listen" && bad.message.contains("is not HOST:PORT") && bad.line == 4, "\(bad)")
        let missing = try #require(Self.error(with("  http:\n    port: 9121\n")))
        #expect(missing.key.hasPrefix("node.http."), "\(missing)")
        let taken = try #require(Self.error(with("  http:\n    listen: 0.0.0.0:26379\n")))
        #expect(taken.message.contains("takes this node's monitor port 26379"), "\(taken)")
    }

    @Test("virtual-servers: the keepalived file's path and the line it stands on; config is required; a witness has none")
    func virtualServersSection() throws {
        let ok = try NodeConfiguration(parsing: Self.minimal + "proxy:\n  listen: [0.0.0.0:6380]\nvirtual-servers:\n  config: lvs.conf\n", file: "n.yaml")
        #expect(ok.virtualServers?.config == "lvs.conf" && ok.virtualServers?.line == 12)
        #expect(try NodeConfiguration(parsing: Self.minimal, file: "n.yaml").virtualServers == nil)
        let missing = try #require(Self.error(Self.minimal + "virtual-servers:\n  file: lvs.conf\n"))
        #expect(missing.key == "virtual-servers.config" && missing.message.contains("is required") && missing.line == 9, "\(missing)")
        let unknown = try #require(Self.error(Self.minimal + "virtual-servers:\n  config: lvs.conf\n  threads: 2\n"))
        #expect(unknown.key == "virtual-servers.threads" && unknown.message == "unknown key" && unknown.line == 11, "\(unknown)")
        let witness = Self.minimal.replacingOccurrences(of: "  name: n1\ngroup", with: "  name: n3\n  role: witness\ngroup")
            .replacingOccurrences(of: "{ name: n3, address: 10.9.0.3 }", with: "{ name: n3, address: 10.9.0.3, role: witness }")
        let onWitness = try #require(Self.error(witness + "virtual-servers:\n  config: lvs.conf\n"))
        #expect(onWitness.key == "virtual-servers" && onWitness.message.contains("a witness only votes"), "\(onWitness)")
    }

    @Test("durability: replicated needs the proxy on a data node and no direct VIP; a witness needs neither")
    func durabilityNeedsTheProxy() throws {
        let replicated = Self.minimal.replacingOccurrences(of: "  name: mymaster\n", with: "  name: mymaster\n  durability: replicated\n")
        let noProxy = try #require(Self.error(replicated))
        #expect(noProxy.key == "group" && noProxy.message.contains("needs a proxy section"), "\(noProxy)")
        let proxy = "proxy:\n  listen: [0.0.0.0:6380]\n"
        let direct = try #require(Self.error(replicated + proxy + "vip:\n  address: 10.9.0.100/24\n  interface: eth0\n  mode: direct\n"))
        #expect(direct.key == "vip" && direct.message.contains("use mode proxy"), "\(direct)")
        let ok = try NodeConfiguration(parsing: replicated + proxy + "vip:\n  address: 10.9.0.100/24\n  interface: eth0\n", file: "n.yaml")
        #expect(ok.group.durability == .replicated && ok.vip?.placement == .proxy)
        let witness = replicated.replacingOccurrences(of: "  name: n1\ngroup", with: "  name: n3\n  role: witness\ngroup")
            .replacingOccurrences(of: "{ name: n3, address: 10.9.0.3 }", with: "{ name: n3, address: 10.9.0.3, role: witness }")
        #expect(try NodeConfiguration(parsing: witness, file: "w.yaml").group.durability == .replicated)
    }

    @Test("a witness runs no Redis, proxy or VIP; the node must be listed with its role; two data nodes need a witness or an explicit risk")
    func layouts() throws {
        let witness = Self.minimal.replacingOccurrences(of: "  name: n1\ngroup", with: "  name: n3\n  role: witness\ngroup")
            .replacingOccurrences(of: "{ name: n3, address: 10.9.0.3 }", with: "{ name: n3, address: 10.9.0.3, role: witness }")
        #expect(try NodeConfiguration(parsing: witness, file: "w.yaml").role == .witness)
        for section in ["proxy:\n  listen: [0.0.0.0:6380]\n", "redis:\n  password: x\n", "vip:\n  address: 10.9.0.100/24\n  interface: eth0\n"] {
            let error = try #require(Self.error(witness + section))
            #expect(error.message.contains("a witness only votes"), "\(error)")
        }
        let unlisted = try #require(Self.error(Self.minimal.replacingOccurrences(of: "  name: n1\ngroup", with: "  name: n9\ngroup")))
        #expect(unlisted.message.contains("'n9' is not among group.nodes"), "\(unlisted)")
        let wrongRole = try #require(Self.error(Self.minimal.replacingOccurrences(of: "  name: n1\ngroup", with: "  name: n1\n  role: witness\ngroup")))
        #expect(wrongRole.message.contains("lists 'n1' as data"), "\(wrongRole)")

        let two = Self.minimal.replacingOccurrences(of: "    - { name: n3, address: 10.9.0.3 }\n", with: "")
        let splitBrain = try #require(Self.error(two))
        #expect(splitBrain.key == "group" && splitBrain.message.contains("Add a witness"), "\(splitBrain)")
        let accepted = two.replacingOccurrences(of: "  name: mymaster\n", with: "  name: mymaster\n  accept-split-brain: true\n")
        #expect(try NodeConfiguration(parsing: accepted, file: "two.yaml").group.acceptSplitBrain)
        let duplicate = try #require(Self.error(Self.minimal.replacingOccurrences(of: "name: n2,", with: "name: n1,")))
        #expect(duplicate.message.contains("'n1' is given twice"), "\(duplicate)")
    }
}
