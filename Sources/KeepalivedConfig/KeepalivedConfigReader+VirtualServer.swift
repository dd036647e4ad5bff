import VRRPCore

/// Checker timing that a virtual server passes to its real servers and a real server to its
/// checkers (keepalived: "the virtual server setting is the default for real servers, and the
/// real server setting is the default for checkers"). nil: not written at this level.
private struct CheckerTiming {
    var connectTimeout: Double?
    var retry: Int?
    var delayBeforeRetry: Double?
    var delayLoop: Double?
    var warmup: Double?
    var alpha: Bool?
    /// `smtp_alert`: e-mail on the real servers' up/down (and the virtual server's quorum).
    var smtpAlert: Bool?
}

/// Keywords of keepalived's LVS that tandem reads but does not act on, and why.
private let ignoredVirtualServerKeywords: [String: String] = [
    "nat_mask": "NAT-only setting; user space proxies every connection",
    "persistence_granularity": "persistence is per client address",
    "persistence_engine": "persistence engines are not supported",
    "ops": "one-packet scheduling is not supported: a UDP flow (client address and port) is scheduled once",
    "ip_family": "the family is the virtual server address's",
    "snmp_name": "SNMP is not supported",
    "sorry_server_lvs_method": "every kind is served as a proxy",
    "flag-1": "scheduler flags other than sh/mh port and fallback are not supported",
    "flag-2": "scheduler flags other than sh/mh port and fallback are not supported",
    "flag-3": "scheduler flags other than sh/mh port and fallback are not supported",
]

/// A `virtual_server_group NAME { ADDRESS[-LAST] PORT … }` block.
struct VirtualServerGroupDefinition {
    var name: String
    var entries: [ServiceAddress]
    var fingerprint: String
    var location: SourceLocation
    var used = false
}

extension KeepalivedConfigReader {
    // MARK: virtual_server_group

    /// Reads a `virtual_server_group`: each entry `ADDRESS PORT` or `ADDRESS-LAST PORT` (a
    /// range in the last byte of an IPv4 address, the last hex group of an IPv6 one, as
    /// keepalived); `fwmark` entries are warned and ignored.
    mutating func readVirtualServerGroup(_ block: ConfigStatement) throws {
        let name = try one(block)
        if let other = virtualServerGroups[name] {
            throw ConfigError(block.location, "virtual_server_group \(name) is already defined at \(other.location)")
        }
        var entries: [ServiceAddress] = []
        for s in block.block ?? [] {
            if s.keyword == "fwmark" {
                warn(s, "virtual_server_group \(name): 'fwmark' entries are not served by tandem vrrp (no firewall marks in user space); ignored")
                continue
            }
            guard s.arguments.count == 1 else {
                throw ConfigError(s.location, "virtual_server_group \(name): an entry is 'ADDRESS[-LAST] PORT', got '\(([s.keyword] + s.arguments).joined(separator: " "))'")
            }
            let portNumber = try port(s, s.arguments[0])
            for address in try addressRange(s, s.keyword) {
                let entry = ServiceAddress(address: address, port: portNumber)
                if entries.contains(entry) { throw ConfigError(s.location, "virtual_server_group \(name): \(entry) is listed twice") }
                if let first = entries.first, first.address.family != address.family {
                    throw ConfigError(s.location, "virtual_server_group \(name): \(entry) is not of \(first)'s address family")
                }
                entries.append(entry)
            }
            if entries.count > 1024 {
                throw ConfigError(s.location, "virtual_server_group \(name): more than 1024 addresses (tandem listens on each)")
            }
        }
        virtualServerGroups[name] = VirtualServerGroupDefinition(name: name, entries: entries, fingerprint: block.fingerprint, location: block.location)
    }

