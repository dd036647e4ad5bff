import NIOCore

/// Flushes asked for in one pass of the event loop go out as one write.
///
/// A monitor's timer tick gives one link a PING, a hello and an INFO (and a peer a hello per
/// master), and a sentinel answers a peer's pipelined hellos one by one: each flush is a system
/// call that also wakes the process at the other end. As hiredis does for redis-sentinel (it
/// writes what a pass of the event loop queued when the loop is about to sleep), the flush is
/// run once, after the tasks and reads of the current pass. Order is kept; a close first
/// sends what was written before it.
public final class FlushCoalescingHandler: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = NIOAny

    private var flushScheduled = false
    private var removed = false

    public init() {}

    public func flush(context: ChannelHandlerContext) {
        if flushScheduled { return }
        flushScheduled = true
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let h = handler.value
            guard h.flushScheduled else { return }  // a close flushed already
            h.flushScheduled = false
            guard !h.removed else { return }
            loop.value.flush()
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if flushScheduled {
            flushScheduled = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        if flushScheduled {
            flushScheduled = false
            context.flush()
        }
        removed = true
    }
}
