import Foundation
import Logging
import Testing
@testable import Daemon

/// Lines a handler wrote.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

@Suite("Daemon log lines")
struct DaemonLogHandlerTests {
    @Test("json: one object per line with time, level, label, message and each metadata entry as a field")
    func jsonLine() throws {
        let lines = Lines()
        let logger = Logger(label: "tandem.sentinel") { DaemonLogHandler(label: $0, format: .json, sink: lines.append) }
        logger.notice("+sdown master mymaster 127.0.0.1 6379",
                      metadata: ["event": "+sdown", "port": .stringConvertible(6379), "quoted": "a \"b\"\n\\"])
        #expect(lines.all.count == 1)
        let line = try #require(lines.all.first)
        #expect(line.hasSuffix("}\n") && !line.dropLast().contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "notice")
        #expect(object["label"] as? String == "tandem.sentinel")
        #expect(object["message"] as? String == "+sdown master mymaster 127.0.0.1 6379")
        #expect(object["event"] as? String == "+sdown")
        #expect(object["port"] as? Int == 6379)
        #expect(object["quoted"] as? String == "a \"b\"\n\\")
        let time = try #require(object["time"] as? String)
        #expect(time.count == 24 && time.hasSuffix("Z"), "\(time)")
        #expect(ISO8601DateFormatter.withFractionalSeconds.date(from: time) != nil, "\(time)")
    }

    @Test("text: swift-log's stream format, metadata left out")
    func textLine() throws {
        let lines = Lines()
        var logger = Logger(label: "tandem.proxy") { DaemonLogHandler(label: $0, format: .text, sink: lines.append) }
        logger.logLevel = .notice
        logger.info("not logged")
        logger.warning("master changed", metadata: ["event": "x"])
        let line = try #require(lines.all.first)
        #expect(lines.all.count == 1)
        #expect(line.contains(" warning tandem.proxy: [DaemonTests] master changed\n"), "\(line)")
        // The time with milliseconds: 2026-12-05T09:34:56.123+0000
        let time = String(line.prefix { $0 != " " })
        #expect(time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}/) != nil, "\(time)")
        #expect(!line.contains("event"))
    }

    @Test("control characters are escaped; nested metadata stays JSON")
    func escaping() throws {
        #expect(DaemonLogHandler.jsonString("\u{1}x\t") == "\"\\u0001x\\t\"")
        let value = DaemonLogHandler.jsonValue(.dictionary(["b": .array(["1", .stringConvertible(true)]), "a": "x"]))
        #expect(value == "{\"a\":\"x\",\"b\":[\"1\",true]}")
    }
}

extension ISO8601DateFormatter {
    static var withFractionalSeconds: ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }
}
