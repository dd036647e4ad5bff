import ArgumentParser
import Daemon
import Logging
import Sentinel

#if canImport(Glibc)
import Glibc
#endif

/// `tandem sentinel sentinel.conf [--sentinel] [--port N]`: redis-sentinel's invocation styles.
struct SentinelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentinel",
        abstract: "Run a Redis Sentinel compatible monitor from a sentinel.conf.")

    @Argument(parsing: .allUnrecognized, help: "sentinel.conf path, then redis-sentinel style options (--port N, --bind ADDR, --sentinel), and --log-format text|json.")
    var arguments: [String] = []

    func run() async throws {
        var path: String?
        var overrides: [(String, String)] = []
        var logFormat = LogFormat.text
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--sentinel" {
                i += 1
            } else if a == "--log-format" {
                // Tandem's own option, not a config line.
                guard i + 1 < arguments.count, let f = LogFormat(rawValue: arguments[i + 1]) else { fail("--log-format: must be text or json") }
                logFormat = f
                i += 2
            } else if a.hasPrefix("--") {
                // redis-server style: `--name value…` up to the next `--option` becomes a config line.
                var values: [String] = []
                var j = i + 1
                while j < arguments.count && !arguments[j].hasPrefix("--") {
                    values.append(arguments[j])
                    j += 1
                }
                guard !values.isEmpty else { fail("option \(a) needs a value") }
                overrides.append((String(a.dropFirst(2)), values.joined(separator: " ")))
                i = j
            } else if path == nil {
                path = a
                i += 1
            } else {
                fail("unexpected argument '\(a)'")
            }
        }
        guard let path else { fail("Sentinel needs config file on disk to save state. Exiting...") }
        bootstrapLogging(format: logFormat)
        let notifier = SystemdNotifier.takeFromEnvironment()
        let logger = Logger(label: "tandem.sentinel")
        do {
            try await runSentinel(configPath: path, overrides: overrides, logger: logger, handleTermination: true,
                                  onListening: { _ in notifier?.ready() })
        } catch {
            fail("\(error)")
        }
    }

    private func fail(_ message: String) -> Never {
        let text = "tandem sentinel: \(message)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(1)
    }
}
