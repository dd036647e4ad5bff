import HostPort
import VRRPCore

/// What a reload (SIGHUP) does to the VRRP instances, as keepalived 2.2.7's reload does it
/// (`vrrp_exist`, `clear_diff_vrrp`, `restore_vrrp_state` in its vrrp.c): a new `vrrp_instance`
/// is the running one with the same VRID, address family and interface, both multicast or both
/// unicast (and then from the same `unicast_src_ip`) — whatever its name. A matched instance
/// keeps its state (a master stays master and keeps its addresses); its new settings apply in
/// place: addresses no longer listed are removed, new ones added. A running instance that no
/// longer matches leaves (priority-0 advert and addresses removed if master; notified as FAULT
/// unless it already was); a new one starts as at startup. A changed VRID, interface or family
/// is therefore a removal and an addition; so is a changed `use_vmac` (added, removed, another
/// name or `vmac_xmit_base`): the instance's interface changes with it.
public enum VRRPReload {
    /// What matches a new instance to a running one.
    public struct Key: Sendable, Hashable {
        public var vrid: UInt8
        public var family: IPAddress.Family
        public var interface: String
        public var unicast: Bool
        /// `unicast_src_ip`, compared only for unicast instances (nil: the interface's address).
        public var unicastSource: IPAddress?
        /// `use_vmac`'s interface name and `vmac_xmit_base` (nil: no virtual MAC).
        public var vmac: String?
    }

    public enum Step: Sendable, Hashable {
        /// Same instance, same block: it runs on untouched.
        case unchanged(old: Int, new: Int)
        /// Same instance, block changed: the new settings apply in place.
        case changed(old: Int, new: Int, InstanceChange)
        case added(new: Int)
        case removed(old: Int)
    }

    /// How a matched instance's block changed.
    public struct InstanceChange: Sendable, Hashable {
        /// Addresses (`virtual_ipaddress` and `_excluded`) to add, and to remove, while holding them.
        public var addedAddresses: [VirtualAddress] = []
        public var removedAddresses: [VirtualAddress] = []
        /// What changed, for the log (`priority 150 -> 50`, `virtual_ipaddress +10.0.0.2/24`, …).
        public var summary: [String] = []
    }

    public static func key(_ config: VRRPInstanceConfig) -> Key {
        let unicast = !config.unicastPeers.isEmpty
        return Key(vrid: config.vrid, family: config.family, interface: config.interface, unicast: unicast,
                   unicastSource: unicast ? config.sourceAddress : nil,
                   vmac: config.vmac.map { $0.name + ($0.transmitOnBase ? " xmit_base" : "") })
    }

    /// The steps from the running instances to the new ones: removals first (keepalived
    /// removes before it restores), then the new list in order.
    public static func plan(old: [VRRPInstanceConfig], new: [VRRPInstanceConfig]) -> [Step] {
        var oldIndex: [Key: Int] = [:]
        for (i, config) in old.enumerated() where oldIndex[key(config)] == nil { oldIndex[key(config)] = i }
        let newKeys = Set(new.map(key))
        var steps: [Step] = old.indices.filter { !newKeys.contains(key(old[$0])) }.map { .removed(old: $0) }
        for (n, config) in new.enumerated() {
            guard let o = oldIndex[key(config)] else {
                steps.append(.added(new: n))
                continue
            }
            if old[o].fingerprint == config.fingerprint && old[o].name == config.name {
                steps.append(.unchanged(old: o, new: n))
            } else {
                steps.append(.changed(old: o, new: n, change(from: old[o], to: config)))
            }
        }
        return steps
    }

    /// An address's identity for the diff: keepalived compares address, prefix and device.
    private struct AddressKey: Hashable {
        var address: IPAddress
        var prefixLength: Int
        var device: String?
        init(_ vip: VirtualAddress) {
            address = vip.address
            prefixLength = vip.prefixLength
            device = vip.device
        }
    }

