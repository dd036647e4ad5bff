import Testing
import VRRP
import VRRPCore

@Suite struct AddressGuardTests {
    let vip = GuardedAddress(address: IPAddress("10.0.0.100")!, prefixLength: 24, interface: 2)
    let vip6 = GuardedAddress(address: IPAddress("fd00::64")!, prefixLength: 64, interface: 3)

    @Test func linesRoundTrip() {
        for message in [AddressGuardMessage.hold(vip), .release(vip), .hold(vip6), .release(vip6)] {
            #expect(message.line.hasSuffix("\n"))
            #expect(AddressGuardMessage(line: message.line.dropLast()) == message)
        }
        #expect(AddressGuardMessage.hold(vip).line == "+ 2 10.0.0.100 24\n")
    }

    @Test(arguments: ["", "+", "+ 2 10.0.0.100", "* 2 10.0.0.100 24", "+ 0 10.0.0.100 24", "+ -1 10.0.0.100 24",
                      "+ x 10.0.0.100 24", "+ 2 10.0.0.300 24", "+ 2 10.0.0.100 33", "+ 2 fd00::1 129",
                      "+ 2 10.0.0.100 -1", "+ 2 10.0.0.100 24 extra", "+ 99999999999 10.0.0.100 24"])
    func malformedLinesAreRejected(_ line: String) {
        #expect(AddressGuardMessage(line: line) == nil)
    }

    /// What is removed at the end: held and not released, each once, in the order first held.
    @Test func heldSet() {
        var set = GuardedSet()
        set.apply(.hold(vip))
        set.apply(.hold(vip6))
        set.apply(.hold(vip))  // a renewal
        #expect(set.held == [vip, vip6])
        set.apply(.release(vip))
        #expect(set.held == [vip6])
        set.apply(.release(vip))  // released twice: nothing more
        set.apply(.release(vip6))
        #expect(set.held.isEmpty)
        set.apply(.hold(vip))
        #expect(set.held == [vip])
    }
}
