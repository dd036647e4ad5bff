import Alerts
import KeepalivedConfig
import Synchronization
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// Emails being sent: shutdown waits for them (briefly) so the STOP alert goes out.
final class MailInFlight: Sendable {
    let count = Atomic<Int>(0)
}

/// `tandem vrrp`: runs the VRRP instances of a keepalived.conf. One thread, one poll() loop over
/// the raw sockets and a signal pipe; every decision is `VRRPInstance`'s. Sendable because the
/// loop's state is touched only by the thread in `run`; other threads use `post` and `states`,
/// which take a lock.
public final class VRRPDaemon: @unchecked Sendable {
    /// Lifetime of an address tandem adds, in seconds; renewed every `refreshInterval` while
    /// master, so it outlives a killed tandem by at most this long.
    public static let addressLifetime: UInt32 = 3
    public static let refreshInterval: Duration = .seconds(1)

    struct Instance {
        var config: VRRPInstanceConfig
        var core: VRRPInstance
        var filter: VRRPAdvertFilter
        var socket: VRRPSocket
        /// Where adverts go and come from: the instance's interface, or its VMAC.
        var interface: NetworkInterface
        var source: IPAddress
        var destinations: [IPAddress]
        var addresses: [(vip: VirtualAddress, interface: NetworkInterface)]
        var lastRejectionLog: Duration?
        var suppressedRejections = 0
    }

    struct Check {
        var script: VRRPScript
        var tracker: CheckTracker
        var user: ScriptUser?
        var nextRun: Duration = .zero
        /// (instance index, tracked object name, reversed)
        var watchers: [(Int, String, Bool)] = []
    }

    /// A `track_file` some instance tracks: its last value and who tracks it with what weight.
    struct FileWatch {
        var file: TrackFile
        var value: Int
        /// (instance index, tracked object name, weight, reverse)
        var watchers: [(Int, String, Int, Bool)] = []
    }

    /// A `vrrp_track_process` some instance tracks.
    struct ProcessWatch {
        var process: TrackProcess
        var quorum: ProcessQuorum
        /// (instance index, tracked object name, reversed)
        var watchers: [(Int, String, Bool)] = []
    }

    /// Each sync group's own state (its notify scripts and FIFO lines), by group name.
    var groupStates: [String: VRRPState] = [:]
    /// Open notify FIFOs (`notify_fifo`, `vrrp_notify_fifo`).
    var fifos: [(path: String, fd: Int32)] = []
    /// The FIFO scripts started, stopped with us.
    var fifoScripts: [pid_t] = []
    /// The notify FIFOs this run created (their owner follows the configuration; others' not).
    var createdFIFOs: Set<String> = []
    var fileWatch: [String: FileWatch] = [:]
    var processWatch: [String: ProcessWatch] = [:]
    var nextProcessScan: Duration = .zero

    /// The running configuration; a reload replaces it (`applyReload`).
    var configuration: KeepalivedConfiguration
    let log: @Sendable (String) -> Void
    var instances: [Instance] = []
    var checks: [String: Check] = [:]
    var interfaceWatch: [String: (up: Bool, watchers: [(Int, String)])] = [:]
    let netlink: AddressNetlink
    let runner: ScriptRunner
    var defaultScriptUser: ScriptUser?
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant
    var smtp: SMTPAlert?
    /// Sync group of each member instance: (tracked object name, member indices).
    var syncGroupOf: [Int: VRRPSyncGroup] = [:]
    var propagatingSync = false
    let mailInFlight = MailInFlight()
    /// Objects the embedding program (the node agent) sets up or down through `post`.
    let externalTracked: [TrackedObject]
    /// Removes our addresses if we die without removing them (nil: none running).
    var guardian: AddressGuard?
    /// How long the address guard keeps a dead daemon's addresses while no new master is heard,
    /// if longer than Master_Down_Interval (`Farewell.holdMilliseconds`).
    public let farewellHoldMilliseconds: Int?
    /// Asked when a backup's timer would make it master (Master_Down_Interval, preemption):
    /// false holds the claim back (asked again every 20 ms) — the node agent's "heard from a
    /// majority just now", which an isolated node fails before VRRP's timers run out.
    private let claimGate: (@Sendable () -> Bool)?
    /// Told of every state change (instance name, new state, priority, its addresses, and the
    /// weight-0 tracked objects down: a FAULT's causes): the alerts. Called on the VRRP thread;
    /// must not block.
    let onStateChange: (@Sendable (String, VRRPState, UInt8, [String], [String]) -> Void)?
    /// Called with an instance's addresses just before they are removed (the node agent's
    /// `direct` placement resets the local Redis's clients on them while the address is still
    /// here to send from). Called on the VRRP thread.
    let beforeRelease: (@Sendable ([String]) -> Void)?
    /// Instances whose claim the gate is holding back.
    var gated: Set<Int> = []
    let control = DaemonControl()
    /// Read end of the self-pipe the signal handlers poke (VRRPDaemon+Signals.swift).
    var signalPipeRead: Int32 = -1
    /// Called on the daemon's thread on SIGHUP (with `run(handleSignals: true)`); nil: SIGHUP ignored.
    let onReload: (@Sendable () -> Void)?

