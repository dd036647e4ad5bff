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

/// SENTINEL MONITOR, SET, CONFIG and DEBUG: the commands that change what is monitored and how.
extension SentinelRuntime {
    /// `SENTINEL MONITOR name ip port quorum`. A name is looked up off the actor: the reply
    /// waits for it, the sentinel goes on monitoring and answering meanwhile.
    func monitor(_ args: [String]) async -> RESPValue {
        guard let quorum = Int(args[4]) else { return .simpleError("ERR Invalid quorum") }
        guard let port = Int(args[3]) else { return .simpleError("ERR Invalid port") }
        guard quorum > 0 else { return .simpleError("ERR Quorum must be 1 or greater.") }
        guard let resolved = await resolveAddress(args[2]) else { return .simpleError("ERR Invalid IP address or hostname specified") }
        let host = configuration.resolveHostnames && configuration.announceHostnames ? args[2] : resolved
        guard state.masters[args[1]] == nil else { return .simpleError("ERR Duplicate master name.") }
        guard (0...65535).contains(port) else { return .simpleError("ERR Invalid port number") }
        if let normal = Self.normalisedAddressLiteral(host), normal != host { state.learnHostAddress(host, normal) }
        if resolved != args[2] {
            hostnames.remember(master: args[1], name: args[2], address: resolved, port: port)
            state.learnHostAddress(args[2], resolved)
        }
        // The core holds quorum, down-after and the rest (saveConfig writes them from there).
        configuration.masters.append(MasterSettings(name: args[1], host: host, port: port, quorum: quorum))
        let actions = state.monitor(name: args[1], address: InstanceAddress(ip: host, port: port), quorum: quorum, now: now)
        let reply = flushConfigReply()
        perform(actions)
        return reply
    }

    /// How an instance's host is shown (replies, the saved config): 7.0's announceSentinelAddr,
    /// the name with announce-hostnames and the address without, for names the operator gave.
    /// `master`: the master's name when `address` is that master's own.
    func announced(_ address: InstanceAddress, master: String? = nil) -> String {
        state.shown(address, master: master)
    }

    /// The address a replica's `master_host` names, for the core to match it with its master
    /// (7.0's sentinelAddrEqualsHostname): an address literal in its normal form; with
    /// resolve-hostnames a name resolved (kept a minute, and taught to the core); else nil.
    /// A name not in the cache is looked up off the actor (it never blocks the state actor):
    /// nil until the answer is in, which the next INFO of that replica uses.
    func reportedAddress(_ host: String) -> String? {
        if let literal = Self.normalisedAddressLiteral(host) { return literal }
        guard configuration.resolveHostnames else { return nil }
        if let cached = reportedHostAddresses[host], now - cached.at < 60_000 { return cached.address }
        // Marked as asked (nil) so one lookup at a time goes out per name.
        reportedHostAddresses[host] = (nil, now)
        Task { [weak self] in
            guard let self else { return }
            let result = await self.lookUp(host)
            await self.reportedHostResolved(host, result)
        }
        return nil
    }

    func reportedHostResolved(_ host: String, _ result: Result<String, NameResolutionError>) {
        guard case .success(let address) = result else { return }
        reportedHostAddresses[host] = (address, now)
        state.learnHostAddress(host, address)
    }