    /// `ADDRESS` or `ADDRESS-LAST`: LAST replaces the address's last byte (IPv4, decimal) or
    /// last 16-bit group (IPv6, hex) and must not be below it.
    private func addressRange(_ s: ConfigStatement, _ text: String) throws -> [IPAddress] {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        let first = try address(s, String(parts[0]))
        guard parts.count == 2 else {
            if parts.count > 2 { throw ConfigError(s.location, "'\(text)' is not an address or an address range") }
            return [first]
        }
        var bytes = first.bytes
        if first.family == .ipv4 {
            guard let last = Int(parts[1]), (Int(bytes[3])...255).contains(last) else {
                throw ConfigError(s.location, "'\(text)': the range's end must be a number from \(bytes[3]) to 255")
            }
            return (Int(bytes[3])...last).compactMap { value in
                bytes[3] = UInt8(value)
                return IPAddress(bytes: bytes)
            }
        }
        let start = Int(bytes[14]) << 8 | Int(bytes[15])
        guard let last = Int(parts[1], radix: 16), (start...0xFFFF).contains(last) else {
            throw ConfigError(s.location, "'\(text)': the range's end must be hex from \(String(start, radix: 16)) to ffff")
        }
        return (start...last).compactMap { value in
            bytes[14] = UInt8(value >> 8)
            bytes[15] = UInt8(value & 0xFF)
            return IPAddress(bytes: bytes)
        }
    }

    // MARK: virtual_server

    /// Reads a `virtual_server`; nil (with a warning) for forms not served (fwmark, SCTP).
    mutating func readVirtualServer(_ block: ConfigStatement) throws -> VirtualServerConfig? {
        let args = block.arguments
        guard let first = args.first else { throw ConfigError(block.location, "virtual_server needs an address and a port") }
        if first == "fwmark" {
            warn(block, "'virtual_server fwmark' ignored: firewall-mark services are not supported by tandem vrrp")
            return nil
        }
        guard args.count == 2 else {
            throw ConfigError(block.location, "virtual_server takes an address and a port (tandem serves TCP on both), got \(args.count) value(s)")
        }
        var server: VirtualServerConfig
        if first == "group" {
            guard var group = virtualServerGroups[args[1]] else {
                throw ConfigError(block.location, "virtual_server group \(args[1]): no virtual_server_group of that name")
            }
            if group.used { throw ConfigError(block.location, "virtual_server group \(args[1]): the group is already used by another virtual_server") }
            group.used = true
            virtualServerGroups[group.name] = group
            guard let entry = group.entries.first else {
                warn(block, "virtual_server group \(group.name): the group has no address and port tandem can serve; this virtual server is ignored")
                return nil
            }
            server = VirtualServerConfig(service: entry, location: block.location)
            server.group = group.name
            server.listenAddresses = group.entries
            // The group's entries are part of what a reload compares.
            server.fingerprint = block.fingerprint + "\u{1D}" + group.fingerprint
        } else {
            server = VirtualServerConfig(service: ServiceAddress(address: try address(block, first), port: try port(block, args[1])), location: block.location)
            server.fingerprint = block.fingerprint
        }
        let service = server.service
        var timing = CheckerTiming()
        var inhibit = false
        var protocolSCTP = false
        var realServerStatements: [ConfigStatement] = []
        for s in block.block ?? [] {
            if try readTiming(s, into: &timing) { continue }
            switch s.keyword {
            case "lb_algo", "lvs_sched":
                let name = try one(s)
                guard let scheduler = SchedulerName(rawValue: name) else {
                    throw ConfigError(s.location, "'\(s.keyword)': '\(name)' is not a scheduler tandem serves (rr, wrr, lc, wlc, sh, mh)")
                }
                server.scheduler = scheduler
            case "lb_kind", "lvs_method":
                let name = try one(s, allowMore: true)
                guard let method = ForwardingMethod(rawValue: name.uppercased()) else {
                    throw ConfigError(s.location, "'\(s.keyword)': '\(name)' is not NAT, DR or TUN")
                }
                server.forwarding = method
                warn(s, "'\(s.keyword) \(name)': tandem serves virtual servers in user space as a TCP proxy whatever the kind: real servers see connections from this host, not from the client, and replies come back through it")
            case "persistence_timeout":
                server.persistenceTimeout = s.arguments.isEmpty ? 360 : try integer(s, try one(s), 1...(365 * 86400))
            case "protocol":
                switch try one(s).uppercased() {
                case "TCP": (server.udp, protocolSCTP) = (false, false)
                case "UDP": (server.udp, protocolSCTP) = (true, false)
                case "SCTP": (server.udp, protocolSCTP) = (false, true)
                default: throw ConfigError(s.location, "'protocol': '\(s.arguments[0])' is not TCP, UDP or SCTP")
                }
            case "sorry_server":
                server.sorryServer = try serviceAddress(s, defaultPort: service.port)
            case "sorry_server_inhibit": server.sorryServerInhibit = try flag(s)
            case "inhibit_on_failure": inhibit = try flag(s)
            case "omega": server.omega = try flag(s)
            case "quorum": server.quorum = try integer(s, try one(s), 1...Int(Int32.max))
            case "hysteresis": server.hysteresis = try integer(s, try one(s), 0...Int(Int32.max))
            case "quorum_up": server.quorumUp = try notify(s)
            case "quorum_down": server.quorumDown = try notify(s)
            case "ha_suspend": server.haSuspend = try flag(s)
            case "sh-fallback", "mh-fallback": server.hashFallback = true
            case "sh-port", "mh-port": server.hashPort = true
            case "virtualhost": server.virtualhost = try one(s)
            case "real_server":
                realServerStatements.append(s)
            default:
                if let why = ignoredVirtualServerKeywords[s.keyword] {
                    warn(s, "virtual_server '\(s.keyword)' ignored: \(why)")
                } else {
                    warn(s, "unknown virtual_server keyword '\(s.keyword)' ignored")
                }
            }
        }
        if protocolSCTP {
            warn(block, "virtual_server \(service): protocol SCTP is not served by tandem vrrp; this virtual server is ignored")
            return nil
        }
        server.alpha = timing.alpha ?? false
        server.smtpAlert = timing.smtpAlert ?? config.global.smtpAlertChecker ?? config.global.smtpAlert ?? false
        if server.hysteresis >= server.quorum {
            throw ConfigError(block.location, "virtual_server \(service): hysteresis \(server.hysteresis) must be less than quorum \(server.quorum)")
        }
        if server.hashFallback || server.hashPort, server.scheduler != .sh && server.scheduler != .mh {
            warn(block, "virtual_server \(service): sh/mh flags have no effect with lb_algo \(server.scheduler.rawValue)")
        }
        for s in realServerStatements {
            let real = try readRealServer(s, virtualPort: service.port, timing: timing, inhibit: inhibit,
                                          virtualhost: server.virtualhost)
            if real.service.address.family != service.address.family {
                throw ConfigError(s.location, "real_server \(real.service) is not of virtual_server \(service)'s address family")
            }
            if server.realServers.contains(where: { $0.service == real.service }) {
                throw ConfigError(s.location, "real_server \(real.service) is listed twice in virtual_server \(service)")
            }
            server.realServers.append(real)
        }
        if let sorry = server.sorryServer, sorry.address.family != service.address.family {
            throw ConfigError(block.location, "sorry_server \(sorry) is not of virtual_server \(service)'s address family")
        }
        if server.realServers.isEmpty && server.sorryServer == nil {
            warn(block, "virtual_server \(service) has no real_server and no sorry_server: connections to it are closed at once")
        }
        return server
    }