    /// What an embedding program asks of a running daemon (`post`), from any thread.
    public enum Control: Sendable {
        /// An object given in `externalTracked` went up or down (every instance hears it).
        case tracked(name: String, up: Bool)
        /// Take over now if backup (`VRRPEvent.claim`).
        case claim
        /// Leave as on SIGTERM (priority-0 advert, addresses removed) and return from `run`.
        case stop
    }

    /// Hands a command to the daemon's loop (thread-safe; wakes the loop).
    public func post(_ command: Control) { control.post(command) }

    /// Each instance's state, as last entered (thread-safe).
    public var states: [VRRPState] { control.states.withLock { $0 } }

    /// Each instance's name (`vrrp_instance NAME`), in the order of `states` (thread-safe).
    public var instanceNames: [String] { control.instances.withLock { $0.map(\.name) } }

    /// Each instance's virtual addresses (`ADDR/PREFIX`), in the order of `states` (thread-safe).
    public var instanceAddresses: [[String]] {
        control.instances.withLock { $0.map { $0.addresses.map { "\($0.address)/\($0.prefixLength)" } } }
    }

    /// The instances carrying `address` (thread-safe; a reload changes the lists).
    public func instancesCarrying(_ address: IPAddress) -> [Int] {
        control.instances.withLock { list in list.indices.filter { i in list[i].addresses.contains { $0.address == address } } }
    }

    /// How many state changes each instance has made, in the order of `states` (thread-safe).
    public var transitionCounts: [Int] { control.transitions.withLock { $0 } }

    /// How many adverts with a priority above 0 have come from other routers (any instance):
    /// each says another router holds the addresses (only a master advertises). Thread-safe.
    public var holderAdvertsHeard: Int { control.holderAdverts.withLock { $0 } }

