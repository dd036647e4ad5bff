import AlertCore
import Alerts
import ArgumentParser
import Daemon
import HostPort
import KeepalivedConfig
import LVS
import Logging
import Synchronization
import TandemMetrics
import VRRP
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// `tandem vrrp keepalived.conf [--check]`: keepalived's VRRP, from its own configuration.
struct VRRPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vrrp",
        abstract: "Run a keepalived compatible VRRP speaker from a keepalived.conf.",
        discussion: """
            Reads keepalived.conf syntax (global_defs, vrrp_script, vrrp_instance, vrrp_sync_group, \
            virtual_server, include) and runs its VRRP instances, and its virtual servers as TCP \
            proxies in user space with keepalived's checkers. Unsupported directives are warnings naming their line; \
            malformed ones are errors (exit 1). SIGTERM or SIGINT: priority-0 advert, addresses removed, \
            notify_stop. SIGHUP: re-read the file and apply its changes as keepalived's reload does \
            (an unchanged instance runs on, a master keeps its addresses). Needs root (raw sockets, netlink).
            """)

    @Argument(help: "keepalived.conf path.")
    var path: String

    @Flag(name: [.customLong("check"), .customShort("t")], help: "Check the configuration and exit (keepalived -t).")
    var check = false

    @Option(name: .customLong("log-format"), help: "text (default) or json: one JSON object per line.")
    var logFormat: LogFormat = .text
    @Option(name: .customLong("http"), help: "Serve GET /metrics (Prometheus), the status page (GET /) and /status.json on ADDR:PORT (overrides global_defs' tandem_http).")
    var http: String?
    @Option(name: .customLong("alert-webhook"), help: "POST each state change (vip-state alerts, JSON; a FAULT an instance starts in only if it lasts 30 s) to this http:// URL, with retries.")
    var alertWebhook: String?
    @Option(name: .customLong("alert-timeout"), help: "Milliseconds each webhook try may take (default 5000).")
    var alertTimeout: Int?
    @Option(name: .customLong("lvs-threads"), help: "Event-loop threads for the virtual servers' connections (default: two per core).")
    var lvsThreads = 0

    func run() throws {
        bootstrapLogging(format: logFormat)
        let notifier = SystemdNotifier.takeFromEnvironment()
        let logger = Logger(label: "tandem.vrrp")
        let format = logFormat
        let emit: @Sendable (String) -> Void = { line in
            if format == .json {
                let message = line.hasPrefix("tandem vrrp: ") ? String(line.dropFirst(13)) : line
                logger.log(level: message.contains(": warning: ") ? .warning : .notice, "\(message)")
            } else {
                emitText(line)
            }
        }
        let config: KeepalivedConfiguration
        do {
            config = try KeepalivedConfiguration.load(file: path)
        } catch {
            emit("tandem vrrp: \(error)")
            throw ExitCode(1)
        }
        for warning in config.warnings { emit("tandem vrrp: \(warning)") }
        if config.instances.isEmpty && config.virtualServers.isEmpty { emit("tandem vrrp: \(path): warning: no vrrp_instance") }
        if check {
            emit("tandem vrrp: configuration \(path) is valid (\(config.instances.count) instance(s), \(config.virtualServers.count) virtual server(s), \(config.warnings.count) warning(s))")
            return
        }
        var alerts: AlertDispatcher?
        if let alertWebhook {
            var settings = AlertSettings()
            do {
                settings.webhook = try WebhookURL(parsing: alertWebhook)
            } catch {
                emit("tandem vrrp: --alert-webhook: \(error)")
                throw ExitCode(1)
            }
            if let alertTimeout {
                guard (1...600_000).contains(alertTimeout) else {
                    emit("tandem vrrp: --alert-timeout: must be milliseconds from 1 to 600000")
                    throw ExitCode(1)
                }
                settings.policy.timeoutMilliseconds = Int64(alertTimeout)
            }
            alerts = AlertDispatcher(settings: settings, daemon: "vrrp", source: config.global.routerID ?? "",
                                     log: { emit("tandem vrrp: alerts: " + $0) })
        }
        // A FAULT an instance starts in (a tracked object still down) is alerted only if it lasts.
        let vipAlerts = alerts.map { VRRPAlerts(dispatcher: $0) }
        guard (0...1024).contains(lvsThreads) else {
            emit("tandem vrrp: --lvs-threads \(lvsThreads): must be from 0 (two per core) to 1024")
            throw ExitCode(1)
        }
        let live = LiveVirtualServers(threads: lvsThreads)
        let liveHTTP = LiveHTTP()
        let daemon: VRRPDaemon
        // The daemon, for its reload (set once it is made; SIGHUP is only heard once it runs).
        let running = Mutex<VRRPDaemon?>(nil)
        do {
            let path = self.path
            let commandLineHTTP = http
            daemon = try VRRPDaemon(configuration: config, addressGuard: addressGuardLaunch,
                                    onReload: {
                                        reloadConfiguration(path: path, running: config, daemon: running.withLock { $0 }, live: live,
                                                            http: liveHTTP, commandLineHTTP: commandLineHTTP, emit: emit)
                                    },
                                    onStateChange: { [vipAlerts] instance, state, priority, addresses, causes in
                vipAlerts?.stateChanged(instance: instance, state: state.rawValue, priority: Int(priority), addresses: addresses,
                                        faultCauses: causes)
            }, log: { emit("tandem vrrp: " + $0) })
        } catch {
            emit("tandem vrrp: \(error)")
            throw ExitCode(1)
        }
        running.withLock { $0 = daemon }
        // ha_suspend: an address is held while an instance carrying it is master.
        let vrrp = daemon
        live.addressHeld.withLock {
            $0 = { address in
                // The instances' addresses as now configured (a reload changes them).
                let owners = vrrp.instancesCarrying(address)
                guard !owners.isEmpty else { return nil }
                let states = vrrp.states
                return owners.contains { states.indices.contains($0) && states[$0] == .master }
            }
        }
        if !config.virtualServers.isEmpty {
            do {
                try live.start(config, emit: emit)
            } catch {
                emit("tandem vrrp: \(error)")
                throw ExitCode(1)
            }
        }
        // `--http` wins over global_defs' `tandem_http` (checked when the file was read); a
        // reload re-reads tandem_http unless --http was given.
        if let http = http ?? config.global.tandemHTTP {
            do {
                let endpoint = try HTTPEndpoint(parsing: http)
                try liveHTTP.start(endpoint, daemon: daemon)
                emit("tandem vrrp: metrics on http://\(endpoint)/metrics, status page on http://\(endpoint)/")
            } catch {
                emit("tandem vrrp: \(error)")
                throw ExitCode(1)
            }
        }
        notifier?.ready()
        let status = daemon.run()
        live.servers.withLock { $0 }?.stop()
        liveHTTP.stop()
        if status != 0 { throw ExitCode(status) }
    }
}

