#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RESP
import RedisConnection
import SentinelConfig
import SentinelCore

extension SentinelRuntime {
    /// INFO as 7.0's sentinel mode: server, clients, stats, cpu and sentinel sections, filtered.
    func info(sections requested: [String]) -> String {
        // `failovers` (Tandem's history for `tandem status`) only when asked by name: INFO's
        // default output of a plain tandem sentinel stays 7.0's.
        let named = ["server", "clients", "stats", "cpu", "sentinel"] + extraInfoSections.map(\.name)
        let all = named.filter { $0 != "failovers" && $0 != "vipclients" }
        let wanted = requested.isEmpty || requested.contains("all") || requested.contains("default") || requested.contains("everything")
            ? all : named.filter { requested.contains($0) }
        var out: [String] = []
        let stats = clients.stats
        let peaks = clients.recentPeaks.maxima(second: Int64(Date().timeIntervalSince1970))
        let rates = clients.samples
        let connected = clients.all
        let uptime = (ContinuousClock.now - startedAt).components.seconds
        for section in wanted {
            if !out.isEmpty { out.append("") }
            switch section {
            case "server":
                var uts = utsname()
                uname(&uts)
                func field<T>(_ value: T) -> String {
                    withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                }
                let micros = Int64(Date().timeIntervalSince1970 * 1_000_000)
                let executable = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? ""
                out += ["# Server", "redis_version:7.0.15", "redis_git_sha1:00000000", "redis_git_dirty:0",
                        "redis_build_id:tandem", "redis_mode:sentinel",
                        "os:\(field(uts.sysname)) \(field(uts.release)) \(field(uts.machine))", "arch_bits:64",
                        "monotonic_clock:POSIX clock_gettime", "multiplexing_api:epoll", "atomicvar_api:c11-builtin",
                        "gcc_version:0.0.0", "process_id:\(getpid())", "process_supervised:no", "run_id:\(state.myID)",
                        "tcp_port:\(configuration.port)", "server_time_usec:\(micros)", "uptime_in_seconds:\(uptime)",
                        "uptime_in_days:\(uptime / 86_400)", "hz:10", "configured_hz:10",
                        "lru_clock:\((micros / 1_000_000) & ((1 << 24) - 1))",
                        "executable:\(executable)", "config_file:\(configPath)", "io_threads_active:0"]
            case "clients":
                out += ["# Clients", "connected_clients:\(connected.count)", "cluster_connections:0", "maxclients:\(configuration.maxClients)",
                        "client_recent_max_input_buffer:\(peaks.input)", "client_recent_max_output_buffer:\(peaks.output)",
                        "blocked_clients:\(connected.filter { $0.postponed }.count)",
                        "tracking_clients:\(connected.filter { $0.tracking.on }.count)", "clients_in_timeout_table:0"]
            case "stats":
                let totals = hub.totals()
                out += ["# Stats", "total_connections_received:\(stats.connectionsReceived)",
                        "total_commands_processed:\(stats.commandsProcessed)", "instantaneous_ops_per_sec:\(rates.opsPerSecond)",
                        "total_net_input_bytes:\(stats.inputBytes)", "total_net_output_bytes:\(stats.outputBytes)",
                        "total_net_repl_input_bytes:0", "total_net_repl_output_bytes:0",
                        "instantaneous_input_kbps:\(String(format: "%.2f", rates.inputKbps))",
                        "instantaneous_output_kbps:\(String(format: "%.2f", rates.outputKbps))",
                        "instantaneous_input_repl_kbps:0.00", "instantaneous_output_repl_kbps:0.00",
                        "rejected_connections:\(stats.rejectedConnections)", "sync_full:0", "sync_partial_ok:0", "sync_partial_err:0",
                        "expired_keys:0", "expired_stale_perc:0.00", "expired_time_cap_reached_count:0",
                        "expire_cycle_cpu_milliseconds:0", "evicted_keys:0", "evicted_clients:0",
                        "total_eviction_exceeded_time:0", "current_eviction_exceeded_time:0", "keyspace_hits:0",
                        "keyspace_misses:0", "pubsub_channels:\(totals.channels)", "pubsub_patterns:\(totals.patterns)",
                        "pubsubshard_channels:0", "latest_fork_usec:0", "total_forks:0", "migrate_cached_sockets:0",
                        "slave_expires_tracked_keys:0", "active_defrag_hits:0", "active_defrag_misses:0",
                        "active_defrag_key_hits:0", "active_defrag_key_misses:0", "total_active_defrag_time:0",
                        "current_active_defrag_time:0", "tracking_total_keys:0", "tracking_total_items:0",
                        "tracking_total_prefixes:0", "unexpected_error_replies:0",
                        "total_error_replies:\(stats.errorReplies)", "dump_payload_sanitizations:0",
                        "total_reads_processed:\(stats.commandsProcessed)", "total_writes_processed:\(stats.commandsProcessed)",
                        "io_threaded_reads_processed:0", "io_threaded_writes_processed:0",
                        "reply_buffer_shrinks:0", "reply_buffer_expands:0"]
            case "cpu":
                var own = rusage(), children = rusage()
                getrusage(RUSAGE_SELF.rawValue, &own)
                getrusage(RUSAGE_CHILDREN.rawValue, &children)
                func secs(_ t: timeval) -> String { String(format: "%.6f", Double(t.tv_sec) + Double(t.tv_usec) / 1e6) }
                out += ["# CPU", "used_cpu_sys:\(secs(own.ru_stime))", "used_cpu_user:\(secs(own.ru_utime))",
                        "used_cpu_sys_children:\(secs(children.ru_stime))", "used_cpu_user_children:\(secs(children.ru_utime))",
                        "used_cpu_sys_main_thread:\(secs(own.ru_stime))", "used_cpu_user_main_thread:\(secs(own.ru_utime))"]
            case "sentinel":
                let scripts = scriptCounts()
                out += ["# Sentinel", "sentinel_masters:\(state.masters.count)", "sentinel_tilt:\(state.isTilted ? 1 : 0)",
                        "sentinel_tilt_since_seconds:\(state.tiltSince.map { (now - $0) / 1000 } ?? -1)",
                        "sentinel_running_scripts:\(scripts.running)", "sentinel_scripts_queue_length:\(scripts.queued)",
                        "sentinel_simulate_failure_flags:\(state.simulatedFailure.rawValue)"]
                for (i, name) in state.masterNames.enumerated() {
                    let m = state.masters[name]!
                    let status = m.isODown ? "odown" : (m.instance.isSDown ? "sdown" : "ok")
                    let a = state.currentMasterAddress(name)!
                    out.append("master\(i):name=\(name),status=\(status),address=\(a),slaves=\(m.replicas.count),sentinels=\(m.sentinels.count + 1)")
                }
            default:
                if let extra = extraInfoSections.first(where: { $0.name == section }) { out += extra.lines() }
            }
        }
        return out.isEmpty ? "" : out.joined(separator: "\r\n") + "\r\n"
    }

