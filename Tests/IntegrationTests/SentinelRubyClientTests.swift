import Foundation
import RESP
import RedisConnection
import RedisTestSupport
import Testing

extension SentinelSurfaceSerial {
    /// ruby-redis (Debian's ruby-redis package), a Sentinel-aware client besides redis-py.
    @Suite("ruby-redis against tandem sentinel", .serialized, .timeLimit(.minutes(2)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelRubyClientTests {
        static let script = """
            require "redis"
            sentinels = ARGV[0].split(",").map { |p| { host: "127.0.0.1", port: p.to_i } }
            r = Redis.new(url: "redis://mymaster", sentinels: sentinels, role: :master, reconnect_attempts: 0)
            r.set("rb", ARGV[1])
            puts "#{r.connection[:host]}:#{r.connection[:port]} #{r.get("rb")}"
            """

        static func ruby(_ ports: [Int], _ value: String) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: findExecutable("ruby") ?? "/usr/bin/ruby")
            p.arguments = ["-e", script, ports.map(String.init).joined(separator: ","), value]
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = pipe
            try p.run()
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, out.trimmingCharacters(in: .whitespacesAndNewlines))
        }

        @Test("ruby-redis finds the master through tandem sentinels, writes, and follows a failover")
        func rubyFollowsFailover() async throws {
            let check = Process()
            check.executableURL = URL(fileURLWithPath: findExecutable("ruby") ?? "/usr/bin/ruby")
            check.arguments = ["-e", "require 'redis'"]
            check.standardError = FileHandle.nullDevice
            guard (try? check.run()) != nil else {
                if isCI { Issue.record("ruby is missing (apt-get install ruby-redis)") }
                return
            }
            check.waitUntilExit()
            guard check.terminationStatus == 0 else {
                if isCI { Issue.record("ruby-redis is missing (apt-get install ruby-redis)") }
                return
            }
            try await withReplicationGroup(replicas: 2) { master, replicas in
                let sentinels = try await SentinelBehaviourTests.group(master)
                defer { sentinels.forEach { $0.stop() } }
                let ports = sentinels.map(\.port)
                let before = try Self.ruby(ports, "before")
                #expect(before.0 == 0, "ruby: \(before.1)")
                #expect(before.1 == "127.0.0.1:\(master.port) before")
                master.kill9()
                try await waitForCompletedFailover(sentinels, awayFrom: master)
                let after = try Self.ruby(ports, "after")
                #expect(after.0 == 0, "ruby: \(after.1)")
                let promoted = replicas.map { "127.0.0.1:\($0.port) after" }
                #expect(promoted.contains(after.1), "ruby-redis wrote to \(after.1)")
            }
        }
    }
}
