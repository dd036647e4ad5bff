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
/// Not in the test command yet: in the CI simulation of 2026-12-05 the three redis-sentinels did
/// not settle within the script's 30 s (each knowing 2 replicas and 2 peers) while the same walk
/// passes run by hand and in a filtered run; the helper also saw replacement steps take 11–12 s
/// under the test harness against 2 s by hand. Not investigated yet. Run it with
/// `TANDEM_MIGRATION_WALK=1 swift test --filter MigrationWalkTests`, or the script directly.
@Suite("migration walk: redis-sentinel to tandem sentinel, one at a time", .serialized, .timeLimit(.minutes(4)),
       .enabled(if: ProcessInfo.processInfo.environment["TANDEM_MIGRATION_WALK"] == "1",
                "set TANDEM_MIGRATION_WALK=1 (not in the test command yet, see the comment)"),
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
