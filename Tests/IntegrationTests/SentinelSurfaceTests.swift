import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Tandem's sentinel-surface suites run one test at a time: each starts several real servers
/// and sentinels, and run side by side with the rest of the integration tests they would
/// load a 2-core machine enough to disturb timing-sensitive tests.
@Suite("Sentinel surface", .serialized)
struct SentinelSurfaceSerial {}

extension SentinelSurfaceSerial {
    /// A raw RESP connection: sends bytes, returns each reply's exact bytes.
    final class RawClient {
        let fd: Int32
        var pending = ByteBuffer()

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard ok == 0 else { close(fd); throw HarnessError("connect to \(port) failed") }
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        /// Sends one command (as a RESP array) and returns the raw bytes of its reply.
        func send(_ args: [String]) throws -> String {
            var out = "*\(args.count)\r\n"
            for a in args { out += "$\(a.utf8.count)\r\n\(a)\r\n" }
            let bytes = Array(out.utf8)
            _ = bytes.withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            return try readReply()
        }

        func readReply() throws -> String {
            var scanner = RESPFrameScanner(mode: .reply)
            while true {
                if pending.readableBytes > 0, case .frame(let length) = try scanner.scan(pending) {
                    let frame = pending.readSlice(length: length)!
                    return String(buffer: frame)
                }
                var buffer = [UInt8](repeating: 0, count: 65536)
                let n = recv(fd, &buffer, buffer.count, 0)
                guard n > 0 else { throw HarnessError("connection closed or timed out; have \(String(buffer: pending))") }
                pending.writeBytes(buffer[0..<n])
            }
        }

        /// Sends one command without waiting for a reply.
        func write(_ args: [String]) {
            var out = "*\(args.count)\r\n"
            for a in args { out += "$\(a.utf8.count)\r\n\(a)\r\n" }
            let bytes = Array(out.utf8)
            _ = bytes.withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        }

        /// True when reply bytes arrive within `milliseconds` (they are kept for readReply).
        func hasReply(within milliseconds: Int32) -> Bool {
            if pending.readableBytes > 0 { return true }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, milliseconds) == 1 else { return false }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { return false }
            pending.writeBytes(buffer[0..<n])
            return true
        }

