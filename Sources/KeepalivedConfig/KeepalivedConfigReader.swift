import HostPort
import VRRPCore

extension KeepalivedConfiguration {
    /// Reads and checks a keepalived.conf (following includes). Throws `ConfigError` naming the
    /// file and line; unsupported directives become `warnings`.
    public static func load(file path: String) throws -> KeepalivedConfiguration {
        var reader = KeepalivedConfigReader()
        return try reader.read(try ConfigSyntax.parse(file: path))
    }

    /// Reads configuration text as if it came from `file`.
    public static func parse(_ text: String, file: String = "keepalived.conf") throws -> KeepalivedConfiguration {
        var reader = KeepalivedConfigReader()
        return try reader.read(try ConfigSyntax.parse(text: text, file: file))
    }
}

/// Top-level blocks keepalived has that tandem does not run, and why.
private let unsupportedTopLevel: [String: String] = [
    "static_ipaddress": "static addresses are not managed by tandem vrrp",
    "static_routes": "static routes are not managed by tandem vrrp",
    "static_rules": "static rules are not managed by tandem vrrp",
    "track_process": "keepalived 2.2.7 does not know it either: the block is vrrp_track_process",
    "bfd_instance": "BFD is not supported",
    "garp_group": "garp_group is not supported",
    "linkbeat_use_polling": "ignored: link state is polled",
    "net_namespace": "run tandem inside the namespace instead (ip netns exec)",
]

struct KeepalivedConfigReader {
    var config = KeepalivedConfiguration()
    /// `virtual_server_group` blocks by name, read before the virtual servers that use them.
    var virtualServerGroups: [String: VirtualServerGroupDefinition] = [:]

    mutating func read(_ statements: [ConfigStatement]) throws -> KeepalivedConfiguration {
        // global_defs first: vrrp_version and garp defaults apply to every instance.
        for s in statements where s.keyword == "global_defs" { try readGlobal(s) }
        for s in statements where s.keyword == "virtual_server_group" { try readVirtualServerGroup(s) }
        config.vrrpFingerprint = statements.filter { !["virtual_server", "virtual_server_group"].contains($0.keyword) }
            .map(\.fingerprint).joined(separator: "\n")
        for s in statements {
            switch s.keyword {
            case "global_defs", "virtual_server_group":
                continue
            case "vrrp_script":
                let script = try readScript(s)
                if config.scripts[script.name] != nil { throw ConfigError(s.location, "vrrp_script \(script.name) is defined twice") }
                config.scripts[script.name] = script
            case "track_file", "vrrp_track_file":
                let file = try readTrackFile(s)
                if config.trackFiles[file.name] != nil { throw ConfigError(s.location, "track_file \(file.name) is defined twice") }
                config.trackFiles[file.name] = file
            case "vrrp_track_process":
                let process = try readTrackProcess(s)
                if config.trackProcesses[process.name] != nil { throw ConfigError(s.location, "vrrp_track_process \(process.name) is defined twice") }
                config.trackProcesses[process.name] = process
            case "vrrp_instance":
                var instance = try readInstance(s)
                instance.fingerprint = s.fingerprint
                config.instances.append(instance)
            case "vrrp_sync_group":
                config.syncGroups.append(try readSyncGroup(s))
            case "virtual_server":
                if let server = try readVirtualServer(s) { config.virtualServers.append(server) }
            default:
                if let why = unsupportedTopLevel[s.keyword] {
                    warn(s, "'\(s.keyword)' ignored: \(why)")
                } else {
                    warn(s, "unknown keyword '\(s.keyword)' ignored")
                }
            }
        }
        try check()
        return config
    }

    mutating func warn(_ s: ConfigStatement, _ message: String) {
        config.warnings.append(ConfigWarning(location: s.location, message: message))
    }

    // MARK: global_defs

