import NodeCore
import SentinelCore
import VRRP
@testable import VRRPCore

/// The virtual IP in the write simulator: each running node agent drives a VRRP speaker
/// (`VRRPInstance`, the core `tandem run` runs) as its shell does (NodeDecisionLoop and
/// NodeAgent): the agent's `vipEligible`/`vipIneligible` become the tracked objects `node
/// eligible` (weight 0: FAULT while down) and `node preferred` (+50), `direct` placement claims
/// at once above the base priority, and a backup's timer claims only while its agent has heard
/// a majority just now (`NodeState.mayClaim`, the daemon's claim gate). Adverts go between the nodes whose network links are up,
/// 1 ms each way — on a networked schedule plus a jitter of up to the link's delay range between
/// the two nodes' sentinels capped at `maxJitter` (VRRP assumes a LAN: delays far below the
/// advert interval; the sentinels' network model delays up to 400 ms, which would stand for a
/// link no 100 ms advert interval survives), reordering them (`hostLinks`, drawn from a stream
/// of their own, so a seed's other faults are those it gave before). Never lost: the model's
/// loss stands for broken TCP connections, and on a link losing most adverts (the model goes up
/// to 75%) VRRP itself — keepalived's too — has two masters, which the invariant below would
/// charge to the agents; the agents' heartbeats, TCP, are lost there (WriteSchedules). Timers
/// fire at their exact deadlines within a step. The clients reach the address at the node whose gratuitous ARP came
/// last, while it holds the address. A killed agent's address guard sends a priority-0 advert
/// and removes the address. A frozen agent (SIGSTOP of its tandem process, `frozenSince`) runs
/// no timer and reads no advert until it wakes (they wait in its socket); its address guard, a
/// process of its own, runs on: the guard's rule (`SilenceWatch`, told of each advert the
/// daemon sends as master) takes the address away once another master is heard in the silence.
/// Woken, the daemon reads what waited as it does after a stall (`.advertWhileBarred` while its
/// agent's claim gate is shut).
struct SimulatedVIP {
    typealias Micros = Int64

    static let vip = IPAddress("10.0.9.1")!
    static func nodeAddress(_ k: Int) -> IPAddress { IPAddress("10.0.1.\(k + 1)")! }
    static let eligible = "node eligible"
    static let preferred = "node preferred"
    static let advertDelay: Micros = 1_000
    /// The most a networked schedule adds to an advert's trip (and an agent's heartbeat's).
    static let maxJitter: Int64 = 20
    /// Two speakers that hear each other both holding the address longer than this: a violation.
    static let doubleHoldLimit: Micros = 300_000

    struct Advert {
        var at: Micros
        var sequence: Int
        var from: Int
        var to: Int
        var priority: UInt8
    }

    var speakers: [VRRPInstance?] = [nil, nil, nil]
    /// A deliberate bug put into every speaker (tests only).
    var bug: VRRPInstance.DeliberateBug?
    var holds: [Bool] = [false, false, false]
    /// `direct` placement: how long a killed agent's address guard keeps the address while no
    /// new master is heard (`Farewell.holdMilliseconds`: down-after); nil: removed at once
    /// (the model of Master_Down_Interval's short wait, with no clients served meanwhile).
    var deadGuardHold: Micros?
    /// Until when each killed agent's guard keeps the address (nil: not keeping it).
    private var guardHoldUntil: [Micros?] = [nil, nil, nil]
    /// The node whose gratuitous ARP the clients' (and the router's) cache holds.
    var arpOwner: Int?
    /// When each node last heard another advertise itself with a priority above 0.
    var holderHeard: [Micros?] = [nil, nil, nil]
    /// On a networked schedule: each node pair's behaviour (key `from * 3 + to`), the network's
    /// between the two nodes' sentinels, and the stream the adverts' jitter is drawn from.
    var hostLinks: [Int: SimulatedNetwork.Behaviour] = [:]
    var hostRandom: SplitMix64?
    private var inFlight: [Advert] = []
    /// Nodes whose tandem process is frozen, since when; the adverts waiting in their sockets;
    /// each running speaker's guard watch.
    private(set) var frozenSince: [Micros?] = [nil, nil, nil]
    private var queued: [[Advert]] = [[], [], []]
    private var watches: [SilenceWatch?] = [nil, nil, nil]
    private var sequence = 0
    private var doubleHoldSince: [Int: Micros] = [:]
    var lines: [String] = []

