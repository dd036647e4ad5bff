import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension SentinelSurfaceSerial {
    /// Clients, ACL users and passwords on the sentinel port, next to redis-sentinel.
    @Suite("Sentinel clients, ACL and passwords against redis-sentinel 7.0", .serialized, .timeLimit(.minutes(3)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelAccessTests {
        /// Field names of a CLIENT LIST line, in order.
        static func fieldNames(_ line: String) -> [String] {
            line.split(separator: " ").map { String($0.split(separator: "=", maxSplits: 1).first ?? "") }
        }

        static func sortedCommandRules(_ line: String) -> String {
            let tokens = line.split(separator: " ").map(String.init)
            let lastCategory = tokens.lastIndex { $0.hasPrefix("+@") || $0.hasPrefix("-@") } ?? tokens.count - 1
            return (tokens[...lastCategory] + tokens[(lastCategory + 1)...].sorted()).joined(separator: " ")
        }

        @Test("CLIENT LIST / INFO fields and KILL by ID, ADDR, LADDR, TYPE, USER and SKIPME behave as in redis-sentinel")
        func clients() async throws {
            try await SentinelSurfaceTests.pair { tandem, redis, _ in
                for s in [tandem, redis] {
                    let me = try RawClient(port: s.port)
                    _ = try me.send(["CLIENT", "SETNAME", "me"])
                    let info = try me.send(["CLIENT", "INFO"])
                    let line = info.split(separator: "\r\n")[1].trimmingCharacters(in: .newlines)
                    #expect(line.contains(" name=me ") && line.contains(" cmd=client|info ") && line.contains(" user=default ") && line.hasSuffix(" resp=2"), "\(s.kind): \(line)")
                    let sub = try RawClient(port: s.port)
                    _ = try sub.send(["SUBSCRIBE", "+switch-master"])
                    let victim = try RawClient(port: s.port)
                    let victimID = try victim.send(["CLIENT", "ID"]).dropFirst().split(separator: "\r\n").first.map(String.init) ?? ""
                    let list = try me.send(["CLIENT", "LIST"]).split(separator: "\r\n").dropFirst().joined()
                    let lines = list.split(separator: "\n").map(String.init)
                    #expect(lines.count >= 3)
                    let pubsubLines = try me.send(["CLIENT", "LIST", "TYPE", "pubsub"]).split(separator: "\r\n").dropFirst().joined().split(separator: "\n")
                    #expect(pubsubLines.count == 1 && pubsubLines[0].contains(" flags=P ") && pubsubLines[0].contains(" sub=1 "), "\(s.kind): \(pubsubLines)")
                    #expect(try me.send(["CLIENT", "KILL", "ID", victimID]) == ":1\r\n")
                    #expect(victim.isClosed())
                    #expect(try me.send(["CLIENT", "KILL", "TYPE", "pubsub"]) == ":1\r\n")
                    #expect(sub.isClosed())
                    let other = try RawClient(port: s.port)
                    let otherAddr = try other.send(["CLIENT", "INFO"]).split(separator: " ").first { $0.hasPrefix("addr=") }.map { String($0.dropFirst(5)) } ?? ""
                    #expect(try me.send(["CLIENT", "KILL", otherAddr]) == "+OK\r\n")
                    #expect(other.isClosed())
                    // SKIPME yes (default) spares the caller; SKIPME no kills it too.
                    let laddr = "127.0.0.1:\(s.port)"
                    let spare = try RawClient(port: s.port)
                    _ = try spare.send(["PING"])
                    // The peer sentinel's links are clients too: filters are combined to single out ours.
                    let spareID = try spare.send(["CLIENT", "ID"]).dropFirst().split(separator: "\r\n").first.map(String.init) ?? ""
                    #expect(try me.send(["CLIENT", "KILL", "LADDR", "127.0.0.1:1", "SKIPME", "yes"]) == ":0\r\n")
                    #expect(try me.send(["CLIENT", "KILL", "LADDR", laddr, "ID", spareID, "SKIPME", "yes"]) == ":1\r\n")
                    #expect(spare.isClosed())
                    _ = try me.send(["ACL", "SETUSER", "killme", "on", "nopass", "+@all"])
                    _ = try me.send(["AUTH", "killme", "x"])
                    #expect(try me.send(["CLIENT", "KILL", "USER", "killme", "SKIPME", "yes"]) == ":0\r\n")
                    #expect(try me.send(["CLIENT", "KILL", "USER", "killme", "SKIPME", "no"]) == ":1\r\n")
                    #expect(me.isClosed())
                }
                // The same fields in the same order.
                let t = try RawClient(port: tandem.port), r = try RawClient(port: redis.port)
                let tLine = try t.send(["CLIENT", "INFO"]).split(separator: "\r\n")[1]
                let rLine = try r.send(["CLIENT", "INFO"]).split(separator: "\r\n")[1]
                #expect(Self.fieldNames(String(tLine)) == Self.fieldNames(String(rLine)))
            }
        }

        @Test("ACL users: SETUSER, AUTH user pass, NOPERM, WHOAMI, LIST, GETUSER, LOG, DELUSER as redis-sentinel")
        func aclUsers() async throws {
            try await SentinelSurfaceTests.pair { tandem, redis, _ in
                var transcripts: [[String]] = []
                for s in [tandem, redis] {
                    let admin = try RawClient(port: s.port)
                    let alice = try RawClient(port: s.port)
                    var out: [String] = []
                    func note(_ reply: String) { out.append(reply) }
                    note(try admin.send(["ACL", "SETUSER", "alice", "on", ">pw1", "+@all", "-sentinel|set", "~*"]))
                    note(try admin.send(["ACL", "SETUSER", "bob", "on", ">pw2", "-@all", "+@connection", "-ping"]))
                    note(try admin.send(["ACL", "SETUSER", "carol"]))
                    note(try admin.send(["ACL", "SETUSER", "dave", "on", "nopass", "+@all", "-@dangerous", "allkeys", "allchannels"]))
                    // Category and command rules mixed: the same permissions (the text of the rules may group differently).
                    note(try admin.send(["ACL", "SETUSER", "frank", "on", "nopass", "+@all", "-@dangerous", "+acl", "-acl|log", "+role"]))
                    for command in [["acl", "list"], ["acl", "log"], ["role"], ["info"], ["shutdown"], ["sentinel", "masters"], ["sentinel", "set", "m", "quorum", "1"], ["ping"]] {
                        note(try admin.send(["ACL", "DRYRUN", "frank"] + command))
                    }
                    note(try admin.send(["ACL", "DELUSER", "frank"]))
                    // How 7.0 describes mixed rules: categories chosen from the permissions, then single commands.
                    for rules in [["+@all", "-@dangerous", "+acl"], ["+@fast", "+@connection"], ["+@connection", "+@fast"],
                                  ["+@pubsub", "+@fast"], ["+@admin", "+@fast"], ["+@all", "-@fast", "-@connection"],
                                  ["+@all", "-@admin", "-@dangerous"], ["+ping", "+sentinel|masters", "+@connection", "-ping"],
                                  ["+sentinel|masters", "+@connection"], ["+@connection", "+ping", "-ping", "+role"],
                                  ["+@all", "-@connection", "+ping"], ["+sentinel|myid", "+@fast", "+role"], ["+@fast", "-ping", "+ping"]] {
                        note(try admin.send(["ACL", "SETUSER", "gina", "reset", "on", "nopass"] + rules))
                        let line = try await s.command(["ACL", "GETUSER", "gina"]).array?[5].string ?? "?"
                        out.append("\(rules): " + Self.sortedCommandRules(line))
                    }
                    note(try admin.send(["ACL", "DELUSER", "gina"]))
                    note(try admin.send(["ACL", "SETUSER", "erin", "on", ">a", ">b", "<a", "resetchannels", "&chan*", "+@sentinel"]))
                    note(try admin.send(["ACL", "GETUSER", "alice"]))
                    note(try admin.send(["ACL", "GETUSER", "erin"]))
                    note(try admin.send(["ACL", "USERS"]))
                    note(try alice.send(["AUTH", "alice", "wrong"]))
                    note(try alice.send(["AUTH", "alice", "pw1"]))
                    note(try alice.send(["ACL", "WHOAMI"]))
                    note(try alice.send(["SENTINEL", "SET", "mymaster", "quorum", "1"]))
                    note(try alice.send(["SENTINEL", "MYID"]).hasPrefix("$40\r\n") ? "myid" : "no id")
                    note(try admin.send(["ACL", "DRYRUN", "alice", "sentinel", "set", "mymaster", "quorum", "1"]))
                    note(try admin.send(["ACL", "DRYRUN", "alice", "ping"]))
                    note(try admin.send(["AUTH", "carol", "x"]))
                    note(try admin.send(["AUTH", "bob", "pw2"]))
                    note(try admin.send(["PING"]))
                    note(try admin.send(["CLIENT", "ID"]).hasPrefix(":") ? "id" : "no id")
                    note(try admin.send(["AUTH", "default", "anything"]))
                    // ACL LOG: newest first, with Redis's fields; the volatile ones (age, client info) only checked for presence.
                    let log = try await s.command(["ACL", "LOG"]).array ?? []
                    for entry in log {
                        let flat = entry.array ?? []
                        let keys = stride(from: 0, to: flat.count, by: 2).compactMap { flat[$0].string }
                        var values: [String] = []
                        for i in stride(from: 1, to: flat.count, by: 2) where !["age-seconds", "client-info"].contains(keys[i / 2]) {
                            values.append("\(flat[i])")
                        }
                        out.append(keys.joined(separator: ",") + " " + values.joined(separator: ","))
                    }
                    note(try admin.send(["ACL", "LOG", "RESET"]))
                    note(try admin.send(["ACL", "LOG"]))
                    // Single-command rules after the categories come in Redis's hash order: sort them.
                    let aclList = try await s.command(["ACL", "LIST"]).array?.compactMap(\.string) ?? []
                    out += aclList.map(Self.sortedCommandRules)
                    note(try admin.send(["ACL", "DELUSER", "alice", "nosuch"]))
                    #expect(alice.isClosed(), "DELUSER disconnects the user's clients (\(s.kind))")
                    transcripts.append(out)
                }
                #expect(transcripts[0].count == transcripts[1].count)
                for (t, r) in zip(transcripts[0], transcripts[1]) { #expect(t == r) }
            }
        }

        @Test("ACL changes and connected clients: off and a new password keep open connections working, DELUSER closes them, a connection still authenticated as a disabled default runs CLIENT KILL USER default — as redis-sentinel")
        func aclChangesAndConnectedClients() async throws {
            try await SentinelSurfaceTests.loners { tandem, redis in
                var transcripts: [[String]] = []
                for s in [tandem, redis] {
                    var t: [String] = []
                    let admin = try RawClient(port: s.port)
                    t.append(try admin.send(["ACL", "SETUSER", "u", "on", ">p1", "+@all"]))
                    let asU = try RawClient(port: s.port)
                    t.append(try asU.send(["AUTH", "u", "p1"]))
                    t.append(try admin.send(["ACL", "SETUSER", "u", "resetpass", ">p2"]))
                    t.append("u after a new password: " + (try asU.send(["PING"])))
                    t.append(try admin.send(["ACL", "SETUSER", "u", "off"]))
                    t.append("u after off: " + (try asU.send(["ACL", "WHOAMI"])))
                    t.append("new AUTH as disabled u: " + (try RawClient(port: s.port).send(["AUTH", "u", "p2"])))
                    t.append(try admin.send(["ACL", "SETUSER", "gone", "on", "nopass", "+@all"]))
                    let asGone = try RawClient(port: s.port)
                    t.append(try asGone.send(["AUTH", "gone", "x"]))
                    t.append(try admin.send(["ACL", "DELUSER", "gone"]))
                    t.append("DELUSER closed its connection: \(asGone.isClosed())")
                    t.append(try admin.send(["ACL", "SETUSER", "default", "off"]))
                    t.append("old connection after default off: " + (try admin.send(["PING"])))
                    let late = try RawClient(port: s.port)
                    t.append("new connection after default off: " + (try late.send(["PING"])))
                    t.append("kill: " + (try admin.send(["CLIENT", "KILL", "USER", "default", "SKIPME", "no"])))
                    t.append("killer closed: \(admin.isClosed()), late closed: \(late.isClosed()), u open: \(!asU.isClosed())")
                    transcripts.append(t)
                }
                #expect(transcripts[1].contains("old connection after default off: +PONG\r\n"), "redis-sentinel: \(transcripts[1])")
                #expect(transcripts[0] == transcripts[1], "tandem: \(transcripts[0])\nredis:  \(transcripts[1])")
            }
        }

        @Test("ACL channel patterns: SUBSCRIBE, PSUBSCRIBE and PUBLISH checked against them, NOPERM and ACL LOG as redis-sentinel")
        func aclChannels() async throws {
            try await SentinelSurfaceTests.pair { tandem, redis, _ in
                var transcripts: [[String]] = []
                for s in [tandem, redis] {
                    let admin = try RawClient(port: s.port), c = try RawClient(port: s.port)
                    var out = [try admin.send(["ACL", "SETUSER", "sub", "on", ">pw", "+@all", "resetchannels", "&+sw*", "&__sentinel__:*"])]
                    out.append(try c.send(["AUTH", "sub", "pw"]))
                    out.append(try c.send(["PUBLISH", "other", "x"]))
                    out.append(try c.send(["SUBSCRIBE", "+sdown"]))
                    out.append(try c.send(["PSUBSCRIBE", "+sw"]))
                    out.append(try c.send(["PSUBSCRIBE", "*"]))
                    out.append(try c.send(["SUBSCRIBE", "+switch-master"]))
                    out.append(try c.send(["PSUBSCRIBE", "+sw*"]))
                    let log = try await s.command(["ACL", "LOG"]).array ?? []
                    for entry in log {
                        let flat = entry.array ?? []
                        out.append(stride(from: 0, to: flat.count - 1, by: 2).filter { !["age-seconds", "client-info"].contains(flat[$0].string ?? "") }
                            .map { "\(flat[$0]) \(flat[$0 + 1])" }.joined(separator: ","))
                    }
                    transcripts.append(out)
                }
                #expect(transcripts[0].count == transcripts[1].count)
                for (t, r) in zip(transcripts[0], transcripts[1]) { #expect(t == r) }
            }
        }

        @Test("ACL users are saved as `user` lines like redis-sentinel saves them, and survive a restart")
        func usersSaved() async throws {
            try await SentinelSurfaceTests.pair { tandem, redis, _ in
                for s in [tandem, redis] {
                    #expect(try await s.command(["ACL", "SETUSER", "zed", "on", ">pw", "+@all", "-sentinel|set"]) == .simpleString("OK"))
                    #expect(try await s.command(["SENTINEL", "FLUSHCONFIG"]) == .simpleString("OK"))
                }
                func userLines(_ s: SentinelProcess) throws -> Set<String> {
                    Set(try s.configText().split(separator: "\n").filter { $0.hasPrefix("user ") }.map(String.init))
                }
                let saved = try userLines(redis)
                #expect(saved.count == 2)
                #expect(try userLines(tandem) == saved)
                try await tandem.restart()
                let c = try RawClient(port: tandem.port)
                #expect(try c.send(["AUTH", "zed", "pw"]) == "+OK\r\n")
                #expect(try c.send(["SENTINEL", "SET", "mymaster", "quorum", "1"]).hasPrefix("-NOPERM"))
            }
        }

        @Test("aclfile: users loaded at start, ACL SAVE writes the file, ACL LOAD reloads it (errors, closed connections) — as redis-sentinel")
        func aclFile() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-acl-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let initial = "user alice on >secret ~* &* +@all -acl\n\nuser bob on >pw resetchannels -@all +ping\n"
            try await withRedisServers(1) { servers in
                var sentinels: [SentinelProcess] = []
                defer { sentinels.forEach { $0.stop() } }
                var files: [String] = []
                for kind in [SentinelProcess.Kind.tandem, .redis] {
                    let file = dir.appendingPathComponent("\(kind).acl").path
                    try initial.write(toFile: file, atomically: true, encoding: .utf8)
                    files.append(file)
                    // requirepass is overridden by the file's users (no `default` in it: a fresh default user), as in 7.0.
                    sentinels.append(try await SentinelProcess(kind: kind, monitoring: servers[0], extraLines: ["aclfile \(file)", "requirepass ignored"]))
                }
                var transcripts: [[String]] = []
                for (s, file) in zip(sentinels, files) {
                    func masked(_ t: String) -> String { t.replacingOccurrences(of: file, with: "FILE") }
                    let c = try RawClient(port: s.port)
                    var out = [try c.send(["ACL", "LIST"]), try c.send(["PING"])]
                    let alice = try RawClient(port: s.port)
                    out.append(try alice.send(["AUTH", "alice", "secret"]))
                    out.append(try alice.send(["ACL", "WHOAMI"]))
                    out.append(try c.send(["ACL", "SETUSER", "carol", "on", "nopass", "+@all"]))
                    out.append(try c.send(["ACL", "SAVE"]))
                    out.append(try String(contentsOfFile: file, encoding: .utf8))
                    // A broken file: every error reported, nothing changed.
                    try (initial + "garbage line\nuser alice on\nuser dave on +nosuchcommand\n").write(toFile: file, atomically: true, encoding: .utf8)
                    out.append(masked(try c.send(["ACL", "LOAD"])))
                    out.append(try c.send(["ACL", "USERS"]))
                    // A good one: loaded; connections of users other than default are closed.
                    try "user alice on >secret2 +@all\nuser default on nopass +@all ~* &*\n".write(toFile: file, atomically: true, encoding: .utf8)
                    out.append(try c.send(["ACL", "LOAD"]))
                    out.append(try c.send(["ACL", "USERS"]))
                    out.append(try c.send(["PING"]))
                    out.append(alice.isClosed() ? "alice closed" : "alice open")
                    try FileManager.default.removeItem(atPath: file)
                    out.append(masked(try c.send(["ACL", "LOAD"])))
                    #expect(!(try s.configText().contains("\nuser ")), "\(s.kind): with an aclfile no user lines go into the config")
                    transcripts.append(out)
                }
                #expect(transcripts[0].count == transcripts[1].count)
                for (t, r) in zip(transcripts[0], transcripts[1]) { #expect(t == r) }
            }
            // Refused at start: users in both places, or a file that is missing or has errors.
            let conf = dir.appendingPathComponent("sentinel.conf").path
            let bad = dir.appendingPathComponent("bad.acl").path
            try "user default on nopass +@all\nfoo bar\n".write(toFile: bad, atomically: true, encoding: .utf8)
            for (lines, message) in [(["aclfile \(bad)", "user zed on nopass"], "ACL file path is invalid"),
                                     (["aclfile \(dir.path)/missing.acl"], "No such file or directory"),
                                     (["aclfile \(bad)"], "bad.acl:2 should start with user keyword")] {
                for (binary, args) in [(try tandemExecutable(), ["sentinel"]), (SentinelProcess.redisSentinelBinary ?? "/usr/bin/redis-sentinel", [])] {
                    try (["port \(try freeLoopbackPort())", "bind 127.0.0.1", "sentinel monitor m 127.0.0.1 6379 2"] + lines).joined(separator: "\n").write(toFile: conf, atomically: true, encoding: .utf8)
                    let (status, out) = try runProgram(binary, args + [conf])
                    #expect(status != 0, "\(binary) started with \(lines)")
                    #expect(out.contains(message), "\(binary): \(out)")
                }
            }
        }

        @Test("requirepass: NOAUTH before AUTH, AUTH and HELLO 3 AUTH default, WRONGPASS — as redis-sentinel")
        func requirePass() async throws {
            try await SentinelSurfaceTests.pair(extraLines: ["requirepass s3cret"]) { tandem, redis, _ in
                var transcripts: [[String]] = []
                for s in [tandem, redis] {
                    let c = try RawClient(port: s.port)
                    var out = [try c.send(["PING"]), try c.send(["SENTINEL", "MASTERS"]), try c.send(["NOSUCH"]),
                               try c.send(["SENTINEL", "NOSUCH"]), try c.send(["HELLO", "3"]), try c.send(["AUTH", "wrong"]),
                               try c.send(["AUTH", "s3cret"]), try c.send(["PING"]), try c.send(["ACL", "LIST"])]
                    let h = try RawClient(port: s.port)
                    out.append(try h.send(["HELLO", "3", "AUTH", "default", "wrong"]))
                    out.append(try h.send(["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "x"]).replacing(/:\d+\r\n\$4\r\nmode/, with: ":N"))
                    out.append(try h.send(["CLIENT", "GETNAME"]))
                    transcripts.append(out)
                }
                for (t, r) in zip(transcripts[0], transcripts[1]) { #expect(t == r) }
            }
        }
    }

    /// sentinel-user / sentinel-pass towards peers, in a mixed group whose members all require them.
    @Suite("Sentinel peers with passwords", .serialized, .timeLimit(.minutes(3)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelPeerAuthTests {
        @Test("a mixed group with requirepass, an ACL user for peers, sentinel-user and sentinel-pass discovers itself and fails over",
              arguments: [false, true])
        func peerCredentials(withUser: Bool) async throws {
            try await withReplicationGroup(replicas: 2) { master, replicas in
                var lines = ["requirepass s3cret", "sentinel sentinel-pass \(withUser ? "peerpw" : "s3cret")"]
                if withUser { lines += ["user peer on >peerpw ~* &* +@all", "sentinel sentinel-user peer"] }
                var sentinels: [SentinelProcess] = []
                defer { sentinels.forEach { $0.stop() } }
                for kind in [SentinelProcess.Kind.tandem, .redis, .tandem] {
                    let s = try await SentinelProcess(kind: kind, monitoring: master, extraLines: lines)
                    s.password = "s3cret"
                    sentinels.append(s)
                }
                try await waitUntil("discovery through authenticated peer links", timeout: .seconds(30)) {
                    for s in sentinels {
                        let k = try await s.known()
                        if k.sentinels != 2 || k.replicas != 2 { return false }
                    }
                    return true
                }
                // Votes travel over those links: a failover needs them.
                master.kill9()
                try await waitUntil("a failover agreed by all", timeout: .seconds(40)) {
                    var answers: Set<String> = []
                    for s in sentinels { answers.insert(try await s.masterAddress() ?? "none") }
                    return answers.count == 1 && replicas.contains { answers.first == "127.0.0.1:\($0.port)" }
                }
            }
        }
    }

    /// protected-mode yes: only loopback clients while the default user has no password.
    @Suite("Sentinel protected mode", .serialized, .timeLimit(.minutes(1)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelProtectedModeTests {
        /// A non-loopback IPv4 address of this machine, if it has one.
        static func externalAddress() -> String? {
            var list: UnsafeMutablePointer<ifaddrs>?
            guard getifaddrs(&list) == 0, let first = list else { return nil }
            defer { freeifaddrs(first) }
            var p: UnsafeMutablePointer<ifaddrs>? = first
            while let ifa = p {
                if let addr = ifa.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET) {
                    let ip = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { String(cString: inet_ntoa($0.pointee.sin_addr)) }
                    if !ip.hasPrefix("127.") { return ip }
                }
                p = ifa.pointee.ifa_next
            }
            return nil
        }

        /// Connects from `source` to `source:port` and returns the first bytes the server sends after a PING.
        static func pingFrom(_ source: String, port: Int) throws -> String {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            addr.sin_addr.s_addr = inet_addr(source)
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard ok == 0 else { throw HarnessError("connect to \(source):\(port) failed") }
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            _ = "PING\r\n".withCString { send(fd, $0, 6, 0) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            var out: [UInt8] = []
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { break }
                out += buffer[0..<n]
            }
            return String(decoding: out, as: UTF8.self)
        }

        @Test("protected-mode yes without a password refuses a non-loopback client with 7.0's DENIED text; a password lifts it")
        func protectedMode() async throws {
            guard let ip = Self.externalAddress() else { return }  // no address but loopback: nothing to show
            for password in [false, true] {
                let lines = ["bind 127.0.0.1 \(ip)", "protected-mode yes"] + (password ? ["requirepass pw"] : [])
                try await withRedisServers(1) { servers in
                    let tandem = try await SentinelProcess(kind: .tandem, monitoring: servers[0], extraLines: lines)
                    defer { tandem.stop() }
                    let redis = try await SentinelProcess(kind: .redis, monitoring: servers[0], extraLines: lines)
                    defer { redis.stop() }
                    let expected = try Self.pingFrom(ip, port: redis.port)
                    #expect(expected.hasPrefix(password ? "-NOAUTH" : "-DENIED"), "redis-sentinel: \(expected)")
                    #expect(try Self.pingFrom(ip, port: tandem.port) == expected)
                    #expect(try await tandem.command(["SENTINEL", "MYID"]).string != nil || password)
                }
            }
        }
    }
}