    /// Sets up sockets and removes stale addresses of every instance. Throws on a missing
    /// interface, a missing source address, or no permission.
    /// `addressGuard`: the program and argv of `tandem address-guard` (see `AddressGuard`); nil:
    /// no guard, a SIGKILLed daemon's addresses last their lifetime.
    public init(configuration: KeepalivedConfiguration, externalTracked: [TrackedObject] = [],
                addressGuard: (program: String, arguments: [String])? = nil,
                claimGate: (@Sendable () -> Bool)? = nil,
                onReload: (@Sendable () -> Void)? = nil,
                onStateChange: (@Sendable (String, VRRPState, UInt8, [String], [String]) -> Void)? = nil,
                beforeRelease: (@Sendable ([String]) -> Void)? = nil,
                farewellHoldMilliseconds: Int? = nil,
                log: @escaping @Sendable (String) -> Void) throws {
        self.configuration = configuration
        self.farewellHoldMilliseconds = farewellHoldMilliseconds
        self.beforeRelease = beforeRelease
        self.claimGate = claimGate
        self.onReload = onReload
        self.onStateChange = onStateChange
        self.log = log
        self.externalTracked = externalTracked
        self.origin = clock.now
        netlink = try AddressNetlink()
        if let addressGuard, !configuration.instances.isEmpty {
            do {
                guardian = try AddressGuard(program: addressGuard.program, arguments: addressGuard.arguments, log: log)
            } catch {
                log("WARNING - \(error); a SIGKILLed tandem's virtual addresses will last their lifetime (\(VRRPDaemon.addressLifetime) s)")
            }
        }
        runner = ScriptRunner(enableScriptSecurity: configuration.global.enableScriptSecurity, log: log)
        try resolveScriptUser()
        for group in configuration.syncGroups {
            let members = group.members.compactMap { name in configuration.instances.firstIndex { $0.name == name } }
            for m in members { syncGroupOf[m] = VRRPSyncGroup(name: group.name, members: members) }
        }
        setUpTrackedFilesAndProcesses()
        openNotifyFIFOs()
        do {
            for (index, config) in configuration.instances.enumerated() {
                instances.append(try makeInstance(config, index: index))
            }
        } catch {
            // The VMACs made so far go with us (`delete` touches only macvlans).
            deleteVMACs(configuration.instances.compactMap { $0.vmac?.name })
            throw error
        }
        setUpChecks()
        publishInstances()
        smtp = makeSMTP(configuration.global)
    }

    func now() -> Duration { origin.duration(to: clock.now) }

    /// Deletes VMAC interfaces (keepalived deletes an instance's when it stops).
    func deleteVMACs(_ names: [String]) {
        for name in names where VirtualMACLink.delete(name, log: log) { log("removed VMAC interface \(name)") }
    }

    private func resolveScriptUser() throws {
        defaultScriptUser = try scriptUser(for: configuration.global)
    }

    /// The user scripts run as unless they name one: `script_user`, else keepalived_script if
    /// it exists. Throws when `script_user` names no user or group.
    func scriptUser(for global: GlobalDefinitions) throws -> ScriptUser? {
        if let (name, group) = global.scriptUser {
            guard let user = ScriptUser.resolve(name, group: group) else {
                throw SystemError("script_user \(name)\(group.map { " " + $0 } ?? ""): no such user or group", code: ENOENT)
            }
            return user
        } else if let user = ScriptUser.resolve("keepalived_script", group: nil) {
            return user
        } else if global.enableScriptSecurity {
            log("WARNING - default user 'keepalived_script' for script execution does not exist - please create; scripts run as root")
        }
        return nil
    }

    /// The mailer for `smtp_alert`, when `smtp_server` is set.
    func makeSMTP(_ global: GlobalDefinitions) -> SMTPAlert? {
        guard let server = global.smtpServer else { return nil }
        let host = hostName()
        return SMTPAlert(
            host: server.host, port: server.port,
            from: global.notificationEmailFrom ?? "keepalived@\(host)",
            to: global.notificationEmails,
            heloName: global.smtpHeloName ?? host,
            connectTimeout: global.smtpConnectTimeout)
    }

    /// An instance at startup: its interface, addresses (a previous run's copies removed, as
    /// keepalived does), source and socket.
    private func makeInstance(_ config: VRRPInstanceConfig, index: Int) throws -> Instance {
        let (interface, addresses, source) = try resolve(config, removeStale: true)
        let socket = try openSocket(config, interface: interface, source: source)
        return assemble(config, index: index, interface: interface, addresses: addresses, source: source, socket: socket)
    }

    /// The instance's advert socket on `interface` (its own or its VMAC).
    func openSocket(_ config: VRRPInstanceConfig, interface: NetworkInterface, source: IPAddress) throws -> VRRPSocket {
        let unicast = !config.unicastPeers.isEmpty
        return try VRRPSocket(family: config.family, interface: interface, multicast: !unicast, bindAddress: unicast ? source : nil,
                              sendSource: config.vmac != nil ? source : nil)
    }

