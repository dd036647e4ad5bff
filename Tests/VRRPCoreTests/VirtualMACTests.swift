import Testing
import VRRPCore

@Suite("VirtualMAC: RFC 5798's address and what to do with an interface found under its name")
struct VirtualMACTests {
    let vmac = VirtualMAC(vrid: 51, family: .ipv4, base: "eth0")

    @Test("00-00-5E-00-01-VRID for IPv4, 00-00-5E-00-02-VRID for IPv6")
    func addresses() {
        #expect(VirtualMAC.address(vrid: 1, family: .ipv4) == [0, 0, 0x5e, 0, 1, 1])
        #expect(VirtualMAC.address(vrid: 255, family: .ipv6) == [0, 0, 0x5e, 0, 2, 255])
        #expect(vmac.name == "vrrp.51")
        #expect(vmac.macText == "00:00:5e:00:01:33")
    }

    @Test("none there: create; ours from a previous run: adopt")
    func createAndAdopt() {
        #expect(vmac.disposition(existing: nil, baseIndex: 2) == .create)
        let ours = VirtualMAC.ExistingLink(kind: "macvlan", baseIndex: 2, mac: vmac.mac, macvlanMode: VirtualMAC.privateMode)
        #expect(vmac.disposition(existing: ours, baseIndex: 2) == .adopt)
    }

    @Test("a macvlan that differs is replaced, saying how")
    func replace() {
        let other = VirtualMAC.ExistingLink(kind: "macvlan", baseIndex: 3, mac: [0, 0, 0x5e, 0, 1, 52], macvlanMode: 4)
        #expect(vmac.disposition(existing: other, baseIndex: 2)
            == .replace(why: "on another interface (index 3), another MAC, not in private mode"))
    }

    @Test("anything but a macvlan is refused: tandem deletes only macvlans")
    func refuse() {
        let veth = VirtualMAC.ExistingLink(kind: "veth", baseIndex: 0, mac: [2, 0, 0, 0, 0, 1], macvlanMode: nil)
        #expect(vmac.disposition(existing: veth, baseIndex: 2)
            == .refuse(why: "interface vrrp.51 exists and is a veth interface, not a macvlan: tandem will not delete it"))
        let device = VirtualMAC.ExistingLink(kind: "", baseIndex: 0, mac: [2, 0, 0, 0, 0, 1], macvlanMode: nil)
        #expect(vmac.disposition(existing: device, baseIndex: 2)
            == .refuse(why: "interface vrrp.51 exists and is a device, not a macvlan: tandem will not delete it"))
    }

    @Test("keepalived 2.2.7's sysctls for an IPv4 VMAC (as read from its lab run)")
    func settings() {
        #expect(vmac.ipv4Settings.map { "\($0.interface) \($0.name)=\($0.value)" } == [
            "vrrp.51 arp_ignore=1", "vrrp.51 accept_local=1", "vrrp.51 rp_filter=0", "vrrp.51 promote_secondaries=1",
            "eth0 arp_ignore=1", "eth0 arp_filter=1",
        ])
    }
}