    /// The first address of `host` (IPv4 first), looked up off the actor (`NameResolver`): the
    /// actor serves commands and runs its timer while a DNS server takes its time.
    nonisolated func lookUp(_ host: String) async -> Result<String, NameResolutionError> {
        do {
            return .success(try await NameResolver.shared.addresses(of: host, timeout: Self.nameLookupTimeout)[0])
        } catch {
            return .failure(error)
        }
    }

    /// How long a lookup for `SENTINEL MONITOR` or a configured master may take (getaddrinfo's
    /// own retries usually end it first: 5 s × 2 attempts by default).
    static let nameLookupTimeout = TimeAmount.seconds(30)

    /// `maxclients`: a connection beyond the limit gets Redis's error and is closed.
    func connectionLimitDenial() -> String? {
        guard clients.all.count >= configuration.maxClients else { return nil }
        clients.update { $0.stats.rejectedConnections += 1 }
        return "-ERR max number of clients reached\r\n"
    }

    /// `timeout`: closes clients idle for longer, except subscribers and clients held by a pause (as Redis).
    func closeIdleClients() {
        let limit = configuration.clientIdleTimeout
        guard limit > 0 else { return }
        let now = ContinuousClock.now
        for c in clients.all where hub.subscriptionCount(c.id) == 0 && !c.postponed {
            if (now - c.lastInteraction) > .seconds(limit) {
                logger.debug("Closing idle client \(c.id)")
                c.close()
            }
        }
    }

    /// Redis's protected mode: with `protected-mode yes` and no password on the default user,
    /// only loopback clients are served.
    func protectedModeDenial(for address: SocketAddress?) -> String? {
        guard configuration.protectedMode, users["default"]?.noPass == true, let ip = address?.ipAddress,
              ip != "127.0.0.1", ip != "::1", !ip.hasPrefix("::ffff:127.") else { return nil }
        clients.update { $0.stats.rejectedConnections += 1 }
        return "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"
    }
}
