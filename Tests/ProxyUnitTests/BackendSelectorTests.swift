@testable import Proxy
import Testing

@Suite("--backend mode: rise/fall and the two-masters tie-break")
struct BackendSelectorTests {
    static let a = ProxyEndpoint(host: "10.0.0.1", port: 6379)
    static let b = ProxyEndpoint(host: "10.0.0.2", port: 6379)
    static let c = ProxyEndpoint(host: "10.0.0.3", port: 6379)

    static func master(_ offset: Int64? = nil) -> BackendCheck { .passed(isMaster: true, follows: nil, offset: offset) }
    static func replica(of m: ProxyEndpoint) -> BackendCheck { .passed(isMaster: false, follows: m, offset: nil) }

    /// One round of checks (one per backend, in list order) at `clock.now`, then the selection.
    static func round(_ selector: inout BackendSelector, _ checks: [BackendCheck], clock: SimulatedClock,
                      current: ProxyEndpoint? = nil) -> (BackendSelector.Selection, [BackendSelector.Note]) {
        var notes: [BackendSelector.Note] = []
        for (i, check) in checks.enumerated() { notes += selector.record(check, for: i, now: clock.now) }
        let (selection, more) = selector.select(current: current, now: clock.now)
        return (selection, notes + more)
    }

    @Test("the first check decides; then fall failures take a backend down and rise passes bring it back")
    func riseAndFall() {
        var s = BackendSelector(endpoints: [Self.a, Self.b], rise: 2, fall: 3, stallAfter: 3000)
        var clock = SimulatedClock()
        var (sel, notes) = Self.round(&s, [Self.master(), Self.replica(of: Self.a)], clock: clock)
        #expect(sel == .init(master: Self.a, confirmed: true, replicas: [Self.b]))
        #expect(notes == [.up(Self.a, isMaster: true), .up(Self.b, isMaster: false)])
        for failure in 1...2 {
            clock.advance(by: 1000)
            (sel, notes) = Self.round(&s, [.failed("timeout"), Self.replica(of: Self.a)], clock: clock, current: Self.a)
            #expect(sel.master == Self.a && !sel.confirmed, "still up after \(failure) failures, not confirmed")
            #expect(notes.isEmpty)
        }
        clock.advance(by: 1000)
        (sel, notes) = Self.round(&s, [.failed("timeout"), Self.replica(of: Self.a)], clock: clock, current: Self.a)
        #expect(sel.master == nil)
        #expect(notes == [.down(Self.a, reason: "timeout")])
        clock.advance(by: 1000)
        (sel, _) = Self.round(&s, [Self.master(), Self.replica(of: Self.a)], clock: clock)
        #expect(sel.master == nil, "one pass is not rise=2")
        clock.advance(by: 1000)
        (sel, notes) = Self.round(&s, [Self.master(), Self.replica(of: Self.a)], clock: clock)
        #expect(sel.master == Self.a)
        #expect(notes == [.up(Self.a, isMaster: true)])
        // A failure resets the pass count.
        var t = BackendSelector(endpoints: [Self.a], rise: 2, fall: 1, stallAfter: 3000)
        _ = Self.round(&t, [.failed("refused")], clock: clock)
        _ = Self.round(&t, [Self.master()], clock: clock)
        _ = Self.round(&t, [.failed("refused")], clock: clock)
        #expect(Self.round(&t, [Self.master()], clock: clock).0.master == nil)
        #expect(Self.round(&t, [Self.master()], clock: clock).0.master == Self.a)
    }

    @Test("a replica promoted while up counts as master at once")
    func roleChangeWhileUp() {
        var s = BackendSelector(endpoints: [Self.a, Self.b], rise: 2, fall: 3, stallAfter: 3000)
        let clock = SimulatedClock()
        _ = Self.round(&s, [Self.master(), Self.replica(of: Self.a)], clock: clock)
        let (sel, _) = Self.round(&s, [.failed("down"), Self.master()], clock: clock, current: Self.a)
        #expect(sel.master == Self.a, "a is still up (1 of 3 failures); b claims master too: a is kept")
        let (sel2, _) = Self.round(&s, [.failed("down"), Self.master()], clock: clock, current: Self.a)
        #expect(sel2.master == Self.a)
        let (sel3, _) = Self.round(&s, [.failed("down"), Self.master()], clock: clock, current: Self.a)
        #expect(sel3.master == Self.b)
    }

