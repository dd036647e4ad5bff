import KeepalivedConfig
import LVSCore
import NIOCore
import NIOPosix
import VRRPCore

/// Every datagram whole: NIO's default for datagram sockets (2 KiB) would cut longer ones.
private var udpReceive: FixedSizeRecvByteBufferAllocator { FixedSizeRecvByteBufferAllocator(capacity: 65536) }

/// A UDP flow: one client address and port at one of the virtual server's addresses.
struct UDPFlowKey: Hashable, Sendable {
    let listener: ServiceAddress
    let client: SocketAddress
}

/// A flow's socket to its real server: connecting (datagrams wait, a few) or open.
struct UDPFlowSocket {
    var channel: (any Channel)?
    var waiting: [ByteBuffer] = []
    /// At most this many datagrams wait for the connect; more are dropped (as a full queue would).
    static let maxWaiting = 64
}

/// A UDP virtual server's listening socket: every datagram goes to the virtual server's loop.
final class UDPListenerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let owner: VirtualServerLoop
    private let service: ServiceAddress

    init(owner: VirtualServerLoop, service: ServiceAddress) {
        self.owner = owner
        self.service = service
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        owner.udpDatagram(envelope.data, from: envelope.remoteAddress, at: service, listener: context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ECONNREFUSED and the like on the listening socket: not fatal for the others' flows.
    }
}

/// A flow's connected socket to the real server: its replies go back to the client through the
/// listening socket (so they come from VIP:PORT); an ICMP error (ECONNREFUSED) ends the flow.
final class UDPFlowHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let owner: VirtualServerLoop
    private let key: UDPFlowKey
    private let listener: any Channel

    init(owner: VirtualServerLoop, key: UDPFlowKey, listener: any Channel) {
        self.owner = owner
        self.key = key
        self.listener = listener
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        owner.udpReply(key)
        listener.writeAndFlush(AddressedEnvelope(remoteAddress: key.client, data: envelope.data), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension VirtualServerLoop {
    /// `protocol UDP`: a datagram socket on the address (IP_FREEBIND, as the TCP listener).
    func listenUDP(on service: ServiceAddress, at address: SocketAddress, what: String) -> EventLoopFuture<Void> {
        DatagramBootstrap(group: loop)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelOption(Self.freebind(for: service), value: 1)
            .channelOption(ChannelOptions.recvAllocator, value: udpReceive)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPListenerHandler(owner: self, service: service))
                }
            }
            .bind(to: address)
            .flatMapErrorThrowing { [config] error in
                throw VirtualServerError("\(config.location): \(what): cannot listen: \(error)")
            }.map { [self] channel in
                listeners[service] = channel
            }
    }

    /// On `loop`: a client's datagram. A known flow's goes to its real server; a new client's
    /// is placed by the core (scheduler, persistence, quorum) and gets a socket of its own,
    /// connected to that server, which later datagrams of the flow share.
    func udpDatagram(_ data: ByteBuffer, from client: SocketAddress, at service: ServiceAddress, listener: any Channel) {
        guard !stopped else { return }
        let key = UDPFlowKey(listener: service, client: client)
        if var flow = udpSockets[key] {
            udpFlows.seen(key, now: now())
            if let channel = flow.channel {
                channel.writeAndFlush(data, promise: nil)
            } else if flow.waiting.count < UDPFlowSocket.maxWaiting {
                flow.waiting.append(data)
                udpSockets[key] = flow
            }
            return
        }
        let clientKey = ClientKey(address: client.addressBytes, port: UInt16(clamping: client.port ?? 0))
        guard let destination = state.connect(client: clientKey, now: now()) else {
            refusedOne(from: client)
            return
        }
        let (target, description, _) = self.target(of: destination)
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: target.address.description, port: target.port)
        } catch {
            state.connectionClosed(destination, client: clientKey, now: now())
            return
        }
        udpFlows.seen(key, now: now())
        udpSockets[key] = UDPFlowSocket(channel: nil, waiting: [data])
        scheduleUDPExpiry()
        DatagramBootstrap(group: loop)
            .channelOption(ChannelOptions.recvAllocator, value: udpReceive)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPFlowHandler(owner: self, key: key, listener: listener))
                }
            }
            .connect(to: address)
            .whenComplete { [self] result in
                switch result {
                case .failure(let error):
                    log("\(name): cannot reach \(description) \(target) for \(client) (UDP): \(describe(error))")
                    if udpSockets[key]?.channel == nil { udpSockets[key] = nil; udpFlows.remove(key) }
                    state.connectionClosed(destination, client: clientKey, now: now())
                case .success(let channel):
                    // Expired, or the virtual server stopped, while connecting.
                    guard !stopped, let waiting = udpSockets[key]?.waiting, udpSockets[key]?.channel == nil else {
                        channel.close(promise: nil)
                        state.connectionClosed(destination, client: clientKey, now: now())
                        return
                    }
                    let id = ObjectIdentifier(channel)
                    openChannels[id] = OpenConnection(channel: channel, destination: destination, client: clientKey)
                    channel.closeFuture.whenComplete { [self] _ in
                        loop.execute { [self] in
                            if let open = openChannels.removeValue(forKey: id), let destination = open.destination {
                                state.connectionClosed(destination, client: clientKey, now: now())
                            }
                            if let flow = udpSockets[key], flow.channel === channel {
                                udpSockets[key] = nil
                                udpFlows.remove(key)
                            }
                        }
                    }
                    udpSockets[key] = UDPFlowSocket(channel: channel, waiting: [])
                    for datagram in waiting { channel.write(datagram, promise: nil) }
                    channel.flush()
                }
            }
    }

    /// On `loop`: a reply on a flow: its idle time starts again.
    func udpReply(_ key: UDPFlowKey) {
        guard udpSockets[key] != nil else { return }
        udpFlows.seen(key, now: now())
    }

    /// Ends the flows idle for the UDP timeout, then waits for the next to run out.
    func scheduleUDPExpiry() {
        guard !stopped, let deadline = udpFlows.nextDeadline else { return }
        if udpTimer != nil, let at = udpTimerDeadline, at <= deadline { return }
        udpTimer?.cancel()
        udpTimerDeadline = deadline
        let wait = max(.zero, deadline - now())
        udpTimer = loop.scheduleTask(in: .nanoseconds(Int64(wait / .nanoseconds(1)))) { [self] in
            udpTimer = nil
            udpTimerDeadline = nil
            for key in udpFlows.expire(now: now()) {
                // Its socket's close counts the connection closed (above); one still connecting
                // is closed when its connect completes.
                udpSockets.removeValue(forKey: key)?.channel?.close(promise: nil)
            }
            scheduleUDPExpiry()
        }
    }
}