    /// The instance's interface, its addresses' devices and its source address. Throws on a
    /// missing interface or source address. `removeStale`: remove the addresses left by a
    /// previous run (at startup; not on a reload, where another instance of ours may hold them).
    func resolve(_ config: VRRPInstanceConfig, removeStale: Bool) throws
        -> (NetworkInterface, [(vip: VirtualAddress, interface: NetworkInterface)], IPAddress) {
        let interface: NetworkInterface
        do {
            interface = try NetworkInterface(name: config.interface)
        } catch let error as SystemError {
            throw SystemError("\(config.location): vrrp_instance \(config.name): interface \(config.interface)", code: error.code)
        }
        var advertInterface = interface
        var vmacInterface: NetworkInterface?
        if let vmac = config.vmac {
            let made = try VirtualMACLink.ensure(vmac, family: config.family, base: interface, location: config.vmacLocation,
                                                 instance: config.name, startup: removeStale, netlink: netlink, log: log)
            vmacInterface = made
            if vmac.advertInterface(unicast: !config.unicastPeers.isEmpty) == vmac.name { advertInterface = made }
        }
        var addresses: [(vip: VirtualAddress, interface: NetworkInterface)] = []
        for vip in config.virtualAddresses {
            let device: NetworkInterface
            do {
                device = try vip.device.map { try NetworkInterface(name: $0) } ?? vmacInterface ?? interface
            } catch let error as SystemError {
                throw SystemError("\(vip.location): virtual address \(vip.address): dev \(vip.device ?? "")", code: error.code)
            }
            addresses.append((vip, device))
            // keepalived removes its instance's addresses at startup: a previous run's may be left.
            if removeStale, try netlink.remove(vip.address, prefixLength: vip.prefixLength, interface: device.index) {
                log("(\(config.name)) removed stale virtual address \(vip.address) from \(device.name)")
            }
        }
        let vipSet = Set(config.virtualAddresses.map(\.address))
        guard let source = config.sourceAddress
            ?? NetworkInterface.addresses(of: config.interface, family: config.family).first(where: { !vipSet.contains($0) })
        else {
            throw SystemError("vrrp_instance \(config.name): interface \(config.interface) has no \(config.family == .ipv4 ? "IPv4" : "IPv6") address", code: EADDRNOTAVAIL)
        }
        return (advertInterface, addresses, source)
    }