    mutating func readGlobal(_ block: ConfigStatement) throws {
        var fifoOrder: [String] = []
        var fifoScripts: [String: NotifyCommand] = [:]
        for s in block.block ?? [] {
            switch s.keyword {
            case "router_id": config.global.routerID = try one(s)
            case "notification_email":
                config.global.notificationEmails += (s.block ?? []).map(\.keyword) + s.arguments
            case "notification_email_from": config.global.notificationEmailFrom = try one(s)
            case "smtp_server":
                let host = try one(s, allowMore: true)
                let port = s.arguments.count > 1 ? try integer(s, s.arguments[1], 1...65535) : 25
                config.global.smtpServer = (host, port)
            case "smtp_helo_name": config.global.smtpHeloName = try one(s)
            case "smtp_connect_timeout": config.global.smtpConnectTimeout = try integer(s, try one(s), 1...3600)
            case "script_user":
                let user = try one(s, allowMore: true)
                config.global.scriptUser = (user, s.arguments.count > 1 ? s.arguments[1] : nil)
            case "enable_script_security": config.global.enableScriptSecurity = true
            case "vrrp_version": config.global.vrrpVersion = try version(s)
            case "vrrp_garp_master_delay": config.global.garpMasterDelay = try integer(s, try one(s), 0...3600)
            case "vrrp_garp_master_repeat": config.global.garpMasterRepeat = try integer(s, try one(s), 1...100)
            case "vrrp_garp_master_refresh": config.global.garpMasterRefresh = try integer(s, try one(s), 0...86400)
            case "vrrp_garp_lower_prio_repeat": config.global.garpLowerPriorityRepeat = try integer(s, try one(s), 0...100)
            case "vrrp_garp_lower_prio_delay": config.global.garpLowerPriorityDelay = try integer(s, try one(s), 0...3600)
            case "vrrp_garp_master_refresh_repeat": config.global.garpMasterRefreshRepeat = try integer(s, try one(s), 1...100)
            case "vrrp_skip_check_adv_addr": config.global.skipCheckAdvertAddresses = true
            case "tandem_http":
                let address = try one(s)
                guard HostPort(address) != nil else {
                    throw ConfigError(s.location, "tandem_http must be ADDR:PORT with a port from 1 to 65535 (e.g. 127.0.0.1:9123, [::1]:9123), not '\(address)'")
                }
                config.global.tandemHTTP = address
            case "notify_fifo", "vrrp_notify_fifo":
                let path = try one(s, allowMore: true)
                if let other = config.global.notifyFIFOs.first(where: { $0.path == path }) {
                    throw ConfigError(s.location, "\(s.keyword) \(path) is already the FIFO of \(other.location)")
                }
                if s.arguments.count > 3 { warn(s, "\(s.keyword): only PATH [USER [GROUP]]: '\(s.arguments[3...].joined(separator: " "))' ignored") }
                let owner = s.arguments.count > 1 ? (user: s.arguments[1], group: s.arguments.count > 2 ? s.arguments[2] : nil) : nil
                fifoOrder.append(s.keyword)
                config.global.notifyFIFOs.append(NotifyFIFOConfig(path: path, location: s.location, owner: owner))
            case "notify_fifo_script", "vrrp_notify_fifo_script":
                fifoScripts[s.keyword == "notify_fifo_script" ? "notify_fifo" : "vrrp_notify_fifo"] = try notify(s)
            case "smtp_alert": config.global.smtpAlert = try flag(s)
            case "smtp_alert_vrrp": config.global.smtpAlertVRRP = try flag(s)
            case "smtp_alert_checker": config.global.smtpAlertChecker = try flag(s)
            case "notification_email_to", "enable_traps", "enable_snmp_vrrp", "enable_snmp_keepalived", "enable_dbus",
                 "vrrp_strict", "vrrp_iptables", "vrrp_ipsets", "nftables", "lvs_id", "lvs_sync_daemon", "lvs_timeouts",
                 "lvs_flush", "vrrp_mcast_group4", "vrrp_mcast_group6", "dynamic_interfaces", "use_pid_dir",
                 "vrrp_no_swap", "checker_no_swap", "vrrp_priority", "checker_priority", "vrrp_rt_priority",
                 "checker_rt_priority", "max_auto_priority", "vrrp_lower_prio_no_advert",
                 "vrrp_higher_prio_send_advert", "vrrp_check_unicast_src", "vrrp_min_garp", "vrrp_garp_interval",
                 "vrrp_gna_interval", "vrrp_startup_delay":
                warn(s, "global_defs '\(s.keyword)' is not supported by tandem vrrp; ignored")
            default:
                warn(s, "unknown global_defs keyword '\(s.keyword)' ignored")
            }
        }
        for (k, keyword) in fifoOrder.enumerated() { config.global.notifyFIFOs[k].script = fifoScripts[keyword] }
        for (keyword, script) in fifoScripts where !fifoOrder.contains(keyword) {
            warn(ConfigStatement(keyword: keyword + "_script", arguments: [], block: nil, location: script.location),
                 "\(keyword)_script without \(keyword): ignored")
        }
    }

