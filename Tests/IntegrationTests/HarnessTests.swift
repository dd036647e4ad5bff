import Foundation
import RESP
import RedisConnection
import RedisTestSupport
import Testing

@Suite("The real-server harness", .timeLimit(.minutes(3)), .enabled(if: RedisServer.shouldRunTests, "redis-server is not installed"))
struct HarnessTests {
    @Test("restart keeps the port and the data directory")
    func restartKeepsData() async throws {
        try await withRedisServers(1, extraArguments: ["--appendonly", "yes", "--appendfsync", "always"]) { servers in
            let server = servers[0]
            try await server.run(["SET", "durable", "yes"])
            let oldPID = server.pid
            server.kill9()
            #expect(!server.isRunning)
            try await server.restart()
            #expect(server.pid != oldPID)
            #expect(try await server.run(["GET", "durable"]) == .bulkString("yes"))
        }
    }

    @Test("stop kills the process and removes its directory, also when the body throws")
    func cleanupOnThrow() async throws {
        var captured: RedisServer?
        await #expect(throws: HarnessError.self) {
            try await withRedisServers(1) { servers in
                captured = servers[0]
                throw HarnessError("body failed on purpose")
            }
        }
        let server = try #require(captured)
        #expect(!server.isRunning)
        if ProcessInfo.processInfo.environment["TANDEM_KEEP_LOGS"] == nil {
            #expect(!FileManager.default.fileExists(atPath: server.directory.path))
        }
    }

    @Test("waitUntil returns once the condition holds and names what timed out")
    func waitUntilDeadline() async throws {
        var polls = 0
        try await waitUntil("three polls") {
            polls += 1
            return polls == 3
        }
        #expect(polls == 3)
        await #expect {
            try await waitUntil("something that never happens", timeout: .milliseconds(100)) { false }
        } throws: { error in
            "\(error)".contains("something that never happens")
        }
    }
}
