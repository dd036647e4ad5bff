import ClusterCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RESP
import RedisConnection

/// `tandem proxy --cluster …`: reads the slot map, listens, and routes by slot until cancelled.
func serveCluster(settings: ProxySettings, seeds: [ProxyEndpoint], group: MultiThreadedEventLoopGroup, logger: Logger,
                  control: ProxyControl? = nil, onListening: @Sendable ([SocketAddress]) -> Void,
                  onStatistics: @Sendable (ClusterStatistics) -> Void = { _ in }) async throws {
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
    control?.attach(ClusterClientGate(pools: Array(pools.values)))
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
    let (servers, allTransparent) = try await bindListeners(bootstrap, settings: settings, logger: logger)
    control?.setTransparent(allTransparent)
    let addresses = servers.compactMap(\.localAddress)
    logger.notice("cluster proxy\(tls == nil ? "" : " (TLS)") listening on \(addresses.map { "\($0)" }.joined(separator: ", "))")
    onStatistics(ClusterStatistics(topology: topology))
    onListening(addresses)
    await topology.run(group: group, interval: settings.clusterRefreshInterval)
    for server in servers { try? await server.close() }
    for pool in byID.values {
        try? await pool.eventLoop.submit { pool.value.closeAll() }.get()
    }
}

/// The node agent's hold on a cluster proxy (`ProxyControl`): on a node that must not serve
/// (cut off from its group's majority, no longer holding the virtual IP), every loop closes its
/// clients and refuses new ones, so they reconnect to the address's next holder — as the
/// master-mode proxy does.
final class ClusterClientGate: ProxyClientGate {
    private let pools: [NIOLoopBound<ClusterLoopPool>]

    init(pools: [NIOLoopBound<ClusterLoopPool>]) {
        self.pools = pools
    }

    func setRefusing(_ refusing: Bool, closingClients: Bool) async {
        for pool in pools {
            try? await pool.eventLoop.submit { pool.value.setRefusing(refusing, closingClients: closingClients) }.get()
        }
    }

    func closeClients() async {
        for pool in pools {
            try? await pool.eventLoop.submit { pool.value.closeClients() }.get()
        }
    }
}