    /// A timing keyword at any of the three levels; true if `s` was one.
    private mutating func readTiming(_ s: ConfigStatement, into timing: inout CheckerTiming) throws -> Bool {
        switch s.keyword {
        case "delay_loop": timing.delayLoop = try seconds(s, try one(s), 0.001...86400)
        case "connect_timeout": timing.connectTimeout = try seconds(s, try one(s), 0.001...3600)
        case "retry", "nb_get_retry": timing.retry = try integer(s, try one(s), 0...1_000_000)
        case "delay_before_retry": timing.delayBeforeRetry = try seconds(s, try one(s), 0...86400)
        case "warmup": timing.warmup = try seconds(s, try one(s), 0...86400)
        case "alpha": timing.alpha = try flag(s)
        case "smtp_alert": timing.smtpAlert = try flag(s)
        default: return false
        }
        return true
    }

    // MARK: real_server

    private mutating func readRealServer(_ block: ConfigStatement, virtualPort: Int, timing inherited: CheckerTiming, inhibit: Bool,
                                         virtualhost: String?) throws -> RealServerConfig {
        var real = RealServerConfig(service: try serviceAddress(block, defaultPort: virtualPort), location: block.location)
        real.inhibitOnFailure = inhibit
        var timing = inherited
        var checkerStatements: [ConfigStatement] = []
        for s in block.block ?? [] {
            if try readTiming(s, into: &timing) { continue }
            switch s.keyword {
            case "weight": real.weight = try integer(s, try one(s), 0...65535)
            case "inhibit_on_failure": real.inhibitOnFailure = try flag(s)
            case "notify_up": real.notifyUp = try notify(s)
            case "notify_down": real.notifyDown = try notify(s)
            case "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "REDIS_CHECK", "UDP_CHECK":
                checkerStatements.append(s)
            case "SMTP_CHECK", "DNS_CHECK", "BFD_CHECK", "PING_CHECK", "FILE_CHECK":
                warn(s, "real_server \(real.service): \(s.keyword) is not supported by tandem vrrp; this checker is ignored")
            case "lvs_method", "lb_kind":
                warn(s, "real_server '\(s.keyword)' ignored: every kind is served as a proxy")
            case "virtualhost": real.virtualhost = try one(s)
            case "uthreshold", "lthreshold", "snmp_name":
                warn(s, "real_server '\(s.keyword)' is not supported by tandem vrrp; ignored")
            default:
                warn(s, "unknown real_server keyword '\(s.keyword)' ignored")
            }
        }
        for s in checkerStatements {
            real.checkers.append(try readChecker(s, real: real.service, timing: timing,
                                                 virtualhosts: (real.virtualhost, virtualhost)))
        }
        // smtp_alert in a checker (tandem reads it there too; keepalived 2.2.7 only at the
        // real and virtual server), else the real server's, the virtual server's, global_defs'.
        let inChecker = try checkerStatements.flatMap { $0.block ?? [] }.last { $0.keyword == "smtp_alert" }.map { try flag($0) }
        real.smtpAlert = inChecker ?? timing.smtpAlert ?? config.global.smtpAlertChecker ?? config.global.smtpAlert ?? false
        return real
    }

