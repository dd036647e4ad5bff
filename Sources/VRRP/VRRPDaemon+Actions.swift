import KeepalivedConfig
import Synchronization
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// Carrying out an instance's actions: adverts, addresses (the guard told first), gratuitous
/// ARPs, state changes with their notifications, and sync-group members following.
extension VRRPDaemon {
    func say(_ i: Int?, _ message: String) {
        if let i { log("(\(instances[i].config.name)) \(message)") } else { log(message) }
    }

    func perform(_ i: Int, _ actions: [VRRPAction]) {
        for action in actions {
            switch action {
            case .sendAdvert(let priority):
                if priority > 0 { guardian?.alive() }
                let instance = instances[i]
                let advert = self.advert(i, priority: priority)
                for destination in instance.destinations {
                    do {
                        try instance.socket.send(advert.encode(source: instance.source, destination: destination), to: destination)
                    } catch {
                        say(i, "cannot send advert: \(error)")
                    }
                }
            case .addVirtualAddresses, .refreshVirtualAddresses:
                // The guard hears of it first: we may die between the two.
                if let guardian {
                    let instance = instances[i]
                    guardian.prepareFarewell(Farewell(
                        vrid: instance.config.vrid, interface: instance.interface.name, family: instance.config.family,
                        multicast: instance.config.unicastPeers.isEmpty, source: instance.source,
                        deadlineMilliseconds: Int(instance.core.masterDownInterval.wholeMilliseconds),
                        holdMilliseconds: farewellHoldMilliseconds,
                        adverts: Dictionary(instance.destinations.map { destination in
                            (destination, advert(i, priority: 0).encode(source: instance.source, destination: destination))
                        }, uniquingKeysWith: { first, _ in first })))
                }
                for (vip, device) in instances[i].addresses {
                    do {
                        guardian?.hold(GuardedAddress(address: vip.address, prefixLength: vip.prefixLength, interface: device.index,
                                                      vrid: instances[i].config.vrid))
                        try netlink.add(vip.address, prefixLength: vip.prefixLength, interface: device.index,
                                        label: vip.label, lifetime: VRRPDaemon.addressLifetime)
                    } catch {
                        say(i, "cannot add \(vip.address)/\(vip.prefixLength) to \(device.name): \(error)")
                    }
                }
                if action == .addVirtualAddresses { say(i, "setting VIPs") }
            case .removeVirtualAddresses:
                beforeRelease?(instances[i].addresses.map { "\($0.vip.address)" })
                for (vip, device) in instances[i].addresses {
                    do {
                        try netlink.remove(vip.address, prefixLength: vip.prefixLength, interface: device.index)
                        guardian?.release(GuardedAddress(address: vip.address, prefixLength: vip.prefixLength, interface: device.index,
                                                         vrid: instances[i].config.vrid))
                    } catch {
                        say(i, "cannot remove \(vip.address): \(error)")
                    }
                }
                guardian?.forgetFarewell(vrid: instances[i].config.vrid)
                say(i, "removing VIPs")
            case .sendGratuitous(let count):
                // use_vmac: every holder of the VRID sends from the same virtual MAC, so what
                // moves the address is the switches learning it on the new holder's port. A
                // gratuitous ARP *request* is answered by the previous holder while it still has
                // the address (for an advert's trip, until it hears this one), from that MAC, and
                // the switches learn it back on the old port: clients' SYNs then went there and
                // were lost until the next advert (TCP's 1 s retry; lab vmac_kill_redis_direct
                // resumed after 1.3-1.6 s against 0.2-0.4 s without the VMAC). Unsolicited
                // replies teach the switches the same and are answered by nobody.
                let asReplies = instances[i].config.vmac != nil
                for (vip, device) in instances[i].addresses {
                    let rc = device.announce(vip.address, count: count, asReplies: asReplies)
                    if rc < 0 { say(i, "cannot announce \(vip.address) on \(device.name): \(String(cString: strerror(-rc)))") }
                }
            case .transition(let from, let to, let priority):
                control.states.withLock { if i < $0.count { $0[i] = to } }
                control.transitions.withLock { if i < $0.count { $0[i] += 1 } }
                say(i, to == .stopped ? "Stopped" : "Entering \(to.rawValue) STATE")
                // keepalived 2.2.7 tells of a group's BACKUP before its member's, of the others after.
                if to == .backup { groupEntered(member: i, state: to) }
                notify(i, state: to, priority: priority)
                if to != .backup { groupEntered(member: i, state: to) }
                if to != .stopped { synchronise(member: i, from: from, to: to) }
            case .masterReceivedLowerPriority(let priority, let from):
                if let command = instances[i].config.notifyMasterRxLowerPriority {
                    say(i, "master received lower priority \(priority) advert from \(from): running notify_master_rx_lower_pri")
                    let user = command.user.flatMap { ScriptUser.resolve($0.user, group: $0.group) } ?? defaultScriptUser
                    runner.start(command.command, as: user, deadline: nil, tag: "notify_master_rx_lower_pri")
                }
            case .log(let message):
                say(i, message)
            }
        }
    }

    /// keepalived's vrrp_sync_group: members follow one another to MASTER and BACKUP, and a
    /// member's own FAULT puts the others in FAULT until it clears.
    private func synchronise(member i: Int, from: VRRPState, to: VRRPState) {
        guard let group = syncGroupOf[i], !propagatingSync else { return }
        propagatingSync = true
        defer { propagatingSync = false }
        let events = group.propagate(member: i, from: from, to: to) { instances[$0].core.isFaulty(excluding: group.object) }
        for (m, event) in events { perform(m, instances[m].core.handle(event, now: now())) }
    }

    /// Instance `i`'s advert at `priority`.
    private func advert(_ i: Int, priority: UInt8) -> VRRPAdvert {
        let instance = instances[i]
        return VRRPAdvert(
            version: instance.config.version, vrid: instance.config.vrid, priority: priority,
            intervalCentiseconds: instance.config.advertIntervalCentiseconds,
            addresses: instance.filter.virtualAddresses.isEmpty
                ? instance.config.virtualAddresses.filter { !$0.excluded }.map(\.address) : instance.filter.virtualAddresses,
            authentication: instance.config.authentication)
    }
}
