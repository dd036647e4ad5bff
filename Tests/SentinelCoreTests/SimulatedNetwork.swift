import SentinelCore

/// The network between the simulated group's sentinels and servers, when a schedule sets
/// `SimulatedGroup.network` (without it every request is answered at once, as before).
///
/// Every message — a sentinel's PING, INFO, hello, vote request (`is-master-down-by-addr`) or
/// command, a server's or a peer's reply, a hello a server passes on to its subscribers — goes
/// over a directed link (`from` → `to`) that gives it a delay drawn from the link's range, in
/// whole steps of 100 ms (so two messages on one link overtake each other when the range
/// allows: reordering), may lose it, and may deliver a second copy with its own delay
/// (duplication; commands are never duplicated, a shell sends a command once). The sentinels'
/// links are TCP connections, which lose nothing while they stay up: a lost message breaks the
/// connection it was on, which the shell sees `linkTimeout` later (the link goes down, then up
/// again), so the core's pending requests end as they would. A one-way cut
/// drops what goes one way and lets the other through; a TCP link across it stays up for
/// `linkTimeout` (the shell notices the unanswered requests), then is down and cannot be made
/// again (the handshake needs both ways). A reply travels on the connection the request went
/// on: if that link went down meanwhile, the reply is dropped, as a closed socket's would be.
/// Commands whose answer the core waits for (CLIENT PAUSE, the demote) fail after
/// `commandTimeout` when the request or the reply is lost.
///
/// Late copies: with `latePercent`, some messages between sentinels (vote requests and their
/// replies, hellos sent to a sentinel) are also delivered once more up to `lateDelay` later,
/// whatever became of the link meanwhile. TCP would not do this; the election's safety (one vote
/// per sentinel per epoch, one leader per epoch) must hold on any asynchronous network, so the
/// simulator gives the vote protocol one, while everything that rests on timing (SDOWN, the
/// convergence bound) keeps the bounded delays above.
///
/// Every decision comes from `random`, seeded from the schedule's seed; with `tracing` each
/// message's fate is a trace line.
struct SimulatedNetwork {
    struct Link: Hashable {
        var from: InstanceAddress
        var to: InstanceAddress
    }

    struct Behaviour: Equatable {
        var minDelay: Millis = 0
        var maxDelay: Millis = 0
        var lossPercent = 0
        var duplicatePercent = 0
    }

    struct Message {
        var at: Millis
        /// Ties broken by link, then by the order sent on that link (not by the order across
        /// links, which follows the shell's dictionary walks and differs between processes).
        var link: Link
        var sequence: Int
        /// Delivers it; the flag says whether it is a late copy.
        var deliver: (inout SimulatedGroup, Bool) -> Void
        var late: Bool
    }

    /// Every link's behaviour unless `links` has its own.
    var normal = Behaviour()
    var links: [Link: Behaviour] = [:]
    /// One-way cuts, and since when.
    var oneWayCuts: [Link: Millis] = [:]
    /// Connections a lost message broke (sentinel, the other end), and when the shell sees it.
    var resets: [SimulatedGroup.Blocked: Millis] = [:]
    var latePercent = 0
    var lateDelay: Millis = 20_000
    var linkTimeout: Millis = 500
    var commandTimeout: Millis = 1_000
    /// A stream per link, from `seed` and the link's ends: a link's draws do not depend on
    /// the order in which other links send.
    var seed: UInt64
    var randoms: [Link: SplitMix64] = [:]
    var random = SplitMix64(seed: 0)
    var sequences: [Link: Int] = [:]
    var tracing = false
    var log: [String] = []
    var queue: [Message] = []
    var sequence = 0
    /// Messages sent, lost (loss or a one-way cut), duplicated, and late copies.
    var sent = 0, lost = 0, duplicated = 0, lateCopies = 0

    init(seed: UInt64, normal: Behaviour = Behaviour()) {
        self.seed = seed
        self.normal = normal
    }

    func behaviour(_ link: Link) -> Behaviour { links[link] ?? normal }

    static func before(_ x: Message, _ y: Message) -> Bool {
        if x.at != y.at { return x.at < y.at }
        if x.link.from != y.link.from { return x.link.from < y.link.from }
        if x.link.to != y.link.to { return x.link.to < y.link.to }
        return x.sequence < y.sequence
    }