    static func settings(_ k: Int, preempt: Bool) -> VRRPInstanceSettings {
        // NodeFiles.keepalivedConf: v3, 100 ms adverts, priority 100 − 20 × rank, nopreempt in proxy placement.
        VRRPInstanceSettings(name: "tandem_mymaster", version: .v3, vrid: 51, priority: UInt8(100 - 20 * k),
                             intervalCentiseconds: 10, primaryAddress: nodeAddress(k), preempt: preempt,
                             tracked: [TrackedObject(name: eligible, weight: 0, up: false),
                                       TrackedObject(name: preferred, weight: 50, up: false)])
    }

    /// One speaker's event at `at`, its actions carried out.
    mutating func handle(_ k: Int, _ event: VRRPEvent, at: Micros, connected: (Int, Int) -> Bool) {
        guard var speaker = speakers[k] else { return }
        let actions = speaker.handle(event, now: .microseconds(at))
        speakers[k] = speaker
        for action in actions {
            switch action {
            case .sendAdvert(let priority):
                // The daemon says `h` to its guard with each advert it sends as master.
                if speaker.state == .master { watches[k]?.daemonSpoke(now: .microseconds(at)) }
                send(from: k, priority: priority, at: at, connected: connected)
            case .addVirtualAddresses:
                holds[k] = true
                arpOwner = k
            case .refreshVirtualAddresses:
                // The daemon adds them again (`ip addr replace`): back if its guard took them.
                if !holds[k] { lines.append("t=\(at / 1_000) n\(k) VRRP adds the VIP back") }
                holds[k] = true
            case .sendGratuitous:
                if holds[k] { arpOwner = k }
            case .removeVirtualAddresses:
                holds[k] = false
            case .transition(let from, let to, let priority):
                lines.append("t=\(at / 1_000) n\(k) VRRP \(from.rawValue) -> \(to.rawValue) (priority \(priority))")
            case .masterReceivedLowerPriority, .log:
                break
            }
        }
    }

    private mutating func send(from k: Int, priority: UInt8, at: Micros, connected: (Int, Int) -> Bool) {
        for j in 0..<3 where j != k && connected(k, j) {
            var delay = Self.advertDelay
            if var r = hostRandom, let b = hostLinks[k * 3 + j] {
                defer { hostRandom = r }
                let high = min(b.maxDelay, Self.maxJitter), low = min(b.minDelay, high)
                let extra = high > low ? low + Int64(r.next() % UInt64(high - low + 1)) : low
                delay += extra * 1_000
            }
            sequence += 1
            inFlight.append(Advert(at: at + delay, sequence: sequence, from: k, to: j, priority: priority))
        }
    }

