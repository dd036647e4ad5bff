import ClusterCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RESP
import RedisConnection

/// `tandem proxy --cluster …`: reads the slot map, listens, and routes by slot until cancelled.
func serveCluster(settings: ProxySettings, seeds: [ProxyEndpoint], group: MultiThreadedEventLoopGroup, logger: Logger,
                  onListening: @Sendable ([SocketAddress]) -> Void) async throws {
    let topology = ClusterTopology(seeds: seeds.map { ClusterNodeAddress(host: $0.host, port: $0.port) },
                                   settings: settings, logger: logger)
    try await topology.refresh(group: group)
    var pools: [ObjectIdentifier: NIOLoopBound<ClusterLoopPool>] = [:]
    for eventLoop in group.makeIterator() {
        pools[ObjectIdentifier(eventLoop)] = try await eventLoop.submit {
            NIOLoopBound(ClusterLoopPool(eventLoop: eventLoop, topology: topology, hold: settings.hold, logger: logger), eventLoop: eventLoop)
        }.get()
    }
    let byID = pools
    let configuration = ClusterClientState.Configuration(user: settings.user, password: settings.password)
    let tls = settings.tlsServer
    let idleTimeout = settings.idleTimeout
    let bootstrap = ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 1024)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let pool = byID[ObjectIdentifier(channel.eventLoop)]!.value
                if let tls {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                }
                if let idleTimeout {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                }
                // Replies completed in one pass of the loop (a backend's read answers many
                // pipelined commands) go to the client in one write, not one system call each.
                try channel.pipeline.syncOperations.addHandler(FlushCoalescingHandler())
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPRequestDecoder()))
                try channel.pipeline.syncOperations.addHandler(ClusterClient(pool: pool, configuration: configuration))
            }
        }
    var servers: [any Channel] = []
    for endpoint in settings.listen {
        do {
            servers.append(try await bootstrap.bind(host: endpoint.host, port: endpoint.port).get())
        } catch {
            for server in servers { try? await server.close() }
            throw ProxyStartError("cannot listen on \(endpoint): \(error)")
        }
    }
    let addresses = servers.compactMap(\.localAddress)
    logger.notice("cluster proxy\(tls == nil ? "" : " (TLS)") listening on \(addresses.map { "\($0)" }.joined(separator: ", "))")
    onListening(addresses)
    await topology.run(group: group, interval: settings.clusterRefreshInterval)
    for server in servers { try? await server.close() }
    for pool in byID.values {
        try? await pool.eventLoop.submit { pool.value.closeAll() }.get()
    }
}