/// The virtual servers running (nil until a configuration has one), and ha_suspend's question.
private final class LiveVirtualServers: Sendable {
    let servers = Mutex<VirtualServers?>(nil)
    let addressHeld = Mutex<(@Sendable (IPAddress) -> Bool?)?>(nil)
    /// `--lvs-threads` (0: the default).
    let threads: Int

    init(threads: Int) { self.threads = threads }

    func start(_ configuration: KeepalivedConfiguration, emit: @escaping @Sendable (String) -> Void) throws {
        let held: @Sendable (IPAddress) -> Bool? = addressHeld.withLock { $0 } ?? { @Sendable _ in nil }
        let started = try VirtualServers(configuration: configuration, log: { emit("tandem vrrp: " + $0) }, addressHeld: held, threads: threads)
        try started.start()
        servers.withLock { $0 = started }
    }
}

/// The HTTP listener (GET /metrics, the status page) and the address it listens on; a reload
/// starts, moves or stops it as `VRRPReload.httpListener` decides. Its registry and page are
/// made once, at the first start, and kept across moves.
private final class LiveHTTP: Sendable {
    private struct Running {
        var server: MetricsHTTPServer?
        var endpoint: HTTPEndpoint?
        var sources: (metrics: MetricsRegistry, page: StatusPageSource)?
    }
    private let running = Mutex(Running())

    /// Where it listens now (nil: nowhere).
    var serving: HostPort? { running.withLock { $0.endpoint.flatMap { HostPort($0.description, ports: 0...65535) } } }

    /// Binds `endpoint` and closes the listener before it, if any; a bind failure throws and
    /// changes nothing.
    func start(_ endpoint: HTTPEndpoint, daemon: VRRPDaemon) throws {
        let sources = running.withLock { state in
            if let sources = state.sources { return sources }
            let made = (metrics: MetricsRegistry(), page: StatusPageSource(daemon: "vrrp"))
            made.metrics.addProcessMetrics()
            made.metrics.addVRRP(daemon)
            made.page.addVRRP(daemon)
            state.sources = made
            return made
        }
        let server = try MetricsHTTPServer.startBlocking(endpoint, metrics: sources.metrics, status: sources.page)
        let old = running.withLock { state in
            defer { state.server = server; state.endpoint = endpoint }
            return state.server
        }
        old?.closeBlocking()
    }

