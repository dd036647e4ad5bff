import AlertCore
import Alerts
import ArgumentParser
import Daemon
import Logging
import Sentinel
import SentinelConfig
import SentinelCore
import TandemMetrics

#if canImport(Glibc)
import Glibc
#endif

/// `tandem sentinel sentinel.conf [--sentinel] [--port N]`: redis-sentinel's invocation styles.
struct SentinelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentinel",
        abstract: "Run a Redis Sentinel compatible monitor from a sentinel.conf.")

    @Argument(parsing: .allUnrecognized, help: "sentinel.conf path, then redis-sentinel style options (--port N, --bind ADDR, --sentinel), --log-format text|json, --http ADDR:PORT for GET /metrics and the status page (GET /, /status.json; wins over the file's `sentinel tandem-http ADDR:PORT`), --alert-webhook URL and --alert-email SMTP-SERVER[:PORT] FROM TO… (saved in the file as `sentinel tandem-alert-*` lines).")
    var arguments: [String] = []

    func run() async throws {
        var path: String?
        var overrides: [(String, String)] = []
        var logFormat = LogFormat.text
        var http: HTTPEndpoint?
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
            } else if a == "--http" || a.hasPrefix("--http=") {
                // Tandem's own option, not a config line: where GET /metrics is served.
                let value = a == "--http" ? (i + 1 < arguments.count ? arguments[i + 1] : "") : String(a.dropFirst("--http=".count))
                do { http = try HTTPEndpoint(parsing: value) } catch { fail("\(error)") }
                i += a == "--http" ? 2 : 1
            } else if a == "--alert-webhook" || a == "--alert-email" {
                // Tandem's own, as the config lines `sentinel tandem-alert-webhook|email …`.
                var values: [String] = []
                var j = i + 1
                while j < arguments.count && !arguments[j].hasPrefix("--") {
                    values.append(arguments[j])
                    j += 1
                }
                guard !values.isEmpty else { fail("option \(a) needs a value") }
                overrides.append(("sentinel", "tandem-\(a.dropFirst(2)) " + values.joined(separator: " ")))
                i = j
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
            // The HTTP port is bound once the runtime exists: after `daemonize yes` has started
            // the daemon, so the launcher never holds it.
            let metrics = MetricsRegistry()
            let page = StatusPageSource(daemon: "sentinel")
            let server = MetricsHTTPServerBox()
            let http = http
            let logger = logger
            try await runSentinel(configPath: path, overrides: overrides, logger: logger,
                                  extraInfo: [("failovers", { page.failoverInfoLines() })], handleTermination: true,
                                  onListening: { _ in
                notifier?.ready()
                // Start-up's code is unmapped once the sentinel has settled (RSS; see CodePages).
                Task.detached {
                    try? await Task.sleep(for: .seconds(10))
                    CodePages.unmapStartupCode()
                }
            }, onRuntime: { runtime in
                await startAlerts(runtime, logger: logger)
                // Always: `INFO failovers` (for `tandem status`) reads the page's timeline.
                await page.addSentinel(runtime)
                // `--http` wins over the file's `sentinel tandem-http` (checked when the file was read).
                let fromFile = await runtime.configuration.httpListen
                guard let http = try http ?? fromFile.map(HTTPEndpoint.init(parsing:)) else { return }
                server.set(try await MetricsHTTPServer.start(http, metrics: metrics, status: page))
                metrics.addProcessMetrics()
                await metrics.addSentinel(runtime)
                logger.notice("metrics on http://\(http)/metrics, status page on http://\(http)/")
            })
            await server.close()
        } catch {
            fail("\(error)")
        }
    }

    /// `sentinel tandem-alert-*`: this sentinel's events as alerts (AlertRules), sent beside the
    /// runtime's loop (AlertDispatcher).
    private func startAlerts(_ runtime: SentinelRuntime, logger: Logger) async {
        let settings = await runtime.configuration.alerts
        let source = await runtime.statusSnapshot().address
        guard let alerts = AlertDispatcher(settings: settings, daemon: "sentinel", source: source,
                                           log: { logger.notice("alerts: \($0)") }) else { return }
        await runtime.addEventObserver { event in
            if let alert = AlertRules.sentinelEvent(type: event.type, payload: event.payload) { alerts.post(alert) }
        }
    }

    private func fail(_ message: String) -> Never {
        let text = "tandem sentinel: \(message)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(1)
    }
}
