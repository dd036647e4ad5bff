import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import RedisConnection

/// What serves a proxy's clients and can refuse them: master mode's router, cluster mode's
/// loop pools (`ClusterClientGate`).
protocol ProxyClientGate: AnyObject, Sendable {
    func setRefusing(_ refusing: Bool, closingClients: Bool) async
    func closeClients() async
}

extension ProxyRouter: ProxyClientGate {}

/// What the node agent may ask of a running proxy (master or cluster mode alike).
public final class ProxyControl: Sendable {
    private let router = NIOLockedValueBox<(any ProxyClientGate)?>(nil)
    private let transparent = NIOLockedValueBox(false)

    public init() {}

    /// Whether every listening socket has IP_TRANSPARENT (`ProxySettings.transparentListen`), so
    /// clients can be closed after the virtual IP left this host.
    public var listensTransparently: Bool { transparent.withLockedValue { $0 } }

    func setTransparent(_ on: Bool) {
        transparent.withLockedValue { $0 = on }
    }

    func attach(_ router: any ProxyClientGate) {
        self.router.withLockedValue { $0 = router }
    }

    /// `true`: refuse new clients and (with `closingClients`) close every connected one (they
    /// reconnect to the virtual IP's next holder); `false`: take clients again.
    public func setRefusing(_ refusing: Bool, closingClients: Bool = true) async {
        await router.withLockedValue { $0 }?.setRefusing(refusing, closingClients: closingClients)
    }

    /// Closes every connected client (new ones are served or refused as before).
    public func closeClients() async {
        await router.withLockedValue { $0 }?.closeClients()
    }
}

/// Starts `tandem proxy`: checks discovery, listens, and routes until cancelled.
/// `onListening` gets the bound addresses (useful with port 0).
/// `onStatistics` gets a handle on the counters once the event loops exist (for `/metrics`);
/// `onClusterStatistics` the same in cluster mode.
public func runProxy(settings: ProxySettings, logger: Logger, control: ProxyControl? = nil,
                     onListening: @Sendable ([SocketAddress]) -> Void = { _ in },
                     onStatistics: @Sendable (ProxyStatistics) -> Void = { _ in },
                     onClusterStatistics: @Sendable (ClusterStatistics) -> Void = { _ in }) async throws {
    guard !settings.listen.isEmpty else { throw ProxyStartError("no --listen address given") }
    // Default: half the cores. The proxy shares its node with Redis (single-threaded) and its
    // clients; on 2 cores one thread gave more throughput and a lower p99 than two
    // (docs/benchmarks.md).
    let group = MultiThreadedEventLoopGroup(numberOfThreads: settings.threads > 0 ? settings.threads : max(1, System.coreCount / 2))
    // Sessions and links refer to their loop with `unowned(unsafe)` (no reference counting on
    // the byte path); the loops live here until every channel is gone with the group.
    let keeper = LoopKeeper()
    if case .cluster(let seeds) = settings.discovery {
        do {
            try await serveCluster(settings: settings, seeds: seeds, group: group, logger: logger, control: control, onListening: onListening,
                                   onStatistics: onClusterStatistics)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try? await group.shutdownGracefully()
        return
    }
    do {
        try await serve(settings: settings, group: group, logger: logger, keeper: keeper, control: control, onListening: onListening,
                        onStatistics: onStatistics)
    } catch {
        try? await group.shutdownGracefully()
        withExtendedLifetime(keeper) {}
        throw error
    }
    try? await group.shutdownGracefully()
    withExtendedLifetime(keeper) {}
}

private final class LoopKeeper: @unchecked Sendable {
    var loops: [NIOLoopBound<ProxyLoop>] = []
}

private func serve(settings: ProxySettings, group: MultiThreadedEventLoopGroup, logger: Logger,
                   keeper: LoopKeeper, control: ProxyControl?, onListening: @Sendable ([SocketAddress]) -> Void,
                   onStatistics: @Sendable (ProxyStatistics) -> Void) async throws {
    let router = ProxyRouter(settings: settings, logger: logger)
    let context = ProxyContext(settings: settings, logger: logger, router: router)
    var loops: [NIOLoopBound<ProxyLoop>] = []
    var loopsByID: [ObjectIdentifier: NIOLoopBound<ProxyLoop>] = [:]
    for (index, eventLoop) in group.makeIterator().enumerated() {
        let bound = try await eventLoop.submit {
            NIOLoopBound(ProxyLoop(eventLoop: eventLoop, context: context, index: index), eventLoop: eventLoop)
        }.get()
        loops.append(bound)
        loopsByID[ObjectIdentifier(eventLoop)] = bound
    }
    keeper.loops = loops
    router.attach(loops)
    control?.attach(router)
    onStatistics(ProxyStatistics(router: router))

    let discovery = MasterDiscovery(settings: settings, router: router, logger: logger)
    try await discovery.initialCheck()

    let idleTimeout = settings.idleTimeout
    let tls = settings.tlsServer
    let byID = loopsByID
    let bootstrap = ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 1024)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelOption(.maxMessagesPerRead, value: 16)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let loop = byID[ObjectIdentifier(channel.eventLoop)]!.value
                if let tls {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    try channel.pipeline.syncOperations.addHandler(TLSAcceptFailureLogger(logger: logger))
                }
                if let idleTimeout {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                }
                try channel.pipeline.syncOperations.addHandler(ClientSession(loop: loop))
            }
        }
    let (servers, allTransparent) = try await bindListeners(bootstrap, settings: settings, logger: logger)
    control?.setTransparent(allTransparent)
    let addresses = servers.compactMap(\.localAddress)
    logger.notice("proxy for '\(settings.groupName)'\(tls == nil ? "" : " (TLS)") listening on \(addresses.map { "\($0)" }.joined(separator: ", "))")
    onListening(addresses)
    await discovery.run()
    for server in servers { try? await server.close() }
}

/// Binds every `--listen` address; with `transparentListen` (the node agent's proxy placement)
/// with IP_TRANSPARENT where it can, so clients can be closed after the virtual IP left. The
/// second value: whether every socket has it.
func bindListeners(_ bootstrap: ServerBootstrap, settings: ProxySettings, logger: Logger) async throws -> ([any Channel], Bool) {
    var servers: [any Channel] = []
    var allTransparent = settings.transparentListen
    for endpoint in settings.listen {
        do {
            if settings.transparentListen {
                let ipv6 = endpoint.host.contains(":")
                let transparent = ChannelOptions.Types.SocketOption(
                    level: .init(rawValue: CInt(ipv6 ? IPPROTO_IPV6 : IPPROTO_IP)),
                    name: .init(rawValue: ipv6 ? 75 /* IPV6_TRANSPARENT */ : 19 /* IP_TRANSPARENT */))
                do {
                    servers.append(try await bootstrap.serverChannelOption(transparent, value: 1)
                        .bind(host: endpoint.host, port: endpoint.port).get())
                    continue
                } catch {
                    logger.warning("cannot listen on \(endpoint) with IP_TRANSPARENT (\(error); needs CAP_NET_ADMIN): clients that reached this node at the virtual IP are closed before the address leaves instead")
                    allTransparent = false
                }
            }
            servers.append(try await bootstrap.bind(host: endpoint.host, port: endpoint.port).get())
        } catch {
            for server in servers { try? await server.close() }
            throw ProxyStartError("cannot listen on \(endpoint): \(error)")
        }
    }
    return (servers, allTransparent)
}