    /// `::0:1` → `::1`, `10.0.0.1` as is; nil for anything that is not an address literal.
    static func normalisedAddressLiteral(_ host: String) -> String? {
        var v4 = in_addr(), v6 = in6_addr()
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if inet_pton(AF_INET, host, &v4) == 1 {
            guard inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            guard inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        } else {
            return nil
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An IP literal as is; a name resolved (off the actor) when resolve-hostnames is on; nil otherwise.
    func resolveAddress(_ host: String) async -> String? {
        if NameResolver.isAddressLiteral(host) { return host }
        guard configuration.resolveHostnames else { return nil }
        switch await lookUp(host) {
        case .success(let address): return address
        case .failure(let error):
            logger.warning("SENTINEL MONITOR: \(error)")
            return nil
        }
    }

    /// `SENTINEL SET name option value [option value …]`, as 7.0's sentinelSetCommand.
    func setCommand(_ args: [String]) -> RESPValue {
        guard state.masters[args[1]] != nil, let index = configuration.masters.firstIndex(where: { $0.name == args[1] }) else {
            return .simpleError("ERR No such master with that name")
        }
        let name = args[1]
        var changes = 0
        var j = 2
        var failure: RESPValue?
        loop: while j < args.count {
            let option = args[j]
            let more = args.count - 1 - j
            let oldJ = j
            func badArgument(_ at: Int) -> RESPValue {
                .simpleError("ERR Invalid argument '\(args[at])' for SENTINEL SET '\(option)'")
            }
            var setting = SentinelState.MasterSetting.other
            var redacted = false
            // Every option needs its value: `where` on a multi-pattern case guards only the last
            // pattern, so the value check is part of each case's single pattern here.
            let lowerOption = option.lowercased()
            switch more > 0 ? lowerOption : "" {
            case "down-after-milliseconds", "failover-timeout", "parallel-syncs", "quorum", "master-reboot-down-after-period":
                j += 1
                let lower = option.lowercased()
                guard let v = Int64(args[j]), lower == "master-reboot-down-after-period" ? v >= 0 : v > 0 else {
                    failure = badArgument(j)
                    break loop
                }
                switch lower {
                case "down-after-milliseconds": setting = .downAfter(v)
                case "failover-timeout": setting = .failoverTimeout(v)
                case "parallel-syncs": setting = .parallelSyncs(Int(v))
                case "quorum": setting = .quorum(Int(v))
                default: setting = .rebootDownAfter(v)
                }
            case "durability":
                j += 1
                switch args[j].lowercased() {
                case "async", "replicated":
                    setting = .replicatedDurability(args[j].lowercased() == "replicated")
                default:
                    failure = badArgument(j)
                    break loop
                }
            case "crash-detection":
                j += 1
                switch args[j].lowercased() {
                case "yes", "no":
                    setting = .crashDetection(args[j].lowercased() == "yes")
                default:
                    failure = badArgument(j)
                    break loop
                }
            case "notification-script", "client-reconfig-script":
                j += 1
                let value = args[j]
                let isNotification = option.lowercased() == "notification-script"
                if configuration.denyScriptsReconfig {
                    failure = .simpleError("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration")
                    break loop
                }
                if !value.isEmpty && access(value, X_OK) != 0 {
                    failure = .simpleError(isNotification
                        ? "ERR Notification script seems non existing or non executable"
                        : "ERR Client reconfiguration script seems non existing or non executable")
                    break loop
                }
                if isNotification { configuration.masters[index].notificationScript = value.isEmpty ? nil : value }
                else { configuration.masters[index].clientReconfigScript = value.isEmpty ? nil : value }
            case "auth-pass", "auth-user":
                j += 1
                let value = args[j]
                if option.lowercased() == "auth-pass" { configuration.masters[index].authPass = value.isEmpty ? nil : value }
                else { configuration.masters[index].authUser = value.isEmpty ? nil : value }
                redacted = true
                reconnect(master: name)
            case "rename-command" where more > 1:
                let old = args[j + 1], new = args[j + 2]
                j += 2
                if old.isEmpty || new.isEmpty {
                    failure = badArgument(new.isEmpty ? j : j - 1)
                    break loop
                }
                configuration.masters[index].renamedCommands[old.uppercased()] = nil
                if old.lowercased() != new.lowercased() {
                    configuration.masters[index].renamedCommands[old.uppercased()] = new
                }
            default:
                failure = .simpleError("ERR Unknown option or number of arguments for SENTINEL SET '\(option)'")
                break loop
            }
            changes += 1
            let value = j - oldJ == 2 ? "\(args[oldJ + 1]) \(args[oldJ + 2])" : (redacted ? "******" : args[oldJ + 1])
            perform(state.set(master: name, setting, option: option, value: value))
            j += 1
        }
        if let failure {
            if changes > 0 { try? saveConfig() }
            return failure
        }
        return flushConfigReply()
    }

    /// Drops the links of a master and its replicas so they reconnect with new credentials.
    func reconnect(master name: String) {
        guard let m = state.masters[name] else { return }
        var refs: [InstanceRef] = [.master(name)]
        refs += m.sortedReplicaAddresses.map { .replica(master: name, $0) }
        for ref in refs {
            let address = ref == .master(name) ? m.address : { if case .replica(_, let a) = ref { return a }; return m.address }()
            perform([.disconnect(ref), .connect(ref, address)])
        }
    }

    static let configParameters = ["resolve-hostnames", "announce-hostnames", "announce-ip", "announce-port", "sentinel-user", "sentinel-pass"]

    /// `SENTINEL CONFIG GET pattern` / `SET parameter value` (7.0: one parameter per call).
    func configCommand(_ args: [String]) -> RESPValue {
        let verb = args[1].lowercased()
        if verb == "get" && args.count == 3 {
            let pattern = Array(args[2].lowercased().utf8)
            var pairs: [RESPPair] = []
            for p in Self.configParameters where globMatch(pattern: pattern, string: Array(p.utf8)) {
                let value: String
                switch p {
                case "resolve-hostnames": value = configuration.resolveHostnames ? "yes" : "no"
                case "announce-hostnames": value = configuration.announceHostnames ? "yes" : "no"
                case "announce-ip": value = configuration.announceIP ?? ""
                case "announce-port": value = String(configuration.announcePort ?? 0)
                case "sentinel-user": value = configuration.sentinelUser ?? ""
                default: value = configuration.sentinelPass ?? ""
                }
                pairs.append(RESPPair(key: .bulkString(p), value: .bulkString(value)))
            }
            return .map(pairs)
        }
        guard verb == "set" && args.count == 4 else {
            return .simpleError("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.")
        }
        let option = args[2], value = args[3]
        let bad = RESPValue.simpleError("ERR Invalid value '\(value)' to SENTINEL CONFIG SET '\(option)'")
        switch option.lowercased() {
        case "resolve-hostnames", "announce-hostnames":
            guard let flag = ["yes": true, "no": false][value.lowercased()] else { return bad }
            if option.lowercased() == "resolve-hostnames" { configuration.resolveHostnames = flag }
            else { configuration.announceHostnames = flag }
        case "announce-ip":
            configuration.announceIP = value.isEmpty ? nil : value
            state.setAnnounceIP(configuration.announceIP)
        case "announce-port":
            guard let p = Int(value), (0...65535).contains(p) else { return bad }
            configuration.announcePort = p == 0 ? nil : p
            state.setAnnouncePort(configuration.helloPort)
        case "sentinel-user":
            configuration.sentinelUser = value.isEmpty ? nil : value
        case "sentinel-pass":
            configuration.sentinelPass = value.isEmpty ? nil : value
        default:
            return .simpleError("ERR Invalid argument '\(option)' to SENTINEL CONFIG SET")
        }
        return flushConfigReply()
    }

    static let debugTimers = ["info-period", "ping-period", "ask-period", "publish-period", "default-down-after",
                              "default-failover-timeout", "tilt-trigger", "tilt-period", "slave-reconf-timeout",
                              "min-link-reconnect-period", "election-timeout", "script-max-runtime", "script-retry-delay"]

    /// A DEBUG timer: the core's, or the script queue's two.
    func debugTimer(_ name: String) -> Millis {
        if let timer = SentinelTimers.Name(rawValue: name) { return state.timers[timer] }
        return name == "script-max-runtime" ? scripts.maxRuntime : scripts.retryDelay
    }

    /// `SENTINEL DEBUG [param value …]`: shows or changes every timer.
    func debugCommand(_ args: [String]) -> RESPValue {
        if args.count == 1 {
            return .map(Self.debugTimers.map { RESPPair(key: .bulkString($0.uppercased()), value: .bulkString(String(debugTimer($0)))) })
        }
        var j = 1
        while j < args.count {
            let name = args[j].lowercased()
            guard Self.debugTimers.contains(name), j + 1 < args.count else {
                return .simpleError("ERR Unknown option or number of arguments for SENTINEL DEBUG '\(args[j])'")
            }
            guard let v = Millis(args[j + 1]), v > 0 else {
                return .simpleError("ERR Invalid argument '\(args[j + 1])' for SENTINEL DEBUG '\(args[j])'")
            }
            if let timer = SentinelTimers.Name(rawValue: name) {
                state.setTimer(timer, v)
            } else if name == "script-max-runtime" {
                scripts.maxRuntime = v
            } else {
                scripts.retryDelay = v
            }
            j += 2
        }
        return .simpleString("OK")
    }
}
