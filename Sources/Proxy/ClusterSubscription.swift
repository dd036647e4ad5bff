import ClusterCore
import NIOCore
import NIOPosix
import NIOSSL
import RESP

/// A client's subscription connection to one cluster node, in the client's protocol: commands
/// out as RESP, every reply and message (RESP3: push) in as a value, handed to `onValue` on the
/// client's event loop.
final class ClusterSubscription {
    let node: ClusterNodeAddress
    private let channel: EventLoopFuture<any Channel>
    /// Replies to the proxy's own AUTH, dropped.
    private var ownReplies = 0

    init(node: ClusterNodeAddress, topology: ClusterTopology, eventLoop: any EventLoop, protocolVersion: Int,
         onValue: @escaping (RESPValue) -> Void, onClose: @escaping () -> Void) {
        self.node = node
        let tls = topology.settings.backendTLS
        let host = node.host
        channel = ClientBootstrap(group: eventLoop)
            .connectTimeout(topology.settings.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPValueDecoder()))
                }
            }
            .connect(host: host, port: node.port)
        let settings = topology.settings
        channel.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .failure:
                onClose()
            case .success(let channel):
                let handler = ValueHandler(onValue: { [self] value in
                    if ownReplies > 0 {
                        ownReplies -= 1
                        return
                    }
                    onValue(value)
                }, onClose: onClose)
                do {
                    try channel.pipeline.syncOperations.addHandler(handler)
                } catch {
                    channel.close(promise: nil)
                    onClose()
                    return
                }
                if let password = settings.password {
                    ownReplies += 1
                    send([settings.user, password].compactMap { $0 }.map { ByteBuffer(string: $0) }, name: "AUTH")
                }
                if protocolVersion == 3 {
                    // A RESP3 client's messages come as pushes, as from a node it talked to itself.
                    ownReplies += 1
                    send([ByteBuffer(string: "3")], name: "HELLO")
                }
            }
        }
    }

    /// The next `count` values are answers to commands the proxy sent itself (subscriptions
    /// made again on a new connection): dropped.
    func drop(_ count: Int) {
        ownReplies += count
    }

    /// Sends a command (in order with those sent before, also while connecting).
    func send(_ arguments: [ByteBuffer]) {
        channel.whenSuccess { channel in
            var buffer = channel.allocator.buffer(capacity: 64)
            buffer.writeRESPCommand(arguments)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    private func send(_ arguments: [ByteBuffer], name: String) {
        send([ByteBuffer(string: name)] + arguments)
    }

    func close() {
        channel.whenSuccess { $0.close(promise: nil) }
    }

    private final class ValueHandler: ChannelInboundHandler {
        typealias InboundIn = RESPValue
        let onValue: (RESPValue) -> Void
        let onClose: () -> Void

        init(onValue: @escaping (RESPValue) -> Void, onClose: @escaping () -> Void) {
            self.onValue = onValue
            self.onClose = onClose
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            onValue(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            onClose()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