    mutating func pick(_ range: ClosedRange<Millis>) -> Millis {
        range.lowerBound + Millis(random.next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    mutating func percent(_ p: Int) -> Bool { p > 0 && Int(random.next() % 100) < p }

    /// A delay of the link's range, rounded up to whole 100 ms steps.
    mutating func delay(_ b: Behaviour) -> Millis {
        let d = b.maxDelay > b.minDelay ? pick(b.minDelay...b.maxDelay) : b.minDelay
        return (d + 99) / 100 * 100
    }

    /// Every fault gone: every link with the normal delays and no loss or duplication, no cuts,
    /// no late copies (what is in flight still arrives).
    mutating func heal() {
        normal.lossPercent = 0
        normal.duplicatePercent = 0
        links = [:]
        oneWayCuts = [:]
        latePercent = 0
    }
}

extension SimulatedGroup {
    /// One random fault of the network, drawn with `pick` (a stream of the schedule's own): a
    /// link's delay, loss or duplication, a one-way cut, loss or duplication everywhere, late
    /// copies of the vote messages, or the network's faults healed. Returns the trace line.
    /// Without `lossAndCuts`, a draw of a loss or a cut changes nothing (nil): the faults left
    /// delay, reorder and duplicate messages and deliver late copies of votes, which cost no
    /// data — for schedules whose promise holds only without a failover nobody planned.
    mutating func randomNetworkFault(pick: (Int) -> Int, lossAndCuts: Bool = true) -> String? {
        // A link with a sentinel at one end at least (servers talk to each other only to replicate).
        let endpoints = sentinels.map(\.address) + servers.keys.sorted()
        let s = pick(sentinels.count)
        let other = endpoints.filter { $0 != sentinels[s].address }[pick(endpoints.count - 1)]
        let (from, to) = pick(2) == 0 ? (sentinels[s].address, other) : (other, sentinels[s].address)
        let link = SimulatedNetwork.Link(from: from, to: to)
        let name = "\(endpointName(from))→\(endpointName(to))"
        var b = network!.behaviour(link)
        let kind = pick(8)
        if !lossAndCuts && [1, 3, 4].contains(kind) { return nil }
        switch kind {
        case 0:
            b.minDelay = Millis(pick(3)) * 100
            b.maxDelay = b.minDelay + Millis(pick(5)) * 100
            network!.links[link] = b
            return "fault: link \(name) delay \(b.minDelay)–\(b.maxDelay) ms"
        case 1:
            b.lossPercent = 10 + pick(80)
            network!.links[link] = b
            return "fault: link \(name) loses \(b.lossPercent)%"
        case 2:
            b.duplicatePercent = 10 + pick(60)
            network!.links[link] = b
            return "fault: link \(name) duplicates \(b.duplicatePercent)%"
        case 3:
            network!.oneWayCuts[link] = now
            return "fault: link \(name) cut one way"
        case 4:
            network!.normal.lossPercent = pick(2) == 0 ? 0 : 5 + pick(30)
            return "fault: every link loses \(network!.normal.lossPercent)%"
        case 5:
            network!.normal.duplicatePercent = pick(2) == 0 ? 0 : 10 + pick(40)
            return "fault: every link duplicates \(network!.normal.duplicatePercent)%"
        case 6:
            network!.latePercent = 5 + pick(30)
            network!.lateDelay = Millis(2 + pick(29)) * 1_000
            return "fault: \(network!.latePercent)% of the sentinels' vote messages and hellos also arrive up to \(network!.lateDelay) ms late"
        default:
            network!.heal()
            return "fault: network faults healed"
        }
    }

    /// Gives the group a network (`SimulatedNetwork`) in 3 schedules of 4, drawn from `random`,
    /// a stream of the schedule's own (so its other faults stay those the seed always
    /// gave): every link a delay of 0 to a cap of 0–400 ms, and in half of them late copies of
    /// the vote messages from the start. Returns the trace lines (empty: no network).
    /// `seedBeforeCap`: the order of two draws, kept as each simulator's seeds were found with
    /// (the Sentinel simulator's draw the cap first, the Writes simulator's the network's seed).
    mutating func maybeNetwork(random: inout SplitMix64, always: Bool = false, lateCopies: Bool = false,
                               seedBeforeCap: Bool = false, tracing: Bool) -> [String] {
        func pick(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }
        guard pick(4) != 0 || always else { return [] }
        var seed = seedBeforeCap ? random.next() : 0
        let cap = Millis([0, 100, 200, 400][pick(4)])
        if !seedBeforeCap { seed = random.next() }
        network = SimulatedNetwork(seed: seed, normal: .init(minDelay: 0, maxDelay: cap))
        network!.tracing = tracing
        var lines = ["network: every link 0–\(cap) ms"]
        if pick(2) == 0 || lateCopies {
            network!.latePercent = 10 + pick(50)
            network!.lateDelay = Millis(5 + pick(36)) * 1_000
            lines.append("network: \(network!.latePercent)% of the sentinels' vote messages and hellos also arrive up to \(network!.lateDelay) ms late")
        }
        return lines
    }

    /// A short name for traces: `s0`… for sentinels, the port for servers.
    func endpointName(_ a: InstanceAddress) -> String {
        if let j = sentinelIndex(address: a) { return "s\(j)" }
        return "\(a.port)"
    }

    /// The generation of sentinel `i`'s link to `address`: bumped whenever it goes up or down.
    func linkGeneration(_ i: Int, _ address: InstanceAddress) -> Int {
        linkGenerations[Blocked(sentinel: i, address: address)] ?? 0
    }

    /// Whether a one-way cut keeps sentinel `i`'s TCP link to `address` from being up (a new
    /// connection needs both ways; an established one lasts `linkTimeout` into the cut), or a
    /// lost message broke it (the shell sees it at the time in `resets`, then connects again).
    mutating func oneWayBroken(_ i: Int, _ address: InstanceAddress, connected: Bool) -> Bool {
        guard let net = network else { return false }
        let key = Blocked(sentinel: i, address: address)
        if let due = net.resets[key], now >= due {
            network!.resets[key] = nil
            if connected { return true }
        }
        guard !net.oneWayCuts.isEmpty else { return false }
        let mine = sentinels[i].address
        for link in [SimulatedNetwork.Link(from: mine, to: address), SimulatedNetwork.Link(from: address, to: mine)] {
            if let since = net.oneWayCuts[link], !connected || now - since >= net.linkTimeout { return true }
        }
        return false
    }

    /// Sends a message from `from` to `to`: delivered at once without a network model, otherwise
    /// as the link decides. It travels on sentinel `connection.sentinel`'s connection to
    /// `connection.address`, which a loss breaks. `lost` runs (after `commandTimeout`) when it is
    /// lost: the shell's timeout for a command whose answer the core waits for.
    mutating func send(_ from: InstanceAddress, _ to: InstanceAddress, _ what: @autoclosure () -> String,
                       on connection: Blocked, duplicable: Bool = true, late: Bool = false,
                       lost: ((inout SimulatedGroup) -> Void)? = nil,
                       _ deliver: @escaping (inout SimulatedGroup, Bool) -> Void) {
        guard network != nil else {
            deliver(&self, false)
            return
        }
        let link = SimulatedNetwork.Link(from: from, to: to)
        network!.sent += 1
        network!.random = network!.randoms[link] ?? SplitMix64(seed: network!.seed
            ^ (UInt64(truncatingIfNeeded: from.port) << 32 | UInt64(truncatingIfNeeded: to.port)) &* 0x9E37_79B9_7F4A_7C15)
        defer { network!.randoms[link] = network!.random }
        let tracing = network!.tracing
        func trace(_ fate: String) {
            network!.log.append("t=\(now) net \(endpointName(from))→\(endpointName(to)) \(what()): \(fate)")
        }
        let b = network!.behaviour(link)
        if network!.oneWayCuts[link] != nil || network!.percent(b.lossPercent) {
            network!.lost += 1
            if tracing { trace(network!.oneWayCuts[link] != nil ? "dropped (one-way cut)" : "lost, the connection breaks") }
            if network!.oneWayCuts[link] == nil && network!.resets[connection] == nil {
                network!.resets[connection] = now + network!.linkTimeout
            }
            if let lost { enqueue(at: now + network!.commandTimeout, link: link, late: false) { g, _ in lost(&g) } }
            return
        }
        let first = network!.delay(b)
        let second: Millis? = duplicable && network!.percent(b.duplicatePercent) ? network!.delay(b) : nil
        let lateAt: Millis? = late && network!.percent(network!.latePercent) ? now + network!.pick(1_000...network!.lateDelay) : nil
        if second != nil { network!.duplicated += 1 }
        if lateAt != nil { network!.lateCopies += 1 }
        if tracing {
            trace("+\(first) ms" + (second.map { ", duplicate +\($0) ms" } ?? "") + (lateAt.map { ", late copy at t=\($0)" } ?? ""))
        }
        if let second { enqueue(at: now + second, link: link, late: false, deliver) }
        if let lateAt { enqueue(at: lateAt, link: link, late: true, deliver) }
        if first == 0 { deliver(&self, false) } else { enqueue(at: now + first, link: link, late: false, deliver) }
    }

    mutating func enqueue(at: Millis, link: SimulatedNetwork.Link, late: Bool, _ deliver: @escaping (inout SimulatedGroup, Bool) -> Void) {
        network!.sequences[link, default: 0] += 1
        network!.queue.append(SimulatedNetwork.Message(at: at, link: link, sequence: network!.sequences[link]!, deliver: deliver, late: late))
    }

    /// Delivers every message due by now, earliest first (ties in the order they were sent).
    mutating func deliverDue() {
        while let net = network, !net.queue.isEmpty {
            var best: Int?
            for (k, m) in net.queue.enumerated() where m.at <= now {
                if let b = best, SimulatedNetwork.before(net.queue[b], m) { continue }
                best = k
            }
            guard let best else { return }
            let message = network!.queue.remove(at: best)
            message.deliver(&self, message.late)
        }
    }

    /// A reply from `a` to sentinel `i` on the link the request went on (made at `generation`):
    /// dropped when that link went down meanwhile or the sentinel is stopped, unless a late copy.
    mutating func reply(_ i: Int, from a: InstanceAddress, generation: Int, _ what: @autoclosure () -> String,
                        _ answer: SentinelInput, duplicable: Bool = true, late: Bool = false,
                        lost: ((inout SimulatedGroup) -> Void)? = nil) {
        send(a, sentinels[i].address, what(), on: Blocked(sentinel: i, address: a), duplicable: duplicable, late: late, lost: lost) { g, isLate in
            guard g.sentinels[i].alive, isLate || g.linkGeneration(i, a) == generation else {
                if g.network?.tracing == true { g.network!.log.append("t=\(g.now) net reply to s\(i) from \(g.endpointName(a)) dropped: the link closed") }
                if let lost { lost(&g) }
                return
            }
            g.perform(g.input(i, answer), by: i)
        }
    }
}