        /// True when the server closed the connection.
        func isClosed() -> Bool {
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var byte: UInt8 = 0
            return recv(fd, &byte, 1, 0) == 0
        }
    }

    /// Replaces what differs between two sentinels by nature (ids, ports, times) with placeholders.
    func masked(_ text: String, _ replacements: [(String, String)]) -> String {
        var t = text
        for (from, to) in replacements where !from.isEmpty { t = t.replacingOccurrences(of: from, with: to) }
        return t
    }

    /// The surface of `tandem sentinel`, compared reply by reply with redis-sentinel 7.0.15
    /// started on the same kind of config in the same test.
    @Suite("Sentinel command surface against redis-sentinel 7.0", .serialized, .timeLimit(.minutes(3)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelSurfaceTests {
        /// Starts a tandem and a redis sentinel monitoring the same server, runs `body`.
        static func pair(extraLines: [String] = [], _ body: (SentinelProcess, SentinelProcess, RedisServer) async throws -> Void) async throws {
            try await withRedisServers(1) { servers in
                let tandem = try await SentinelProcess(kind: .tandem, monitoring: servers[0], extraLines: extraLines)
                defer { tandem.stop() }
                let redis = try await SentinelProcess(kind: .redis, monitoring: servers[0], extraLines: extraLines)
                defer { redis.stop() }
                try await body(tandem, redis, servers[0])
            }
        }

        /// Like `pair`, but the two monitor the server under different names, so they do not
        /// become peers: only the test's own connections reach their ports.
        static func loners(extraLines: [String] = [], _ body: (SentinelProcess, SentinelProcess) async throws -> Void) async throws {
            try await withRedisServers(1) { servers in
                let tandem = try await SentinelProcess(kind: .tandem, monitoring: servers[0], name: "t", extraLines: extraLines)
                defer { tandem.stop() }
                let redis = try await SentinelProcess(kind: .redis, monitoring: servers[0], name: "r", extraLines: extraLines)
                defer { redis.stop() }
                try await body(tandem, redis)
            }
        }

        /// Commands whose replies carry nothing instance-specific.
        static let exactProbes: [[String]] = [
            ["SENTINEL", "HELP"], ["CLIENT", "HELP"], ["COMMAND", "HELP"], ["ACL", "HELP"], ["COMMAND", "COUNT"],
            ["COMMAND", "INFO", "ping", "nosuch", "sentinel|set"], ["COMMAND", "DOCS", "ping", "role"],
            ["COMMAND", "GETKEYS", "ping"], ["COMMAND", "GETKEYS", "ping", "x"], ["COMMAND", "GETKEYS", "set", "a", "b"],
            ["COMMAND", "LIST", "FILTERBY", "foo", "x"], ["COMMAND", "LIST", "FILTERBY", "MODULE", "x"], ["COMMAND", "NOSUCH"],
            ["SENTINEL", "DEBUG", "info-period", "abc"], ["SENTINEL", "DEBUG", "foo", "1"], ["SENTINEL", "DEBUG", "ping-period"],
            ["SENTINEL", "DEBUG", "ping-period", "0"], ["SENTINEL", "DEBUG"],
            ["SENTINEL", "CONFIG", "GET", "*"], ["SENTINEL", "CONFIG", "GET", "resolve-hostnames"], ["SENTINEL", "CONFIG", "GET", "nosuch"],
            ["SENTINEL", "CONFIG", "SET", "foo", "bar"], ["SENTINEL", "CONFIG", "SET", "announce-port", "99999"],
            ["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "maybe"], ["SENTINEL", "CONFIG", "foo"], ["SENTINEL", "CONFIG"],
            ["SENTINEL", "CONFIG", "GET"], ["SENTINEL", "CONFIG", "SET", "x"],
            ["SENTINEL", "SET", "mymaster", "quorum", "0"], ["SENTINEL", "SET", "mymaster", "fakeoption", "1"],
            ["SENTINEL", "SET", "mymaster", "down-after-milliseconds", "-20"], ["SENTINEL", "SET", "nosuch", "quorum", "1"],
            ["SENTINEL", "SET", "mymaster"], ["SENTINEL", "SET", "mymaster", "quorum"],
            ["SENTINEL", "SET", "mymaster", "notification-script", "/bin/true"],
            ["SENTINEL", "SET", "mymaster", "rename-command", "CONFIG", ""],
            ["SENTINEL", "SET", "mymaster", "master-reboot-down-after-period", "-1"],
            ["SENTINEL", "MONITOR", "mymaster", "127.0.0.1", "1", "1"], ["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "0"],
            ["SENTINEL", "MONITOR", "x", "not-an-ip", "1", "1"], ["SENTINEL", "MONITOR", "x", "127.0.0.1", "abc", "1"],
            ["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "abc"], ["SENTINEL", "MONITOR", "x"],
            ["SENTINEL", "REMOVE", "nosuch"], ["SENTINEL", "RESET", "nosuch*"], ["SENTINEL", "RESET"],
            ["SENTINEL", "SIMULATE-FAILURE", "help"], ["SENTINEL", "SIMULATE-FAILURE", "foo"],
            ["SENTINEL", "INFO-CACHE", "nosuch"], ["SENTINEL", "PENDING-SCRIPTS"], ["SENTINEL", "FLUSHCONFIG"],
            ["SENTINEL", "MYID", "x"], ["SENTINEL", "CKQUORUM"],
            ["ACL", "CAT"], ["ACL", "CAT", "nosuch"], ["ACL", "WHOAMI"], ["ACL", "USERS"], ["ACL", "LIST"],
            ["ACL", "GETUSER", "default"], ["ACL", "GETUSER", "nosuch"], ["ACL", "SETUSER", "x", "foo"],
            ["ACL", "SETUSER", "x", "+nosuch"], ["ACL", "SETUSER", "x", "+@nosuch"], ["ACL", "SETUSER", "x", "<zz"],
            ["ACL", "SETUSER", "x", "#zz"], ["ACL", "DELUSER", "default"], ["ACL", "LOAD"], ["ACL", "SAVE"],
            ["ACL", "GENPASS", "0"], ["ACL", "DRYRUN", "nosuch", "ping"], ["ACL", "DRYRUN", "default", "nosuchcmd"],
            ["ACL", "DRYRUN", "default", "ping"], ["ACL", "LOG", "x"], ["ACL", "LOG"], ["ACL", "NOSUCH"], ["ACL"],
            ["CLIENT", "KILL", "foo"], ["CLIENT", "KILL", "type", "foo"], ["CLIENT", "KILL", "id", "x"],
            ["CLIENT", "KILL", "skipme", "maybe"], ["CLIENT", "KILL", "user", "nosuch"], ["CLIENT", "KILL", "id", "99999"],
            ["CLIENT", "KILL", "type"], ["CLIENT", "LIST", "type", "foo"], ["CLIENT", "LIST", "id", "99999"],
            ["CLIENT", "SETNAME", "a b"], ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "tester"], ["CLIENT", "GETNAME"],
            ["CLIENT", "NOSUCH"], ["ROLE"], ["ROLE", "x"], ["SHUTDOWN", "foo"], ["SHUTDOWN", "ABORT"], ["INFO", "foo"],
            ["AUTH", "x"], ["AUTH", "nosuch", "x"], ["HELLO", "2", "SETNAME", "a b"], ["HELLO", "x"], ["HELLO", "2", "FOO"],
            ["HELLO", "2", "AUTH", "default"], ["PUBLISH", "x", "y"], ["UNSUBSCRIBE"], ["PUNSUBSCRIBE"], ["NOSUCH", "a", "b"],
            ["GET", "k"], ["QUIT"], ["PING"],
            // Every SENTINEL SET option without its value (a missing value once crashed tandem).
            ["SENTINEL", "SET", "mymaster", "down-after-milliseconds"], ["SENTINEL", "SET", "mymaster", "failover-timeout"],
            ["SENTINEL", "SET", "mymaster", "parallel-syncs"], ["SENTINEL", "SET", "mymaster", "master-reboot-down-after-period"],
            ["SENTINEL", "SET", "mymaster", "notification-script"], ["SENTINEL", "SET", "mymaster", "client-reconfig-script"],
            ["SENTINEL", "SET", "mymaster", "auth-pass"], ["SENTINEL", "SET", "mymaster", "auth-user"],
            ["SENTINEL", "SET", "mymaster", "rename-command", "CONFIG"],
            ["CLIENT", "PAUSE", "abc"], ["CLIENT", "PAUSE", "-1"], ["CLIENT", "PAUSE", "100", "FOO"],
            ["CLIENT", "PAUSE", "100", "write", "x"], ["CLIENT", "PAUSE"], ["CLIENT", "UNPAUSE"], ["CLIENT", "UNPAUSE", "x"],
            ["CLIENT", "UNBLOCK", "abc"], ["CLIENT", "UNBLOCK", "99999"], ["CLIENT", "UNBLOCK", "99999", "foo"],
            ["CLIENT", "UNBLOCK", "99999", "error"], ["CLIENT", "REPLY", "maybe"], ["CLIENT", "REPLY"],
        ]

        @Test("commands and error replies match redis-sentinel byte for byte")
        func exactReplies() async throws {
            try await Self.pair { tandem, redis, _ in
                let t = try RawClient(port: tandem.port), r = try RawClient(port: redis.port)
                for probe in Self.exactProbes {
                    let expected = try r.send(probe)
                    let got = try t.send(probe)
                    #expect(got == expected, "for \(probe)")
                }
            }
        }

        @Test("CLIENT PAUSE WRITE holds PUBLISH and what follows it until UNPAUSE; ALL holds every command until it ends — as redis-sentinel")
        func clientPause() async throws {
            try await Self.pair { tandem, redis, _ in
                var heldReplies: [String] = []
                var heldFields: [[String]] = []
                for s in [tandem, redis] {
                    let a = try RawClient(port: s.port), b = try RawClient(port: s.port), c = try RawClient(port: s.port)
                    let bID = try b.send(["CLIENT", "ID"])
                    #expect(try a.send(["CLIENT", "PAUSE", "20000", "WRITE"]) == "+OK\r\n", "\(s.kind)")
                    b.write(["PUBLISH", "__sentinel__:hello", "x"])
                    b.write(["PING", "after"])
                    #expect(try c.send(["PING"]) == "+PONG\r\n", "\(s.kind): a read is not held by a WRITE pause")
                    #expect(!b.hasReply(within: 300), "\(s.kind): PUBLISH is held")
                    let info = try c.send(["INFO", "clients"])
                    #expect(info.contains("blocked_clients:1\r\n"), "\(s.kind): \(info)")
                    let id = bID.dropFirst().prefix { $0.isNumber }
                    let line = try c.send(["CLIENT", "LIST", "ID", String(id)])
                    #expect(line.contains(" flags=b ") && line.contains(" cmd=publish "), "\(s.kind): \(line)")
                    // Its command has been read: its bytes are arguments now, not input buffer.
                    heldFields.append(line.split(separator: " ").filter { $0.hasPrefix("qbuf=") || $0.hasPrefix("argv-mem=") }.map(String.init))
                    if s.kind == .tandem {
                        // redis-sentinel 7.0.15 crashes here ("Guru Meditation: Unknown btype in
                        // replyToBlockedClientTimedOut()", blocked.c:230); tandem answers 0.
                        #expect(try c.send(["CLIENT", "UNBLOCK", String(id)]) == ":0\r\n", "a held client is not unblocked")
                    }
                    #expect(!b.hasReply(within: 200), "\(s.kind): still held")
                    #expect(try c.send(["CLIENT", "UNPAUSE"]) == "+OK\r\n")
                    heldReplies.append(try b.readReply() + b.readReply())
                    #expect(try c.send(["INFO", "clients"]).contains("blocked_clients:0\r\n"))
                    // ALL: every command waits, the pausing client's own too, until the time runs out.
                    #expect(try a.send(["CLIENT", "PAUSE", "600"]) == "+OK\r\n")
                    c.write(["PING"])
                    a.write(["PING"])
                    #expect(!c.hasReply(within: 300), "\(s.kind): PING is held under ALL")
                    #expect(try c.readReply() == "+PONG\r\n", "\(s.kind): answered when the pause ends")
                    #expect(try a.readReply() == "+PONG\r\n")
                }
                #expect(heldReplies[0] == heldReplies[1], "tandem \(heldReplies[0]) redis \(heldReplies[1])")
                #expect(heldFields[0] == heldFields[1], "tandem \(heldFields[0]) redis \(heldFields[1])")
            }
        }

        @Test("CLIENT REPLY OFF / SKIP / ON silence replies exactly as redis-sentinel")
        func clientReply() async throws {
            try await Self.pair { tandem, redis, _ in
                let script: [[String]] = [
                    ["CLIENT", "REPLY", "OFF"], ["PING", "1"], ["CLIENT", "NOSUCH"], ["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "ON"],
                    ["CLIENT", "REPLY", "SKIP"], ["PING", "2"], ["PING", "3"],
                    ["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "SKIP"], ["PING", "4"], ["PING", "5"],
                    ["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "ON"], ["PING", "6"],
                    ["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "OFF"], ["PING", "7"], ["CLIENT", "REPLY", "ON"],
                    ["PING", "end"],
                ]
                var streams: [String] = []
                for s in [tandem, redis] {
                    let c = try RawClient(port: s.port)
                    for command in script { c.write(command) }
                    var stream = ""
                    while !stream.hasSuffix("$3\r\nend\r\n") { stream += try c.readReply() }
                    streams.append(stream)
                }
                #expect(streams[0] == streams[1], "tandem \(streams[0].debugDescription) redis \(streams[1].debugDescription)")
                #expect(streams[0].contains("$1\r\n3\r\n") && !streams[0].contains("$1\r\n2\r\n"))
            }
        }

        @Test("CLIENT TRACKING / TRACKINGINFO / CACHING / GETREDIR / NO-EVICT: state, flags and errors as redis-sentinel")
        func clientTracking() async throws {
            try await Self.pair { tandem, redis, _ in
                let script: [[String]] = [
                    ["CLIENT", "TRACKINGINFO"], ["CLIENT", "GETREDIR"], ["CLIENT", "CACHING", "yes"], ["CLIENT", "TRACKING", "maybe"],
                    ["CLIENT", "TRACKING", "on", "foo"], ["CLIENT", "TRACKING", "on", "redirect", "99999"],
                    ["CLIENT", "TRACKING", "on", "redirect", "abc"], ["CLIENT", "TRACKING", "on", "prefix", "a"],
                    ["CLIENT", "TRACKING", "on", "optin", "optout"], ["CLIENT", "TRACKING", "on", "bcast", "optin"],
                    ["CLIENT", "TRACKING", "on", "optin"], ["CLIENT", "TRACKINGINFO"], ["CLIENT", "CACHING", "yes"],
                    ["CLIENT", "TRACKINGINFO"], ["CLIENT", "CACHING", "no"], ["CLIENT", "CACHING", "maybe"], ["PING"],
                    ["CLIENT", "TRACKINGINFO"], ["CLIENT", "TRACKING", "on", "optout"],
                    ["CLIENT", "TRACKING", "on", "bcast"], ["CLIENT", "TRACKING", "off"], ["CLIENT", "TRACKINGINFO"],
                    ["CLIENT", "TRACKING", "on", "bcast", "prefix", "ab", "prefix", "abc"],
                    ["CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "b", "noloop"], ["CLIENT", "TRACKINGINFO"],
                    ["CLIENT", "TRACKING", "on", "bcast", "prefix", "bc"], ["CLIENT", "TRACKING", "on", "bcast", "prefix", "c"],
                    ["CLIENT", "TRACKINGINFO"], ["INFO", "clients"], ["CLIENT", "TRACKING", "off"],
                    ["CLIENT", "TRACKING", "on", "redirect", "REDIRECT-ID"], ["CLIENT", "GETREDIR"], ["CLIENT", "TRACKINGINFO"],
                    ["CLIENT", "TRACKING", "on", "redirect", "REDIRECT-ID", "redirect", "REDIRECT-ID"],
                    ["CLIENT", "NO-EVICT", "on"], ["CLIENT", "TRACKING", "on", "optout"], ["CLIENT", "CACHING", "no"],
                    ["HELLO", "3"], ["CLIENT", "TRACKINGINFO"], ["CLIENT", "TRACKING", "off"], ["CLIENT", "GETREDIR"],
                ]
                var transcripts: [[String]] = []
                for s in [tandem, redis] {
                    let c = try RawClient(port: s.port), other = try RawClient(port: s.port)
                    let otherID = String(try other.send(["CLIENT", "ID"]).dropFirst().prefix { $0.isNumber })
                    let ownID = String(try c.send(["CLIENT", "ID"]).dropFirst().prefix { $0.isNumber })
                    #expect(Int(ownID)! < Int(otherID)!, "\(s.kind): client ids follow the order of connection")
                    var out: [String] = []
                    for command in script {
                        var reply = try c.send(command.map { $0 == "REDIRECT-ID" ? otherID : $0 })
                        if command == ["INFO", "clients"] {
                            reply = reply.split(separator: "\r\n").filter { $0.hasPrefix("tracking_clients:") }.joined()
                        }
                        if command[0] != "HELLO" { reply = reply.replacingOccurrences(of: ":\(otherID)\r\n", with: ":ID\r\n") }
                        out.append(reply
                            .replacing(/:\d+\r\n\$4\r\nmode/, with: ":N\r\n$4\r\nmode"))
                        if command == ["CLIENT", "NO-EVICT", "on"] || command == ["CLIENT", "GETREDIR"] {
                            // The client's own CLIENT LIST flags and redir= at this point.
                            let line = try c.send(["CLIENT", "LIST", "ID", ownID])
                            out.append(line.split(separator: " ").filter { $0.hasPrefix("flags=") || $0.hasPrefix("redir=") }
                                .map { $0.replacingOccurrences(of: "redir=\(otherID)", with: "redir=ID") }.joined(separator: " "))
                        }
                    }
                    transcripts.append(out)
                }
                for (i, (t, r)) in zip(transcripts[0], transcripts[1]).enumerated() {
                    #expect(t == r, "step \(i): tandem \(t.debugDescription) redis \(r.debugDescription)")
                }
            }
        }

        @Test("RESP3 replies (maps, sets, doubles, verbatim) match redis-sentinel")
        func resp3Replies() async throws {
            try await Self.pair { tandem, redis, _ in
                let t = try RawClient(port: tandem.port), r = try RawClient(port: redis.port)
                let tHello = try t.send(["HELLO", "3"]), rHello = try r.send(["HELLO", "3"])
                let idPattern = /:\d+\r\n\$4\r\nmode/
                #expect(tHello.replacing(idPattern, with: ":N\r\n$4\r\nmode") == rHello.replacing(idPattern, with: ":N\r\n$4\r\nmode"))
                for probe: [String] in [["SENTINEL", "DEBUG"], ["COMMAND", "INFO", "ping", "sentinel|set"], ["COMMAND", "DOCS", "ping", "role"], ["INFO", "nosuch"], ["CLIENT", "LIST", "ID", "99999"],
                                        ["SENTINEL", "CONFIG", "GET", "*"], ["ACL", "GETUSER", "default"], ["ACL", "CAT"],
                                        ["SENTINEL", "SIMULATE-FAILURE", "help"], ["CLIENT", "GETNAME"], ["ACL", "GETUSER", "nosuch"],
                                        ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"], ["COMMAND", "INFO", "nosuch"]] {
                    #expect(try t.send(probe) == r.send(probe), "for \(probe)")
                }
            }
        }

        /// Element sets of replies whose order is Redis's hash order (random per process).
        @Test("COMMAND, COMMAND LIST, ACL CAT <category>: the same command table (in any order)")
        func commandTable() async throws {
            try await Self.pair { tandem, redis, _ in
                // Subcommands come in hash order too: sort them inside each entry.
                func normalized(_ v: RESPValue) -> String {
                    if let e = v.array, e.count == 10, let subs = e[9].array {
                        return "\(Array(e.prefix(9)))" + subs.map { normalized($0) }.sorted().joined()
                    }
                    return "\(v)"
                }
                func elements(_ s: SentinelProcess, _ args: [String]) async throws -> [String] {
                    (try await s.command(args).array ?? []).map { normalized($0) }.sorted()
                }
                for probe: [String] in [["COMMAND"], ["COMMAND", "LIST"], ["COMMAND", "INFO"], ["COMMAND", "LIST", "FILTERBY", "PATTERN", "s*"],
                                        ["COMMAND", "LIST", "FILTERBY", "ACLCAT", "fast"], ["ACL", "CAT", "admin"], ["ACL", "CAT", "connection"],
                                        ["ACL", "CAT", "dangerous"]] {
                    let expected = try await elements(redis, probe)
                    #expect(!expected.isEmpty)
                    #expect(try await elements(tandem, probe) == expected, "for \(probe)")
                }
                #expect(try await tandem.command(["COMMAND", "LIST"]).array?.count == 72)
                // COMMAND DOCS: name → doc pairs, with subcommand docs (again pairs) in hash order.
                func docs(_ s: SentinelProcess) async throws -> Set<String> {
                    let flat = try await s.command(["COMMAND", "DOCS"]).array ?? []
                    var out: Set<String> = []
                    for i in stride(from: 0, to: flat.count - 1, by: 2) {
                        var fields = flat[i + 1].array ?? []
                        if let k = fields.firstIndex(of: .bulkString("subcommands")), let subs = fields[k + 1].array {
                            let pairs = stride(from: 0, to: subs.count - 1, by: 2).map { "\(subs[$0]) \(subs[$0 + 1])" }.sorted()
                            fields[k + 1] = .bulkString(pairs.joined(separator: ";"))
                        }
                        out.insert("\(flat[i]) \(fields)")
                    }
                    return out
                }
                let redisDocs = try await docs(redis)
                #expect(redisDocs.count == 15)
                #expect(try await docs(tandem) == redisDocs)
            }
        }

        @Test("INFO: the same sections and fields, in the same order, for every section filter")
        func infoSections() async throws {
            try await Self.pair { tandem, redis, _ in
                func shape(_ s: SentinelProcess, _ args: [String]) async throws -> [String] {
                    let text = try await s.command(args).string ?? ""
                    return text.split(separator: "\r\n").map { line in
                        line.hasPrefix("#") ? String(line) : String(line.split(separator: ":", maxSplits: 1).first ?? "")
                    }
                }
                for probe: [String] in [["INFO"], ["INFO", "sentinel"], ["INFO", "server", "clients"], ["INFO", "all"], ["INFO", "default"],
                                        ["INFO", "everything"], ["INFO", "CPU"], ["INFO", "stats"], ["INFO", "nosuch"], ["INFO", "keyspace"]] {
                    #expect(try await shape(tandem, probe) == shape(redis, probe), "for \(probe)")
                }
                let info = try await tandem.command(["INFO", "sentinel"]).string ?? ""
                let redisInfo = try await redis.command(["INFO", "sentinel"]).string ?? ""
                #expect(info.replacingOccurrences(of: "sentinels=1", with: "") == redisInfo.replacingOccurrences(of: "sentinels=1", with: "")
                        || info.split(separator: "\r\n").dropLast() == redisInfo.split(separator: "\r\n").dropLast())
                #expect(info.contains("master0:name=mymaster,status=ok,address=127.0.0.1:"))
            }
        }

        @Test("INFO counters and rates, CLIENT LIST buffer fields: measured, and counted as redis-sentinel counts them")
        func measuredCounters() async throws {
            try await Self.loners { tandem, redis in
                func field(_ info: String, _ name: String) -> String? {
                    info.split(separator: "\r\n").first { $0.hasPrefix(name + ":") }.map { String($0.dropFirst(name.count + 1)) }
                }
                var deltas: [[Int]] = []
                var callerFields: [[String]] = []
                for s in [tandem, redis] {
                    let c = try RawClient(port: s.port)
                    let before = try c.send(["INFO", "stats"])
                    let big = String(repeating: "x", count: 5000)
                    for _ in 0..<40 { _ = try c.send(["PING"]) }
                    _ = try c.send(["PING", big])
                    let peakInfo = try c.send(["INFO", "clients"])
                    if s.kind == .tandem {
                        // client_recent_max_*: the 5000-byte request and its echo are the largest of
                        // the last seconds. (Redis samples its buffers' allocations in a cron, so
                        // what it shows depends on timing; not compared.)
                        #expect(Int(field(peakInfo, "client_recent_max_input_buffer") ?? "") ?? 0 >= 5000, "\(peakInfo)")
                        #expect(Int(field(peakInfo, "client_recent_max_output_buffer") ?? "") ?? 0 >= 5000, "\(peakInfo)")
                    }
                    // Commands spread over more than a few sampling periods give a rate.
                    for _ in 0..<10 {
                        for _ in 0..<20 { _ = try c.send(["PING"]) }
                        try await Task.sleep(for: .milliseconds(40))
                    }
                    let after = try c.send(["INFO", "stats"])
                    #expect(Int(field(after, "instantaneous_ops_per_sec") ?? "") ?? 0 > 0, "\(s.kind): \(after)")
                    #expect(Double(field(after, "instantaneous_input_kbps") ?? "") ?? 0 > 0, "\(s.kind): \(after)")
                    #expect(Double(field(after, "instantaneous_output_kbps") ?? "") ?? 0 > 0, "\(s.kind): \(after)")
                    deltas.append(["total_commands_processed", "total_net_input_bytes", "total_net_output_bytes"].map {
                        (Int(field(after, $0) ?? "") ?? -1) - (Int(field(before, $0) ?? "") ?? -1)
                    })
                    // The caller's own line: its request still in the input buffer and its arguments.
                    let line = try c.send(["CLIENT", "LIST", "ID", String(try c.send(["CLIENT", "ID"]).dropFirst().prefix { $0.isNumber })])
                    callerFields.append(line.split(separator: " ").filter { $0.hasPrefix("qbuf=") || $0.hasPrefix("argv-mem=") }.map(String.init))
                }
                // Input and commands are counted alike (output differs: INFO replies differ in length).
                #expect(deltas[0][0] == deltas[1][0] && deltas[0][1] == deltas[1][1], "tandem \(deltas[0]) redis \(deltas[1])")
                #expect(callerFields[0].count == 2 && callerFields[0] == callerFields[1], "tandem \(callerFields[0]) redis \(callerFields[1])")
            }
        }

        @Test("a known replica that never answered is listed as redis-sentinel lists it (role-reported slave, flags)")
        func unreachableReplica() async throws {
            let dead = try freeLoopbackPort()
            try await Self.pair(extraLines: ["sentinel known-replica mymaster 127.0.0.1 \(dead)"]) { tandem, redis, _ in
                var entries: [[String: String]] = []
                for s in [tandem, redis] {
                    let replicas = try await s.command(["SENTINEL", "REPLICAS", "mymaster"]).array ?? []
                    let entry = replicas.compactMap { r -> [String: String]? in
                        let a = r.array ?? []
                        var d: [String: String] = [:]
                        for i in stride(from: 0, to: a.count - 1, by: 2) { d[a[i].string ?? ""] = a[i + 1].string ?? "" }
                        return d["port"] == String(dead) ? d : nil
                    }.first
                    entries.append(try #require(entry, "\(s.kind) lists the replica"))
                }
                for field in ["role-reported", "flags", "master-link-status", "slave-priority", "slave-repl-offset"] {
                    #expect(entries[0][field] == entries[1][field], "\(field): tandem \(entries[0][field] ?? "-") redis \(entries[1][field] ?? "-")")
                }
            }
        }

        @Test("any directive redis-server knows starts both (save, appendonly, maxmemory, client-output-buffer-limit, …)")
        func serverDirectivesAccepted() async throws {
            let lines = ["save \"\"", "appendonly no", "maxmemory 1gb", "client-output-buffer-limit pubsub 32mb 8mb 60",
                         "databases 16", "lazyfree-lazy-eviction no", "hash-max-ziplist-entries 128", "slave-serve-stale-data yes",
                         "tcp-keepalive 300", "supervised no", "latency-monitor-threshold 0"]
            try await Self.pair(extraLines: lines) { tandem, redis, _ in
                for s in [tandem, redis] {
                    let reply = try await s.command(["PING"])
                    #expect(reply == .simpleString("PONG"), "\(s.kind)")
                }
            }
        }

        @Test("maxclients refuses the connection beyond it and timeout closes idle clients (not subscribers), as redis-sentinel")
        func maxClientsAndTimeout() async throws {
            try await Self.loners(extraLines: ["maxclients 4", "timeout 1"]) { tandem, redis in
                var outcomes: [[String]] = []
                for s in [tandem, redis] {
                    var out: [String] = []
                    var open: [RawClient] = []
                    while open.count < 6 {
                        let c = try RawClient(port: s.port)
                        let reply = (try? c.send(["PING"])) ?? "closed"
                        out.append(reply)
                        if reply != "+PONG\r\n" { break }
                        open.append(c)
                    }
                    out.append(try open[0].send(["INFO", "clients"]).split(separator: "\r\n").filter { $0.hasPrefix("maxclients:") }.joined())
                    // Idle past the timeout: a plain client is closed, a subscriber is not.
                    let subscriber = open[1]
                    _ = try subscriber.send(["SUBSCRIBE", "+switch-master"])
                    try await Task.sleep(for: .milliseconds(2_500))
                    out.append(open[0].isClosed() ? "idle client closed" : "idle client open")
                    out.append(subscriber.hasReply(within: 100) ? "subscriber got something" : "subscriber open")
                    out.append((try? subscriber.send(["PING"])) ?? "subscriber closed")
                    outcomes.append(out)
                }
                #expect(outcomes[0] == outcomes[1], "tandem \(outcomes[0]) redis \(outcomes[1])")
                #expect(outcomes[0].contains("-ERR max number of clients reached\r\n"))
                #expect(outcomes[0].contains("idle client closed"))
            }
        }

        @Test("SENTINEL MONITOR, SET, RESET, REMOVE, INFO-CACHE, DEBUG and CONFIG SET change state and config as redis-sentinel does")
        func runtimeReconfiguration() async throws {
            try await withRedisServers(2) { servers in
                let tandem = try await SentinelProcess(kind: .tandem, monitoring: servers[0])
                defer { tandem.stop() }
                let redis = try await SentinelProcess(kind: .redis, monitoring: servers[0])
                defer { redis.stop() }
                let other = String(servers[1].port)
                func fields(_ s: SentinelProcess, _ name: String) async throws -> [String: String] {
                    let reply = try await s.command(["SENTINEL", "MASTER", name])
                    return Dictionary(uniqueKeysWithValues: (reply.pairs ?? []).compactMap { p in p.key.string.map { ($0, p.value.string ?? "") } })
                }
                let watcher = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: tandem.port))
                try await watcher.subscribe(["+monitor", "-monitor", "+set", "+reset-master"])
                for s in [tandem, redis] {
                    #expect(try await s.command(["SENTINEL", "MONITOR", "other", "127.0.0.1", other, "2"]) == .simpleString("OK"))
                    #expect(try await s.command(["SENTINEL", "SET", "other", "quorum", "3", "down-after-milliseconds", "2500",
                                                 "failover-timeout", "12345", "parallel-syncs", "2", "auth-pass", "secret",
                                                 "master-reboot-down-after-period", "7", "rename-command", "CONFIG", "XCONFIG"]) == .simpleString("OK"))
                }
                let tf = try await fields(tandem, "other"), rf = try await fields(redis, "other")
                for key in ["name", "ip", "port", "quorum", "down-after-milliseconds", "failover-timeout", "parallel-syncs", "config-epoch"] {
                    #expect(tf[key] == rf[key], "\(key)")
                }
                #expect(tf["quorum"] == "3" && tf["down-after-milliseconds"] == "2500")
                let saved = try tandem.configText()
                #expect(saved.contains("sentinel monitor other 127.0.0.1 \(other) 3"))
                #expect(saved.contains("sentinel down-after-milliseconds other 2500"))
                #expect(saved.contains("sentinel rename-command other CONFIG XCONFIG"))
                #expect(saved.contains("sentinel auth-pass other secret"))
                let roles = try await tandem.command(["ROLE"]).array, redisRoles = try await redis.command(["ROLE"]).array
                #expect(roles?.first == redisRoles?.first)
                #expect(roles?.last?.array.map(Set.init) == redisRoles?.last?.array.map(Set.init))
                // INFO-CACHE: the master's INFO text, once the sentinel has polled it.
                try await waitUntil("INFO-CACHE to hold the master's INFO") {
                    let reply = try await tandem.command(["SENTINEL", "INFO-CACHE", "mymaster"]).array ?? []
                    return reply.count == 2 && reply[0].string == "mymaster"
                        && (reply[1].array?.first?.array?.last?.string?.contains("# Replication") ?? false)
                }
                // RESET forgets and counts; REMOVE drops the master and its config lines.
                for s in [tandem, redis] {
                    #expect(try await s.command(["SENTINEL", "RESET", "oth*"]) == .integer(1))
                    #expect(try await s.command(["SENTINEL", "RESET", "*"]) == .integer(2))
                    #expect(try await s.command(["SENTINEL", "REMOVE", "other"]) == .simpleString("OK"))
                    #expect(try await s.command(["SENTINEL", "MASTER", "other"]) == .simpleError("ERR No such master with that name"))
                }
                #expect(!(try tandem.configText().contains("other")))
                // DEBUG and CONFIG SET: the new values read back and are saved where Redis saves them.
                for s in [tandem, redis] {
                    #expect(try await s.command(["SENTINEL", "DEBUG", "info-period", "5000", "script-retry-delay", "100"]) == .simpleString("OK"))
                    #expect(try await s.command(["SENTINEL", "CONFIG", "SET", "announce-hostnames", "yes"]) == .simpleString("OK"))
                    #expect(try await s.command(["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "yes"]) == .simpleString("OK"))
                }
                #expect(try await tandem.command(["SENTINEL", "DEBUG"]) == redis.command(["SENTINEL", "DEBUG"]))
                #expect(try await tandem.command(["SENTINEL", "CONFIG", "GET", "*"]) == redis.command(["SENTINEL", "CONFIG", "GET", "*"]))
                #expect(try tandem.configText().contains("sentinel announce-hostnames yes"))
                let events = await closeAndDrain(watcher).map { "\($0.channelName) \($0.text)" }
                #expect(events.first == "+monitor master other 127.0.0.1 \(other) quorum 2")
                #expect(events.contains("+set master other 127.0.0.1 \(other) quorum 3"))
                #expect(events.contains("+set master other 127.0.0.1 \(other) auth-pass ******"))
                #expect(events.contains("+set master other 127.0.0.1 \(other) rename-command CONFIG XCONFIG"))
                #expect(events.contains("+reset-master master other 127.0.0.1 \(other)"))
                #expect(events.last == "-monitor master other 127.0.0.1 \(other)")
            }
        }

        @Test("a dead master's events (+sdown, +odown, +try-failover, +elected-leader, -failover-abort-no-good-slave) carry redis-sentinel's payloads")
        func downEvents() async throws {
            try await withRedisServers(1) { servers in
                var watchers: [(SentinelProcess, RedisConnection)] = []
                var sentinels: [SentinelProcess] = []
                defer { sentinels.forEach { $0.stop() } }
                // Different master names keep them from voting for each other: each fails alone.
                for (kind, name) in [(SentinelProcess.Kind.tandem, "t"), (.redis, "r")] {
                    let s = try await SentinelProcess(kind: kind, monitoring: servers[0], name: name, quorum: 1)
                    sentinels.append(s)
                    let w = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: s.port))
                    try await w.psubscribe(["*"])
                    watchers.append((s, w))
                }
                servers[0].kill9()
                for s in sentinels {
                    try await waitUntil("\(s.kind) to give up for want of a replica", timeout: .seconds(20)) {
                        let m = try await s.command(["SENTINEL", "MASTERS"]).array?.first?.array ?? []
                        let flags = stride(from: 0, to: m.count - 1, by: 2).first { m[$0].string == "flags" }.map { m[$0 + 1].string ?? "" } ?? ""
                        // After an attempt the sentinel has saved epoch 1.
                        let saved = try s.configText()
                        return flags.contains("o_down") && !flags.contains("failover_in_progress") && saved.contains("sentinel current-epoch 1")
                    }
                }
                var payloads: [[String: String]] = []
                for (s, w) in watchers {
                    var byType: [String: String] = [:]
                    let name = s.kind == .tandem ? "t" : "r"
                    for m in await closeAndDrain(w) where byType[m.channelName] == nil {
                        byType[m.channelName] = m.text.replacingOccurrences(of: " \(name) ", with: " NAME ")
                    }
                    payloads.append(byType)
                }
                for type in ["+sdown", "+odown", "+try-failover", "+elected-leader", "+failover-state-select-slave", "-failover-abort-no-good-slave"] {
                    #expect(payloads[0][type] != nil && payloads[0][type] == payloads[1][type], "\(type): tandem \(payloads[0][type] ?? "-") redis \(payloads[1][type] ?? "-")")
                }
            }
        }

        @Test("FLUSHCONFIG and CONFIG SET on an unwritable path: ERR Failed to save config file, like redis-sentinel")
        func unwritableConfig() async throws {
            try await Self.pair { tandem, redis, _ in
                for s in [tandem, redis] {
                    try FileManager.default.removeItem(at: s.directory)
                    #expect(try await s.command(["SENTINEL", "FLUSHCONFIG"]) == .simpleError("ERR Failed to save config file. Check server logs."))
                    #expect(try await s.command(["SENTINEL", "CONFIG", "SET", "announce-port", "1234"]) == .simpleError("ERR Failed to save config file. Check server logs."))
                }
            }
        }
    }
}