    // MARK: vrrp_script

    mutating func readScript(_ block: ConfigStatement) throws -> VRRPScript {
        guard let name = block.arguments.first else { throw ConfigError(block.location, "vrrp_script needs a name") }
        var script = VRRPScript(name: name, command: "", location: block.location)
        for s in block.block ?? [] {
            switch s.keyword {
            case "script": script.command = try commandLine(s)
            case "interval": script.interval = try seconds(s, try one(s), 0.01...86400)
            case "timeout": script.timeout = try seconds(s, try one(s), 0.01...86400)
            case "fall": script.fall = try integer(s, try one(s), 1...1000)
            case "rise": script.rise = try integer(s, try one(s), 1...1000)
            case "weight":
                script.weight = try integer(s, try one(s, allowMore: true), -253...253)
                script.reverse = s.arguments.dropFirst().contains("reverse")
            case "init_fail": script.initFail = true
            case "user":
                script.user = (try one(s, allowMore: true), s.arguments.count > 1 ? s.arguments[1] : nil)
            default:
                warn(s, "unknown vrrp_script keyword '\(s.keyword)' ignored")
            }
        }
        if script.command.isEmpty { throw ConfigError(block.location, "vrrp_script \(name) has no 'script'") }
        return script
    }

    // MARK: track_file, vrrp_track_process

    mutating func readTrackFile(_ block: ConfigStatement) throws -> TrackFile {
        guard let name = block.arguments.first else { throw ConfigError(block.location, "\(block.keyword) needs a name") }
        var file = TrackFile(name: name, path: "", location: block.location)
        for s in block.block ?? [] {
            switch s.keyword {
            case "file": file.path = try one(s)
            case "weight":
                file.weight = try integer(s, try one(s, allowMore: true), -2_147_483_647...2_147_483_647)
                file.reverse = s.arguments.dropFirst().contains("reverse")
            case "init_file":
                var value = 0
                for argument in s.arguments {
                    if argument == "overwrite" { file.initOverwrite = true } else { value = try integer(s, argument, Int(Int32.min)...Int(Int32.max)) }
                }
                file.initValue = value
            default:
                warn(s, "unknown track_file keyword '\(s.keyword)' ignored")
            }
        }
        if file.path.isEmpty { throw ConfigError(block.location, "track_file \(name) has no 'file'") }
        return file
    }

    mutating func readTrackProcess(_ block: ConfigStatement) throws -> TrackProcess {
        guard let name = block.arguments.first else { throw ConfigError(block.location, "vrrp_track_process needs a name") }
        var program: String?
        var parameters: [String] = []
        var match: ProcessPattern.ParameterMatch?
        var fullCommand = false
        var process = TrackProcess(name: name, pattern: ProcessPattern(program: ""), location: block.location)
        var processLine: ConfigStatement?
        for s in block.block ?? [] {
            switch s.keyword {
            case "process":
                program = try one(s, allowMore: true)
                parameters = Array(s.arguments.dropFirst())
                processLine = s
            case "param_match":
                switch s.arguments.first {
                case nil: match = .exact
                case "initial": match = .initial
                case "partial": match = .partial
                case let other?: throw ConfigError(s.location, "param_match must be initial or partial (or nothing), not '\(other)'")
                }
            case "weight":
                process.weight = try integer(s, try one(s, allowMore: true), -254...254)
                process.reverse = s.arguments.dropFirst().contains("reverse")
            case "quorum": process.quorum = try integer(s, try one(s), 1...65535)
            case "quorum_max": process.quorumMax = try integer(s, try one(s), 0...65535)
            case "fork_delay": process.forkDelay = try seconds(s, try one(s), 0...3600)
            case "terminate_delay": process.terminateDelay = try seconds(s, try one(s), 0...3600)
            case "delay":
                let delay = try seconds(s, try one(s), 0...3600)
                process.forkDelay = delay
                process.terminateDelay = delay
            case "full_command": fullCommand = true
            default:
                warn(s, "unknown vrrp_track_process keyword '\(s.keyword)' ignored")
            }
        }
        guard let program, let processLine else { throw ConfigError(block.location, "vrrp_track_process \(name) has no 'process'") }
        // keepalived: quorum_max 0 (with no quorum above 1) means "up while none runs".
        if process.quorumMax == 0 && process.quorum == 1 { process.quorum = 0 }
        if let max = process.quorumMax, max < process.quorum {
            throw ConfigError(block.location, "vrrp_track_process \(name): quorum_max \(max) is below quorum \(process.quorum)")
        }
        process.pattern = ProcessPattern(program: program, parameters: parameters, parameterMatch: match, fullCommand: fullCommand)
        if !process.pattern.fullCommand && program.utf8.count > 15 {
            warn(processLine, "vrrp_track_process \(name): '\(program)' is longer than a process name can be (15 characters): it never matches without full_command (as in keepalived)")
        }
        return process
    }

