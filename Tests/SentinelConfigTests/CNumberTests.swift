import SentinelConfig
import Testing

/// C's and Redis's number readers, as redis-sentinel 7.0 applies them to its config file.
@Suite struct CNumberTests {
    @Test func atoiAsGlibc() {
        let cases: [(String, Int32, Bool)] = [
            ("0", 0, true), ("42", 42, true), ("-7", -7, true), ("+5", 5, true), ("2147483647", .max, true),
            ("-2147483648", .min, true), ("2147483648", .min, false), ("9999999999", 1_410_065_407, false),
            ("9223372036854775807", -1, false), ("9223372036854775808", -1, false), ("-9223372036854775809", 0, false),
            ("99999999999999999999999", -1, false), ("abc", 0, false), ("", 0, false), ("-", 0, false), ("1.5", 1, false),
            (" 3", 3, false), ("12abc", 12, false),
        ]
        for (text, value, exact) in cases {
            let r = CNumber.atoi(text)
            #expect(r.value == value && r.exact == exact, "atoi(\(text)) = \(r)")
        }
    }

    @Test func strtoullAsGlibc() {
        let cases: [(String, UInt64, Bool)] = [
            ("0", 0, true), ("18446744073709551615", .max, true), ("18446744073709551616", .max, false),
            ("-1", .max, false), ("-0", 0, true), ("abc", 0, false), ("7x", 7, false), (" 1", 1, false), ("9223372036854775808", 1 << 63, true),
        ]
        for (text, value, exact) in cases {
            let r = CNumber.strtoull(text)
            #expect(r.value == value && r.exact == exact, "strtoull(\(text)) = \(r)")
        }
    }

    @Test func string2llAsRedis() {
        let cases: [(String, Int64?)] = [
            ("0", 0), ("-1", -1), ("9223372036854775807", .max), ("-9223372036854775808", .min), ("9223372036854775808", nil),
            ("-9223372036854775809", nil), ("+1", nil), (" 1", nil), ("01", nil), ("-0", nil), ("", nil), ("-", nil), ("1.5", nil), ("abc", nil),
        ]
        for (text, value) in cases { #expect(CNumber.string2ll(text) == value, "string2ll(\(text))") }
    }

    @Test func memtoullAsRedis() {
        let cases: [(String, UInt64?)] = [
            ("0", 0), ("1kb", 1024), ("1GB", 1 << 30), ("", 0), ("18446744073709551616", .max), ("-1", nil), ("1.5", nil), ("x", nil),
        ]
        for (text, value) in cases { #expect(CNumber.memtoull(text) == value, "memtoull(\(text))") }
    }

    @Test func numericDirectivesAsRedisServer() throws {
        let hz = NumericDirective(kind: .integer, low: 0, high: 2_147_483_647)
        #expect(try hz.read("10").get() == 10)
        #expect(throws: NumericDirectiveError("argument couldn't be parsed into an integer")) { try hz.read("abc").get() }
        #expect(throws: NumericDirectiveError("argument must be between 0 and 2147483647 inclusive")) { try hz.read("-1").get() }
        let bulk = NumericDirective(kind: .memory, low: 1_048_576, high: UInt64(Int64.max))
        #expect(try bulk.read("1mb").get() == 1 << 20)
        #expect(throws: NumericDirectiveError("argument must be between 1048576 and 9223372036854775807 inclusive")) { try bulk.read("1k").get() }
        #expect(throws: NumericDirectiveError("argument must be a memory value")) { try bulk.read("-1").get() }
        let clients = NumericDirective(kind: .memoryOrPercent, low: 0, high: .max)
        #expect(try clients.read("10%").get() == -10)
        #expect(throws: NumericDirectiveError("argument must be a memory or percent value")) { try clients.read("x%").get() }
    }

    @Test func sentinelLinesReadAsSentinelCReadsThem() throws {
        let text = """
            port 26379
            sentinel monitor m 127.0.0.1 6379 2
            sentinel parallel-syncs m abc
            sentinel down-after-milliseconds m 1.5
            sentinel current-epoch -1
            sentinel config-epoch m 7
            hz 10
            """
        let c = try SentinelConfiguration(parsing: text, file: "s.conf")
        #expect(c.masters[0].parallelSyncs == 0)
        #expect(c.masters[0].downAfterMilliseconds == 1)
        #expect(c.currentEpoch == .max)
        #expect(c.masters[0].configEpoch == 7)
        #expect(c.warnings.map(\.line).sorted() == [3, 4, 5])
        let raised = try SentinelConfiguration(parsing: "sentinel monitor m 127.0.0.1 6379 2\nsentinel config-epoch m 9\nsentinel current-epoch 4\n", file: "s.conf")
        #expect(raised.currentEpoch == 9, "a config epoch above the current epoch raises it, as sentinel.c does")
        #expect(throws: SentinelConfigError.self) { try SentinelConfiguration(parsing: text + "\nhz -1", file: "s.conf") }
        #expect(throws: SentinelConfigError.self) { try SentinelConfiguration(parsing: text + "\nsentinel down-after-milliseconds m 9223372036854775807", file: "s.conf") }
    }
}