    // MARK: checkers

    /// `virtualhosts`: the real server's and the virtual server's `virtualhost` (HTTP_GET and
    /// SSL_GET fall back on them, in that order).
    private mutating func readChecker(_ block: ConfigStatement, real: ServiceAddress, timing inherited: CheckerTiming,
                                      virtualhosts: (real: String?, virtual: String?)) throws -> CheckerConfig {
        var timing = inherited
        var connectIP: IPAddress?
        var connectPort: Int?
        var bindAddress: IPAddress?
        var bindPort: Int?
        var http = HTTPCheck()
        var misc: MiscCheck?
        var redis = RedisCheck()
        var udp = UDPCheck()
        let kind = block.keyword
        // SSL_GET reads as HTTP_GET and runs over TLS.
        let reading = kind == "SSL_GET" ? "HTTP_GET" : kind
        for s in block.block ?? [] {
            if try readTiming(s, into: &timing) { continue }
            switch (reading, s.keyword) {
            case (_, "connect_ip"): connectIP = try address(s, try one(s))
            case (_, "connect_port"): connectPort = try port(s, try one(s))
            case (_, "bindto"): bindAddress = try address(s, try one(s))
            case (_, "bind_port"): bindPort = try port(s, try one(s))
            case (_, "bind_if"), (_, "fwmark"), (_, "log_all_failures"):
                warn(s, "\(kind) '\(s.keyword)' is not supported by tandem vrrp; ignored")
            case ("HTTP_GET", "url"): http.urls.append(try readURL(s))
            case ("HTTP_GET", "virtualhost"): http.virtualhost = try one(s)
            case ("HTTP_GET", "http_protocol"):
                let text = try one(s)
                guard let version = HTTPCheck.ProtocolVersion(rawValue: text == "1.0c" ? "1.0C" : text) else {
                    throw ConfigError(s.location, "'http_protocol': '\(text)' is not 1.0, 1.0C or 1.1")
                }
                http.protocolVersion = version
            case ("HTTP_GET", "enable_sni"):
                if kind == "SSL_GET" {
                    http.enableSNI = try flag(s)
                } else {
                    warn(s, "HTTP_GET 'enable_sni' has no effect without TLS (SSL_GET); ignored")
                }
            case ("HTTP_GET", "fast_recovery"):
                warn(s, "\(kind) '\(s.keyword)' is not supported by tandem vrrp (it checks every url each round); ignored")
            case ("MISC_CHECK", "misc_path"):
                misc = MiscCheck(path: try commandLine(s), timeout: misc?.timeout, dynamic: misc?.dynamic ?? false, user: misc?.user)
            case ("MISC_CHECK", "misc_timeout"):
                if misc == nil { misc = MiscCheck(path: "") }
                misc!.timeout = try seconds(s, try one(s), 0.001...86400)
            case ("MISC_CHECK", "misc_dynamic"):
                if misc == nil { misc = MiscCheck(path: "") }
                misc!.dynamic = try flag(s)
            case ("MISC_CHECK", "user"):
                if misc == nil { misc = MiscCheck(path: "") }
                let user = try one(s, allowMore: true)
                misc!.user = (user, s.arguments.count > 1 ? s.arguments[1] : nil)
            case ("UDP_CHECK", "payload"):
                guard !s.arguments.isEmpty, let hex = UDPCheck.hexBytes(s.arguments.joined(separator: " "), wildcards: false) else {
                    throw ConfigError(s.location, "UDP_CHECK 'payload': '\(s.arguments.joined(separator: " "))' is not a hex string")
                }
                udp.payload = hex.bytes
            case ("UDP_CHECK", "require_reply"):
                udp.requireReply = true
                if !s.arguments.isEmpty {
                    guard let hex = UDPCheck.hexBytes(s.arguments.joined(separator: " "), wildcards: true) else {
                        throw ConfigError(s.location, "UDP_CHECK 'require_reply': '\(s.arguments.joined(separator: " "))' is not a hex string (x for any nibble)")
                    }
                    udp.reply = hex.bytes
                    udp.replyMask = hex.mask.contains { $0 != 0 } ? hex.mask : nil
                }
            case ("UDP_CHECK", "min_reply_length"): udp.minReplyLength = try integer(s, try one(s), 0...65535)
            case ("UDP_CHECK", "max_reply_length"): udp.maxReplyLength = try integer(s, try one(s), 0...65535)
            case ("REDIS_CHECK", "password"): redis.password = try one(s)
            case ("REDIS_CHECK", "user"): redis.user = try one(s)
            case ("REDIS_CHECK", "role"):
                switch try one(s) {
                case "master": redis.requireMaster = true
                case "any": redis.requireMaster = false
                case let other: throw ConfigError(s.location, "REDIS_CHECK 'role': '\(other)' is not master or any")
                }
            default:
                warn(s, "unknown \(kind) keyword '\(s.keyword)' ignored")
            }
        }
        let checkerKind: CheckerConfig.Kind
        switch kind {
        case "TCP_CHECK": checkerKind = .tcp
        case "HTTP_GET", "SSL_GET":
            guard !http.urls.isEmpty else { throw ConfigError(block.location, "\(kind) of real_server \(real) has no url block") }
            http.tls = kind == "SSL_GET"
            (http.realServerVirtualhost, http.virtualServerVirtualhost) = virtualhosts
            checkerKind = .http(http)
        case "MISC_CHECK":
            guard let misc, !misc.path.isEmpty else { throw ConfigError(block.location, "MISC_CHECK of real_server \(real) has no misc_path") }
            checkerKind = .misc(misc)
        case "UDP_CHECK":
            if udp.minReplyLength > udp.maxReplyLength {
                warn(block, "UDP_CHECK of real_server \(real): min_reply_length \(udp.minReplyLength) > max_reply_length \(udp.maxReplyLength) - will always fail")
            }
            checkerKind = .udp(udp)
        default: checkerKind = .redis(redis)
        }
        let delayLoop = timing.delayLoop ?? 60
        let defaultRetry: Int
        switch checkerKind {
        case .misc: defaultRetry = 0
        default: defaultRetry = 1
        }
        let defaultDelayBeforeRetry: Double
        if case .http = checkerKind { defaultDelayBeforeRetry = 3 } else { defaultDelayBeforeRetry = 1 }
        return CheckerConfig(
            kind: checkerKind, location: block.location,
            connectAddress: ServiceAddress(address: connectIP ?? real.address, port: connectPort ?? real.port),
            bindAddress: bindAddress, bindPort: bindPort,
            connectTimeout: timing.connectTimeout ?? 5, retry: timing.retry ?? defaultRetry,
            delayBeforeRetry: timing.delayBeforeRetry ?? defaultDelayBeforeRetry, delayLoop: delayLoop,
            warmup: timing.warmup ?? delayLoop, alpha: timing.alpha ?? false)
    }