    // MARK: vrrp_instance

    mutating func readInstance(_ block: ConfigStatement) throws -> VRRPInstanceConfig {
        guard let name = block.arguments.first else { throw ConfigError(block.location, "vrrp_instance needs a name") }
        var instance = VRRPInstanceConfig(name: name, location: block.location)
        instance.version = config.global.vrrpVersion
        var vridSeen = false
        var advertText: (ConfigStatement, String)?
        var useVMAC: (ConfigStatement, String?)?
        var transmitOnBase: ConfigStatement?
        for s in block.block ?? [] {
            switch s.keyword {
            case "state":
                switch try one(s).uppercased() {
                case "MASTER": instance.initialMaster = true
                case "BACKUP": instance.initialMaster = false
                case let other: throw ConfigError(s.location, "state must be MASTER or BACKUP, not '\(other)'")
                }
            case "interface": instance.interface = try one(s)
            case "virtual_router_id":
                instance.vrid = UInt8(try integer(s, try one(s), 1...255))
                vridSeen = true
            case "priority": instance.priority = UInt8(try integer(s, try one(s), 1...255))
            case "advert_int": advertText = (s, try one(s))
            case "vrrp_version", "version": instance.version = try version(s)
            case "nopreempt": instance.nopreempt = true
            case "preempt": instance.nopreempt = false
            case "preempt_delay": instance.preemptDelay = try seconds(s, try one(s), 0...1000)
            case "unicast_src_ip", "mcast_src_ip": instance.sourceAddress = try address(s, try one(s))
            case "unicast_peer":
                for peer in s.block ?? [] {
                    instance.unicastPeers.append(try address(peer, peer.keyword))
                    if !peer.arguments.isEmpty { warn(peer, "unicast_peer options \(peer.arguments.joined(separator: " ")) are not supported; ignored") }
                }
            case "authentication": instance.authentication = try readAuthentication(s)
            case "virtual_ipaddress", "virtual_ipaddress_excluded":
                for entry in s.block ?? [] {
                    var vip = try readVirtualAddress(entry)
                    vip.excluded = s.keyword == "virtual_ipaddress_excluded"
                    instance.virtualAddresses.append(vip)
                }
            case "track_script":
                for entry in s.block ?? [] { instance.trackScripts.append(try readTrack(entry)) }
            case "track_interface":
                for entry in s.block ?? [] { instance.trackInterfaces.append(try readTrack(entry)) }
            case "track_file":
                for entry in s.block ?? [] { instance.trackFiles.append(try readTrack(entry)) }
            case "track_process":
                for entry in s.block ?? [] { instance.trackProcesses.append(try readTrack(entry)) }
            case "notify_master": instance.notifyMaster = try notify(s)
            case "notify_backup": instance.notifyBackup = try notify(s)
            case "notify_fault": instance.notifyFault = try notify(s)
            case "notify_stop": instance.notifyStop = try notify(s)
            case "notify_deleted":
                instance.notifyDeleted = true
                instance.notifyDeletedScript = s.arguments.isEmpty ? nil : try notify(s)
            case "notify": instance.notify = try notify(s)
            case "notify_master_rx_lower_pri": instance.notifyMasterRxLowerPriority = try notify(s)
            case "smtp_alert": instance.smtpAlert = try flag(s)
            case "garp_master_delay": instance.garpMasterDelay = try integer(s, try one(s), 0...3600)
            case "garp_master_repeat": instance.garpMasterRepeat = try integer(s, try one(s), 1...100)
            case "garp_master_refresh": instance.garpMasterRefresh = try integer(s, try one(s), 0...86400)
            case "garp_lower_prio_repeat": instance.garpLowerPriorityRepeat = try integer(s, try one(s), 0...100)
            case "garp_lower_prio_delay": instance.garpLowerPriorityDelay = try integer(s, try one(s), 0...3600)
            case "garp_master_refresh_repeat": instance.garpMasterRefreshRepeat = try integer(s, try one(s), 1...100)
            case "down_timer_adverts": instance.downTimerAdverts = try integer(s, try one(s), 1...100)
            case "lower_prio_no_advert": instance.lowerPriorityNoAdvert = try flag(s)
            case "dont_track_primary": instance.dontTrackPrimary = true
            case "debug", "accept", "no_accept":
                break  // no effect here: tandem never filters traffic to the addresses
            case "use_vmac":
                if s.arguments.count > 1 { throw ConfigError(s.location, "'use_vmac' takes at most one value (the interface name), got \(s.arguments.count)") }
                if let name = s.arguments.first, let problem = VirtualMAC.nameProblem(name) {
                    throw ConfigError(s.location, "use_vmac: \(problem)")
                }
                useVMAC = (s, s.arguments.first)
            case "vmac_xmit_base":
                transmitOnBase = s
            case "use_ipvlan", "native_ipv6", "virtual_routes", "virtual_rules",
                 "track_bfd",
                 "strict_mode", "check_unicast_src", "higher_prio_send_advert",
                 "promote_secondaries", "unicast_ttl", "old_unicast_checksum", "kernel_rx_buf_size",
                 "skip_check_adv_addr", "linkbeat_use_polling", "notify_priority_changes", "track_src_ip":
                warn(s, "vrrp_instance '\(s.keyword)' is not supported by tandem vrrp; ignored")
            default:
                warn(s, "unknown vrrp_instance keyword '\(s.keyword)' ignored")
            }
        }
        guard !instance.interface.isEmpty else { throw ConfigError(block.location, "vrrp_instance \(name) has no 'interface'") }
        guard vridSeen else { throw ConfigError(block.location, "vrrp_instance \(name) has no 'virtual_router_id'") }
        if let first = instance.virtualAddresses.first(where: { !$0.excluded }) { instance.family = first.address.family }
        if instance.family == .ipv6 && instance.version == .v2 {
            throw ConfigError(block.location, "vrrp_instance \(name): IPv6 virtual addresses need vrrp_version 3")
        }
        if let (s, name) = useVMAC {
            if transmitOnBase == nil && !instance.unicastPeers.isEmpty {
                // keepalived 2.2.7: "(VI_1) unicast with use_vmac requires vmac_xmit_base - setting".
                warn(s, "vrrp_instance \(instance.name): unicast with use_vmac requires vmac_xmit_base: set, as keepalived does (adverts go out \(instance.interface))")
            }
            let vmac = VirtualMAC(vrid: instance.vrid, family: instance.family, base: instance.interface, name: name,
                                  transmitOnBase: transmitOnBase != nil || !instance.unicastPeers.isEmpty)
            if vmac.name == instance.interface {
                throw ConfigError(s.location, "use_vmac: the virtual MAC interface cannot be the instance's own interface \(instance.interface)")
            }
            instance.vmac = vmac
            instance.vmacLocation = s.location
        } else if let s = transmitOnBase {
            warn(s, "vrrp_instance \(name): vmac_xmit_base without use_vmac has no effect; ignored")
        }
        if let (s, text) = advertText {
            let value = try seconds(s, text, 0.01...255)
            switch instance.version {
            case .v2:
                // keepalived: v2 carries whole seconds; rounds, minimum 1.
                instance.advertIntervalCentiseconds = max(1, Int((value).rounded())) * 100
            case .v3:
                guard value <= 40.95 else { throw ConfigError(s.location, "advert_int \(text) is above VRRPv3's maximum 40.95") }
                instance.advertIntervalCentiseconds = max(1, Int((value * 100).rounded()))
            }
        }
        if instance.nopreempt && instance.initialMaster {
            warn(block, "vrrp_instance \(name): nopreempt needs 'state BACKUP'; ignored, as keepalived does")
            instance.nopreempt = false
        }
        if instance.nopreempt && instance.priority == 255 {
            // keepalived 2.2.7: "(A) nopreempt is incompatible with priority 255. resetting nopreempt" (-t exits 5).
            warn(block, "vrrp_instance \(name): nopreempt is incompatible with priority 255 (the address owner); ignored, as keepalived does")
            instance.nopreempt = false
        }
        if instance.preemptDelay > 0 && instance.initialMaster {
            warn(block, "vrrp_instance \(name): preempt_delay needs 'state BACKUP'; ignored, as keepalived does")
            instance.preemptDelay = 0
        }
        for vip in instance.virtualAddresses where vip.address.family != instance.family && !vip.excluded {
            throw ConfigError(vip.location, "virtual address \(vip.address) is not of the instance's address family")
        }
        return instance
    }

