import NIOCore

/// One side of a forwarded connection (swift-nio-examples' GlueHandler): bytes read on this
/// channel are written to the partner's, reads happen only while the partner can take more
/// (backpressure), and a half-close travels across: the client's FIN becomes a shutdown of
/// the real server's write side and back. A channel closes once both its directions are.
final class GlueHandler {
    private enum Output { case open, draining, closed }

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var output = Output.open
    /// The partner is gone: close fully once what it sent us is written.
    private var closeWhenDrained = false
    /// Read before the partner existed (NIO reads a client's early FIN, and what came before
    /// it, whatever autoRead says): handed over by `attach`.
    private var early: [NIOAny] = []

    /// A client side whose partner comes later (`attach`).
    init() {}

    /// Pairs a client side added before its real server was connected with that server's
    /// side, and hands over what the client sent meanwhile (and its FIN).
    static func attach(_ client: GlueHandler) -> GlueHandler {
        let server = GlueHandler()
        client.partner = server
        server.partner = client
        return server
    }

    /// Call once both handlers are in their pipelines.
    func replayEarly() {
        guard let partner else { return }
        for data in early { partner.partnerWrite(data) }
        early = []
        partner.partnerFlush()
        if inputClosed { partner.partnerWriteEOF() }
    }

    /// Two handlers that forward to each other: one for each channel.
    static func matchedPair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler()
        let second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    private func partnerWrite(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    /// The partner's input ended: once everything it sent is written, end our output
    /// (half-close), or close if our input is done too. Not before: NIO drops writes still
    /// pending when a channel closes, and a shutdown of the output of a channel whose input is
    /// already closed is a full close.
    private func partnerWriteEOF() {
        guard let context, output == .open else { return }
        output = .draining
        let drained = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(ByteBuffer()), promise: drained)
        drained.futureResult.assumeIsolated().whenComplete { _ in
            self.output = .closed
            if self.inputClosed || self.closeWhenDrained {
                context.close(promise: nil)
            } else {
                context.close(mode: .output, promise: nil)
            }
        }
    }

    /// The partner's channel closed: close ours once what it sent us is written.
    private func partnerCloseFull() {
        switch output {
        case .open:
            closeWhenDrained = true
            partnerWriteEOF()
        case .draining:
            closeWhenDrained = true
        case .closed:
            context?.close(promise: nil)
        }
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }
}

extension GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let partner { partner.partnerWrite(data) } else { early.append(data) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerCloseFull()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            inputClosed = true
            partner?.partnerWriteEOF()
            if output == .closed { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        partner?.partnerCloseFull()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.partnerWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
