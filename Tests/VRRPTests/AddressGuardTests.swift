import Testing
import VRRP
import VRRPCore

@Suite struct AddressGuardTests {
    let vip = GuardedAddress(address: IPAddress("10.0.0.100")!, prefixLength: 24, interface: 2, vrid: 51)
    let vip6 = GuardedAddress(address: IPAddress("fd00::64")!, prefixLength: 64, interface: 3, vrid: 52)
    let other = GuardedAddress(address: IPAddress("10.0.1.100")!, prefixLength: 32, interface: 2, vrid: 53)

    func farewell(vrid: UInt8 = 51, destinations: [String] = ["224.0.0.18"], deadline: Int = 310) -> Farewell {
        Farewell(vrid: vrid, interface: "eth0", family: .ipv4, multicast: destinations == ["224.0.0.18"],
                 source: IPAddress("10.0.0.1")!, deadlineMilliseconds: deadline,
                 adverts: Dictionary(uniqueKeysWithValues: destinations.map { (IPAddress($0)!, [0x31, vrid, 0, 1, 0x00, 0x0a, 0xab, 0xcd]) }))
    }

    @Test func linesRoundTrip() {
        var longHold = farewell()
        longHold.holdMilliseconds = 60_000
        for message in [AddressGuardMessage.hold(vip), .release(vip), .hold(vip6), .release(vip6), .forget(vrid: 51), .farewell(farewell()), .alive] + [.farewell(longHold)] {
            #expect(message.line.hasSuffix("\n"))
            #expect(AddressGuardMessage(line: message.line.dropLast()) == message)
        }
        #expect(AddressGuardMessage.hold(vip).line == "+ 2 10.0.0.100 24 51\n")
        #expect(AddressGuardMessage.farewell(farewell()).line == "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18 31330001000aabcd\n")
        // A hold longer than the deadline (the node agent's direct placement) rides along; one
        // not longer is the deadline and is left out.
        var held = farewell()
        held.holdMilliseconds = 500
        #expect(AddressGuardMessage.farewell(held).line == "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18 31330001000aabcd 500\n")
        #expect(AddressGuardMessage(line: "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18 31330001000aabcd 500") == .farewell(held))
        #expect(Farewell(vrid: 51, interface: "eth0", family: .ipv4, multicast: true, source: IPAddress("10.0.0.1")!,
                         deadlineMilliseconds: 310, holdMilliseconds: 100, adverts: [:]).holdMilliseconds == 310)
        #expect(farewell().holdMilliseconds == 310)
        // A farewell to unicast peers: one line per destination, merged again by the set.
        let unicast = farewell(destinations: ["10.0.0.2", "10.0.0.3"])
        let lines = AddressGuardMessage.farewell(unicast).line.split(separator: "\n")
        #expect(lines.count == 2)
        var set = GuardedSet()
        for line in lines { set.apply(AddressGuardMessage(line: line)!) }
        #expect(set.farewells[51] == unicast)
    }

    @Test(arguments: ["", "+", "+ 2 10.0.0.100 24", "* 2 10.0.0.100 24 1", "+ 0 10.0.0.100 24 1", "+ -1 10.0.0.100 24 1",
                      "+ x 10.0.0.100 24 1", "+ 2 10.0.0.300 24 1", "+ 2 10.0.0.100 33 1", "+ 2 fd00::1 129 1",
                      "+ 2 10.0.0.100 -1 1", "+ 2 10.0.0.100 24 256", "+ 2 10.0.0.100 24 1 extra", "+ 99999999999 10.0.0.100 24 1",
                      "a- x", "a-", "h 1", "hh", "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18", "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18 abc",
                      "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18 zz", "a 51 eth0 4 m 10.0.0.1 310 ff02::12 31", "a 51 eth0 5 m 10.0.0.1 310 224.0.0.18 31",
                      "a 51 eth0 4 x 10.0.0.1 310 224.0.0.18 31", "a 51 eth0 4 m 10.0.0.1 -1 224.0.0.18 31", "a 51 eth0 4 m 10.0.0.1 99999 224.0.0.18 31",
                      "a 51 averyveryverylonginterfacename 4 m 10.0.0.1 310 224.0.0.18 31", "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18 ",
                      "a 51 eth0 4 m fd00::1 310 224.0.0.18 31",
                      // a hold not longer than the deadline, over a minute, not a number, a field too many
                      "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18 31 310", "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18 31 60001",
                      "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18 31 x", "a 51 eth0 4 m 10.0.0.1 310 224.0.0.18 31 500 1"])
    func malformedLinesAreRejected(_ line: String) {
        #expect(AddressGuardMessage(line: line) == nil)
    }

    /// What is handed over at the end: held and not released, each once, in the order first
    /// held; with a farewell for their VRID after a new master is heard, else at once.
    @Test func heldSetAndEndOfLife() {
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
        #expect(set.endOfLife.removeNow.isEmpty && set.endOfLife.handovers.isEmpty)

        set.apply(.hold(vip))
        set.apply(.hold(other))
        set.apply(.farewell(farewell(vrid: 51)))
        var end = set.endOfLife
        #expect(end.removeNow == [other])
        #expect(end.handovers.count == 1)
        #expect(end.handovers.first?.farewell == farewell(vrid: 51))
        #expect(end.handovers.first?.addresses == [vip])
        // No longer master of 51: nothing to announce, the address goes at once.
        set.apply(.forget(vrid: 51))
        end = set.endOfLife
        #expect(end.removeNow == [vip, other])
        #expect(end.handovers.isEmpty)
    }

    /// The new master is another speaker of the same VRID with a priority above 0.
    /// A frozen daemon's addresses: listened for after half its Master_Down_Interval of silence,
    /// taken away (once) when another master of the VRID is heard after two thirds of it; a word
    /// from the daemon ends it all.
    @Test func silentDaemonsAddressesAreTakenAwayOnceAnotherMasterIsHeard() {
        var set = GuardedSet()
        set.apply(.farewell(farewell(vrid: 51, deadline: 360)))
        set.apply(.hold(vip))
        set.apply(.hold(other))  // VRID 53: no farewell (not master of it), not watched
        let backup = IPAddress("10.0.0.2")!
        let advert = { (vrid: UInt8, priority: UInt8) in
            VRRPAdvert(version: .v3, vrid: vrid, priority: priority, intervalCentiseconds: 10, addresses: [IPAddress("10.0.0.100")!])
        }
        var watch = SilenceWatch(now: .zero)
        #expect(watch.listening(set, now: .milliseconds(179)).isEmpty)
        #expect(watch.nextChange(set, now: .milliseconds(100)) == .milliseconds(180))
        #expect(watch.listening(set, now: .milliseconds(180)).map(\.vrid) == [51])
        #expect(watch.nextChange(set, now: .milliseconds(180)) == nil)
        // Heard too soon (a running daemon's backup could be answered still): nothing.
        #expect(watch.heard(advert(51, 100), from: backup, set: set, now: .milliseconds(239)).isEmpty)
        // Our own advert, a leaving one, another VRID's: nothing.
        #expect(watch.heard(advert(51, 100), from: IPAddress("10.0.0.1")!, set: set, now: .milliseconds(300)).isEmpty)
        #expect(watch.heard(advert(51, 0), from: backup, set: set, now: .milliseconds(300)).isEmpty)
        #expect(watch.heard(advert(53, 100), from: backup, set: set, now: .milliseconds(300)).isEmpty)
        // The backup's claim: VRID 51's addresses, once.
        #expect(watch.heard(advert(51, 100), from: backup, set: set, now: .milliseconds(300)) == [vip])
        #expect(watch.heard(advert(51, 100), from: backup, set: set, now: .milliseconds(400)).isEmpty)
        #expect(watch.listening(set, now: .milliseconds(400)).isEmpty)
        // The daemon speaks again: watched afresh from then on.
        watch.daemonSpoke(now: .milliseconds(1000))
        #expect(watch.takenAway.isEmpty)
        #expect(watch.listening(set, now: .milliseconds(1100)).isEmpty)
        #expect(watch.heard(advert(51, 100), from: backup, set: set, now: .milliseconds(1100)).isEmpty)
        #expect(watch.heard(advert(51, 100), from: backup, set: set, now: .milliseconds(1240)) == [vip])
        // No longer master (farewell forgotten) or nothing held: nothing watched.
        var backupSet = set
        backupSet.apply(.forget(vrid: 51))
        #expect(SilenceWatch(now: .zero).listening(backupSet, now: .seconds(10)).isEmpty)
        var fresh = SilenceWatch(now: .zero)
        let heardAsBackup = fresh.heard(advert(51, 100), from: backup, set: backupSet, now: .seconds(10))
        #expect(heardAsBackup.isEmpty)
        var released = set
        released.apply(.release(vip))
        #expect(SilenceWatch(now: .zero).listening(released, now: .seconds(10)).isEmpty)
    }

    @Test func newMasterIsAnotherSpeakerOfTheVRID() {
        let f = farewell(vrid: 51)
        let advert = { (vrid: UInt8, priority: UInt8) in
            VRRPAdvert(version: .v3, vrid: vrid, priority: priority, intervalCentiseconds: 10, addresses: [IPAddress("10.0.0.100")!])
        }
        #expect(f.isNewMaster(advert(51, 100), from: IPAddress("10.0.0.2")!))
        #expect(!f.isNewMaster(advert(51, 0), from: IPAddress("10.0.0.2")!))  // another leaving
        #expect(!f.isNewMaster(advert(52, 100), from: IPAddress("10.0.0.2")!))  // another instance
        #expect(!f.isNewMaster(advert(51, 100), from: IPAddress("10.0.0.1")!))  // ours
    }
}
