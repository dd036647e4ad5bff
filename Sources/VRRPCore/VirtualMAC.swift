/// keepalived's `use_vmac`: the instance's own macvlan interface carrying the VRRP virtual MAC
/// (RFC 5798 §7.3: 00-00-5E-00-01-VRID for IPv4, 00-00-5E-00-02-VRID for IPv6), so a takeover
/// moves the MAC with the address and no neighbour's ARP cache has to change. keepalived 2.2.7
/// creates it in private mode on the instance's interface, keeps it up in every state (a backup
/// receives the master's adverts on it: the kernel hands a frame whose source MAC is a local
/// macvlan's to that macvlan only), puts the virtual addresses on it while master, sends adverts
/// from it (from the base interface with `vmac_xmit_base` or unicast peers) and deletes it when
/// it stops.
public struct VirtualMAC: Sendable, Hashable {
    /// The macvlan interface's name (`use_vmac NAME`, default `vrrp.VRID`).
    public var name: String
    /// The interface it sits on (the instance's `interface`).
    public var base: String
    public var mac: [UInt8]
    /// `vmac_xmit_base`: adverts go out (and are read from) the base interface.
    public var transmitOnBase: Bool

    /// The longest interface name Linux takes (IFNAMSIZ 16, less the terminating NUL).
    public static let maximumNameLength = 15

    public init(vrid: UInt8, family: IPAddress.Family, base: String, name: String? = nil, transmitOnBase: Bool = false) {
        self.name = name ?? VirtualMAC.defaultName(vrid: vrid)
        self.base = base
        self.mac = VirtualMAC.address(vrid: vrid, family: family)
        self.transmitOnBase = transmitOnBase
    }

    /// keepalived's default name for the VRID's interface (for both address families).
    public static func defaultName(vrid: UInt8) -> String { "vrrp.\(vrid)" }

    /// RFC 5798's virtual router MAC address.
    public static func address(vrid: UInt8, family: IPAddress.Family) -> [UInt8] {
        [0x00, 0x00, 0x5e, 0x00, family == .ipv4 ? 0x01 : 0x02, vrid]
    }

    /// Why `name` cannot be an interface name, or nil when it can (the kernel's `dev_valid_name`:
    /// 1 to 15 bytes, not "." or "..", no '/', ':' or white space).
    public static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "an interface name cannot be empty" }
        if name.utf8.count > maximumNameLength {
            return "interface name '\(name)' is \(name.utf8.count) bytes; Linux allows at most \(maximumNameLength)"
        }
        if name == "." || name == ".." { return "'\(name)' is not an interface name" }
        if let bad = name.first(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            return "interface name '\(name)' contains '\(bad)'"
        }
        return nil
    }

    /// The interface adverts are sent from and received on: the macvlan, but the base with
    /// `vmac_xmit_base` or unicast peers (keepalived 2.2.7 opens a unicast instance's socket on
    /// the base: the peers' adverts are addressed to the base's address and arrive there).
    public func advertInterface(unicast: Bool) -> String { transmitOnBase || unicast ? base : name }

    /// Where a virtual address goes: its own `dev` if it names one, else the macvlan.
    public func addressInterface(device: String?) -> String { device ?? name }

    /// `aa:bb:cc:dd:ee:ff`.
    public var macText: String { mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":") }

    /// What an interface found under the macvlan's name is.
    public struct ExistingLink: Sendable, Hashable {
        /// The link kind (`macvlan`, `veth`, …; empty for a physical device).
        public var kind: String
        /// The interface index of the device it sits on (0: none).
        public var baseIndex: Int32
        public var mac: [UInt8]
        /// The macvlan mode (IFLA_MACVLAN_MODE; 1 private, 2 vepa, 4 bridge, 8 passthru).
        public var macvlanMode: UInt32?

        public init(kind: String, baseIndex: Int32, mac: [UInt8], macvlanMode: UInt32?) {
            self.kind = kind
            self.baseIndex = baseIndex
            self.mac = mac
            self.macvlanMode = macvlanMode
        }
    }

    /// What to do to have the interface: keepalived recreates a VMAC a previous run left; tandem
    /// keeps one that is already what it would create (a SIGKILLed run's), replaces a macvlan
    /// that differs, and refuses to touch an interface that is not a macvlan.
    public enum Disposition: Sendable, Hashable {
        case create
        case adopt
        /// Delete the macvlan found, then create.
        case replace(why: String)
        case refuse(why: String)
    }

    public static let privateMode: UInt32 = 1

    public func disposition(existing: ExistingLink?, baseIndex: Int32) -> Disposition {
        guard let existing else { return .create }
        guard existing.kind == "macvlan" else {
            let what = existing.kind.isEmpty ? "a device" : "a \(existing.kind) interface"
            return .refuse(why: "interface \(name) exists and is \(what), not a macvlan: tandem will not delete it")
        }
        var differences: [String] = []
        if existing.baseIndex != baseIndex { differences.append("on another interface (index \(existing.baseIndex))") }
        if existing.mac != mac { differences.append("another MAC") }
        if existing.macvlanMode != VirtualMAC.privateMode { differences.append("not in private mode") }
        return differences.isEmpty ? .adopt : .replace(why: differences.joined(separator: ", "))
    }

    /// The sysctls keepalived 2.2.7 sets for an IPv4 VMAC, as (interface, name, value): on the
    /// macvlan, answer ARP only for its own addresses, accept packets from local addresses, no
    /// reverse-path filter, promote secondaries; on the base interface, arp_ignore and arp_filter
    /// so that it does not answer ARP for the virtual addresses with its own MAC.
    public var ipv4Settings: [(interface: String, name: String, value: Int)] {
        [(name, "arp_ignore", 1), (name, "accept_local", 1), (name, "rp_filter", 0), (name, "promote_secondaries", 1),
         (base, "arp_ignore", 1), (base, "arp_filter", 1)]
    }
}
