import KeepalivedConfig
import Synchronization
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP's VRRP half: `VRRPReload.plan` decides which instance is kept, changed, added or
/// removed; `VRRPInstance.reconfigure` what a kept one does. This file carries them out.
extension VRRPDaemon {
    /// The instances' names and addresses for other threads.
    func publishInstances() {
        let snapshot = configuration.instances.map { (name: $0.name, addresses: $0.virtualAddresses) }
        control.instances.withLock { $0 = snapshot }
    }

    /// Applies a re-read configuration's VRRP part as keepalived 2.2.7's reload does (see
    /// `VRRPReload`). Call it on the daemon's thread, from `onReload`. When an instance's
    /// interface or source address is missing nothing changes: it is logged and returns false.
    /// global_defs apply too (script_user and script security for scripts started from now on,
    /// the mail settings, changed notify FIFOs closed and the new ones opened); `tandem_http` is
    /// the command's (`VRRPReload.httpListener`), once this returned true.
    @discardableResult
    public func applyReload(_ new: KeepalivedConfiguration) -> Bool {
        let steps = VRRPReload.plan(old: configuration.instances, new: new.instances)
        var oldOf: [Int: Int] = [:]
        var change: [Int: VRRPReload.InstanceChange] = [:]
        for step in steps {
            switch step {
            case .unchanged(let o, let n): oldOf[n] = o
            case .changed(let o, let n, let c): oldOf[n] = o; change[n] = c
            case .added, .removed: break
            }
        }
        // Everything that can fail, before anything changes.
        let user: ScriptUser?
        do {
            user = try scriptUser(for: new.global)
        } catch {
            log("reload failed: \(error); the running VRRP instances stay as they were")
            return false
        }
        var prepared: [(interface: NetworkInterface, addresses: [(vip: VirtualAddress, interface: NetworkInterface)],
                        source: IPAddress, socket: VRRPSocket)] = []
        do {
            for (n, config) in new.instances.enumerated() {
                let (interface, addresses, source) = try resolve(config, removeStale: false)
                let socket: VRRPSocket
                if let o = oldOf[n] {
                    socket = instances[o].socket
                } else {
                    socket = try openSocket(config, interface: interface, source: source)
                }
                prepared.append((interface, addresses, source, socket))
            }
        } catch {
            log("reload failed: \(error); the running VRRP instances stay as they were")
            // VMACs made for new instances go again; the running ones' stay.
            let running = Set(configuration.instances.compactMap { $0.vmac?.name })
            deleteVMACs(new.instances.compactMap { $0.vmac?.name }.filter { !running.contains($0) })
            return false
        }
        // global_defs first: keepalived has read them when it notifies a removed instance (its
        // mail goes to the new recipients, its FIFO line to the new FIFOs).
        let fifosChanged = VRRPReload.notifyFIFOsChanged(old: configuration.global, new: new.global)
        if fifosChanged {
            // The lines so far go to the old FIFOs; from here (a removed instance's) to the new.
            stopNotifyFIFOs()
            fifoScripts = []
        }
        configuration = new
        // keepalived re-reads these too: scripts started from now on use them.
        defaultScriptUser = user
        runner.enableScriptSecurity = new.global.enableScriptSecurity
        smtp = makeSMTP(new.global)
        if fifosChanged {
            openNotifyFIFOs()
            log("reload: notify FIFOs: \(new.global.notifyFIFOs.map(\.path).joined(separator: ", "))")
        }
        // Instances no longer configured leave; kept masters drop the addresses no longer listed.
        for step in steps {
            switch step {
            case .removed(let o):
                leave(o)
            case .changed(let o, _, let c):
                say(o, "reload: \(c.summary.joined(separator: ", "))")
                if instances[o].core.state == .master { removeAddresses(o, c.removedAddresses) }
            case .unchanged, .added:
                break
            }
        }

        // VMACs of removed instances that no new instance uses (after they left through them).
        let dropped = VRRPReload.vmacsToDelete(old: instances.map(\.config), new: new.instances)
        deleteVMACs(dropped)
        if !dropped.isEmpty {
            // A renamed VMAC could not go up beside the old one of the same MAC: now it can.
            for name in Set(new.instances.compactMap { $0.vmac?.name }) {
                if let interface = try? NetworkInterface(name: name) { VirtualMACLink.bringUp(interface, log: log) }
            }
        }
        let old = instances
        syncGroupOf = [:]
        for group in new.syncGroups {
            let members = group.members.compactMap { name in new.instances.firstIndex { $0.name == name } }
            for m in members { syncGroupOf[m] = VRRPSyncGroup(name: group.name, members: members) }
        }
        groupStates = groupStates.filter { name, _ in new.syncGroups.contains { $0.name == name } }
        gated = []
        carryChecks()
        let oldProcesses = processWatch
        fileWatch = [:]
        processWatch = [:]
        setUpTrackedFilesAndProcesses()
        // A process tracked as before keeps its quorum state (a fork or terminate delay running).
        for (name, watch) in oldProcesses {
            guard let now = processWatch[name], now.process.pattern == watch.process.pattern,
                  now.quorum.quorum == watch.quorum.quorum, now.quorum.quorumMax == watch.quorum.quorumMax,
                  now.quorum.forkDelay == watch.quorum.forkDelay, now.quorum.terminateDelay == watch.quorum.terminateDelay
            else { continue }
            processWatch[name]!.quorum = watch.quorum
        }
        interfaceWatch = interfaceWatch.mapValues { (up: $0.up, watchers: []) }

        var next: [Instance] = []
        var settings: [Int: VRRPInstanceSettings] = [:]
        for (n, config) in new.instances.enumerated() {
            let p = prepared[n]
            var instance = assemble(config, index: n, interface: p.interface, addresses: p.addresses, source: p.source, socket: p.socket)
            if let o = oldOf[n] {
                // The shell reads interfaces, scripts' results, files and processes again; the
                // embedder's objects and the sync group's keep the state they had.
                var s = instance.core.settings
                s.tracked = s.tracked.map { object in
                    guard !Self.readAgain(object.name), let current = old[o].core.tracked[object.name] else { return object }
                    var kept = object
                    kept.up = current.up
                    kept.offset = current.offset
                    return kept
                }
                settings[n] = s
                instance.core = old[o].core
                instance.lastRejectionLog = old[o].lastRejectionLog
                instance.suppressedRejections = old[o].suppressedRejections
            }
            next.append(instance)
        }
        instances = next
        setUpChecks()
        checks = checks.filter { !$0.value.watchers.isEmpty }
        interfaceWatch = interfaceWatch.filter { !$0.value.watchers.isEmpty }
        publishInstances()
        control.states.withLock { $0 = next.map(\.core.state) }
        control.transitions.withLock { counts in
            let before = counts
            counts = new.instances.indices.map { n in oldOf[n].flatMap { before.indices.contains($0) ? before[$0] : nil } ?? 0 }
        }

        var counts = (unchanged: 0, changed: 0, added: 0, removed: 0)
        for step in steps {
            switch step {
            case .unchanged: counts.unchanged += 1
            case .changed: counts.changed += 1
            case .added: counts.added += 1
            case .removed: counts.removed += 1
            }
        }
        log("reload: VRRP instances: \(counts.unchanged) unchanged, \(counts.changed) changed, \(counts.added) added, \(counts.removed) removed")
        for n in instances.indices {
            if let s = settings[n] {
                let added = !(change[n]?.addedAddresses.isEmpty ?? true)
                perform(n, instances[n].core.reconfigure(s, addressesAdded: added, now: now()))
            } else {
                say(n, "reload: new instance: starting")
                perform(n, instances[n].core.handle(.start, now: now()))
            }
        }
        return true
    }