    func readAuthentication(_ block: ConfigStatement) throws -> VRRPAuthentication {
        var type = "PASS"
        var pass: String?
        for s in block.block ?? [] {
            switch s.keyword {
            case "auth_type": type = try one(s).uppercased()
            case "auth_pass": pass = try one(s, allowMore: true)
            default: throw ConfigError(s.location, "unknown authentication keyword '\(s.keyword)'")
            }
        }
        switch type {
        case "PASS":
            guard let pass else { throw ConfigError(block.location, "authentication PASS needs auth_pass") }
            return .pass(pass)
        case "AH":
            throw ConfigError(block.location, "auth_type AH is not supported by tandem vrrp (use PASS, or none)")
        default:
            throw ConfigError(block.location, "auth_type must be PASS or AH, not '\(type)'")
        }
    }

    mutating func readVirtualAddress(_ s: ConfigStatement) throws -> VirtualAddress {
        // Empty pieces kept: "/24" is an empty address (an error naming it), not a crash.
        let parts = s.keyword.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let vip = try address(s, String(parts[0]))
        let maxPrefix = vip.family == .ipv4 ? 32 : 128
        let prefix = parts.count > 1 ? try integer(s, String(parts[1]), 0...maxPrefix) : maxPrefix
        var result = VirtualAddress(address: vip, prefixLength: prefix, location: s.location)
        var i = 0
        while i < s.arguments.count {
            let key = s.arguments[i]
            guard i + 1 < s.arguments.count || key == "no_track" else {
                throw ConfigError(s.location, "virtual address option '\(key)' needs a value")
            }
            switch key {
            case "dev": result.device = s.arguments[i + 1]
            case "label": result.label = s.arguments[i + 1]
            case "no_track":
                warn(s, "virtual address option 'no_track' is not supported; ignored")
                i += 1
                continue
            case "brd", "broadcast", "scope", "preferred_lft", "valid_lft":
                warn(s, "virtual address option '\(key)' is not supported (tandem sets the scope and lifetimes); ignored")
            default:
                throw ConfigError(s.location, "unknown virtual address option '\(key)'")
            }
            i += 2
        }
        return result
    }

