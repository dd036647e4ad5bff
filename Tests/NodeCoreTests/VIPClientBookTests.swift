import NodeCore
import Testing

/// Whom a new VIP holder tickles (`VIPClientBook`): the previous holders' fresh lists, each
/// client once, in the caller's family, at most `limit`; and the rounds' schedule.
@Suite("Node core: the previous holders' clients a takeover tickles")
struct VIPClientBookTests {
    @Test("every fresh list's clients once, nodes in name order; a stale list is left; a newer list replaces a node's older one")
    func freshListsOnce() {
        var book = VIPClientBook<String>()
        #expect(book.targets(now: 0).isEmpty, "nothing heard: nothing tickled")
        book.heard(node: "n3", clients: ["c2", "c3"], at: 1_000)
        book.heard(node: "n1", clients: ["c1", "c2"], at: 10_000)
        #expect(book.targets(now: 11_000) == ["c1", "c2", "c3"])
        // n3's list is exactly freshFor old: still tickled; a millisecond later it is not.
        #expect(book.targets(now: 1_000 + VIPClientBook<String>.freshFor) == ["c1", "c2", "c3"])
        #expect(book.targets(now: 1_000 + VIPClientBook<String>.freshFor + 1) == ["c1", "c2"])
        // n1 now says it has no clients (it no longer holds the address).
        book.heard(node: "n1", clients: [], at: 12_000)
        #expect(book.targets(now: 12_000) == ["c2", "c3"])
    }

    @Test("only the eligible (the address's family), and at most limit clients")
    func eligibleAndLimit() {
        var book = VIPClientBook<Int>()
        book.heard(node: "n1", clients: Array(0..<(VIPClientBook<Int>.limit + 5)), at: 0)
        #expect(book.targets(now: 0).count == VIPClientBook<Int>.limit)
        #expect(book.targets(now: 0) { $0 % 2 == 1 }.count == VIPClientBook<Int>.limit / 2 + 2)
        #expect(book.targets(now: 0) { $0 < 3 } == [0, 1, 2])
    }

    @Test("the monitor's events that say the master changed have the virtual servers check at once; others do not")
    func virtualServerNudge() {
        for type in ["+switch-master", "+promoted-slave", "+failover-end"] {
            #expect(VirtualServerNudge.checkSoon(afterEvent: type), "\(type)")
        }
        for type in ["+sdown", "+odown", "+slave", "+sentinel", "-sdown", "+tilt", "+failover-state-select-slave"] {
            #expect(!VirtualServerNudge.checkSoon(afterEvent: type), "\(type)")
        }
    }

    @Test("rounds: at once, then once after the clients' 500 ms limit on out-of-window answers")
    func rounds() {
        let rounds = VIPClientBook<Int>.rounds
        #expect(rounds.first == 0)
        #expect(rounds.count == 2 && rounds[1] > 500, "\(rounds)")
        #expect(rounds == rounds.sorted())
    }
}