    /// The differences between two blocks of the same instance.
    public static func change(from old: VRRPInstanceConfig, to new: VRRPInstanceConfig) -> InstanceChange {
        var change = InstanceChange()
        let oldKeys = Set(old.virtualAddresses.map(AddressKey.init))
        let newKeys = Set(new.virtualAddresses.map(AddressKey.init))
        change.addedAddresses = new.virtualAddresses.filter { !oldKeys.contains(AddressKey($0)) }
        change.removedAddresses = old.virtualAddresses.filter { !newKeys.contains(AddressKey($0)) }
        var summary: [String] = []
        if old.name != new.name { summary.append("name \(old.name) -> \(new.name)") }
        if old.priority != new.priority { summary.append("priority \(old.priority) -> \(new.priority)") }
        if old.advertIntervalCentiseconds != new.advertIntervalCentiseconds {
            summary.append("advert_int \(Double(old.advertIntervalCentiseconds) / 100) -> \(Double(new.advertIntervalCentiseconds) / 100)")
        }
        if old.nopreempt != new.nopreempt { summary.append(new.nopreempt ? "nopreempt" : "preempt") }
        if old.preemptDelay != new.preemptDelay { summary.append("preempt_delay \(old.preemptDelay) -> \(new.preemptDelay)") }
        for vip in change.addedAddresses { summary.append("virtual_ipaddress +\(vip.address)/\(vip.prefixLength)") }
        for vip in change.removedAddresses { summary.append("virtual_ipaddress -\(vip.address)/\(vip.prefixLength)") }
        if old.unicastPeers != new.unicastPeers { summary.append("unicast_peer") }
        if old.authentication != new.authentication { summary.append("authentication") }
        if old.version != new.version { summary.append("vrrp_version") }
        let tracks = { (c: VRRPInstanceConfig) in
            [c.trackScripts, c.trackInterfaces, c.trackFiles, c.trackProcesses].map { $0.map { "\($0.name) \($0.weight.map(String.init) ?? "-") \($0.reverse)" } }
        }
        if tracks(old) != tracks(new) { summary.append("tracking") }
        if summary.isEmpty { summary.append("other settings") }
        change.summary = summary
        return change
    }

    /// The virtual MAC interfaces the running instances have and the new ones do not: a reload
    /// deletes them once the instances that used them are gone.
    public static func vmacsToDelete(old: [VRRPInstanceConfig], new: [VRRPInstanceConfig]) -> [String] {
        let kept = Set(new.compactMap { $0.vmac?.name })
        var seen = Set<String>()
        return old.compactMap { $0.vmac?.name }.filter { !kept.contains($0) && seen.insert($0).inserted }
    }

    /// Whether `notify_fifo`/`vrrp_notify_fifo` (paths, owners, scripts, their users) changed:
    /// the daemon then closes the old FIFOs (their scripts SIGTERMed) and opens the new ones.
    public static func notifyFIFOsChanged(old: GlobalDefinitions, new: GlobalDefinitions) -> Bool {
        let fifo = { (g: GlobalDefinitions) in
            g.notifyFIFOs.map {
                "\($0.path) \($0.owner.map { "\($0.user) \($0.group ?? "")" } ?? "") \($0.script?.command ?? "") "
                    + "\($0.script?.user.map { "\($0.user) \($0.group ?? "")" } ?? "")"
            }
        }
        return fifo(old) != fifo(new)
    }

    /// What a reload does with the HTTP listener (GET /metrics, the status page).
    public enum HTTPListenerChange: Equatable, Sendable {
        /// It stays as it is (or absent).
        case keep
        /// None runs: listen on this address.
        case start(HostPort)
        /// Listen on the new address instead of the old one.
        case move(from: HostPort, to: HostPort)
        /// `tandem_http` is gone: stop listening.
        case stop(HostPort)
    }

    /// The HTTP listener after a reload: `serving` is where it listens now (nil: nowhere, also
    /// when an earlier start or move failed), `configured` the new file's `tandem_http`. `--http`
    /// on the command line wins over the file at every reload as at the start: nothing changes.
    /// Addresses compare as parsed (host and port), so an unchanged `tandem_http` keeps its
    /// listener and its open connections.
    public static func httpListener(serving: HostPort?, configured: String?, commandLine: String?) -> HTTPListenerChange {
        guard commandLine == nil else { return .keep }
        // The reader accepted only parseable values; one that is not parses as absent.
        let wanted = configured.flatMap { HostPort($0) }
        switch (serving, wanted) {
        case (nil, nil): return .keep
        case (nil, let to?): return .start(to)
        case (let from?, nil): return .stop(from)
        case (let from?, let to?): return from == to ? .keep : .move(from: from, to: to)
        }
    }
}
