import Foundation
import RedisTestSupport
import Testing

/// The python3 on PATH (where `.ci/run` installs redis-py), else Debian's.
private let python = findExecutable("python3") ?? "/usr/bin/python3"

/// python3 with redis-py: the walk's writer is an ordinary Sentinel client.
private func pythonHasRedisPy() -> Bool {
    (try? runProgram(python, ["-c", "import redis"]).status) == 0
}

/// The rolling migration walk (scripts/migrate-sentinels.py): three redis-sentinels replaced one
/// by one by tandem sentinels from the same sentinel.conf while a writer runs through Sentinel
/// discovery, a failover asked of each new tandem sentinel in the mixed group.
///
/// Once out of the test command: in a CI simulation the three redis-sentinels did not settle
/// within 30 s, and replacements took 11-12 s here against 1-2 s by hand. The second was the
/// harness: this test's thread (libdispatch's cooperative pool) blocks every asynchronous signal,
/// Foundation's Process passes that mask on, and redis-sentinel never saw the SIGTERM of a
/// replacement (killed after the script's 10 s). The script now clears the mask for what it
/// starts, names its group on its own (no "mymaster" sentinel of another test that reused a port
/// can join it), allows 60 s to settle and says what each sentinel sees if it does not.
@Suite("migration walk: redis-sentinel to tandem sentinel, one at a time", .serialized, .timeLimit(.minutes(4)),
       .enabled(if: SentinelProcess.shouldRunTests && pythonHasRedisPy(), "redis-sentinel or python3-redis is not installed"))
struct MigrationWalkTests {
    @Test("every step completes, the group ends with three tandem sentinels, no acknowledged write lost; errors only at the failovers")
    func walk() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/migrate-sentinels.py").standardizedFileURL.path
        let (status, output) = try runProgram(python, [script, "--tandem", try tandemExecutable(), "--json"])
        print("migration walk:\n\(output)")
        let start = try #require(output.firstIndex(of: "{"), "\(output)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output[start...].utf8)) as? [String: Any], "\(output)")
        #expect(status == 0)
        #expect(object["ok"] as? Bool == true)
        let final = try #require(object["final"] as? [String: Any])
        #expect(final["sentinels"] as? [String] == ["tandem", "tandem", "tandem"])
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.count == 7)
        for step in steps {
            let name = step["step"] as? String ?? "?"
            #expect(step["lost"] as? Int == 0, "\(name)")
            #expect((step["acked"] as? Int ?? 0) > 0, "writes went on during \(name)")
            #expect(!(step["note"] as? String ?? "").hasPrefix("FAILED"), "\(name): \(step["note"] ?? "")")
            // Replacing a sentinel moves no master: clients see no error there.
            if name.hasPrefix("replace") || name.hasPrefix("steady") { #expect(step["errors"] as? Int == 0, "\(name)") }
        }
    }
}

/// The whole stack (scripts/migrate-stack.sh, namespaces 10.85.0.0/24 named t15m-*): the seed
/// stack (redis-sentinel, HAProxy with the seed's tcp-check, keepalived VRRPv2 unicast nopreempt)
/// on three nodes, a writer at the VIP, then redis-sentinel -> tandem sentinel, keepalived ->
/// tandem vrrp (backups first, then the VIP holder) and HAProxy -> tandem proxy (the VIP holder
/// last) one daemon at a time, and a failover with Tandem only. About 40 s.
@Suite("migration walk: the seed stack to Tandem in network namespaces", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: VRRPLab.shouldRun && (isCI || (findExecutable("haproxy") != nil && findExecutable("keepalived") != nil
                                                    && findExecutable("redis-sentinel") != nil))))
struct MigrationStackLabTests {
    @Test("every daemon replaced in turn, writes at the VIP throughout: 0 lost in every step; errors only where the writer's connection must move (the VIP leaves keepalived's node, the VIP holder's HAProxy stops)")
    func walk() async throws {
        let result = try await VRRPLab.run([], script: "scripts/migrate-stack.sh")
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("PASS migrate-stack"), "\(result.output)")
        let steps = result.output.split(separator: "\n").filter { $0.hasPrefix("RESULT step=") }.map { line -> [String: String] in
            var fields: [String: String] = [:]
            for pair in line.split(separator: " ") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            let quoted = line.split(separator: "\"")
            fields["step"] = quoted.count >= 2 ? String(quoted[1]) : nil
            return fields
        }
        #expect(steps.count == 11, "\(result.output)")
        #expect(steps.filter { $0["reconnect"] == "yes" }.count == 2, "\(result.output)")
        for step in steps {
            let name = step["step"] ?? "?"
            #expect(step["lost"] == "0", "\(name): \(result.output)")
            #expect((Int(step["acked"] ?? "") ?? 0) > 0, "writes went on during \(name)")
            if step["reconnect"] == "no" { #expect(step["errors"] == "0", "\(name): \(result.output)") }
        }
    }
}