    /// Speakers started for agents that (re)started, stopped for agents killed (the address
    /// guard's priority-0 advert), then every advert arrival and timer up to `now`, in time
    /// order (arrivals first at one instant, as the daemon reads before it fires timers). A
    /// backup's timer is held while `mayClaim` says no (retried at the next step).
    mutating func advance(to now: Micros, running: [Bool], frozen: Set<Int>, preempt: Bool, mayClaim: (Int, Micros) -> Bool,
                          connected: (Int, Int) -> Bool) {
        for k in 0..<3 {
            if let until = guardHoldUntil[k], until <= now || running[k] {
                // Its hold ran out (or a new run removes what an earlier one left).
                guardHoldUntil[k] = nil
                holds[k] = false
                lines.append("t=\(now / 1_000) n\(k) the killed agent's address guard removes the VIP (\(running[k] ? "the agent runs again" : "no new master heard"))")
            }
            if running[k] && speakers[k] == nil {
                speakers[k] = VRRPInstance(settings: Self.settings(k, preempt: preempt))
                speakers[k]!.brokenForTesting = bug
                watches[k] = SilenceWatch(now: .microseconds(now))
                frozenSince[k] = nil
                queued[k] = []
                handle(k, .start, at: now, connected: connected)
            } else if !running[k] && speakers[k] != nil {
                let wasMaster = speakers[k]!.state == .master
                speakers[k] = nil
                watches[k] = nil
                frozenSince[k] = nil
                queued[k] = []
                if wasMaster { send(from: k, priority: 0, at: now, connected: connected) }
                if wasMaster && holds[k], let hold = deadGuardHold {
                    guardHoldUntil[k] = now + hold
                    lines.append("t=\(now / 1_000) n\(k) VRRP speaker gone (agent killed; its address guard sent the priority-0 advert and keeps the VIP until a new master is heard, at most \(hold / 1_000) ms)")
                } else {
                    holds[k] = false
                    lines.append("t=\(now / 1_000) n\(k) VRRP speaker gone (agent killed; its address guard released the VIP)")
                }
            }
            if speakers[k] != nil && frozen.contains(k) && frozenSince[k] == nil {
                frozenSince[k] = now
            } else if let since = frozenSince[k], !frozen.contains(k) {
                // Woken: what waited in the socket is read in the first pass, a stall's length
                // after the last one: heard barred by a master whose agent's gate is shut.
                frozenSince[k] = nil
                let barred = speakers[k]!.state == .master && now - since >= speakers[k]!.masterDownInterval.microsecondsValue
                    && !mayClaim(k, now)
                let waiting = queued[k]
                queued[k] = []
                lines.append("t=\(now / 1_000) n\(k) VRRP wakes after \((now - since) / 1_000) ms, \(waiting.count) adverts waiting\(barred ? ", heard barred" : "")")
                for advert in waiting {
                    guard speakers[k] != nil else { break }
                    let packet = VRRPAdvert(version: .v3, vrid: 51, priority: advert.priority, intervalCentiseconds: 10, addresses: [Self.vip])
                    let from = Self.nodeAddress(advert.from)
                    handle(k, barred ? .advertWhileBarred(packet, from: from) : .advert(packet, from: from), at: now, connected: connected)
                }
            }
        }
        var held: Set<Int> = []
        while true {
            let arrival = inFlight.indices.filter { inFlight[$0].at <= now }
                .min { (inFlight[$0].at, inFlight[$0].sequence) < (inFlight[$1].at, inFlight[$1].sequence) }
            var timer: (k: Int, at: Micros)?
            for k in 0..<3 where !held.contains(k) && frozenSince[k] == nil {
                guard let deadline = speakers[k]?.nextDeadline else { continue }
                let at = deadline.microsecondsValue
                if at <= now && (timer.map { at < $0.at } ?? true) { timer = (k, at) }
            }
            if let i = arrival, timer.map({ inFlight[i].at <= $0.at }) ?? true {
                let advert = inFlight.remove(at: i)
                // A killed agent's guard keeping the address hears a new master: it resets the
                // connections at the address and removes it.
                if guardHoldUntil[advert.to] != nil, advert.priority > 0, connected(advert.from, advert.to) {
                    guardHoldUntil[advert.to] = nil
                    holds[advert.to] = false
                    guardResets.insert(advert.to)
                    lines.append("t=\(advert.at / 1_000) n\(advert.to) the killed agent's address guard hears n\(advert.from) as master: resets the VIP's connections and removes it")
                }
                // A speaker gone or cut off since it was sent: lost.
                guard speakers[advert.to] != nil, connected(advert.from, advert.to) else { continue }
                let packet = VRRPAdvert(version: .v3, vrid: 51, priority: advert.priority, intervalCentiseconds: 10,
                                        addresses: [Self.vip])
                if frozenSince[advert.to] != nil {
                    guardHears(packet, advert)
                    queued[advert.to].append(advert)
                    continue
                }
                if advert.priority > 0 { holderHeard[advert.to] = advert.at }
                handle(advert.to, .advert(packet, from: Self.nodeAddress(advert.from)), at: advert.at, connected: connected)
            } else if let (k, at) = timer {
                if speakers[k]!.state == .backup && !mayClaim(k, at) {
                    held.insert(k)
                    continue
                }
                handle(k, .timer, at: max(at, 0), connected: connected)
            } else {
                break
            }
        }
    }