    /// Stops listening.
    func stop() {
        let old = running.withLock { state in
            defer { state.server = nil; state.endpoint = nil }
            return state.server
        }
        old?.closeBlocking()
    }

    /// A reload's change. A move binds the new address first, so a failure keeps the old
    /// listener; when that fails on the old one's port (an overlapping address: 127.0.0.1:9123 to
    /// 0.0.0.0:9123) the old one is closed first and, should the new one still fail, bound again.
    func apply(_ change: VRRPReload.HTTPListenerChange, daemon: VRRPDaemon, emit: @Sendable (String) -> Void) {
        let target: HostPort
        switch change {
        case .keep:
            return
        case .stop(let from):
            stop()
            emit("tandem vrrp: reload: tandem_http removed: no longer serving HTTP on \(from)")
            return
        case .start(let to), .move(_, let to):
            target = to
        }
        let endpoint: HTTPEndpoint
        do {
            endpoint = try HTTPEndpoint(parsing: target.description)
        } catch {
            emit("tandem vrrp: reload: \(error)")
            return
        }
        do {
            try start(endpoint, daemon: daemon)
        } catch let first {
            // Only the old listener on the same port can be what is in the way.
            guard case .move(let from, let to) = change, from.port == to.port, let old = try? HTTPEndpoint(parsing: from.description) else {
                emit("tandem vrrp: reload: tandem_http: \(first)")
                return
            }
            stop()
            do {
                try start(endpoint, daemon: daemon)
            } catch {
                emit("tandem vrrp: reload: tandem_http: \(error)")
                do {
                    try start(old, daemon: daemon)
                    emit("tandem vrrp: reload: still serving HTTP on \(old)")
                } catch {
                    emit("tandem vrrp: reload: no HTTP listener now: \(error)")
                }
                return
            }
        }
        emit("tandem vrrp: reload: metrics on http://\(endpoint)/metrics, status page on http://\(endpoint)/")
    }
}

/// SIGHUP, on the VRRP daemon's thread: re-reads the file. A file that does not load is
/// reported (file:line) and the running configuration stays, VRRP and virtual servers alike.
/// The VRRP instances change as keepalived's reload changes them (`VRRPDaemon.applyReload`),
/// the virtual servers too (`VirtualServers.reload`).
private func reloadConfiguration(path: String, running: KeepalivedConfiguration, daemon: VRRPDaemon?, live: LiveVirtualServers,
                                 http: LiveHTTP, commandLineHTTP: String?, emit: @escaping @Sendable (String) -> Void) {
    emit("tandem vrrp: SIGHUP: reloading \(path)")
    let loaded: KeepalivedConfiguration
    do {
        loaded = try KeepalivedConfiguration.load(file: path)
    } catch {
        emit("tandem vrrp: reload failed: \(error); the running configuration stays")
        return
    }
    for warning in loaded.warnings { emit("tandem vrrp: \(warning)") }
    // tandem_http is a global_defs setting: applied with them (not when the instances' part failed).
    if let daemon, daemon.applyReload(loaded) {
        let change = VRRPReload.httpListener(serving: http.serving, configured: loaded.global.tandemHTTP, commandLine: commandLineHTTP)
        http.apply(change, daemon: daemon, emit: emit)
    }
    // The running global_defs (script_user, script security) with the new virtual servers.
    var next = running
    next.virtualServers = loaded.virtualServers
    if let servers = live.servers.withLock({ $0 }) {
        servers.reload(next)
    } else if !next.virtualServers.isEmpty {
        do {
            try live.start(next, emit: emit)
            emit("tandem vrrp: reload: virtual servers: 0 unchanged, 0 changed, \(next.virtualServers.count) added, 0 removed")
        } catch {
            emit("tandem vrrp: reload: \(error)")
        }
    } else {
        emit("tandem vrrp: reload: no virtual server before or after")
    }
}

/// One line to stderr with a UTC timestamp, unbuffered (logs interleave with scripts' output).
private func emitText(_ line: String) {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    var tm = tm()
    var seconds = ts.tv_sec
    gmtime_r(&seconds, &tm)
    let stamp = String(format2: tm.tm_hour) + ":" + String(format2: tm.tm_min) + ":" + String(format2: tm.tm_sec)
        + "." + String(String(ts.tv_nsec / 1_000_000 + 1000).dropFirst())
    let text = stamp + " " + line + "\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}

private extension String {
    init(format2 value: Int32) { self = value < 10 ? "0\(value)" : "\(value)" }
}
