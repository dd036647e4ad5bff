import Testing
import VRRPCore
@testable import KeepalivedConfig

/// An instance block with `more` lines, as keepalived.conf text.
private func instance(_ more: [String], name: String = "VI_1", interface: String = "eth0", vrid: Int = 51,
                      addresses: [String] = ["10.0.0.100/24"]) -> String {
    "vrrp_instance \(name) {\n  interface \(interface)\n  virtual_router_id \(vrid)\n  vrrp_version 3\n"
        + "  virtual_ipaddress {\n" + addresses.map { "    \($0)\n" }.joined() + "  }\n"
        + more.map { "  \($0)\n" }.joined() + "}\n"
}

/// The error a configuration is refused with.
private func refusal(_ text: String) -> String? {
    do {
        _ = try KeepalivedConfiguration.parse(text, file: "k.conf")
        return nil
    } catch let error as ConfigError {
        return error.description
    } catch {
        return "\(error)"
    }
}

@Suite("use_vmac: the instance's macvlan, its name, MAC and which interface carries what")
struct VirtualMACConfigTests {
    @Test("use_vmac: vrrp.VRID with 00:00:5e:00:01:VRID (IPv4); addresses on it, multicast adverts too (unicast ones on the base, as keepalived)")
    func defaults() throws {
        let config = try KeepalivedConfiguration.parse(instance(["use_vmac"], vrid: 77))
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        let vmac = try #require(config.instances[0].vmac)
        #expect(vmac.name == "vrrp.77")
        #expect(vmac.base == "eth0")
        #expect(vmac.macText == "00:00:5e:00:01:4d")
        #expect(vmac.advertInterface(unicast: false) == "vrrp.77")
        #expect(vmac.advertInterface(unicast: true) == "eth0")
        #expect(vmac.addressInterface(device: nil) == "vrrp.77")
        #expect(vmac.addressInterface(device: "eth1") == "eth1")
        #expect(config.instances[0].vmacLocation?.description == "keepalived.conf:8")
    }

    @Test("IPv6 instances get 00:00:5e:00:02:VRID; a name and vmac_xmit_base are taken")
    func ipv6NameAndTransmitOnBase() throws {
        let config = try KeepalivedConfiguration.parse(instance(["use_vmac vmac6", "vmac_xmit_base"], vrid: 255, addresses: ["fd00::100/64"]))
        let vmac = try #require(config.instances[0].vmac)
        #expect(vmac.name == "vmac6")
        #expect(vmac.mac == [0x00, 0x00, 0x5e, 0x00, 0x02, 0xff])
        #expect(vmac.transmitOnBase)
        #expect(vmac.advertInterface(unicast: false) == "eth0")
        #expect(vmac.addressInterface(device: nil) == "vmac6")
    }

