import Logging
import NIOCore
@testable import Proxy
import RESP
import RedisConnection
import RedisTestSupport
import Testing

/// The node agent's hold on its proxy: a node that must not serve (cut off from the majority,
/// or losing the virtual IP) closes the proxy's clients and refuses new ones, so they reconnect
/// to the address's next holder at once.
@Suite("ProxyControl: refusing clients", .timeLimit(.minutes(1)),
       .enabled(if: SentinelProcess.shouldRunTests, "redis-server is not installed"))
struct ProxyControlTests {
    @Test("setRefusing(true) closes every client and each new one; setRefusing(false) serves again")
    func refusing() async throws {
        try await withRedisServers(1) { servers in
            let port = try freeLoopbackPort()
            var settings = ProxySettings(listen: [ProxyEndpoint(host: "127.0.0.1", port: port)],
                                         discovery: .backends([ProxyEndpoint(host: "127.0.0.1", port: servers[0].port)]))
            settings.checkInterval = .milliseconds(100)
            let control = ProxyControl()
            let proxy = Task {
                try await runProxy(settings: settings, logger: Logger(label: "test"), control: control)
            }
            func connect() async throws -> RedisConnection {
                try await RedisConnection.connect(RedisConnectionConfiguration(
                    host: "127.0.0.1", port: port, connectTimeout: .seconds(2), commandTimeout: .seconds(5)))
            }
            var client: RedisConnection?
            try await waitUntil("the proxy to serve") {
                if client == nil { client = try? await connect() }
                return (try? await client?.send(["SET", "k", "1"])) == .simpleString("OK")
            }
            let c = try #require(client)
            await control.setRefusing(true)
            try await waitUntil("the client to be closed") { !c.isActive }
            let late = try? await connect()
            if let late {
                try await waitUntil("a new client to be closed") { !late.isActive }
            }
            await control.setRefusing(false)
            let again = try await connect()
            #expect(try await again.send(["GET", "k"]) == .bulkString("1"))
            await again.close()
            proxy.cancel()
            _ = await proxy.result  // the proxy stops when cancelled
        }
    }

    /// The same hold on a cluster proxy (`proxy.cluster` under `tandem run`): the node agent's
    /// fence or the virtual IP leaving closes its clients too.
    @Test("cluster mode: setRefusing(true) closes every client and each new one; closeClients closes; setRefusing(false) serves again")
    func refusingInClusterMode() async throws {
        try await withRedisCluster(masters: 3, replicasPerMaster: 0) { cluster in
            let port = try freeLoopbackPort()
            let seeds = cluster.servers.prefix(2).map { ProxyEndpoint(host: "127.0.0.1", port: $0.port) }
            let settings = ProxySettings(listen: [ProxyEndpoint(host: "127.0.0.1", port: port)], discovery: .cluster(Array(seeds)))
            let control = ProxyControl()
            let proxy = Task {
                try await runProxy(settings: settings, logger: Logger(label: "test"), control: control)
            }
            func connect() async throws -> RedisConnection {
                try await RedisConnection.connect(RedisConnectionConfiguration(
                    host: "127.0.0.1", port: port, connectTimeout: .seconds(2), commandTimeout: .seconds(5)))
            }
            var client: RedisConnection?
            try await waitUntil("the proxy to serve") {
                if client == nil { client = try? await connect() }
                return (try? await client?.send(["SET", "k", "1"])) == .simpleString("OK")
            }
            let c = try #require(client)
            let subscriber = try await connect()
            try await subscriber.subscribe(["news"])
            await control.closeClients()
            try await waitUntil("the clients to be closed") { !c.isActive && !subscriber.isActive }
            let next = try await connect()
            #expect(try await next.send(["GET", "k"]) == .bulkString("1"), "closeClients refuses no one")
            await control.setRefusing(true)
            try await waitUntil("the client to be closed") { !next.isActive }
            let late = try? await connect()
            if let late {
                try await waitUntil("a new client to be closed") { !late.isActive }
            }
            await control.setRefusing(false)
            let again = try await connect()
            #expect(try await again.send(["GET", "k"]) == .bulkString("1"))
            await again.close()
            proxy.cancel()
            _ = await proxy.result
        }
    }
}
