import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

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
                #expect(try me.send(["CLIENT", "KILL", "LADDR", laddr, "SKIPME", "yes"]) == ":1\r\n")
                #expect(spare.isClosed())
                #expect(try me.send(["CLIENT", "KILL", "USER", "default", "SKIPME", "no"]) == ":1\r\n")
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