    @Test("unicast peers with use_vmac: vmac_xmit_base is set with a warning, as keepalived 2.2.7 does")
    func unicastSetsTransmitOnBase() throws {
        let config = try KeepalivedConfiguration.parse(instance(["use_vmac", "unicast_peer {", "10.0.0.2", "}"]), file: "k.conf")
        #expect(config.instances[0].vmac?.transmitOnBase == true)
        #expect(config.instances[0].vmac?.advertInterface(unicast: true) == "eth0")
        #expect(config.warnings.map(\.description) == [
            "k.conf:8: warning: vrrp_instance VI_1: unicast with use_vmac requires vmac_xmit_base: set, as keepalived does (adverts go out eth0)",
        ])
        let explicit = try KeepalivedConfiguration.parse(instance(["use_vmac", "vmac_xmit_base", "unicast_peer {", "10.0.0.2", "}"]))
        #expect(explicit.warnings.isEmpty, "\(explicit.warnings)")
    }

    @Test("vmac_xmit_base alone is a warning with its line; no VMAC")
    func transmitOnBaseAlone() throws {
        let config = try KeepalivedConfiguration.parse(instance(["vmac_xmit_base"]), file: "k.conf")
        #expect(config.instances[0].vmac == nil)
        #expect(config.warnings.map(\.description) == ["k.conf:8: warning: vrrp_instance VI_1: vmac_xmit_base without use_vmac has no effect; ignored"])
    }

    @Test("bad names are refused with file:line", arguments: [
        ("use_vmac a_name_of_16_bytes", "k.conf:8: use_vmac: interface name 'a_name_of_16_bytes' is 18 bytes; Linux allows at most 15"),
        ("use_vmac vrrp/1", "k.conf:8: use_vmac: interface name 'vrrp/1' contains '/'"),
        ("use_vmac ..", "k.conf:8: use_vmac: '..' is not an interface name"),
        ("use_vmac a b", "k.conf:8: 'use_vmac' takes at most one value (the interface name), got 2"),
        ("use_vmac eth0", "k.conf:8: use_vmac: the virtual MAC interface cannot be the instance's own interface eth0"),
    ])
    func badNames(line: String, error: String) {
        #expect(refusal(instance([line])) == error)
    }

    @Test("a 15-byte name is the longest taken")
    func longestName() throws {
        let config = try KeepalivedConfiguration.parse(instance(["use_vmac vmac-123456789a"]))
        #expect(config.instances[0].vmac?.name == "vmac-123456789a")
        #expect(VirtualMAC.nameProblem(String(repeating: "v", count: 16)) != nil)
    }

    @Test("two instances on one VMAC name, or an instance on another's VMAC, are refused naming both")
    func conflicts() {
        #expect(refusal(instance(["use_vmac vm"], name: "A", vrid: 1) + instance(["use_vmac vm"], name: "B", vrid: 2))
            == "k.conf:17: use_vmac: interface vm is already the virtual MAC interface of A at k.conf:8")
        #expect(refusal(instance(["use_vmac"], name: "A", vrid: 1) + instance([], name: "B", interface: "vrrp.1", vrid: 2))
            == "k.conf:10: vrrp_instance B: interface vrrp.1 is the virtual MAC interface of A (use_vmac at k.conf:8)")
        #expect(refusal(instance(["use_vmac"], name: "A", vrid: 1) + instance([], name: "B", vrid: 2, addresses: ["10.0.0.2/24 dev vrrp.1"]))
            == "k.conf:15: virtual address 10.0.0.2: dev vrrp.1 is the virtual MAC interface of A")
    }

    @Test("a reload treats a changed use_vmac as another instance (removed and added), as a changed interface")
    func reload() throws {
        let plain = try KeepalivedConfiguration.parse(instance(["priority 100"]))
        let vmac = try KeepalivedConfiguration.parse(instance(["priority 100", "use_vmac"]))
        let named = try KeepalivedConfiguration.parse(instance(["priority 100", "use_vmac vm"]))
        let xmit = try KeepalivedConfiguration.parse(instance(["priority 100", "use_vmac", "vmac_xmit_base"]))
        let vmacOtherPriority = try KeepalivedConfiguration.parse(instance(["priority 90", "use_vmac"]))
        #expect(VRRPReload.plan(old: plain.instances, new: vmac.instances) == [.removed(old: 0), .added(new: 0)])
        #expect(VRRPReload.plan(old: vmac.instances, new: named.instances) == [.removed(old: 0), .added(new: 0)])
        #expect(VRRPReload.plan(old: vmac.instances, new: xmit.instances) == [.removed(old: 0), .added(new: 0)])
        #expect(VRRPReload.plan(old: vmac.instances, new: vmac.instances) == [.unchanged(old: 0, new: 0)])
        guard case .changed = VRRPReload.plan(old: vmac.instances, new: vmacOtherPriority.instances).first else {
            Issue.record("a priority change with the same VMAC should be a change in place")
            return
        }
        #expect(VRRPReload.vmacsToDelete(old: vmac.instances, new: named.instances) == ["vrrp.51"])
        #expect(VRRPReload.vmacsToDelete(old: vmac.instances, new: xmit.instances) == [])
        #expect(VRRPReload.vmacsToDelete(old: vmac.instances, new: plain.instances) == ["vrrp.51"])
        #expect(VRRPReload.vmacsToDelete(old: plain.instances, new: vmac.instances) == [])
    }
}