    func readTrack(_ s: ConfigStatement) throws -> TrackReference {
        var track = TrackReference(name: s.keyword, location: s.location)
        if let w = s.arguments.firstIndex(of: "weight") {
            guard w + 1 < s.arguments.count else { throw ConfigError(s.location, "weight needs a value") }
            track.weight = try integer(s, s.arguments[w + 1], -254...254)
            track.reverse = s.arguments.contains("reverse")
        }
        return track
    }

    // MARK: vrrp_sync_group

    mutating func readSyncGroup(_ block: ConfigStatement) throws -> SyncGroup {
        guard let name = block.arguments.first else { throw ConfigError(block.location, "vrrp_sync_group needs a name") }
        var group = SyncGroup(name: name, members: [], location: block.location)
        for s in block.block ?? [] {
            switch s.keyword {
            case "group": group.members += (s.block ?? []).map(\.keyword)
            case "notify_master": group.notifyMaster = try notify(s)
            case "notify_backup": group.notifyBackup = try notify(s)
            case "notify_fault": group.notifyFault = try notify(s)
            case "notify_stop": group.notifyStop = try notify(s)
            case "notify": group.notify = try notify(s)
            case "smtp_alert": group.smtpAlert = try flag(s)
            default: warn(s, "vrrp_sync_group '\(s.keyword)' is not supported by tandem vrrp; ignored")
            }
        }
        return group
    }

    // MARK: cross-checks

