import SentinelConfig
import Testing

@Suite struct OutputBufferLimitTests {
    @Test func memoryValuesAsRedisReadsThem() {
        let cases: [(String, UInt64?)] = [
            ("0", 0), ("64", 64), ("64b", 64), ("1k", 1000), ("1kb", 1024), ("1KB", 1024), ("2m", 2_000_000), ("32mb", 32 << 20),
            ("1g", 1_000_000_000), ("1gb", 1 << 30), ("", 0), ("mb", 0), ("18446744073709551615", UInt64.max),
            ("18446744073709551616", nil), ("17179869184gb", nil), ("-1", nil), ("1xb", nil), ("1.5mb", nil), ("x", nil), (" 1", nil),
        ]
        for (text, value) in cases { #expect(OutputBufferLimit.memoryValue(text) == value, "\(text)") }
    }

    @Test func directivesAndErrorsAsRedisServer() throws {
        let text = """
            port 26379
            client-output-buffer-limit pubsub 1mb 512kb 2
            client-output-buffer-limit normal 0 0 0 slave 1gb 1mb 10
            """
        let c = try SentinelConfiguration(parsing: text, file: "s.conf")
        #expect(c.outputBufferLimits[.pubsub] == OutputBufferLimit(hard: 1 << 20, soft: 512 << 10, softSeconds: 2))
        #expect(c.outputBufferLimits[.replica] == OutputBufferLimit(hard: 1 << 30, soft: 1 << 20, softSeconds: 10))
        #expect(c.outputBufferLimits[.normal] == OutputBufferLimit(hard: 0, soft: 0, softSeconds: 0))
        #expect(try SentinelConfiguration(parsing: "port 26379\n", file: "s.conf").outputBufferLimits[.pubsub]
            == OutputBufferLimit(hard: 32 << 20, soft: 8 << 20, softSeconds: 60))
        // redis-sentinel 7.0.15's messages for the same lines.
        let errors = [
            "client-output-buffer-limit pubsub 1mb 512kb": "Wrong number of arguments in buffer limit configuration.",
            "client-output-buffer-limit": "Wrong number of arguments in buffer limit configuration.",
            "client-output-buffer-limit master 1mb 512kb 2": "Invalid client class specified in buffer limit configuration.",
            "client-output-buffer-limit pubsub 1xb 512kb 2": "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            "client-output-buffer-limit pubsub -1 512kb 2": "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            "client-output-buffer-limit pubsub 1mb 512kb -5": "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            // One bad quadruple refuses the line, the good one before it included.
            "client-output-buffer-limit pubsub 1mb 512kb 2 normal x 0 0": "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ]
        for (line, message) in errors {
            do {
                _ = try SentinelConfiguration(parsing: "port 26379\n\(line)\n", file: "s.conf")
                Issue.record("accepted: \(line)")
            } catch {
                #expect(error.line == 2, "\(line)")
                #expect(error.message == message, "\(line)")
            }
        }
    }

    /// 7.0's checkClientOutputBufferLimits: hard at once; soft only once it has lasted more
    /// than softSeconds, its clock restarting whenever the usage drops below it.
    @Test func trackerAsRedisCounts() {
        let limit = OutputBufferLimit(hard: 1000, soft: 500, softSeconds: 2)
        var t = OutputLimitTracker()
        var current = limit
        func exceeded(_ used: UInt64, _ now: Int64) -> Bool { t.exceeded(used: used, limit: current, nowSeconds: now) }
        #expect(!exceeded(499, 100))
        #expect(exceeded(1000, 100))  // hard
        t = OutputLimitTracker()
        #expect(!exceeded(600, 100))  // soft first seen
        #expect(t.softReachedAt == 100)
        #expect(!exceeded(600, 102))  // 2 s: not more than 2
        #expect(exceeded(600, 103))
        t = OutputLimitTracker()
        #expect(!exceeded(600, 100))
        #expect(!exceeded(100, 101))  // dropped below: forgotten
        #expect(t.softReachedAt == nil)
        #expect(!exceeded(600, 103))
        #expect(!exceeded(600, 105))
        #expect(exceeded(600, 106))
        // 0 disables a limit.
        current = OutputBufferLimit(hard: 0, soft: 0, softSeconds: 0)
        t = OutputLimitTracker()
        #expect(!exceeded(.max, 0))
        #expect(!exceeded(.max, 1_000_000))
        current = limit
        // A clock that went back does not close anyone.
        t = OutputLimitTracker()
        #expect(!exceeded(600, 100))
        #expect(!exceeded(600, 50))
    }
}
