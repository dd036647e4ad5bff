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
    private let holdWhile: (@Sendable () -> Bool)?

    /// How many times a flush is put back behind the loop's queued tasks while `holdWhile`
    /// says more output is coming (a bound, so a request that waits on something long cannot
    /// hold the replies before it, nor keep the loop busy).
    public static let maxHolds = 256

    /// `holdWhile`: the flush waits, behind the loop's other queued tasks, while this says
    /// more output is on its way (a server's pipelined requests not all answered yet): a
    /// server answering requests from a task hops between the loop's tasks for each one, so
    /// "one pass" alone would still write each reply on its own.
    public init(holdWhile: (@Sendable () -> Bool)? = nil) {
        self.holdWhile = holdWhile
    }

    public func flush(context: ChannelHandlerContext) {
        if flushScheduled { return }
        flushScheduled = true
        scheduleFlush(context: context, holds: 0)
    }

    private func scheduleFlush(context: ChannelHandlerContext, holds: Int) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let h = handler.value
            guard h.flushScheduled else { return }  // a close flushed already
            guard !h.removed else {
                h.flushScheduled = false
                return
            }
            if holds < Self.maxHolds, let hold = h.holdWhile, hold() {
                h.scheduleFlush(context: loop.value, holds: holds + 1)
                return
            }
            h.flushScheduled = false
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