    @Test("two masters: the one the replicas follow wins, whatever is current; the warning comes once")
    func followedByReplicas() {
        var s = BackendSelector(endpoints: [Self.a, Self.b, Self.c], rise: 2, fall: 3, stallAfter: 3000)
        var clock = SimulatedClock()
        var (sel, notes) = Self.round(&s, [Self.master(), Self.master(), Self.replica(of: Self.b)], clock: clock, current: Self.a)
        #expect(sel.master == Self.b)
        #expect(sel.replicas == [Self.c])
        #expect(notes.last == .severalMasters([Self.a, Self.b], chosen: Self.b, rule: .followedByReplicas))
        clock.advance(by: 1000)
        (sel, notes) = Self.round(&s, [Self.master(), Self.master(), Self.replica(of: Self.b)], clock: clock, current: Self.b)
        #expect(sel.master == Self.b)
        #expect(notes.isEmpty)
    }

    @Test("two masters, no replicas to tell: one whose offset stopped moving while the other's grows loses")
    func stalledOffsetLoses() {
        var s = BackendSelector(endpoints: [Self.a, Self.b], rise: 2, fall: 3, stallAfter: 3000)
        var clock = SimulatedClock()
        // No history yet: keep the current one.
        var (sel, notes) = Self.round(&s, [Self.master(500), Self.master(900)], clock: clock, current: Self.a)
        #expect(sel.master == Self.a)
        #expect(notes.last == .severalMasters([Self.a, Self.b], chosen: Self.a, rule: .current))
        // a stands still at 500 while b grows.
        for step in 1...3 {
            clock.advance(by: 1000)
            (sel, _) = Self.round(&s, [Self.master(500), Self.master(900 + Int64(step) * 100)], clock: clock, current: sel.master)
            #expect(sel.master == Self.b, "step \(step)")
        }
        // Both grow: nothing tells them apart but the current choice.
        clock.advance(by: 1000)
        (sel, _) = Self.round(&s, [Self.master(600), Self.master(1400)], clock: clock, current: Self.b)
        #expect(sel.master == Self.b)
        (sel, _) = Self.round(&s, [Self.master(600), Self.master(1400)], clock: clock, current: Self.a)
        #expect(sel.master == Self.a)
        // b stops; a keeps growing; past stallAfter b loses even though it is current.
        for _ in 1...3 {
            clock.advance(by: 1000)
            (sel, _) = Self.round(&s, [Self.master(600 + clock.now / 10), Self.master(1400)], clock: clock, current: Self.b)
        }
        #expect(sel.master == Self.b, "b grew 3000 ms ago: not yet stalled")
        clock.advance(by: 1000)
        (sel, _) = Self.round(&s, [Self.master(600 + clock.now / 10), Self.master(1400)], clock: clock, current: Self.b)
        #expect(sel.master == Self.a)
    }

    @Test("the replicas' choice comes before the offsets; with no history and none current, the first listed")
    func tieBreakOrder() {
        var s = BackendSelector(endpoints: [Self.a, Self.b, Self.c], rise: 2, fall: 3, stallAfter: 3000)
        var clock = SimulatedClock()
        _ = Self.round(&s, [Self.master(100), Self.master(100), Self.replica(of: Self.a)], clock: clock)
        clock.advance(by: 1000)
        let (sel, notes) = Self.round(&s, [Self.master(100), Self.master(200), Self.replica(of: Self.a)], clock: clock, current: Self.b)
        #expect(sel.master == Self.a, "a is followed though b's offset grows and b is current")
        #expect(notes.isEmpty, "same two masters as before: warned once")
        var fresh = BackendSelector(endpoints: [Self.a, Self.b], rise: 2, fall: 3, stallAfter: 3000)
        let (first, firstNotes) = Self.round(&fresh, [Self.master(), Self.master()], clock: clock)
        #expect(first.master == Self.a)
        #expect(firstNotes.last == .severalMasters([Self.a, Self.b], chosen: Self.a, rule: .firstListed))
        // A checked index that does not exist is ignored.
        let ignored = fresh.record(Self.master(), for: 7, now: 0)
        #expect(ignored.isEmpty)
    }
}
