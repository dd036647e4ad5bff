import ArgumentParser
import Daemon
import Foundation
import Logging
import NIOCore
import Proxy
import TandemMetrics

#if canImport(Glibc)
import Glibc
#endif

/// `tandem proxy`: one address that always reaches the master.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run a RESP-aware proxy that always routes to the current Redis master.",
        discussion: """
            Follow a Sentinel group (--sentinel ADDR:PORT … --master-name NAME), check
            backends for role:master (--backend ADDR:PORT …), or route by slot to a Redis
            Cluster's masters (--cluster ADDR:PORT …). Clients connect to --listen.
            `INFO proxy` sent to the proxy returns its own statistics.
            """)

    @Option(name: .customLong("listen"), help: "Address to accept clients on, ADDR:PORT or [V6]:PORT (repeatable).")
    var listen: [String] = []
    @Option(name: .customLong("sentinel"), help: "A sentinel to follow, ADDR:PORT (repeatable).")
    var sentinels: [String] = []
    @Option(name: .customLong("master-name"), help: "The master name the sentinels monitor.")
    var masterName: String?
    @Option(name: .customLong("backend"), help: "A Redis server to health-check for role:master, ADDR:PORT (repeatable).")
    var backends: [String] = []
    @Option(name: .customLong("cluster"), help: "A Redis Cluster node, ADDR:PORT (repeatable): route by slot to the cluster's masters.")
    var clusterNodes: [String] = []
    @Option(name: .customLong("cluster-refresh-ms"), help: "Cluster mode: read the slot map again this often (also after MOVED and connection errors).")
    var clusterRefreshMilliseconds = 5000
    @Option(help: "Password for the proxy's own connections to Redis (checks, shared connections).")
    var auth: String?
    @Option(help: "ACL user for the proxy's own connections to Redis.")
    var user: String?
    @Option(name: .customLong("sentinel-auth"), help: "Password for the sentinels.")
    var sentinelAuth: String?
    @Option(name: .customLong("max-connections"), help: "Client connections allowed at once.")
    var maxConnections = 10_000
    @Option(name: .customLong("idle-timeout"), help: "Close clients idle this many seconds (0: never).")
    var idleTimeout = 0
    @Option(name: .customLong("hold-ms"), help: "How long a command waits for a master when none is known.")
    var holdMilliseconds = 5000
    @Option(name: .customLong("check-interval-ms"), help: "Backend check interval.")
    var checkIntervalMilliseconds = 1000
    @Option(help: "Failed backend checks before a backend is down.")
    var fall = 3
    @Option(help: "Passed backend checks before a backend is up again.")
    var rise = 2
    @Option(name: .customLong("read-from"), help: "master (default) or replicas: where read-only commands may go.")
    var readFrom = "master"
    @Option(name: .customLong("wait-replicas"), help: "Answer a write only once this many replicas acknowledged it (WAIT); 0 (default): asynchronous replication.")
    var waitReplicas = 0
    @Option(name: .customLong("wait-timeout-ms"), help: "How long a write waits for --wait-replicas before the client gets -NOREPLICAS.")
    var waitTimeoutMilliseconds = 1000
    @Option(help: "Event-loop threads (0: half the cores, at least one).")
    var threads = 0
    @Option(name: .customLong("tls-cert"), help: "Certificate (PEM) for TLS clients; with --backend-tls also the client certificate toward Redis.")
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "Private key (PEM) for --tls-cert.")
    var tlsKey: String?
    @Option(name: .customLong("tls-ca"), help: "CA certificate(s) (PEM) that backends', sentinels' and clients' certificates chain to.")
    var tlsCA: String?
    @Option(name: .customLong("tls-auth-clients"), help: "yes, no or optional: whether TLS clients must present a certificate (default: yes with --tls-ca).")
    var tlsAuthClients: String?
    @Flag(name: .customLong("backend-tls"), help: "Reach backends and sentinels with TLS (verified with --tls-ca).")
    var backendTLS = false
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel = "notice"
    @Option(name: .customLong("log-format"), help: "text (default) or json: one JSON object per line.")
    var logFormat: LogFormat = .text
    @Option(name: .customLong("http"), help: "Serve GET /metrics (Prometheus), the status page (GET /) and /status.json on ADDR:PORT.")
    var http: String?

    func run() async throws {
        let settings: ProxySettings
        let endpoint: HTTPEndpoint?
        do {
            settings = try makeSettings()
            endpoint = try http.map(HTTPEndpoint.init(parsing:))
        } catch {
            fail("\(error)")
        }
        bootstrapLogging(format: logFormat)
        let notifier = SystemdNotifier.takeFromEnvironment()
        var logger = Logger(label: "tandem.proxy")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .notice
        let terminate = terminationSources(logger)
        defer { terminate.forEach { $0.cancel() } }
        do {
            let metrics = MetricsRegistry()
            let page = StatusPageSource(daemon: "proxy")
            var server: MetricsHTTPServer?
            if let endpoint {
                server = try await MetricsHTTPServer.start(endpoint, metrics: metrics, status: page)
                metrics.addProcessMetrics()
                logger.notice("metrics on http://\(endpoint)/metrics, status page on http://\(endpoint)/")
            }
            let serving = server != nil
            let listenAt = listen.first
            try await runProxy(settings: settings, logger: logger, onListening: { _ in notifier?.ready() }, onStatistics: { statistics in
                if serving {
                    metrics.addProxy(statistics)
                    page.addProxy(statistics, listen: listenAt)
                }
            }, onClusterStatistics: { statistics in
                if serving { metrics.addClusterProxy(statistics) }
            })
            await server?.close()
        } catch {
            fail("\(error)")
        }
    }

    func makeSettings() throws -> ProxySettings {
        func endpoints(_ values: [String], _ option: String) throws -> [ProxyEndpoint] {
            try values.map { value in
                do { return try ProxyEndpoint(parsing: value) } catch { throw ProxySettingsError("--\(option) \(error)") }
            }
        }
        let listenAt = try endpoints(listen, "listen")
        guard !listenAt.isEmpty else { throw ProxySettingsError("--listen ADDR:PORT is required") }
        let discovery: MasterDiscoveryMode
        if !clusterNodes.isEmpty {
            guard sentinels.isEmpty && backends.isEmpty && masterName == nil else {
                throw ProxySettingsError("--cluster goes alone: not with --sentinel, --master-name or --backend")
            }
            guard (100...3_600_000).contains(clusterRefreshMilliseconds) else {
                throw ProxySettingsError("--cluster-refresh-ms \(clusterRefreshMilliseconds): must be from 100 to 3600000")
            }
            discovery = .cluster(try endpoints(clusterNodes, "cluster"))
        } else {
            switch (sentinels.isEmpty, backends.isEmpty) {
            case (false, true):
                guard let masterName, !masterName.isEmpty else { throw ProxySettingsError("--sentinel needs --master-name NAME") }
                discovery = .sentinel(sentinels: try endpoints(sentinels, "sentinel"), masterName: masterName)
            case (true, false):
                if masterName != nil { throw ProxySettingsError("--master-name goes with --sentinel, not --backend") }
                discovery = .backends(try endpoints(backends, "backend"))
            case (false, false):
                throw ProxySettingsError("use either --sentinel (with --master-name) or --backend, not both")
            case (true, true):
                throw ProxySettingsError("say where the master is: --sentinel ADDR:PORT --master-name NAME, --backend ADDR:PORT or --cluster ADDR:PORT")
            }
        }
        var settings = ProxySettings(listen: listenAt, discovery: discovery)
        settings.password = auth
        settings.user = user
        if user != nil && auth == nil { throw ProxySettingsError("--user needs --auth PASSWORD") }
        settings.sentinelPassword = sentinelAuth
        guard maxConnections > 0 else { throw ProxySettingsError("--max-connections \(maxConnections): must be at least 1") }
        settings.maxConnections = maxConnections
        guard idleTimeout >= 0 else { throw ProxySettingsError("--idle-timeout \(idleTimeout): must be 0 or more seconds") }
        settings.idleTimeout = idleTimeout > 0 ? .seconds(Int64(idleTimeout)) : nil
        guard holdMilliseconds >= 0 else { throw ProxySettingsError("--hold-ms \(holdMilliseconds): must be 0 or more") }
        settings.hold = .milliseconds(Int64(holdMilliseconds))
        guard checkIntervalMilliseconds >= 10 else { throw ProxySettingsError("--check-interval-ms \(checkIntervalMilliseconds): must be at least 10") }
        settings.checkInterval = .milliseconds(Int64(checkIntervalMilliseconds))
        guard fall >= 1 else { throw ProxySettingsError("--fall \(fall): must be at least 1") }
        guard rise >= 1 else { throw ProxySettingsError("--rise \(rise): must be at least 1") }
        guard threads >= 0 && threads <= 256 else { throw ProxySettingsError("--threads \(threads): must be from 0 to 256") }
        settings.threads = threads
        settings.clusterRefreshInterval = .milliseconds(Int64(clusterRefreshMilliseconds))
        settings.fall = fall
        settings.rise = rise
        switch readFrom {
        case "master": settings.readFromReplicas = false
        case "replicas": settings.readFromReplicas = true
        default: throw ProxySettingsError("--read-from \(readFrom): must be 'master' or 'replicas'")
        }
        guard (0...64).contains(waitReplicas) else { throw ProxySettingsError("--wait-replicas \(waitReplicas): must be from 0 to 64") }
        guard (1...3_600_000).contains(waitTimeoutMilliseconds) else {
            throw ProxySettingsError("--wait-timeout-ms \(waitTimeoutMilliseconds): must be from 1 to 3600000")
        }
        settings.waitReplicas = waitReplicas
        settings.waitTimeout = .milliseconds(Int64(waitTimeoutMilliseconds))
        var tls = ProxyTLSOptions()
        tls.certFile = tlsCert
        tls.keyFile = tlsKey
        tls.caFile = tlsCA
        tls.authClients = tlsAuthClients
        tls.backendTLS = backendTLS
        try tls.apply(to: &settings)
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ProxySettingsError("--log-level \(logLevel): must be one of trace, debug, info, notice, warning, error, critical")
        }
        return settings
    }

    /// SIGTERM/SIGINT: exit 0 (clients see their connections close, as with HAProxy's hard stop).
    /// SIGHUP is ignored: there is nothing to reload.
    private func terminationSources(_ logger: Logger) -> [any DispatchSourceSignal] {
        signal(SIGHUP, SIG_IGN)
        return [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                logger.notice("received \(number == SIGTERM ? "SIGTERM" : "SIGINT"): stopping")
                Glibc.exit(0)
            }
            source.resume()
            return source
        }
    }

    private func fail(_ message: String) -> Never {
        let text = "tandem proxy: \(message)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(1)
    }
}
