import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import RedisConnection
import Testing

/// `FlushCoalescingHandler`: flushes asked for in one pass of the loop go out together, after
/// the tasks queued in that pass; with `holdWhile`, the flush waits behind the loop's queued
/// tasks while more output is coming, a bounded number of times.
@Suite("Flush coalescing")
struct FlushCoalescingHandlerTests {
    private func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    private func outbound(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let b = try channel.readOutbound(as: ByteBuffer.self) { out.append(String(buffer: b)) }
        return out
    }

    @Test("two flushes in one pass: nothing leaves until the loop runs its tasks, then both writes, in order")
    func onePass() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescingHandler())
        channel.write(buffer("a"), promise: nil)
        channel.flush()
        channel.write(buffer("b"), promise: nil)
        channel.flush()
        #expect(try outbound(channel).isEmpty)
        channel.embeddedEventLoop.run()
        #expect(try outbound(channel) == ["a", "b"])
        _ = try channel.finish()
    }

    @Test("holdWhile: the flush waits while it says more is coming, then sends what was written meanwhile with it")
    func holdsWhileMoreIsComing() throws {
        // Replies still to come; each check stands for a pass in which one more is written.
        let left = NIOLockedValueBox(3)
        let checks = NIOLockedValueBox(0)
        let handler = FlushCoalescingHandler(holdWhile: {
            checks.withLockedValue { $0 += 1 }
            return left.withLockedValue { $0 > 0 }
        })
        let channel = EmbeddedChannel(handler: handler)
        let loop = channel.embeddedEventLoop
        // What had left before each later write: nothing, while the flush was held.
        let sentEarly = NIOLockedValueBox<[String]>([])
        @Sendable func writeNext() {
            var early: [String] = []
            while let b = try? channel.readOutbound(as: ByteBuffer.self) { early.append(String(buffer: b)) }
            sentEarly.withLockedValue { $0 += early }
            let n = left.withLockedValue { $0 -= 1; return $0 }
            channel.write(ByteBuffer(string: "r\(n)"), promise: nil)
            channel.flush()
            if n > 0 { loop.execute { writeNext() } }
        }
        channel.write(buffer("first"), promise: nil)
        channel.flush()
        loop.execute { writeNext() }
        loop.run()
        #expect(sentEarly.withLockedValue { $0 }.isEmpty)
        #expect(try outbound(channel) == ["first", "r2", "r1", "r0"])
        // Checked once per pass: held three times while replies were left, flushed at the fourth.
        #expect(checks.withLockedValue { $0 } == 4)
        _ = try channel.finish()
    }

    @Test("holdWhile that never ends holds the flush a bounded number of times, then flushes")
    func boundedHold() throws {
        let checks = NIOLockedValueBox(0)
        let channel = EmbeddedChannel(handler: FlushCoalescingHandler(holdWhile: {
            checks.withLockedValue { $0 += 1 }
            return true
        }))
        channel.write(buffer("a"), promise: nil)
        channel.flush()
        channel.embeddedEventLoop.run()
        #expect(try outbound(channel) == ["a"])
        #expect(checks.withLockedValue { $0 } == FlushCoalescingHandler.maxHolds)
        _ = try channel.finish()
    }

    @Test("a close sends what was written before it, flush still pending or not")
    func closeFlushes() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescingHandler(holdWhile: { true }))
        channel.write(buffer("a"), promise: nil)
        channel.flush()
        _ = channel.close()
        #expect(try outbound(channel) == ["a"])
        channel.embeddedEventLoop.run()
        #expect(try outbound(channel).isEmpty)
    }
}