    private mutating func readURL(_ block: ConfigStatement) throws -> HTTPCheck.URL {
        var url = HTTPCheck.URL(path: "")
        for s in block.block ?? [] {
            switch s.keyword {
            case "path": url.path = try one(s)
            case "digest":
                let digest = try one(s).lowercased()
                guard digest.count == 32, digest.allSatisfy(\.isHexDigit) else {
                    throw ConfigError(s.location, "'digest': '\(s.arguments[0])' is not an MD5 digest (32 hex digits)")
                }
                url.digest = digest
            case "status_code":
                guard !s.arguments.isEmpty else { throw ConfigError(s.location, "'status_code' needs a value") }
                url.statusCodes = try s.arguments.map { try statusRange(s, $0) }
            case "virtualhost": url.virtualhost = try one(s)
            case "regex", "regex_no_match", "regex_options", "regex_stack", "regex_min_offset", "regex_max_offset":
                warn(s, "url '\(s.keyword)' is not supported by tandem vrrp; ignored")
            default:
                warn(s, "unknown url keyword '\(s.keyword)' ignored")
            }
        }
        guard url.path.hasPrefix("/") else {
            throw ConfigError(block.location, url.path.isEmpty ? "url block has no path" : "url path '\(url.path)' does not start with '/'")
        }
        guard !url.path.contains(where: { $0 == "\r" || $0 == "\n" || $0 == " " }) else {
            throw ConfigError(block.location, "url path '\(url.path)' has a blank or line break")
        }
        return url
    }

