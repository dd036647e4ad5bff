@testable import VRRPCore

/// Simulated time, in microseconds (VRRPInstance's timers are microsecond-exact).
typealias Micros = Int64

extension Duration {
    var micros: Micros {
        let c = components
        return c.seconds * 1_000_000 + c.attoseconds / 1_000_000_000_000
    }
}

/// SplitMix64 (as SentinelCore's): the one random stream a schedule draws everything from.
struct ScheduleRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0..<n.
    mutating func pick(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    mutating func pick(_ range: ClosedRange<Micros>) -> Micros {
        range.lowerBound + Micros(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
    mutating func percent(_ p: Int) -> Bool { pick(100) < p }
}

/// VRRP speakers of one VRID on a simulated LAN, driven by a simulated clock. It plays the
/// shell's part (VRRPDaemon's): carries out each instance's actions, delivers every
/// `.sendAdvert` to the other speakers over per-link delays (adverts overtake each other when a
/// link's delay varies by more than the gap between them), loss, duplication and one-way cuts,
/// and fires `.timer` at each running instance's `nextDeadline`. Faults: crash (no priority-0
/// advert; the address guard removes the VIP), graceful shutdown, pause (a SIGSTOPped process:
/// no timers, packets wait in its socket and are read on resume before its timers fire, as the
/// daemon's poll loop reads before it fires timers), tracked objects going down and up.
///
/// The invariants are checked after every step; see `checkInvariants`.
struct SimulatedVRRPNetwork {
    struct Link {
        var up = true
        var lossPercent = 0
        var duplicatePercent = 0
        var minDelay: Micros
        var maxDelay: Micros
    }

    struct Speaker {
        /// As configured; `tracked` holds the objects' state when the process (re)started.
        var settings: VRRPInstanceSettings
        var instance: VRRPInstance
        /// The world's state of this speaker's tracked objects.
        var tracked: [TrackedObject]
        /// The process exists (false after a crash or a graceful shutdown).
        var running = false
        var paused = false
        var resumeAt: Micros?
        /// keepalived's receive checks, as the daemon applies them before the instance.
        var filter: VRRPAdvertFilter
        /// Packets that reached the socket while the process was stopped.
        var inbox: [(bytes: [UInt8], from: Int)] = []
        /// The virtual address is on this speaker's interface (from the add/remove actions).
        var holdsAddresses = false
        /// The state the transition actions say the instance is in.
        var reportedState: VRRPState = .initialize
    }

    struct Packet {
        var at: Micros
        var seq: Int
        var from: Int
        var to: Int
        var bytes: [UInt8]
        var priority: UInt8
    }

    static let vip = IPAddress("10.0.0.100")!
    static let group = IPAddress("224.0.0.18")!

    var now: Micros = 0
    var speakers: [Speaker]
    var links: [[Link]]
    var inFlight: [Packet] = []
    private var seq = 0
    var random: ScheduleRandom
    var bug: VRRPInstance.DeliberateBug?
    /// The trace, when tracing: a box, so tracing never needs exclusive access to the network.
    final class TraceLog { var lines: [String] = [] }
    private let traceLog: TraceLog?
    var violations: [String] = []

    /// The largest delay any link may ever have.
    let delayCap: Micros
    /// When the last disturbance happened (a fault, a heal, a start, a tracked change).
    var stableSince: Micros = 0
    /// How long the network must have been healed and undisturbed before invariant (a) holds.
    let convergenceBound: Micros
    /// What the schedule exercised: steps at which (a) was checked, adverts that arrived after
    /// one sent later on the same link, pairs of masters that could hear each other (b).
    struct Coverage {
        var convergenceChecks = 0
        var overtaken = 0
        var dualMasters = 0
        /// Schedules whose configuration the protocol promises no convergence for (see `safeJitter`).
        var unpromised = 0

        static func += (a: inout Coverage, b: Coverage) {
            a.convergenceChecks += b.convergenceChecks
            a.unpromised += b.unpromised
            a.overtaken += b.overtaken
            a.dualMasters += b.dualMasters
        }
    }
    var coverage = Coverage()
    /// Per link, the latest send sequence number delivered.
    private var lastDelivered: [[Int]]
    /// Per pair (i < j): since when both are MASTER and can hear each other with unchanged priorities.
    private var dualSince: [[Micros?]]

    /// Every speaker's v2 authentication (`auth_pass`, or none); v3 ignores it.
    let authentication: VRRPAuthentication

    init(settings: [VRRPInstanceSettings], tracked: [[TrackedObject]], authentication: VRRPAuthentication,
         links: [[Link]], delayCap: Micros, random: ScheduleRandom, bug: VRRPInstance.DeliberateBug?, tracing: Bool) {
        self.authentication = authentication
        self.speakers = settings.indices.map { i in
            let s = settings[i]
            let filter = VRRPAdvertFilter(version: s.version, vrid: s.vrid, family: .ipv4, authentication: authentication,
                                          intervalCentiseconds: s.intervalCentiseconds, virtualAddresses: [Self.vip],
                                          ownAddresses: [s.primaryAddress])
            return Speaker(settings: s, instance: VRRPInstance(settings: s), tracked: tracked[i], filter: filter)
        }
        self.links = links
        self.delayCap = delayCap
        self.random = random
        self.bug = bug
        self.traceLog = tracing ? TraceLog() : nil
        self.dualSince = Array(repeating: Array(repeating: nil, count: settings.count), count: settings.count)
        self.lastDelivered = Array(repeating: Array(repeating: 0, count: settings.count), count: settings.count)
        // (a)'s bound, with MDI the longest Master_Down_Interval (the most down_timer_adverts
        // times the longest interval, plus that interval for the skew) and D the largest link
        // delay: within D + MDI some speaker is master (timers were set at most MDI ahead, in-
        // flight adverts land within D) and a preempting backup above it that ignores its
        // adverts has taken over; within D more every lower master has heard that and stepped
        // down; one interval + D resolves two masters by their adverts. A backup with
        // preempt_delay first defers to the lower master: its delay starts at that master's
        // first advert (up to MDI + 2D in) and its own Master_Down_Timer runs after, so the
        // longest preempt_delay and a second MDI are added when any speaker has one.
        // In docs/vrrp.md ("Randomized fault schedules").
        let interval = Micros(settings.map(\.intervalCentiseconds).max()!) * 10_000
        let mdi = Micros(settings.map(\.downTimerAdverts).max()! + 1) * interval
        let preemptDelay = settings.map { $0.preempt ? $0.preemptDelay.micros : 0 }.max()!
        self.convergenceBound = mdi + interval + 3 * delayCap + (preemptDelay > 0 ? preemptDelay + mdi : 0)
    }

    // MARK: tracing

    static func time(_ t: Micros) -> String {
        let ms = t / 1000
        return "\(ms / 1000).\(String(ms % 1000).leftPadded(to: 3))"
    }

    /// Traces a line when tracing (non-mutating, so the text may read the network's state).
    func note(_ text: @autoclosure () -> String) {
        traceLog?.lines.append("t=\(Self.time(now)) \(text())")
    }

    var trace: [String] { traceLog?.lines ?? [] }

    func name(_ i: Int) -> String { "s\(i)(\(speakers[i].settings.primaryAddress))" }

    // MARK: faults

    /// Something changed: convergence (a) waits again, and dual-master windows (b) of the pairs
    /// involving `affected` restart (nil: every pair).
    mutating func disturb(_ affected: [Int]? = nil) {
        stableSince = now
        for i in speakers.indices {
            for j in speakers.indices where affected == nil || affected!.contains(i) || affected!.contains(j) {
                dualSince[i][j] = nil
            }
        }
    }

    mutating func start(_ i: Int) {
        var settings = speakers[i].settings
        settings.tracked = speakers[i].tracked
        speakers[i].instance = VRRPInstance(settings: settings)
        speakers[i].instance.brokenForTesting = bug
        speakers[i].running = true
        speakers[i].paused = false
        speakers[i].resumeAt = nil
        speakers[i].inbox = []
        speakers[i].reportedState = .initialize
        note("\(name(i)) starts: priority \(speakers[i].instance.effectivePriority)")
        disturb([i])
        handle(i, .start)
    }

    /// kill -9: no priority-0 advert; the address guard removes the VIP at once.
    mutating func crash(_ i: Int) {
        speakers[i].running = false
        speakers[i].paused = false
        speakers[i].resumeAt = nil
        speakers[i].inbox = []
        if speakers[i].holdsAddresses { note("\(name(i)) crashed: address guard removes the VIP") } else { note("\(name(i)) crashed") }
        speakers[i].holdsAddresses = false
        disturb([i])
    }

    mutating func shutdown(_ i: Int) {
        note("\(name(i)) shuts down gracefully")
        disturb([i])
        handle(i, .shutdown)
        speakers[i].running = false
    }

    mutating func pause(_ i: Int, for duration: Micros) {
        speakers[i].paused = true
        speakers[i].resumeAt = now + duration
        note("\(name(i)) paused for \(Self.time(duration)) s")
        disturb([i])
    }

    /// SIGCONT: the packets that waited are read first, then the timers that are due fire.
    mutating func resume(_ i: Int) {
        note("\(name(i)) resumes with \(speakers[i].inbox.count) packets waiting")
        // Check results that changed meanwhile reach the instance first (still counted as
        // paused, so the invariants never see an instance behind the world), then the packets.
        for object in speakers[i].tracked where speakers[i].instance.tracked[object.name]?.up != object.up {
            handle(i, .tracked(name: object.name, up: object.up))
        }
        speakers[i].paused = false
        speakers[i].resumeAt = nil
        disturb([i])
        let waiting = speakers[i].inbox
        speakers[i].inbox = []
        for (bytes, from) in waiting where speakers[i].running {
            receive(i, bytes, from: from)
        }
    }

    mutating func setTracked(_ i: Int, object k: Int, up: Bool) {
        guard speakers[i].tracked[k].up != up else { return }
        speakers[i].tracked[k].up = up
        let object = speakers[i].tracked[k]
        note("\(name(i)) tracked \(object.name) (weight \(object.weight)) \(up ? "up" : "down")")
        disturb([i])
        if speakers[i].running && !speakers[i].paused {
            handle(i, .tracked(name: object.name, up: up))
        }
    }

    mutating func healLinks() {
        for i in links.indices {
            for j in links.indices {
                links[i][j].up = true
                links[i][j].lossPercent = 0
            }
        }
        note("links healed: all up, no loss")
        disturb()
    }

    /// Every link's delay variation below `safeJitter` (with the speakers' present priorities).
    mutating func steadyDelays() {
        for i in links.indices {
            for j in links.indices where i != j {
                let limit = safeJitter(from: i, to: j) - 1
                if links[i][j].maxDelay - links[i][j].minDelay > limit {
                    links[i][j].maxDelay = links[i][j].minDelay + random.pick(0...max(limit, 0))
                    note("link s\(i) -> s\(j) delay now \(Self.time(links[i][j].minDelay))–\(Self.time(links[i][j].maxDelay)) s")
                }
            }
        }
    }

    /// The most a link's delay may vary for its receiver never to miss a master's advert: the
    /// gap between two adverts' arrivals is at most the sender's interval plus the variation,
    /// and the receiver's Master_Down_Timer runs down_timer_adverts × Master_Adver_Interval +
    /// Skew_Time. A v3 backup takes Master_Adver_Interval from *any* advert it accepts (RFC 5798
    /// §6.4.2; keepalived too), including the last adverts of a master just deposed, which
    /// arrive after the new master's (seeds 215823, 223394): so the shortest interval of any
    /// speaker counts. Beyond this limit the protocol itself lets a backup take over between
    /// two adverts (with down_timer_adverts 1 any variation above the skew does; with v3
    /// intervals far apart, none at all: the result is ≤ 0), so (a) is checked only below it.
    func safeJitter(from m: Int, to j: Int) -> Micros {
        let sent = Micros(speakers[m].settings.intervalCentiseconds) * 10_000
        let learned = Micros(speakers.map(\.settings.intervalCentiseconds).min()!) * 10_000
        let skew = Micros(256 - Int(speakers[j].instance.effectivePriority)) * learned / 256
        return Micros(speakers[j].settings.downTimerAdverts) * learned + skew - sent
    }

    /// Whether (a) can hold at all: every link can be steadied below `safeJitter`.
    var convergencePromised: Bool {
        for i in speakers.indices {
            for j in speakers.indices where i != j && safeJitter(from: i, to: j) <= 0 { return false }
        }
        return true
    }

    /// Healed: no cut, no loss, nobody paused, and every link's delay varying less than
    /// `safeJitter`.
    var networkHealthy: Bool {
        for i in links.indices {
            for j in links.indices where i != j {
                if !links[i][j].up || links[i][j].lossPercent > 0 { return false }
                if links[i][j].maxDelay - links[i][j].minDelay >= safeJitter(from: i, to: j) { return false }
            }
        }
        return !speakers.contains { $0.paused }
    }

    // MARK: the shell

    mutating func handle(_ i: Int, _ event: VRRPEvent) {
        let actions = speakers[i].instance.handle(event, now: .microseconds(now))
        perform(i, actions)
        checkInvariants()
    }

    private mutating func perform(_ i: Int, _ actions: [VRRPAction]) {
        for action in actions {
            switch action {
            case .sendAdvert(let priority):
                send(from: i, priority: priority)
            case .addVirtualAddresses:
                if speakers[i].holdsAddresses { violations.append("t=\(Self.time(now)) (c) \(name(i)) adds the VIP it already holds") }
                speakers[i].holdsAddresses = true
                note("\(name(i)) adds the VIP")
            case .removeVirtualAddresses:
                speakers[i].holdsAddresses = false
                note("\(name(i)) removes the VIP")
            case .transition(let from, let to, let priority):
                if from != speakers[i].reportedState {
                    violations.append("t=\(Self.time(now)) \(name(i)) reports a transition from \(from) but was \(speakers[i].reportedState)")
                }
                speakers[i].reportedState = to
                note("\(name(i)) \(from) -> \(to) (priority \(priority))")
            case .log(let text):
                note("\(name(i)) log: \(text)")
            case .refreshVirtualAddresses, .sendGratuitous, .masterReceivedLowerPriority:
                break
            }
        }
        let s = speakers[i]
        if s.reportedState != s.instance.state {
            violations.append("t=\(Self.time(now)) \(name(i)) is \(s.instance.state) but its transitions said \(s.reportedState)")
        }
        // (c): the VIP is on the interface exactly while the instance is MASTER.
        if s.running && s.holdsAddresses != (s.instance.state == .master) {
            violations.append("t=\(Self.time(now)) (c) \(name(i)) is \(s.instance.state) and \(s.holdsAddresses ? "holds" : "does not hold") the VIP")
        }
    }

    private mutating func send(from i: Int, priority: UInt8) {
        let s = speakers[i].settings
        let advert = VRRPAdvert(version: s.version, vrid: s.vrid, priority: priority,
                                intervalCentiseconds: s.intervalCentiseconds, addresses: [Self.vip],
                                authentication: authentication)
        let bytes = advert.encode(source: s.primaryAddress, destination: Self.group)
        note("\(name(i)) sends priority \(priority)")
        for j in speakers.indices where j != i {
            let link = links[i][j]
            guard link.up else { continue }
            if link.lossPercent > 0 && random.percent(link.lossPercent) {
                note("  lost: s\(i) -> s\(j)")
                continue
            }
            let copies = link.duplicatePercent > 0 && random.percent(link.duplicatePercent) ? 2 : 1
            for _ in 0..<copies {
                seq += 1
                inFlight.append(Packet(at: now + random.pick(link.minDelay...link.maxDelay), seq: seq, from: i, to: j,
                                       bytes: bytes, priority: priority))
            }
        }
    }

    private mutating func deliver(_ p: Packet) {
        if p.seq < lastDelivered[p.from][p.to] { coverage.overtaken += 1 }
        lastDelivered[p.from][p.to] = max(lastDelivered[p.from][p.to], p.seq)
        guard speakers[p.to].running else { return }
        if speakers[p.to].paused {
            speakers[p.to].inbox.append((p.bytes, p.from))
            return
        }
        note("s\(p.to) receives priority \(p.priority) from s\(p.from) (sent #\(p.seq))")
        receive(p.to, p.bytes, from: p.from)
    }

    /// The daemon's receive path: the packet through the codec and keepalived's checks, then
    /// to the instance. Every speaker here is configured alike, so a refusal is a finding.
    private mutating func receive(_ i: Int, _ bytes: [UInt8], from: Int) {
        let source = speakers[from].settings.primaryAddress
        switch speakers[i].filter.check(ReceivedPacket(payload: bytes, source: source, destination: Self.group, ttl: 255)) {
        case .success(let advert):
            handle(i, .advert(advert, from: source))
        case .failure(let reason):
            violations.append("t=\(Self.time(now)) \(name(i)) refused an advert from \(name(from)): \(reason)")
            handle(i, .rejected(reason, from: source))
        }
    }

    /// Runs every packet arrival, resume and timer due up to `limit`, in time order (at one
    /// instant: packets, then resumes, then timers, as the daemon reads before it fires timers).
    mutating func run(until limit: Micros) {
        guard violations.isEmpty else { return }
        while violations.isEmpty {
            var packet: Int?
            for k in inFlight.indices {
                if let b = packet, (inFlight[b].at, inFlight[b].seq) <= (inFlight[k].at, inFlight[k].seq) { continue }
                packet = k
            }
            var wake: (at: Micros, i: Int)?
            var timer: (at: Micros, i: Int)?
            for i in speakers.indices where speakers[i].running {
                if speakers[i].paused {
                    if let at = speakers[i].resumeAt, wake == nil || at < wake!.at { wake = (at, i) }
                } else if let d = speakers[i].instance.nextDeadline?.micros, timer == nil || d < timer!.at {
                    timer = (d, i)
                }
            }
            let packetAt = packet.map { inFlight[$0].at } ?? .max
            let resumeAt = wake?.at ?? .max
            let timerAt = timer?.at ?? .max
            let next = min(packetAt, resumeAt, timerAt)
            if next > limit { break }
            now = max(now, next)
            if packetAt == next {
                deliver(inFlight.remove(at: packet!))
            } else if resumeAt == next {
                resume(wake!.i)
            } else {
                let i = timer!.i
                handle(i, .timer)
                if speakers[i].running, let d = speakers[i].instance.nextDeadline?.micros, d <= now {
                    violations.append("t=\(Self.time(now)) \(name(i)) fired its timers but one is still due at \(Self.time(d))")
                    return
                }
            }
        }
        guard violations.isEmpty else { return }
        now = max(now, limit)
        checkInvariants()
    }

    // MARK: invariants

    /// (a) Once the network is healthy (no cut, no loss, nobody paused) and nothing has changed
    ///     for `convergenceBound`: if any running speaker is not faulty, exactly one speaker is
    ///     MASTER; it is not faulty; and no running, non-faulty speaker with preemption (with or
    ///     without preempt_delay) has a higher effective priority than it. Among equal
    ///     priorities the protocol does not choose (a backup accepts an equal-priority master
    ///     whatever its address; the address breaks ties only between two masters), and a
    ///     `nopreempt` speaker may stay backup under a lower master: neither is asserted.
    /// (b) Two running, unpaused MASTERs joined both ways by up, loss-free links, with
    ///     priorities unchanged, stay so at most the longer of their two advert intervals plus
    ///     the largest link delay.
    /// (c) After every batch of actions a running speaker holds the VIP exactly when MASTER
    ///     (checked in `perform`).
    /// (d) A running speaker with a weight-0 tracked object down is never MASTER.
    mutating func checkInvariants() {
        for i in speakers.indices where speakers[i].running {
            let s = speakers[i]
            if s.instance.isFaulty && s.instance.state == .master {
                violations.append("t=\(Self.time(now)) (d) \(name(i)) is MASTER with a weight-0 tracked object down")
            }
            if !s.paused && s.instance.tracked.values.contains(where: { o in s.tracked.contains { $0.name == o.name && $0.up != o.up } }) {
                violations.append("t=\(Self.time(now)) \(name(i)) tracks an object in a state the world does not have")
            }
        }
        let masters = speakers.indices.filter { speakers[$0].running && speakers[$0].instance.state == .master }
        for (a, i) in masters.enumerated() {
            for j in masters[(a + 1)...] {
                let hear = !speakers[i].paused && !speakers[j].paused
                    && links[i][j].up && links[j][i].up && links[i][j].lossPercent == 0 && links[j][i].lossPercent == 0
                guard hear else {
                    dualSince[i][j] = nil
                    continue
                }
                guard let since = dualSince[i][j] else {
                    dualSince[i][j] = now
                    coverage.dualMasters += 1
                    continue
                }
                let interval = Micros(max(speakers[i].settings.intervalCentiseconds, speakers[j].settings.intervalCentiseconds)) * 10_000
                if now - since > interval + delayCap {
                    violations.append("t=\(Self.time(now)) (b) \(name(i)) (priority \(speakers[i].instance.effectivePriority)) and \(name(j)) (priority \(speakers[j].instance.effectivePriority)) both MASTER and hearing each other since t=\(Self.time(since)), longer than \(Self.time(interval + delayCap)) s")
                    dualSince[i][j] = now
                }
            }
        }
        // Pairs no longer both MASTER.
        for i in speakers.indices {
            for j in speakers.indices where j > i && dualSince[i][j] != nil && !(masters.contains(i) && masters.contains(j)) {
                dualSince[i][j] = nil
            }
        }
        guard networkHealthy, now - stableSince > convergenceBound else { return }
        coverage.convergenceChecks += 1
        let eligible = speakers.indices.filter { speakers[$0].running && !speakers[$0].instance.isFaulty }
        if eligible.isEmpty {
            if !masters.isEmpty { violations.append("t=\(Self.time(now)) (a) no speaker can be master, yet \(masters.map(name)) are") }
            return
        }
        guard masters.count == 1 else {
            violations.append("t=\(Self.time(now)) (a) \(masters.count) masters \(masters.map(name)) after \(Self.time(now - stableSince)) s healed and stable (bound \(Self.time(convergenceBound)) s)")
            stableSince = now  // one report per episode
            return
        }
        let m = masters[0]
        let pm = speakers[m].instance.effectivePriority
        for j in eligible where j != m && speakers[j].settings.preempt {
            let pj = speakers[j].instance.effectivePriority
            if pj > pm {
                violations.append("t=\(Self.time(now)) (a) master \(name(m)) has priority \(pm) but \(name(j)), preempting, has \(pj), after \(Self.time(now - stableSince)) s healed and stable")
                stableSince = now
            }
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
