#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
@testable import Proxy
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// A proxy whose master is cut off has commands waiting on a connection that is still being
/// made (the SYN goes unanswered). When the group names another master, those commands never
/// left the proxy: they go to the new master at once, not after the connect times out.
@Suite("Proxy: a master change while the connection to the old one is still being made", .timeLimit(.minutes(1)),
       .enabled(if: SentinelProcess.shouldRunTests, "redis-server is not installed"))
struct MasterChangeWhileConnectingTests {
    /// A loopback listener that never completes a connection: its accept queue (backlog 0) is
    /// filled by two connections nobody accepts, so the kernel drops every further SYN, as a
    /// cut-off host's network would.
    final class SilentListener {
        let port: Int
        private var fds: [Int32] = []

        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            fds.append(listener)
            // A free port (closed again just before), bound here with backlog 0.
            let free = try freeLoopbackPort()
            let address = try SocketAddress(ipAddress: "127.0.0.1", port: free)
            let bound = address.withSockAddr { bind(listener, $0, socklen_t($1)) }
            guard bound == 0, listen(listener, 0) == 0 else { throw HarnessError("listen on \(free) failed: errno \(errno)") }
            port = free
            for _ in 0..<2 {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                fds.append(fd)
                _ = address.withSockAddr { Glibc.connect(fd, $0, socklen_t($1)) }
            }
        }

        deinit { for fd in fds { close(fd) } }
    }

    @Test("a SET held on a connection still being made goes to the next master (never sent: no error)")
    func resentToNextMaster() async throws {
        try await withRedisServers(1) { servers in
            let silent = try SilentListener()
            // The bytes of the silent listener's port are never acknowledged: the connect would
            // end only at this timeout, far beyond the test's time limit.
            var settings = ProxySettings(listen: [], discovery: .backends([]))
            settings.connectTimeout = .seconds(120)
            settings.hold = .seconds(120)
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let eventLoop = group.next()
            let context = ProxyContext(settings: settings, logger: logger, router: ProxyRouter(settings: settings, logger: logger))
            let loop = try await eventLoop.submit { NIOLoopBound(ProxyLoop(eventLoop: eventLoop, context: context), eventLoop: eventLoop) }.get()
            let server = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ClientSession(loop: loop.value))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            let proxyPort = try #require(server.localAddress?.port)
            func setMaster(_ port: Int?, generation: UInt64) async throws {
                let target = try port.map { MasterTarget(endpoint: ProxyEndpoint(host: "127.0.0.1", port: $0),
                                                         address: try SocketAddress(ipAddress: "127.0.0.1", port: $0), generation: generation) }
                try await eventLoop.submit { loop.value.setMaster(target) }.get()
            }
            func connectingLinks() async throws -> Int {
                try await eventLoop.submit { loop.value.counters.backendConnects - loop.value.counters.backendConnectFailures }.get()
            }

            try await setMaster(silent.port, generation: 1)
            let client = try await RedisConnection.connect(RedisConnectionConfiguration(
                host: "127.0.0.1", port: proxyPort, connectTimeout: .seconds(5), commandTimeout: .seconds(60)))
            let reply = Task { try await client.send(["SET", "k", "v"]) }
            try await waitUntil("the proxy to open a connection to the silent master") { try await connectingLinks() == 1 }
            try await Task.sleep(for: .milliseconds(100))
            // The group loses its master, then names the real server (as in a partition: the
            // old master's node cut off, a replica promoted).
            try await setMaster(nil, generation: 0)
            try await setMaster(servers[0].port, generation: 2)
            #expect(try await reply.value == .simpleString("OK"))
            let direct = try await RedisConnection.connect(RedisConnectionConfiguration(host: "127.0.0.1", port: servers[0].port))
            #expect(try await direct.send(["GET", "k"]) == .bulkString("v"), "the SET ran on the new master")
            await direct.close()
            await client.close()
            try await server.close()
            try await group.shutdownGracefully()
        }
    }
}
