import CVRRPSystem
import KeepalivedConfig
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// `use_vmac`'s netlink side: creating, adopting and deleting an instance's macvlan. What the
/// interface is (name, MAC, mode, which interface carries adverts and addresses) and what to do
/// with one found under its name are `VirtualMAC`'s decisions.
enum VirtualMACLink {
    /// Makes `vmac` exist on `base` and be up, with keepalived's sysctls (IPv4) or the base's
    /// link-local address (IPv6, the adverts' source); returns it. A macvlan left by a previous
    /// run is kept if it is what we would create, else replaced. Throws naming `location` when
    /// the interface cannot be had.
    static func ensure(_ vmac: VirtualMAC, family: IPAddress.Family, base: NetworkInterface, location: SourceLocation?,
                       instance: String, startup: Bool, netlink: AddressNetlink, log: (String) -> Void) throws -> NetworkInterface {
        let at = location.map { "\($0): " } ?? ""
        func failure(_ what: String, _ code: Int32) -> SystemError {
            SystemError("\(at)vrrp_instance \(instance): use_vmac: \(what)", code: code)
        }
        var index: Int32 = 0, baseIndex: Int32 = 0, mode: UInt32 = 0
        var mac = [UInt8](repeating: 0, count: 6)
        var kind = [CChar](repeating: 0, count: 16)
        let found = cvrrp_link_query(vmac.name, &index, &baseIndex, &mac, &kind, &mode)
        guard found >= 0 else { throw failure("cannot look up interface \(vmac.name)", -found) }
        let existing = found == 0 ? nil : VirtualMAC.ExistingLink(
            kind: String(decoding: kind.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
            baseIndex: baseIndex, mac: mac, macvlanMode: mode)
        func create() throws {
            var address = vmac.mac
            let rc = cvrrp_macvlan_create(vmac.name, base.index, &address)
            guard rc > 0 else { throw failure("cannot create macvlan \(vmac.name) on \(base.name)", -rc) }
            index = rc
            log("(\(instance)) created VMAC interface \(vmac.name) (\(vmac.macText), macvlan private on \(base.name))")
        }
        switch vmac.disposition(existing: existing, baseIndex: base.index) {
        case .refuse(let why):
            throw failure(why, EEXIST)
        case .adopt:
            if startup { log("(\(instance)) using the VMAC interface \(vmac.name) a previous run left (\(vmac.macText) on \(base.name))") }
        case .replace(let why):
            let rc = cvrrp_link_delete(index)
            guard rc == 0 || rc == -ENODEV else { throw failure("cannot delete the stale \(vmac.name) (\(why))", -rc) }
            log("(\(instance)) deleted a stale VMAC interface \(vmac.name): \(why)")
            try create()
        case .create:
            try create()
        }
        let up = cvrrp_link_up(index)
        if up == -EADDRINUSE && !startup {
            // A reload renaming the VMAC: the old one (same MAC, up) is deleted further on, and
            // `bringUp` is called again then.
        } else if up != 0 {
            let hint = up == -EADDRINUSE ? " (another macvlan on \(base.name) that is up has \(vmac.macText))" : ""
            throw failure("cannot bring \(vmac.name) up\(hint)", -up)
        }
        let interface: NetworkInterface
        do {
            interface = try NetworkInterface(name: vmac.name)
        } catch let error as SystemError {
            throw failure("interface \(vmac.name) vanished", error.code)
        }
        switch family {
        case .ipv4:
            for (name, setting, value) in vmac.ipv4Settings {
                if let problem = writeSysctl("/proc/sys/net/ipv4/conf/\(name)/\(setting)", value) {
                    log("(\(instance)) WARNING - cannot set \(setting) = \(value) on \(name): \(problem)")
                }
            }
        case .ipv6:
            // keepalived gives the VMAC its base's link-local address (no DAD, deprecated), the
            // adverts' source; the macvlan generates none of its own.
            let linkLocal = NetworkInterface.addresses(of: base.name, family: .ipv6).filter { $0.bytes[0] == 0xfe && $0.bytes[1] & 0xc0 == 0x80 }
            if let address = linkLocal.first {
                do {
                    try netlink.add(address, prefixLength: 64, interface: interface.index, label: nil, lifetime: nil, preferredLifetime: 0)
                } catch {
                    log("(\(instance)) WARNING - cannot add \(address) to \(vmac.name): \(error)")
                }
            } else {
                log("(\(instance)) WARNING - \(base.name) has no IPv6 link-local address for \(vmac.name)")
            }
        }
        return interface
    }

    /// Sets the interface up (after a reload deleted the VMAC whose MAC it shares); logs a failure.
    static func bringUp(_ interface: NetworkInterface, log: (String) -> Void) {
        let rc = cvrrp_link_up(interface.index)
        if rc != 0 { log("cannot bring VMAC interface \(interface.name) up: \(String(cString: strerror(-rc)))") }
    }

    /// Deletes the interface if it is there and a macvlan; true if it was deleted.
    @discardableResult
    static func delete(_ name: String, log: (String) -> Void) -> Bool {
        var index: Int32 = 0, baseIndex: Int32 = 0, mode: UInt32 = 0
        var mac = [UInt8](repeating: 0, count: 6)
        var kind = [CChar](repeating: 0, count: 16)
        guard cvrrp_link_query(name, &index, &baseIndex, &mac, &kind, &mode) == 1 else { return false }
        guard String(decoding: kind.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) == "macvlan" else { return false }
        let rc = cvrrp_link_delete(index)
        if rc != 0 && rc != -ENODEV {
            log("cannot delete VMAC interface \(name): \(String(cString: strerror(-rc)))")
            return false
        }
        return rc == 0
    }

    /// Writes a /proc/sys value; the problem, or nil.
    private static func writeSysctl(_ path: String, _ value: Int) -> String? {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        let text = Array("\(value)\n".utf8)
        let n = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return n == text.count ? nil : String(cString: strerror(errno))
    }
}