    /// Tracked objects the shell reads again on a reload (the others keep their state).
    static func readAgain(_ name: String) -> Bool {
        ["interface ", "script ", "file ", "process "].contains { name.hasPrefix($0) }
    }

    /// keepalived's `clear_diff_script`: a vrrp_script kept by name keeps its result.
    private func carryChecks() {
        var carried: [String: Check] = [:]
        for (name, check) in checks {
            guard let script = configuration.scripts[name] else { continue }
            var kept = check
            if script.fall != check.script.fall || script.rise != check.script.rise {
                kept.tracker = CheckTracker(fall: script.fall, rise: script.rise, initiallyUp: check.tracker.up)
            }
            kept.script = script
            kept.user = script.user.flatMap { ScriptUser.resolve($0.user, group: $0.group) } ?? defaultScriptUser
            kept.watchers = []
            log("VRRP_Script(\(name)) considered \(check.tracker.up ? "successful" : "unsuccessful") on reload")
            carried[name] = kept
        }
        checks = carried
    }

    /// A removed instance leaves as keepalived 2.2.7's reload makes it: priority-0 advert and
    /// addresses removed if master, then notified as FAULT (DELETED with `notify_deleted`),
    /// unless it was FAULT already and has no `notify_deleted`.
    private func leave(_ o: Int) {
        let state = instances[o].core.state
        let priority = instances[o].core.effectivePriority
        say(o, "reload: no longer configured: leaving")
        for action in instances[o].core.handle(.shutdown, now: now()) {
            if case .transition = action { continue }
            perform(o, [action])
        }
        if state != .fault || instances[o].config.notifyDeleted { notifyRemoved(o, priority: priority) }
    }

    /// A kept master's addresses that the new configuration no longer lists.
    private func removeAddresses(_ o: Int, _ removed: [VirtualAddress]) {
        for vip in removed {
            guard let held = instances[o].addresses.first(where: {
                $0.vip.address == vip.address && $0.vip.prefixLength == vip.prefixLength && $0.vip.device == vip.device
            }) else { continue }
            do {
                try netlink.remove(vip.address, prefixLength: vip.prefixLength, interface: held.interface.index)
                guardian?.release(GuardedAddress(address: vip.address, prefixLength: vip.prefixLength, interface: held.interface.index,
                                                 vrid: instances[o].config.vrid))
                say(o, "reload: removed \(vip.address)/\(vip.prefixLength)")
            } catch {
                say(o, "cannot remove \(vip.address): \(error)")
            }
        }
    }
}
