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
    /// A one-line wrapper, `exec tandem sentinel "$@"`, installed as redis-sentinel and as
    /// redis-server, started the ways Redis Sentinel is started.
    @Suite("tandem sentinel as a drop-in redis-sentinel", .serialized, .timeLimit(.minutes(2)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelWrapperTests {
        static func ping(_ port: Int) async -> Bool {
            guard let c = try? await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: port, connectTimeout: .seconds(1))) else { return false }
            defer { Task { await c.close() } }
            return (try? await c.send(["PING"]))?.string == "PONG"
        }

        @Test("`redis-sentinel conf`, `redis-server conf --sentinel --port N`, and --daemonize/--pidfile/--logfile/--loglevel", .timeLimit(.minutes(1)))
        func invocationStyles() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-wrapper-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let tandem = try tandemExecutable()
            for name in ["redis-sentinel", "redis-server"] {
                let path = dir.appendingPathComponent(name).path
                try "#!/bin/sh\nexec \(tandem) sentinel \"$@\"\n".write(toFile: path, atomically: true, encoding: .utf8)
                chmod(path, 0o755)
            }
            try await withRedisServers(1) { servers in
                let filePort = try freeLoopbackPort(), overridePort = try freeLoopbackPort(), daemonPort = try freeLoopbackPort()
                let conf = dir.appendingPathComponent("sentinel.conf").path
                try "port \(filePort)\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 \(servers[0].port) 1\n"
                    .write(toFile: conf, atomically: true, encoding: .utf8)
                for (program, args, port) in [("redis-sentinel", [conf], filePort),
                                              ("redis-server", [conf, "--sentinel", "--port", String(overridePort)], overridePort)] {
                    let p = try ChildProcess(executable: dir.appendingPathComponent(program).path, arguments: args,
                                             logFile: dir.appendingPathComponent("\(program).log"))
                    defer { p.kill9() }
                    try await waitUntil("\(program) \(args.joined(separator: " ")) to answer on \(port)") { await Self.ping(port) }
                    let c = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: port))
                    #expect(try await c.send(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]) == .array([.bulkString("127.0.0.1"), .bulkString(String(servers[0].port))]))
                    #expect(try await c.send(["INFO", "server"]).string?.contains("tcp_port:\(port)") == true)
                    await c.close()
                }
                #expect(try String(contentsOfFile: conf, encoding: .utf8).contains("port \(filePort)\n"), "an override is not written to the file")
                // Daemonized: the command returns, the pid file names the running sentinel, the log file fills.
                let pidfile = dir.appendingPathComponent("sentinel.pid").path, logfile = dir.appendingPathComponent("sentinel.log").path
                let p = try ChildProcess(executable: dir.appendingPathComponent("redis-sentinel").path,
                                         arguments: [conf, "--port", String(daemonPort), "--daemonize", "yes", "--pidfile", pidfile,
                                                     "--logfile", logfile, "--loglevel", "verbose"],
                                         logFile: dir.appendingPathComponent("daemonize.log"))
                defer { p.kill9() }
                try await waitUntil("the launching process to exit") { !p.isRunning }
                #expect(p.terminationStatus == 0)
                try await waitUntil("the daemon to write its pid file") { FileManager.default.fileExists(atPath: pidfile) }
                let pid = pid_t((try String(contentsOfFile: pidfile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
                #expect(pid > 0 && pid != p.pid)
                defer { if pid > 0 { kill(pid, SIGKILL) } }
                try await waitUntil("the daemon to answer on \(daemonPort)") { await Self.ping(daemonPort) }
                try await waitUntil("the log file to name the sentinel id") {
                    (try? String(contentsOfFile: logfile, encoding: .utf8))?.contains("Sentinel ID is") == true
                }
                // SHUTDOWN ends it and removes the pid file.
                let raw = try RawClient(port: daemonPort)
                _ = try? raw.send(["SHUTDOWN"])
                // It may have been reparented to this test process, so "gone" includes a zombie.
                try await waitUntil("the daemon to exit") {
                    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
                    return stat.isEmpty || stat.contains(") Z ")
                }
                #expect(!FileManager.default.fileExists(atPath: pidfile))
            }
        }
    }
}
