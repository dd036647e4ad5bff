import Testing
import VRRP

/// What `ARPClaimWatch` counts as another host claiming our virtual address.
@Suite("VRRP: another host's ARP claim of the virtual address")
struct ARPClaimWatchTests {
    static let vip: [UInt8] = [10, 79, 0, 100]
    static let ours: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]
    static let theirs: [UInt8] = [0x02, 0, 0, 0, 0, 0x03]

    static func claim(op: Int, mac: [UInt8], sender: [UInt8], target: [UInt8]) -> Bool {
        ARPClaimWatch.isClaim(op: op, senderMAC: mac, senderIP: sender, targetIP: target, addresses: [vip], ownMAC: ours)
    }

    @Test("a gratuitous request or a reply for the address from another MAC is a claim; our own MAC, a client's request, another address are not")
    func classification() {
        #expect(Self.claim(op: 1, mac: Self.theirs, sender: Self.vip, target: Self.vip), "gratuitous request (keepalived's)")
        #expect(Self.claim(op: 2, mac: Self.theirs, sender: Self.vip, target: Self.vip), "unsolicited reply (use_vmac's)")
        #expect(Self.claim(op: 2, mac: Self.theirs, sender: Self.vip, target: [10, 79, 0, 9]), "a reply to a client's request")
        #expect(!Self.claim(op: 1, mac: Self.ours, sender: Self.vip, target: Self.vip), "our own")
        #expect(!Self.claim(op: 1, mac: Self.theirs, sender: Self.vip, target: [10, 79, 0, 9]), "a request from the address to a client")
        #expect(!Self.claim(op: 1, mac: Self.theirs, sender: [10, 79, 0, 9], target: Self.vip), "a client asking who has it")
        #expect(!Self.claim(op: 1, mac: Self.theirs, sender: [10, 79, 0, 3], target: [10, 79, 0, 3]), "another host's own address")
        #expect(!Self.claim(op: 3, mac: Self.theirs, sender: Self.vip, target: Self.vip), "not ARP request or reply (RARP)")
    }
}
