#if canImport(Glibc)
import Glibc
#endif
import Logging

/// How a daemon writes its log lines (`--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-12-05T06:20:10+0000 notice tandem.sentinel: [Sentinel] +sdown master mymaster 127.0.0.1 6379`:
    /// swift-log's stream format; metadata is left out (a line's fields are in its message).
    case text
    /// One JSON object per line: `time` (UTC, milliseconds), `level`, `label`, `message`, and
    /// each metadata entry as a field of its own (a Sentinel event's `event`, `payload`, …).
    case json
}

/// Makes every `Logger` of this process write to standard error in `format`. Call once, first.
public func bootstrapLogging(format: LogFormat) {
    LoggingSystem.bootstrap { label in DaemonLogHandler(label: label, format: format) }
}

/// A log handler writing each line to standard error with one `write(2)` (lines from several
/// threads never interleave, and a sentinel's `logfile` is standard error made into a file).
public struct DaemonLogHandler: LogHandler {
    public let label: String
    public let format: LogFormat
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    /// Where lines go; tests pass a closure to collect them.
    private let sink: @Sendable (String) -> Void

    public init(label: String, format: LogFormat, sink: (@Sendable (String) -> Void)? = nil) {
        self.label = label
        self.format = format
        self.sink = sink ?? { line in _ = line.withCString { write(2, $0, strlen($0)) } }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var timestamp = timespec()
        clock_gettime(CLOCK_REALTIME, &timestamp)
        switch format {
        case .text:
            sink("\(Self.localTime(timestamp.tv_sec, milliseconds: Int(timestamp.tv_nsec / 1_000_000))) \(event.level) \(label): [\(event.source)] \(event.message)\n")
        case .json:
            var fields = metadataProvider?.get() ?? [:]
            fields.merge(metadata) { _, new in new }
            if let own = event.metadata { fields.merge(own) { _, new in new } }
            sink(Self.jsonLine(time: Self.utcTime(timestamp), level: event.level, label: label,
                               message: event.message.description, fields: fields))
        }
    }

    /// One JSON object and a newline. The four fixed fields come first; a metadata entry named
    /// like one of them is left out.
    static func jsonLine(time: String, level: Logger.Level, label: String, message: String, fields: Logger.Metadata) -> String {
        var out = "{\"time\":\(jsonString(time)),\"level\":\(jsonString(level.rawValue)),\"label\":\(jsonString(label)),\"message\":\(jsonString(message))"
        for key in fields.keys.sorted() where !["time", "level", "label", "message"].contains(key) {
            out += ",\(jsonString(key)):\(jsonValue(fields[key]!))"
        }
        return out + "}\n"
    }

    static func jsonValue(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s):
            return jsonString(s)
        case .stringConvertible(let v):
            // Numbers and booleans stay JSON numbers and booleans.
            switch v {
            case let n as Int: return String(n)
            case let n as Int64: return String(n)
            case let n as UInt64: return String(n)
            case let n as Double where n.isFinite: return String(n)
            case let b as Bool: return b ? "true" : "false"
            default: return jsonString(v.description)
            }
        case .array(let values):
            return "[" + values.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let entries):
            return "{" + entries.keys.sorted().map { "\(jsonString($0)):\(jsonValue(entries[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `2026-12-05T06:20:10.123Z`.
    static func utcTime(_ t: timespec) -> String {
        var seconds = t.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = Int(t.tv_nsec / 1_000_000)
        let millis = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millis)Z"
    }

    /// swift-log's stream handler's time: local, `%Y-%m-%dT%H:%M:%S%z`.
    /// `2026-12-05T09:34:56.123+0000`: swift-log's stream format with milliseconds, which the
    /// timelines of a failover need (Redis's own log lines carry them too).
    static func localTime(_ seconds: time_t, milliseconds: Int) -> String {
        var t = seconds
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let m = strftime(&buffer[n], buffer.count - n, "%z", &parts)
        let ms = String(milliseconds)
        let fraction = "." + String(repeating: "0", count: max(0, 3 - ms.count)) + ms
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) + fraction
            + String(decoding: buffer[n..<(n + m)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