    private func statusRange(_ s: ConfigStatement, _ text: String) throws -> ClosedRange<Int> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count <= 2, let low = Int(parts[0]), let high = parts.count == 2 ? Int(parts[1]) : low,
              (100...599).contains(low), (100...599).contains(high), low <= high else {
            throw ConfigError(s.location, "'status_code': '\(text)' is not a status code or range in 100…599")
        }
        return low...high
    }

    // MARK: values

    func port(_ s: ConfigStatement, _ text: String) throws -> Int {
        guard let value = Int(text), (1...65535).contains(value) else {
            throw ConfigError(s.location, "'\(s.keyword)': '\(text)' is not a port in 1…65535")
        }
        return value
    }

    /// `IP [PORT]` as a statement's arguments.
    func serviceAddress(_ s: ConfigStatement, defaultPort: Int) throws -> ServiceAddress {
        let ip = s.keyword == "real_server" || s.keyword == "sorry_server" ? try one(s, allowMore: true) : s.keyword
        guard s.arguments.count <= 2 else {
            throw ConfigError(s.location, "'\(s.keyword)' takes an address and a port, got \(s.arguments.count) values")
        }
        let port = s.arguments.count == 2 ? try port(s, s.arguments[1]) : defaultPort
        return ServiceAddress(address: try address(s, ip), port: port)
    }

    // MARK: cross-checks

    mutating func checkVirtualServers() throws {
        // TCP and UDP are two services on one address and port (IPVS's rule too).
        var seen: [ServiceKey: VirtualServerConfig] = [:]
        for server in config.virtualServers {
            for address in server.listenAddresses {
                if let other = seen[ServiceKey(address: address, udp: server.udp)] {
                    let what = server.group.map { "virtual_server group \($0): \(address)" } ?? "virtual_server \(address)"
                    throw ConfigError(server.location, "\(what) is already defined at \(other.location)\(other.group.map { " (group \($0))" } ?? "")")
                }
                seen[ServiceKey(address: address, udp: server.udp)] = server
            }
        }
        for group in virtualServerGroups.values.sorted(by: { $0.location.line < $1.location.line }) where !group.used {
            config.warnings.append(ConfigWarning(location: group.location, message: "virtual_server_group \(group.name) is not used by any virtual_server"))
        }
    }
}

/// A listening address with its protocol.
private struct ServiceKey: Hashable {
    var address: ServiceAddress
    var udp: Bool
}
