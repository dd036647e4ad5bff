import Foundation
import Testing
@testable import VRRPCore

/// Randomized fault schedules on a simulated VRRP network (`SimulatedVRRPNetwork`), each decided
/// entirely by one seed: the speakers' configuration, the links, every fault and when, every
/// delay, loss and duplicate. The invariants are checked after every step. A failure names its
/// seed; `SIMULATE_SEED=<seed> swift test --disable-xctest --filter VRRPFaultScheduleTests/schedules`
/// (or `scripts/simulate --vrrp --replay <seed>`) replays it with a trace of every fault, packet
/// and transition.
struct VRRPFaultSchedule {
    let seed: UInt64
    let tracing: Bool
    let bug: VRRPInstance.DeliberateBug?
    var trace: [String] = []
    var violations: [String] = []
    var coverage = SimulatedVRRPNetwork.Coverage()

    init(seed: UInt64, tracing: Bool = false, bug: VRRPInstance.DeliberateBug? = nil) {
        self.seed = seed
        self.tracing = tracing
        self.bug = bug
    }

    static let second: Micros = 1_000_000

    /// 2–5 speakers start within 2 s and settle for a random while; 30 s of random faults; then
    /// everything heals (links up and loss-free, paused speakers resumed, stopped ones
    /// restarted; tracked objects stay as they are) and the network runs for the convergence
    /// bound plus 5 s, with (a) checked at every step past the bound.
    mutating func run() {
        var random = ScheduleRandom(seed: seed)
        let count = 2 + random.pick(4)
        let version: VRRPVersion = random.percent(50) ? .v2 : .v3
        // v2 rejects an interval other than its own, so a v2 group shares one; v3 speakers may differ.
        let sharedInterval = version == .v2 ? [100, 100, 100, 200][random.pick(4)] : [20, 50, 100, 100][random.pick(4)]
        let mixedIntervals = version == .v3 && random.percent(40)
        let owner = random.percent(20) ? random.pick(count) : nil
        // A small pool, so equal priorities (and the tie-break) are common.
        let priorities: [UInt8] = [1, 50, 100, 100, 150, 200, 254]
        // Distinct primary addresses in an order unrelated to the speakers' indices.
        var hosts = Array(1...9)
        for k in hosts.indices.reversed() { hosts.swapAt(k, random.pick(k + 1)) }

        var settings: [VRRPInstanceSettings] = []
        var tracked: [[TrackedObject]] = []
        for i in 0..<count {
            let interval = mixedIntervals ? [20, 50, 100, 150][random.pick(4)] : sharedInterval
            let priority = owner == i ? 255 : priorities[random.pick(priorities.count)]
            var preempt = true
            var preemptDelay = Duration.zero
            var initialMaster = false
            switch random.pick(20) {
            case 0..<3: preempt = false
            case 3..<6: preemptDelay = .milliseconds(250 * (1 + random.pick(16)))
            case 6..<9: initialMaster = true
            default: break
            }
            let downTimerAdverts = random.percent(80) ? 3 : 1 + random.pick(5)
            var objects: [TrackedObject] = []
            for k in 0..<random.pick(3) {
                let weight = [0, 0, 10, 30, 60, -10, -30, -60][random.pick(8)]
                objects.append(TrackedObject(name: "chk\(k)", weight: weight, up: random.percent(85)))
            }
            tracked.append(objects)
            let refresh: Duration? = random.percent(30) ? .seconds(1) : nil
            settings.append(VRRPInstanceSettings(
                name: "VI_1", version: version, vrid: 51, priority: priority, intervalCentiseconds: interval,
                primaryAddress: IPAddress("10.0.0.\(hosts[i])")!, initialMaster: initialMaster, preempt: preempt,
                preemptDelay: preemptDelay, downTimerAdverts: downTimerAdverts,
                advertOnLowerPriority: random.percent(85), addressRefresh: refresh, tracked: objects))
        }
        let delayCap: Micros = [1_000, 20_000, 100_000, 300_000][random.pick(4)]
        func randomLink() -> SimulatedVRRPNetwork.Link {
            let low = random.pick(0...delayCap / 2)
            return SimulatedVRRPNetwork.Link(minDelay: low, maxDelay: random.pick(low...delayCap))
        }
        var links: [[SimulatedVRRPNetwork.Link]] = []
        for _ in 0..<count { links.append((0..<count).map { _ in randomLink() }) }

        let authentication: VRRPAuthentication = version == .v2 && random.percent(50) ? .pass("tandem") : .none
        var net = SimulatedVRRPNetwork(settings: settings, tracked: tracked, authentication: authentication, links: links,
                                       delayCap: delayCap, random: random, bug: bug, tracing: tracing)
        net.note("seed \(seed): \(count) speakers, \(version)\(authentication == .none ? "" : " auth PASS"), link delay ≤ \(SimulatedVRRPNetwork.time(delayCap)) s, convergence bound \(SimulatedVRRPNetwork.time(net.convergenceBound)) s")
        for i in 0..<count {
            let s = settings[i]
            net.note("  s\(i) \(s.primaryAddress) priority \(s.priority) interval \(s.intervalCentiseconds) cs \(s.preempt ? (s.preemptDelay > .zero ? "preempt_delay \(s.preemptDelay)" : "preempt") : "nopreempt")\(s.initialMaster ? " state MASTER" : "") down_timer_adverts \(s.downTimerAdverts) lower_prio_advert \(s.advertOnLowerPriority) tracked \(tracked[i].map { "\($0.name)/\($0.weight)/\($0.up ? "up" : "down")" })")
        }

        // Start, each within 2 s, then settle for a random while (faults may begin mid-election).
        let starts = (0..<count).map { _ in net.random.pick(0...2 * Self.second) }
        for i in (0..<count).sorted(by: { (starts[$0], $0) < (starts[$1], $1) }) {
            net.run(until: starts[i])
            net.start(i)
        }
        net.run(until: net.now + net.random.pick(0...(net.convergenceBound + 2 * Self.second)))

        // Faults.
        let faultsEnd = net.now + 30 * Self.second
        while net.now < faultsEnd && net.violations.isEmpty {
            net.run(until: min(faultsEnd, net.now + net.random.pick(100_000...3 * Self.second)))
            let i = net.random.pick(count)
            let j = (i + 1 + net.random.pick(count - 1)) % count
            switch net.random.pick(12) {
            case 0:
                net.links[i][j].up = false
                net.note("fault: link s\(i) -> s\(j) cut (one way)")
                net.disturb([i, j])
            case 1:
                net.links[i][j].up = false
                net.links[j][i].up = false
                net.note("fault: s\(i) and s\(j) cut from each other")
                net.disturb([i, j])
            case 2:
                for k in 0..<count where k != i {
                    net.links[i][k].up = false
                    net.links[k][i].up = false
                }
                net.note("fault: s\(i) isolated")
                net.disturb()
            case 3:
                net.healLinks()
            case 4:
                let loss = 10 + net.random.pick(60)
                if net.random.percent(50) {
                    net.links[i][j].lossPercent = loss
                    net.note("fault: link s\(i) -> s\(j) loses \(loss)%")
                    net.disturb([i, j])
                } else {
                    for a in 0..<count { for b in 0..<count { net.links[a][b].lossPercent = loss } }
                    net.note("fault: every link loses \(loss)%")
                    net.disturb()
                }
            case 5:
                let duplicate = net.random.percent(50) ? 0 : 20 + net.random.pick(40)
                for a in 0..<count { for b in 0..<count { net.links[a][b].duplicatePercent = duplicate } }
                net.note("fault: every link duplicates \(duplicate)%")
                net.disturb()
            case 6:
                if net.speakers[i].running { net.crash(i) } else { net.start(i) }
            case 7:
                if net.speakers[i].running && !net.speakers[i].paused { net.shutdown(i) } else if !net.speakers[i].running { net.start(i) }
            case 8:
                if net.speakers[i].running && !net.speakers[i].paused { net.pause(i, for: net.random.pick(100_000...8 * Self.second)) }
            case 9, 10:
                let objects = net.speakers[i].tracked
                if !objects.isEmpty {
                    let k = net.random.pick(objects.count)
                    net.setTracked(i, object: k, up: !objects[k].up)
                }
            default:
                let low = net.random.pick(0...delayCap / 2)
                net.links[i][j].minDelay = low
                net.links[i][j].maxDelay = net.random.pick(low...delayCap)
                net.note("fault: link s\(i) -> s\(j) delay now \(SimulatedVRRPNetwork.time(low))–\(SimulatedVRRPNetwork.time(net.links[i][j].maxDelay)) s")
                // A takeover the old variation allowed may still be resolving: (a) waits again.
                net.disturb([i, j])
            }
        }

        // Heal, then run past the convergence bound.
        net.healLinks()
        for i in 0..<count where net.speakers[i].paused { net.resume(i) }
        for i in 0..<count where !net.speakers[i].running { net.start(i) }
        net.steadyDelays()
        net.note("heal: everything; tracked objects stay as they are")
        net.run(until: net.now + net.convergenceBound + 5 * Self.second)
        if !net.convergencePromised {
            net.coverage.unpromised += 1
            net.note("(a) not checked: v3 intervals this far apart let a backup that learned the shortest one take over between the longest one's adverts")
        } else if net.violations.isEmpty && net.coverage.convergenceChecks == 0 {
            net.violations.append("(a) never checked: the network was never healthy past the bound")
        }
        if tracing {
            for i in 0..<count {
                let s = net.speakers[i]
                net.note("end \(net.name(i)) \(s.instance.state) priority \(s.instance.effectivePriority) faulty \(s.instance.isFaulty) holds VIP \(s.holdsAddresses)")
            }
        }
        trace = net.trace
        violations = net.violations
        coverage = net.coverage
    }
}