    /// The instance's record around `socket`, its settings read from `configuration` and the
    /// tracked objects' states now (a script's from its check when it runs already).
    func assemble(_ config: VRRPInstanceConfig, index: Int, interface: NetworkInterface,
                  addresses: [(vip: VirtualAddress, interface: NetworkInterface)], source: IPAddress,
                  socket: VRRPSocket) -> Instance {
        let unicast = !config.unicastPeers.isEmpty
        let advertised = config.virtualAddresses.filter { !$0.excluded && $0.address.family == config.family }.map(\.address)
        let filter = VRRPAdvertFilter(
            version: config.version, vrid: config.vrid, family: config.family, authentication: config.authentication,
            intervalCentiseconds: config.advertIntervalCentiseconds,
            virtualAddresses: configuration.global.skipCheckAdvertAddresses ? [] : advertised, ownAddresses: [source])
        var tracked: [TrackedObject] = []
        if !config.dontTrackPrimary { tracked.append(TrackedObject(name: "interface \(config.interface)", weight: 0, up: NetworkInterface.isUp(config.interface))) }
        for track in config.trackInterfaces {
            let name = "interface \(track.name)"
            guard !tracked.contains(where: { $0.name == name }) else { continue }
            let up = NetworkInterface.isUp(track.name)
            tracked.append(TrackedObject(name: name, weight: track.weight ?? 0, up: up))
        }
        for track in config.trackScripts {
            guard let script = configuration.scripts[track.name] else { continue }
            var weight = track.weight ?? script.weight
            let reverse = track.weight != nil ? track.reverse : script.reverse
            if reverse { weight = -weight }
            let up = checks[track.name]?.tracker.up ?? !script.initFail
            tracked.append(TrackedObject(name: "script \(track.name)", weight: weight, up: reverse ? !up : up))
        }
        for track in config.trackFiles {
            guard let watch = fileWatch[track.name] else { continue }
            let (weight, reverse) = track.weight != nil ? (track.weight!, track.reverse) : (watch.file.weight, watch.file.reverse)
            tracked.append(.file(name: "file \(track.name)", offset: TrackFileValue.offset(value: watch.value, weight: weight, reverse: reverse)))
        }
        for track in config.trackProcesses {
            guard let watch = processWatch[track.name] else { continue }
            var weight = track.weight ?? watch.process.weight
            let reverse = track.weight != nil ? track.reverse : watch.process.reverse
            if reverse { weight = -weight }
            tracked.append(TrackedObject(name: "process \(track.name)", weight: weight, up: reverse ? !watch.quorum.up : watch.quorum.up))
        }
        if let group = syncGroupOf[index] { tracked.append(TrackedObject(name: group.object, weight: 0)) }
        tracked += externalTracked
        let global = configuration.global
        let refresh = config.garpMasterRefresh ?? global.garpMasterRefresh
        let settings = VRRPInstanceSettings(
            name: config.name, version: config.version, vrid: config.vrid, priority: config.priority,
            intervalCentiseconds: config.advertIntervalCentiseconds, primaryAddress: source,
            initialMaster: config.initialMaster, preempt: !config.nopreempt,
            preemptDelay: .milliseconds(Int(config.preemptDelay * 1000)), downTimerAdverts: config.downTimerAdverts,
            garpRepeat: config.garpMasterRepeat ?? global.garpMasterRepeat,
            garpDelay: .seconds(config.garpMasterDelay ?? global.garpMasterDelay),
            garpRefresh: refresh > 0 ? .seconds(refresh) : nil,
            garpRefreshRepeat: config.garpMasterRefreshRepeat ?? global.garpMasterRefreshRepeat,
            advertOnLowerPriority: !config.lowerPriorityNoAdvert,
            garpLowerPriorityRepeat: config.garpLowerPriorityRepeat ?? global.garpLowerPriorityRepeat ?? global.garpMasterRepeat,
            garpLowerPriorityDelay: .seconds(config.garpLowerPriorityDelay ?? global.garpLowerPriorityDelay ?? global.garpMasterDelay),
            addressRefresh: VRRPDaemon.refreshInterval,
            tracked: tracked)
        return Instance(
            config: config, core: VRRPInstance(settings: settings), filter: filter, socket: socket, interface: interface,
            source: source, destinations: unicast ? config.unicastPeers : [IPAddress.vrrpGroup(config.family)],
            addresses: addresses)
    }

    func setUpChecks() {
        for (index, instance) in instances.enumerated() {
            for track in instance.config.trackScripts {
                guard let script = configuration.scripts[track.name] else { continue }
                var check = checks[track.name] ?? Check(
                    script: script, tracker: CheckTracker(fall: script.fall, rise: script.rise, initiallyUp: !script.initFail),
                    user: script.user.flatMap { ScriptUser.resolve($0.user, group: $0.group) } ?? defaultScriptUser)
                let reverse = track.weight != nil ? track.reverse : script.reverse
                check.watchers.append((index, "script \(track.name)", reverse))
                checks[track.name] = check
            }
            for track in instance.config.trackFiles {
                guard let watch = fileWatch[track.name] else { continue }
                let (weight, reverse) = track.weight != nil ? (track.weight!, track.reverse) : (watch.file.weight, watch.file.reverse)
                fileWatch[track.name]!.watchers.append((index, "file \(track.name)", weight, reverse))
            }
            for track in instance.config.trackProcesses {
                guard let watch = processWatch[track.name] else { continue }
                let reverse = track.weight != nil ? track.reverse : watch.process.reverse
                processWatch[track.name]!.watchers.append((index, "process \(track.name)", reverse))
            }
            for track in instance.config.trackInterfaces + (instance.config.dontTrackPrimary ? [] : [TrackReference(name: instance.config.interface, location: instance.config.location)]) {
                var watch = interfaceWatch[track.name] ?? (NetworkInterface.isUp(track.name), [])
                if !watch.watchers.contains(where: { $0.0 == index }) { watch.watchers.append((index, "interface \(track.name)")) }
                interfaceWatch[track.name] = watch
            }
        }
    }

