import KeepalivedConfig
import LVSCore
import NIOCore
import NIOPosix
import VRRPCore

/// The TCP byte path of a virtual server: each accepted connection placed by the core and glued
/// to its real (or sorry) server.
extension VirtualServerLoop {
    /// On the connection's own loop: asks the core (on `loop`) where it goes, then connects
    /// there from the connection's loop, so the bytes of a connection stay on one thread and
    /// only the decisions hop to the core's.
    func accepted(_ channel: any Channel) {
        guard let remote = channel.remoteAddress else {
            channel.close(promise: nil)
            return
        }
        let client = ClientKey(address: remote.addressBytes, port: UInt16(clamping: remote.port ?? 0))
        loop.execute { [self] in
            guard !stopped else {
                channel.close(promise: nil)
                return
            }
            guard let destination = state.connect(client: client, now: now()) else {
                refusedOne(from: remote)
                channel.close(promise: nil)
                return
            }
            let id = ObjectIdentifier(channel)
            openChannels[id] = OpenConnection(channel: channel, destination: destination, client: client)
            channel.closeFuture.whenComplete { [self] _ in
                loop.execute { [self] in
                    // Where it is counted now: a reload may have moved or removed its real server.
                    if let open = openChannels.removeValue(forKey: id), let destination = open.destination {
                        state.connectionClosed(destination, client: client, now: now())
                    }
                }
            }
            let (target, description, timeout) = self.target(of: destination)
            channel.eventLoop.execute { [self] in
                forward(channel, to: target, description: description, timeout: timeout, client: remote)
            }
        }
    }

    /// A new connection or UDP flow no real server can take: counted, logged at most once a
    /// second with the count since the last.
    func refusedOne(from remote: SocketAddress) {
        refused += 1
        if lastRefusalLog.map({ now() - $0 >= .seconds(1) }) ?? true {
            log("\(name): no real server can take a connection (\(refused) refused, the last from \(remote))\(config.udp ? ": dropped" : ": closed")")
            lastRefusalLog = now()
            refused = 0
        }
    }

    /// Where a destination is, what to call it in logs, and how long a connect there may take
    /// (the first checker's connect_timeout; 5 s without one).
    func target(of destination: Destination) -> (ServiceAddress, String, Double) {
        switch destination {
        case .real(let r):
            return (config.realServers[r].service, "real server", config.realServers[r].checkers.first?.connectTimeout ?? 5)
        case .sorry:
            return (config.sorryServer!, "sorry server", 5)
        }
    }

    /// On the client channel's loop: connects to `target` and glues the two channels.
    func forward(_ channel: any Channel, to target: ServiceAddress, description: String, timeout: Double, client: SocketAddress) {
        let backend: EventLoopFuture<any Channel>
        do {
            backend = ClientBootstrap(group: channel.eventLoop)
                .connectTimeout(.nanoseconds(Int64(timeout * 1e9)))
                .channelOption(ChannelOptions.autoRead, value: false)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .connect(to: try SocketAddress(ipAddress: target.address.description, port: target.port))
        } catch {
            channel.close(promise: nil)
            return
        }
        let name = self.name
        let log = self.log
        backend.whenComplete { result in
            switch result {
            case .failure(let error):
                log("\(name): cannot reach \(description) \(target) for \(client): \(describe(error))")
                channel.close(promise: nil)
            case .success(let server):
                guard channel.isActive else {
                    server.close(promise: nil)
                    channel.close(promise: nil)
                    return
                }
                do {
                    let clientSide = try channel.pipeline.syncOperations.handler(type: GlueHandler.self)
                    try server.pipeline.syncOperations.addHandler(GlueHandler.attach(clientSide))
                    clientSide.replayEarly()
                } catch {
                    server.close(promise: nil)
                    channel.close(promise: nil)
                    return
                }
                // The client gone meanwhile, or gone later: the glue closes the server side.
                channel.closeFuture.whenComplete { _ in server.close(promise: nil) }
                channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                server.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            }
        }
    }
}
