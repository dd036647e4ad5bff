/// How Redis 7.0 turns a config file's text into numbers, so a sentinel.conf is accepted or
/// refused exactly as redis-sentinel accepts or refuses it.
///
/// redis-sentinel reads its own `sentinel …` lines with C's `atoi` and `strtoull` (sentinel.c):
/// no error for text that is not a number (`abc` is 0, `1.5` is 1) and a silent wrap for one
/// too large (`atoi("9223372036854775807")` is -1). The server directives (`port`, `hz`,
/// `maxclients`, …) go through config.c's numeric configs: `string2ll` or `memtoull`, then the
/// directive's bounds. `exact` says whether the text was a plain number in range, so the caller
/// can warn where Redis would silently read something else.
public enum CNumber {
    /// glibc's `atoi`: `(int)strtol(s, NULL, 10)` — leading white space, a sign, the digits up
    /// to the first other character; a value past `long` is clamped, then cut to 32 bits.
    public static func atoi(_ text: String) -> (value: Int32, exact: Bool) {
        let (negative, digits, rest, skipped) = scan(text)
        var magnitude: UInt64 = 0
        var overflow = false
        for d in digits {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { overflow = true; break }
            magnitude = s
        }
        let long: Int64
        if negative {
            long = overflow || magnitude > UInt64(Int64.max) + 1 ? Int64.min : Int64(truncatingIfNeeded: 0 &- magnitude)
        } else {
            long = overflow || magnitude > UInt64(Int64.max) ? Int64.max : Int64(magnitude)
        }
        let value = Int32(truncatingIfNeeded: long)
        return (value, !digits.isEmpty && rest.isEmpty && !skipped && Int64(value) == long)
    }

    /// glibc's `strtoull(s, NULL, 10)`: white space, a sign (a minus negates in 64 bits, so
    /// "-1" is 2^64 - 1), digits; a value past 64 bits is 2^64 - 1; no digits is 0.
    public static func strtoull(_ text: String) -> (value: UInt64, exact: Bool) {
        let (negative, digits, rest, skipped) = scan(text)
        var value: UInt64 = 0
        var overflow = false
        for d in digits {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { overflow = true; break }
            value = s
        }
        if overflow { return (.max, false) }
        if negative { return (0 &- value, value == 0 && !digits.isEmpty && rest.isEmpty && !skipped) }
        return (value, !digits.isEmpty && rest.isEmpty && !skipped)
    }

    /// Redis's `string2ll`: an optional minus, then "0" or digits not starting with 0; nothing
    /// else (no spaces, no plus), within 64 bits.
    public static func string2ll(_ text: String) -> Int64? {
        var bytes = Substring(text).utf8[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        guard let first = bytes.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return nil }
        if first == UInt8(ascii: "0") { return bytes.count == 1 && !negative ? 0 : nil }
        var magnitude: UInt64 = 0
        for b in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(b - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            magnitude = s
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return Int64(truncatingIfNeeded: 0 &- magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// Redis 7.0's `memtoull`: digits (none is 0) and a unit b, k, kb, m, mb, g, gb in any case;
    /// digits past 64 bits are 2^64 - 1 and the unit's product wraps, as in C; nil for any other text.
    public static func memtoull(_ text: String) -> UInt64? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let multiplier: UInt64
        switch text.dropFirst(digits.count).lowercased() {
        case "", "b": multiplier = 1
        case "k": multiplier = 1000
        case "kb": multiplier = 1024
        case "m": multiplier = 1_000_000
        case "mb": multiplier = 1 << 20
        case "g": multiplier = 1_000_000_000
        case "gb": multiplier = 1 << 30
        default: return nil
        }
        guard digits.count < 128 else { return nil }
        let value = digits.isEmpty ? 0 : (UInt64(digits) ?? .max)
        return value &* multiplier
    }

    /// White space, a sign, and the run of digits after them (as strtol scans).
    private static func scan(_ text: String) -> (negative: Bool, digits: [UInt8], rest: Substring.UTF8View, skipped: Bool) {
        var bytes = Substring(text).utf8[...]
        var skipped = false
        while let b = bytes.first, b == 32 || (9...13).contains(b) { bytes = bytes.dropFirst(); skipped = true }
        var negative = false
        if let b = bytes.first, b == UInt8(ascii: "-") || b == UInt8(ascii: "+") {
            negative = b == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        var digits: [UInt8] = []
        while let b = bytes.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) {
            digits.append(b - UInt8(ascii: "0"))
            bytes = bytes.dropFirst()
        }
        return (negative, digits, bytes, skipped)
    }
}

/// One numeric redis.conf directive as redis-server 7.0 checks it (config.c's numeric configs),
/// captured by scripts/capture-redis-numeric-configs.
public struct NumericDirective: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case integer, memory, memoryOrPercent }
    public var kind: Kind
    public var low: Int64
    public var high: UInt64

    public init(kind: Kind, low: Int64, high: UInt64) {
        self.kind = kind
        self.low = low
        self.high = high
    }

    /// The value, or Redis's error text for it.
    public func read(_ text: String) -> Result<Int64, NumericDirectiveError> {
        switch kind {
        case .integer:
            guard let v = CNumber.string2ll(text) else { return .failure(.init("argument couldn't be parsed into an integer")) }
            guard v >= low, v < 0 || UInt64(v) <= high else { return .failure(bounds) }
            return .success(v)
        case .memory, .memoryOrPercent:
            if kind == .memoryOrPercent, text.count > 1, text.hasSuffix("%"), let p = CNumber.string2ll(String(text.dropLast())), p >= 0 {
                return .success(-p)
            }
            guard let v = CNumber.memtoull(text) else {
                return .failure(.init(kind == .memory ? "argument must be a memory value" : "argument must be a memory or percent value"))
            }
            guard v <= high, Int64(clamping: v) >= low else { return .failure(bounds) }
            return .success(Int64(clamping: v))
        }
    }

    private var bounds: NumericDirectiveError { .init("argument must be between \(low) and \(high) inclusive") }
}

public struct NumericDirectiveError: Error, Sendable, Hashable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