    // MARK: the loop

    /// Runs until SIGTERM or SIGINT (with `handleSignals`) or a posted `.stop`, then leaves
    /// gracefully. Returns the exit status.
    public func run(handleSignals: Bool = true) -> Int32 {
        if handleSignals { installSignalHandlers() } else { signalPipeRead = control.wakeRead }
        control.states.withLock { $0 = instances.map(\.core.state) }
        control.transitions.withLock { $0 = Array(repeating: 0, count: instances.count) }
        for i in instances.indices { perform(i, instances[i].core.handle(.start, now: now())) }
        var nextLinkPoll = now()
        // The end of the previous pass: a pass that starts a Master_Down_Interval later found
        // this process stalled (SIGSTOP, a VM pause), and the others have taken it for failed.
        var lastPass = now()
        while true {
            let t = now()
            var deadline = nextLinkPoll
            for (i, instance) in instances.enumerated() {
                if let d = instance.core.nextDeadline { deadline = min(deadline, gated.contains(i) ? max(d, t + .milliseconds(20)) : d) }
            }
            for check in checks.values where !runner.isRunning(tag: check.script.name) { deadline = min(deadline, check.nextRun) }
            if let d = runner.nextDeadline { deadline = min(deadline, d) }
            for watch in processWatch.values { if let d = watch.quorum.nextDeadline { deadline = min(deadline, d) } }
            if runner.hasRunning { deadline = min(deadline, t + .milliseconds(10)) }
            let wait = max(Duration.zero, deadline - t)
            var timeoutMs = Int32(wait.wholeMilliseconds)
            if wait > .zero && timeoutMs == 0 { timeoutMs = 1 }

            var fds = [pollfd(fd: signalPipeRead, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: control.wakeRead, events: Int16(POLLIN), revents: 0)]
            fds += instances.map { pollfd(fd: $0.socket.fd, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), timeoutMs)

            if fds[0].revents != 0 && signalPipeRead != control.wakeRead {
                var buffer = [UInt8](repeating: 0, count: 16)
                while read(signalPipeRead, &buffer, buffer.count) > 0 {}
                if receivedSignal != 0 { return shutdown() }
                if reloadRequested != 0 {
                    reloadRequested = 0
                    onReload?()
                }
            }
            if fds[1].revents != 0 {
                for command in control.take() {
                    switch command {
                    case .stop:
                        return shutdown()
                    case .tracked(let name, let up):
                        for i in instances.indices { perform(i, instances[i].core.handle(.tracked(name: name, up: up), now: now())) }
                    case .claim:
                        for i in instances.indices { perform(i, instances[i].core.handle(.claim, now: now())) }
                    }
                }
            }
            let stalledFor = now() - lastPass
            for (k, pfd) in fds.dropFirst(2).enumerated() where pfd.revents & Int16(POLLIN) != 0 {
                receive(k, stalledFor: stalledFor)
            }
            let after = now()
            for i in instances.indices {
                if let d = instances[i].core.nextDeadline, d <= after {
                    if instances[i].core.state == .backup, let claimGate, !claimGate() {
                        if gated.insert(i).inserted { say(i, "master down, but this node has not heard from a majority of its group just now: not claiming") }
                        continue
                    }
                    if gated.remove(i) != nil { say(i, "claiming: a majority of the group heard again") }
                    perform(i, instances[i].core.handle(.timer, now: after))
                } else if gated.remove(i) != nil {
                    say(i, "a master advertises again: nothing to claim")
                }
            }
            if after >= nextLinkPoll {
                pollLinks()
                pollTrackFiles()
                nextLinkPoll = after + .milliseconds(100)
            }
            pollProcesses(now: after)
            runChecks(now: after)
            lastPass = now()
        }
    }

