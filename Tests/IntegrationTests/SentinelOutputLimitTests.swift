import Foundation
import RESP
import RedisTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension SentinelSurfaceSerial {
    /// `client-output-buffer-limit pubsub`: a subscriber that never reads is closed once its
    /// pending events reach the hard limit, with Redis's log line; the sentinel serves on.
    @Suite("Sentinel output buffer limit", .serialized, .timeLimit(.minutes(3)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelOutputLimitTests {
        /// A subscriber to every channel (PSUBSCRIBE *) with a small receive buffer, which reads
        /// the confirmation and nothing after it. Returns its descriptor and its address as
        /// CLIENT LIST shows it.
        static func stalledSubscriber(port: Int) throws -> (fd: Int32, address: String) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var size: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard ok == 0 else { close(fd); throw HarnessError("connect to 127.0.0.1:\(port) failed") }
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            _ = "PSUBSCRIBE *\r\n".withCString { send(fd, $0, 14, 0) }
            let confirmation = "*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n"
            var buffer = [UInt8](repeating: 0, count: confirmation.utf8.count)
            var got = 0
            while got < buffer.count {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, $0.count - got, 0) }
                guard n > 0 else { close(fd); throw HarnessError("no PSUBSCRIBE confirmation") }
                got += n
            }
            guard String(decoding: buffer, as: UTF8.self) == confirmation else { close(fd); throw HarnessError("unexpected confirmation") }
            var local = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            return (fd, "127.0.0.1:\(UInt16(bigEndian: local.sin_port))")
        }

        /// What one kind of sentinel does: whether the subscriber was closed, the log line, and
        /// whether it still answers.
        func run(_ kind: SentinelProcess.Kind) async throws -> (closed: Bool, logLine: String?, alive: Bool) {
            try await withReplicationGroup(replicas: 0) { master, _ in
                let s = try await SentinelProcess(kind: kind, monitoring: master, quorum: 1,
                                                  extraLines: ["client-output-buffer-limit pubsub 64kb 0 0"])
                defer { s.stop() }
                let (fd, address) = try Self.stalledSubscriber(port: s.port)
                defer { close(fd) }
                // Events of about 850 bytes each (+monitor for 50 masters nobody listens for,
                // then +reset-master for each on every SENTINEL RESET *: 42 KB a round) until the
                // subscriber is gone from CLIENT LIST (or 200 rounds, 8 MB).
                let closedPort = try freeLoopbackPort()
                func subscriberGone() async throws -> Bool {
                    !(try await s.command(["CLIENT", "LIST"]).string ?? "").contains("addr=\(address) ")
                }
                var closed = false
                for i in 0..<50 {
                    _ = try await s.command(["SENTINEL", "MONITOR", "m\(i)-" + String(repeating: "x", count: 800), "127.0.0.1", "\(closedPort)", "2"])
                }
                for _ in 0..<200 where !closed {
                    _ = try await s.command(["SENTINEL", "RESET", "*"])
                    closed = try await subscriberGone()
                }
                let alive = try await s.command(["PING"]).string == "PONG"
                let log = (try? String(contentsOf: s.logFile, encoding: .utf8)) ?? ""
                let line = log.split(separator: "\n").first { $0.contains("addr=\(address) ") && $0.contains("output buffer") }
                return (closed, line.map(String.init), alive)
            }
        }

        @Test("a PSUBSCRIBE * client that never reads: closed at the hard limit with Redis's log line, as redis-sentinel closes it; the sentinel serves on")
        func stalledSubscriberClosed() async throws {
            for kind in [SentinelProcess.Kind.redis, .tandem] {
                let result = try await run(kind)
                #expect(result.closed, "\(kind) kept the subscriber")
                #expect(result.alive, "\(kind) stopped answering")
                let line = try #require(result.logLine, "\(kind) logged no output-buffer line")
                #expect(line.hasSuffix(" scheduled to be closed ASAP for overcoming of output buffer limits."), "\(kind): \(line)")
                #expect(line.contains(" flags=P "), "\(kind): \(line)")
                #expect(line.contains(" psub=1 "), "\(kind): \(line)")
                // Closed at the limit: what it held is at least 64 KiB.
                let omem = line.split(separator: " ").first { $0.hasPrefix("omem=") }.flatMap { Int($0.dropFirst(5)) }
                #expect((omem ?? 0) >= 65536, "\(kind): \(line)")
            }
        }
    }
}