    /// A frozen node's address guard hears `advert` on the VRID's socket: the guard's rule
    /// decides whether the daemon's silence and another master mean the address goes now.
    private mutating func guardHears(_ packet: VRRPAdvert, _ advert: Advert) {
        let k = advert.to
        guard let speaker = speakers[k], speaker.state == .master, holds[k], var watch = watches[k] else { return }
        var set = GuardedSet()
        set.apply(.hold(GuardedAddress(address: Self.vip, prefixLength: 32, interface: 2, vrid: 51)))
        set.apply(.farewell(Farewell(vrid: 51, interface: "eth0", family: .ipv4, multicast: true, source: Self.nodeAddress(k),
                                     deadlineMilliseconds: Int(speaker.masterDownInterval.microsecondsValue / 1_000), adverts: [:])))
        let taken = watch.heard(packet, from: Self.nodeAddress(advert.from), set: set, now: .microseconds(advert.at))
        watches[k] = watch
        guard !taken.isEmpty else { return }
        holds[k] = false
        guardResets.insert(k)
        lines.append("t=\(advert.at / 1_000) n\(k) frozen: its address guard resets the VIP's connections and removes it (n\(advert.from) advertises as master)")
    }

    /// Frozen nodes whose guard reset the connections at their VIP (the clients' proxy
    /// connections there close); the schedule takes them.
    var guardResets: Set<Int> = []

    /// The agent's decision, as NodeDecisionLoop posts it to the daemon.
    mutating func agent(_ k: Int, _ action: NodeState.Action, basePriority: Int, direct: Bool, at: Micros,
                        connected: (Int, Int) -> Bool) {
        switch action {
        case .vipEligible(let priority):
            handle(k, .tracked(name: Self.preferred, up: priority > basePriority), at: at, connected: connected)
            handle(k, .tracked(name: Self.eligible, up: true), at: at, connected: connected)
            if direct && priority > basePriority { handle(k, .claim, at: at, connected: connected) }
        case .vipIneligible:
            handle(k, .tracked(name: Self.eligible, up: false), at: at, connected: connected)
        default:
            break
        }
    }

    /// The node the clients reach at the address: the last to announce it, while it holds it.
    func holder(reachable: Set<Int>) -> Int? {
        guard let k = arpOwner, holds[k], reachable.contains(k) else { return nil }
        return k
    }

    /// Two speakers that hear each other (their link is up and at least one of them runs, so
    /// adverts flow between them) both holding the address for longer than `doubleHoldLimit`.
    /// Two tandems frozen at once, each holding the address, send no advert either's guard could
    /// hear: both keep it until one wakes (write simulator seeds 14783, 15629; the promise is
    /// "once adverts flow", and this takes two stopped daemons; README says so).
    mutating func check(now: Micros, connected: (Int, Int) -> Bool) -> String? {
        for i in 0..<3 {
            for j in (i + 1)..<3 {
                let key = i * 3 + j
                guard holds[i] && holds[j] && connected(i, j) && speakers[i] != nil && speakers[j] != nil
                    && (frozenSince[i] == nil || frozenSince[j] == nil) else {
                    doubleHoldSince[key] = nil
                    continue
                }
                let since = doubleHoldSince[key] ?? now
                doubleHoldSince[key] = since
                if now - since >= Self.doubleHoldLimit {
                    doubleHoldSince[key] = nil
                    return "the VIP on n\(i) and n\(j), which hear each other, for \((now - since) / 1_000) ms (since t=\(since / 1_000))"
                }
            }
        }
        return nil
    }
}

extension Duration {
    /// Whole microseconds.
    var microsecondsValue: Int64 {
        let c = components
        return c.seconds * 1_000_000 + c.attoseconds / 1_000_000_000_000
    }
}