@Suite("VRRP core: randomized fault schedules")
struct VRRPFaultScheduleTests {
    /// How many schedules a test run checks (SIMULATE_SCHEDULES to change it).
    static var count: Int { Int(ProcessInfo.processInfo.environment["SIMULATE_SCHEDULES"] ?? "") ?? 2000 }
    static var firstSeed: UInt64 { UInt64(ProcessInfo.processInfo.environment["SIMULATE_FIRST_SEED"] ?? "") ?? 1 }

    @Test("one master with the highest preempting priority once healed, dual masters only while adverts cannot flow, VIP only on a master, never a faulty master")
    func schedules() {
        if let seed = ProcessInfo.processInfo.environment["SIMULATE_SEED"].flatMap({ UInt64($0) }) {
            var schedule = VRRPFaultSchedule(seed: seed, tracing: true)
            schedule.run()
            print(schedule.trace.joined(separator: "\n"))
            #expect(schedule.violations.isEmpty, "seed \(seed): \(schedule.violations)")
            return
        }
        let start = ContinuousClock.now
        var failed: [(UInt64, [String])] = []
        var coverage = SimulatedVRRPNetwork.Coverage()
        for seed in Self.firstSeed..<(Self.firstSeed + UInt64(Self.count)) {
            var schedule = VRRPFaultSchedule(seed: seed)
            schedule.run()
            coverage += schedule.coverage
            if !schedule.violations.isEmpty { failed.append((seed, schedule.violations)) }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("simulated \(Self.count) schedules in \(String(format: "%.1f", seconds)) s, \(failed.count) invariant violations (\(String(format: "%.0f", Double(Self.count) / max(seconds, 0.001))) schedules per second, seeds \(Self.firstSeed)–\(Self.firstSeed + UInt64(Self.count) - 1))")
        print("  (a) checked at \(coverage.convergenceChecks) steps (not promised in \(coverage.unpromised) schedules: v3 intervals far apart); \(coverage.dualMasters) times two masters could hear each other (b); \(coverage.overtaken) adverts overtaken by a later one on their link")
        for (seed, violations) in failed.prefix(5) {
            Issue.record("seed \(seed): \(violations.prefix(3)); replay: SIMULATE_SEED=\(seed) swift test --disable-xctest --filter VRRPFaultScheduleTests/schedules")
        }
    }

    /// Found by the soak: with v3 intervals of 0.2 s and 1.5 s (or 1 s), a backup accepts the
    /// last adverts of a short-interval master just deposed after the new master's, adopts the
    /// short interval (RFC 5798 §6.4.2 says any accepted advert; keepalived does the same) and
    /// takes over between the long-interval master's adverts, again and again on a healed
    /// network. Not a VRRPCore bug: (a) is not promised for such configurations; the others hold.
    @Test("v3 intervals far apart: backups adopting a deposed master's short interval flap (seeds 215823, 223394); (a) not promised, (b)-(d) hold")
    func intervalsFarApartAreNotPromisedConvergence() {
        for seed: UInt64 in [215823, 223394] {
            var schedule = VRRPFaultSchedule(seed: seed)
            schedule.run()
            #expect(schedule.violations.isEmpty, "seed \(seed): \(schedule.violations)")
            #expect(schedule.coverage.unpromised == 1, "seed \(seed) should be a configuration (a) does not apply to")
        }
    }

    /// The first seed (within the test command's budget) whose schedule a deliberate bug breaks.
    static func firstCaught(by bug: VRRPInstance.DeliberateBug, invariant: String) -> UInt64? {
        for seed in Self.firstSeed..<(Self.firstSeed + UInt64(Self.count)) {
            var schedule = VRRPFaultSchedule(seed: seed, bug: bug)
            schedule.run()
            if schedule.violations.contains(where: { $0.contains(invariant) }) { return seed }
        }
        return nil
    }

    @Test("a master that ignores higher-priority adverts (a deliberate bug) is caught within the same budget")
    func brokenStepDownIsCaught() {
        let caught = Self.firstCaught(by: .masterIgnoresHigherPriority, invariant: "(b)")
        #expect(caught != nil, "no schedule of \(Self.count) caught a master ignoring higher priorities")
        print("the deliberately ignored higher-priority advert was caught by seed \(caught.map(String.init) ?? "none")")
    }

    @Test("a backup that never preempts a lower-priority master (a deliberate bug) is caught within the same budget")
    func brokenPreemptionIsCaught() {
        let caught = Self.firstCaught(by: .backupNeverPreempts, invariant: "(a)")
        #expect(caught != nil, "no schedule of \(Self.count) caught a backup that never preempts")
        print("the deliberately missing preemption was caught by seed \(caught.map(String.init) ?? "none")")
    }

    @Test("a master that skips the equal-priority tie-break (a deliberate bug) is caught within the same budget")
    func brokenTieBreakIsCaught() {
        let caught = Self.firstCaught(by: .masterSkipsTieBreak, invariant: "(b)")
        #expect(caught != nil, "no schedule of \(Self.count) caught a master skipping the tie-break")
        print("the deliberately skipped tie-break was caught by seed \(caught.map(String.init) ?? "none")")
    }
}