    mutating func check() throws {
        var seen: [String: VRRPInstanceConfig] = [:]
        var vrids: [String: VRRPInstanceConfig] = [:]
        var vmacs: [String: VRRPInstanceConfig] = [:]
        for instance in config.instances {
            if let other = seen[instance.name] {
                throw ConfigError(instance.location, "vrrp_instance \(instance.name) is already defined at \(other.location)")
            }
            seen[instance.name] = instance
            let key = "\(instance.interface)/\(instance.family)/\(instance.vrid)"
            if let other = vrids[key] {
                throw ConfigError(instance.location, "virtual_router_id \(instance.vrid) on \(instance.interface) is already used by \(other.name) at \(other.location)")
            }
            vrids[key] = instance
            if let vmac = instance.vmac {
                if let other = vmacs[vmac.name] {
                    throw ConfigError(instance.vmacLocation ?? instance.location,
                                      "use_vmac: interface \(vmac.name) is already the virtual MAC interface of \(other.name) at \(other.vmacLocation ?? other.location)")
                }
                vmacs[vmac.name] = instance
            }
            for track in instance.trackScripts where config.scripts[track.name] == nil {
                throw ConfigError(track.location, "track_script \(track.name): no vrrp_script of that name")
            }
            for track in instance.trackFiles where config.trackFiles[track.name] == nil {
                throw ConfigError(track.location, "track_file \(track.name): no track_file block of that name")
            }
            for track in instance.trackProcesses where config.trackProcesses[track.name] == nil {
                throw ConfigError(track.location, "track_process \(track.name): no vrrp_track_process of that name")
            }
        }
        for instance in config.instances {
            for vip in instance.virtualAddresses where vip.device != nil && vmacs[vip.device!] != nil && vmacs[vip.device!]!.name != instance.name {
                throw ConfigError(vip.location, "virtual address \(vip.address): dev \(vip.device!) is the virtual MAC interface of \(vmacs[vip.device!]!.name)")
            }
            if let other = vmacs[instance.interface] {
                throw ConfigError(instance.location, "vrrp_instance \(instance.name): interface \(instance.interface) is the virtual MAC interface of \(other.name) (use_vmac at \(other.vmacLocation ?? other.location))")
            }
        }
        try checkVirtualServers()
        for group in config.syncGroups {
            for member in group.members where seen[member] == nil {
                throw ConfigError(group.location, "vrrp_sync_group \(group.name): no vrrp_instance \(member)")
            }
        }
    }

    // MARK: values

    func one(_ s: ConfigStatement, allowMore: Bool = false) throws -> String {
        guard let first = s.arguments.first else { throw ConfigError(s.location, "'\(s.keyword)' needs a value") }
        if !allowMore && s.arguments.count > 1 {
            throw ConfigError(s.location, "'\(s.keyword)' takes one value, got \(s.arguments.count)")
        }
        return first
    }

    func integer(_ s: ConfigStatement, _ text: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw ConfigError(s.location, "'\(s.keyword)': '\(text)' is not an integer in \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    func seconds(_ s: ConfigStatement, _ text: String, _ range: ClosedRange<Double>) throws -> Double {
        guard let value = Double(text), range.contains(value) else {
            throw ConfigError(s.location, "'\(s.keyword)': '\(text)' is not a number of seconds in \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    func address(_ s: ConfigStatement, _ text: String) throws -> IPAddress {
        guard let address = IPAddress(text) else { throw ConfigError(s.location, "'\(text)' is not an IP address") }
        return address
    }

    func version(_ s: ConfigStatement) throws -> VRRPVersion {
        switch try one(s) {
        case "2": .v2
        case "3": .v3
        case let other: throw ConfigError(s.location, "vrrp_version must be 2 or 3, not '\(other)'")
        }
    }

    func flag(_ s: ConfigStatement) throws -> Bool {
        guard let value = s.arguments.first else { return true }
        switch value.lowercased() {
        case "true", "on", "yes": return true
        case "false", "off", "no": return false
        default: throw ConfigError(s.location, "'\(s.keyword)' takes true or false, not '\(value)'")
        }
    }

    /// A script: the first (usually quoted) word is the command line.
    func commandLine(_ s: ConfigStatement) throws -> String {
        guard !s.arguments.isEmpty else { throw ConfigError(s.location, "'\(s.keyword)' needs a command") }
        return s.arguments.joined(separator: " ")
    }

    func notify(_ s: ConfigStatement) throws -> NotifyCommand {
        let command = try one(s, allowMore: true)
        let user = s.arguments.count > 1 ? (user: s.arguments[1], group: s.arguments.count > 2 ? s.arguments[2] : nil) : nil
        return NotifyCommand(command: command, user: user, location: s.location)
    }
}