    /// `stalledFor`: how long before this pass the previous one ended.
    private func receive(_ i: Int, stalledFor: Duration) {
        while let packet = instances[i].socket.receive() {
            // Packets for other VRIDs belong to other routers on the link: not ours to count.
            guard let vrid = VRRPAdvertFilter.vrid(of: packet.payload), vrid == instances[i].config.vrid else { continue }
            switch instances[i].filter.check(packet) {
            case .success(let advert):
                if advert.priority > 0 { control.holderAdverts.withLock { $0 += 1 } }
                // A master back from a stall the others took for a failure, whose agent has not
                // heard the group again yet, hears the adverts as barred (it yields to the node
                // that took over rather than re-assert a stale view); a running master whose
                // heartbeats are merely late does not (it would give the VIP up for nothing).
                let barred = instances[i].core.state == .master && stalledFor >= instances[i].core.masterDownInterval
                    && claimGate.map { !$0() } ?? false
                perform(i, instances[i].core.handle(barred ? .advertWhileBarred(advert, from: packet.source)
                                                           : .advert(advert, from: packet.source), now: now()))
            case .failure(.ownAdvert):
                continue
            case .failure(let reason):
                let t = now()
                _ = instances[i].core.handle(.rejected(reason, from: packet.source), now: t)
                // Logged at most once a second per instance; counted always.
                if let last = instances[i].lastRejectionLog, t - last < .seconds(1) {
                    instances[i].suppressedRejections += 1
                } else {
                    let suppressed = instances[i].suppressedRejections
                    say(i, "rejected advert from \(packet.source): \(reason)" + (suppressed > 0 ? " (and \(suppressed) more since the last report)" : ""))
                    instances[i].lastRejectionLog = t
                    instances[i].suppressedRejections = 0
                }
            }
        }
    }

    private func pollLinks() {
        for (name, watch) in interfaceWatch {
            let up = NetworkInterface.isUp(name)
            guard up != watch.up else { continue }
            interfaceWatch[name]!.up = up
            for (i, object) in watch.watchers {
                perform(i, instances[i].core.handle(.tracked(name: object, up: up), now: now()))
            }
        }
    }

    private func runChecks(now t: Duration) {
        for (tag, success) in runner.reap(now: t) {
            guard var check = checks[tag] else { continue }
            if let changed = check.tracker.record(success: success) {
                log("VRRP_Script(\(tag)) \(changed ? "succeeded" : "failed")")
                for (i, object, reverse) in check.watchers {
                    perform(i, instances[i].core.handle(.tracked(name: object, up: reverse ? !changed : changed), now: now()))
                }
            }
            checks[tag] = check
        }
        for (name, check) in checks where check.nextRun <= t && !runner.isRunning(tag: name) {
            let timeout = check.script.timeout ?? check.script.interval
            let started = runner.start(check.script.command, as: check.user, deadline: t + .milliseconds(Int(timeout * 1000)), tag: name)
            checks[name]!.nextRun = t + .milliseconds(Int(check.script.interval * 1000))
            if started == nil {
                if let changed = checks[name]!.tracker.recordCannotRun() {
                    for (i, object, reverse) in check.watchers {
                        perform(i, instances[i].core.handle(.tracked(name: object, up: reverse ? !changed : changed), now: now()))
                    }
                }
            }
        }
    }

    /// Carries out an instance's actions (for the tracking extension).
    func apply(_ i: Int, _ event: VRRPEvent) {
        perform(i, instances[i].core.handle(event, now: now()))
    }

    private func shutdown() -> Int32 {
        say(nil, receivedSignal != 0 ? "received signal \(receivedSignal): stopping" : "stopping")
        for i in instances.indices { perform(i, instances[i].core.handle(.shutdown, now: now())) }
        deleteVMACs(instances.compactMap(\.config.vmac?.name))
        stopNotifyFIFOs()
        // Give the STOP alerts a moment (at most the SMTP connect timeout, capped at 5 s).
        let limit = now() + .seconds(min(configuration.global.smtpConnectTimeout, 5))
        while mailInFlight.count.load(ordering: .sequentiallyConsistent) > 0 && now() < limit {
            usleep(10_000)
        }
        return 0
    }
}
