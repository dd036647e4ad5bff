/// The RFC states of an instance, plus keepalived's FAULT and the stopped state after shutdown.
/// Raw values are keepalived's notify arguments.
public enum VRRPState: String, Sendable, Hashable {
    case initialize = "INIT"
    case backup = "BACKUP"
    case master = "MASTER"
    case fault = "FAULT"
    case stopped = "STOP"
}

/// What an instance is configured as; the pure core's view of a `vrrp_instance` block.
public struct VRRPInstanceSettings: Sendable {
    public var name: String
    public var version: VRRPVersion
    public var vrid: UInt8
    /// Configured priority, 1–255; 255 is the address owner, which tracking never changes.
    public var priority: UInt8
    /// Advertisement interval in centiseconds (v2: a multiple of 100).
    public var intervalCentiseconds: Int
    /// Our primary address on the interface: the advert source and the tie-break.
    public var primaryAddress: IPAddress
    /// `state MASTER`: start after one interval instead of Master_Down_Interval.
    public var initialMaster: Bool
    public var preempt: Bool
    public var preemptDelay: Duration
    /// keepalived's `down_timer_adverts`: adverts missed before the master is down (RFC: 3).
    public var downTimerAdverts: Int
    /// Gratuitous ARPs / unsolicited NAs per burst (`garp_master_repeat`).
    public var garpRepeat: Int
    /// Delay of the second burst (`garp_master_delay`); zero for none.
    public var garpDelay: Duration
    /// Periodic re-announcement while master (`garp_master_refresh`), nil for none.
    public var garpRefresh: Duration?
    public var garpRefreshRepeat: Int
    /// keepalived's default: a master answers a lower-priority advert with one of its own.
    public var advertOnLowerPriority: Bool
    /// Gratuitous ARPs / unsolicited NAs a master sends when it hears a lower-priority advert, to
    /// take the clients' caches back from the speaker that sent it (`garp_lower_prio_repeat`;
    /// keepalived's default: `garp_master_repeat`'s); zero for none.
    public var garpLowerPriorityRepeat: Int
    /// Delay of that burst's second one (`garp_lower_prio_delay`; default `garp_master_delay`'s);
    /// zero for none.
    public var garpLowerPriorityDelay: Duration
    /// How often the virtual addresses' lifetimes are renewed while master (nil: never).
    public var addressRefresh: Duration?
    /// Tracked objects (scripts, interfaces) with their weights; weight 0 means FAULT when down.
    public var tracked: [TrackedObject]

    public init(
        name: String, version: VRRPVersion = .v2, vrid: UInt8, priority: UInt8 = 100, intervalCentiseconds: Int = 100,
        primaryAddress: IPAddress, initialMaster: Bool = false, preempt: Bool = true, preemptDelay: Duration = .zero,
        downTimerAdverts: Int = 3, garpRepeat: Int = 5, garpDelay: Duration = .seconds(5), garpRefresh: Duration? = nil,
        garpRefreshRepeat: Int = 1, advertOnLowerPriority: Bool = true, garpLowerPriorityRepeat: Int? = nil,
        garpLowerPriorityDelay: Duration? = nil, addressRefresh: Duration? = nil, tracked: [TrackedObject] = []
    ) {
        self.name = name
        self.version = version
        self.vrid = vrid
        self.priority = priority
        self.intervalCentiseconds = intervalCentiseconds
        self.primaryAddress = primaryAddress
        self.initialMaster = initialMaster
        self.preempt = preempt
        self.preemptDelay = preemptDelay
        self.downTimerAdverts = downTimerAdverts
        self.garpRepeat = garpRepeat
        self.garpDelay = garpDelay
        self.garpRefresh = garpRefresh
        self.garpRefreshRepeat = garpRefreshRepeat
        self.advertOnLowerPriority = advertOnLowerPriority
        self.garpLowerPriorityRepeat = garpLowerPriorityRepeat ?? garpRepeat
        self.garpLowerPriorityDelay = garpLowerPriorityDelay ?? garpDelay
        self.addressRefresh = addressRefresh
        self.tracked = tracked
    }
}

/// A tracked script or interface as the core sees it: up or down, and its weight.
public struct TrackedObject: Sendable, Hashable {
    public var name: String
    /// 0: down means FAULT. > 0: added while up. < 0: subtracted while down.
    public var weight: Int
    public var up: Bool
    /// A `track_file`'s contribution (value × weight), added while `up`; 0 for the others.
    public var offset: Int

    public init(name: String, weight: Int, up: Bool = true, offset: Int = 0) {
        self.name = name
        self.weight = weight
        self.up = up
        self.offset = offset
    }

    /// A `track_file` as the core sees it: `TrackFileValue.offset`'s result, FAULT at −254.
    public static func file(name: String, offset: Int) -> TrackedObject {
        TrackedObject(name: name, weight: 0, up: offset > TrackFileValue.fault, offset: offset > TrackFileValue.fault ? offset : 0)
    }
}

/// Inputs to an instance.
public enum VRRPEvent: Sendable {
    case start
    /// An advert that passed `VRRPAdvertFilter`.
    case advert(VRRPAdvert, from: IPAddress)
    /// The same, heard by a master back from a stall of its own (SIGSTOP, a VM pause: the shell
    /// found a Master_Down_Interval between two of its passes) while this node may not hold the
    /// addresses (the node agent's claim gate: no majority heard just now). A master that hears
    /// another master of a lower priority then yields to it instead of re-asserting itself: the
    /// others took it for failed, and its view (its priority among them) is stale until its
    /// agent hears the group again.
    case advertWhileBarred(VRRPAdvert, from: IPAddress)
    /// A packet the filter refused: counted, never a timer reset.
    case rejected(VRRPRejection, from: IPAddress)
    /// Time passed; deadlines at or before `now` fire.
    case timer
    /// A tracked object went up or down.
    case tracked(name: String, up: Bool)
    /// A tracked file's offset changed (`TrackFileValue.offset`; −254 is FAULT).
    case trackedOffset(name: String, offset: Int)
    /// Graceful stop: priority 0 if master, addresses removed.
    case shutdown
    /// A `vrrp_sync_group` member became master: a backup member follows at once.
    case syncMaster
    /// A sync group member left mastership for backup: a master member follows.
    case syncBackup
    /// The node agent knows this router should hold the addresses now (its Redis was just
    /// confirmed as the group's master): a backup takes over after Skew_Time, as if the master
    /// had left with a priority-0 advert, instead of waiting out Master_Down_Interval. A live
    /// master with a higher priority still wins: its next advert sends us back to backup.
    case claim
}

/// Outputs the shell carries out, in order.
public enum VRRPAction: Sendable, Hashable {
    case sendAdvert(priority: UInt8)
    case addVirtualAddresses
    /// Renew the addresses' finite lifetimes.
    case refreshVirtualAddresses
    case removeVirtualAddresses
    /// Gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6) for every address.
    case sendGratuitous(count: Int)
    /// The instance changed state: notify scripts, email, log.
    case transition(from: VRRPState, to: VRRPState, priority: UInt8)
    /// A master heard a lower-priority advert (keepalived's `notify_master_rx_lower_pri`).
    case masterReceivedLowerPriority(UInt8, from: IPAddress)
    case log(String)
}

/// One VRRP instance (RFC 5798 §6.4 with keepalived's deviations), driven by a clock it never
/// reads: every input carries `now`, the time since an arbitrary origin.
public struct VRRPInstance: Sendable {
    /// The configuration; its priority drops to 254 when another address owner is heard
    /// (keepalived's rule), and a reload replaces it (`reconfigure`).
    public private(set) var settings: VRRPInstanceSettings
    public private(set) var state: VRRPState = .initialize
    /// The master's advert interval (v3 backups adopt the master's), in centiseconds.
    public private(set) var masterAdverIntervalCentiseconds: Int
    /// The last advert heard from another router (priority above 0) and when, in any state.
    private var lastAdvertHeard: (priority: UInt8, at: Duration)?
    /// The last advert of any priority heard from another router, and since when this instance
    /// listens (`.start`): a claim after a Master_Down_Interval of silence takes over at once.
    private var lastAnyAdvert: Duration?
    private var listeningSince: Duration?
    public private(set) var tracked: [String: TrackedObject]
    /// Packets refused by the filter, by reason: counted, nothing more.
    public private(set) var rejectedAdverts = 0
    public private(set) var lastRejection: VRRPRejection?

    private var advertTimer: Duration?
    private var masterDownTimer: Duration?
    private var preemptDeadline: Duration?
    private var garpSecondBurst: Duration?
    private var garpLowerPrioritySecondBurst: Duration?
    private var garpRefreshTimer: Duration?
    private var addressRefreshTimer: Duration?

    /// TEST-ONLY: a deliberate flaw the randomized VRRP schedules must catch
    /// (Tests/VRRPCoreTests/VRRPFaultSchedules.swift). Nothing outside the tests sets it.
    enum DeliberateBug: Sendable, Hashable {
        /// A master never steps down for a higher-priority advert.
        case masterIgnoresHigherPriority
        /// A master never steps down for an equal-priority advert from a higher address.
        case masterSkipsTieBreak
        /// A backup defers to a lower-priority master as if it had `nopreempt`.
        case backupNeverPreempts
    }
    var brokenForTesting: DeliberateBug?

    public init(settings: VRRPInstanceSettings) {
        self.settings = settings
        self.masterAdverIntervalCentiseconds = settings.intervalCentiseconds
        self.tracked = Dictionary(settings.tracked.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The earliest deadline the shell must wake up for (then send `.timer`).
    public var nextDeadline: Duration? {
        [advertTimer, masterDownTimer, garpSecondBurst, garpLowerPrioritySecondBurst, garpRefreshTimer, addressRefreshTimer].compactMap { $0 }.min()
    }

    /// The Master_Down_Timer's deadline, while Backup.
    public var masterDownDeadline: Duration? { masterDownTimer }

    /// True when a weight-0 tracked object is down.
    public var isFaulty: Bool { tracked.values.contains { $0.weight == 0 && !$0.up } }

    /// The weight-0 tracked objects down now (sorted): why the instance is FAULT, if it is for
    /// its own reason (empty when its sync group imposes the FAULT).
    public var faultCauses: [String] { tracked.values.filter { $0.weight == 0 && !$0.up }.map(\.name).sorted() }

    /// True when a weight-0 tracked object other than `excluding` is down: the instance's own
    /// fault, as opposed to one imposed by its sync group.
    public func isFaulty(excluding name: String) -> Bool {
        tracked.values.contains { $0.weight == 0 && !$0.up && $0.name != name }
    }

    /// The priority sent in adverts: configured ± tracking weights, kept in 1–254; 255 stays 255.
    public var effectivePriority: UInt8 {
        guard settings.priority != 255 else { return 255 }
        var p = Int(settings.priority)
        for object in tracked.values {
            if object.up { p += object.offset }
            if object.weight > 0 && object.up { p += object.weight }
            if object.weight < 0 && !object.up { p += object.weight }
        }
        return UInt8(min(max(p, 1), 254))
    }

    /// (256 − priority) / 256 of the master's interval.
    public var skewTime: Duration {
        .microseconds((256 - Int(effectivePriority)) * masterAdverIntervalCentiseconds * 10_000 / 256)
    }

    /// down_timer_adverts × Master_Adver_Interval + Skew_Time.
    public var masterDownInterval: Duration {
        .microseconds(settings.downTimerAdverts * masterAdverIntervalCentiseconds * 10_000) + skewTime
    }

    private var advertInterval: Duration { .milliseconds(settings.intervalCentiseconds * 10) }

    public mutating func handle(_ event: VRRPEvent, now: Duration) -> [VRRPAction] {
        switch event {
        case .start:
            guard state == .initialize else { return [] }
            listeningSince = now
            if isFaulty { return enterFault(now: now) }
            // keepalived 2.2.7: an owner with `state MASTER` is master at once; with `state
            // BACKUP` it starts as a backup like any other and takes over after Master_Down_Interval.
            if settings.priority == 255 && settings.initialMaster { return enterMaster(now: now) }
            var actions = enterBackup(now: now)
            if settings.initialMaster {
                // keepalived: state MASTER below 255 waits one interval and the minimum skew.
                masterDownTimer = now + advertInterval + .microseconds(settings.intervalCentiseconds * 10_000 / 256)
                actions.append(.log("starting as MASTER candidate: taking over in \(advertInterval) unless a master advertises"))
            }
            return actions

        case .advert(let advert, let from):
            noteAdvert(advert, now: now)
            return receive(advert, from: from, now: now)

        case .advertWhileBarred(let advert, let from):
            noteAdvert(advert, now: now)
            if state == .master, advert.priority > 0, advert.priority < effectivePriority {
                learnInterval(advert)
                return [.log("another master \(from) (priority \(advert.priority), ours \(effectivePriority)) while this node may not hold the addresses: yielding")]
                    + leaveMaster(now: now)
            }
            return receive(advert, from: from, now: now)

        case .rejected(let reason, let from):
            rejectedAdverts += 1
            lastRejection = reason
            return [.log("rejected advert from \(from): \(reason)")]

        case .timer:
            return fireTimers(now: now)

        case .tracked(let name, let up):
            guard var object = tracked[name], object.up != up else { return [] }
            let before = effectivePriority
            object.up = up
            tracked[name] = object
            let actions: [VRRPAction] = [.log("\(name) is \(up ? "up" : "down"); priority \(before) -> \(effectivePriority)")]
            return actions + trackingChanged(now: now)

        case .trackedOffset(let name, let offset):
            guard let object = tracked[name] else { return [] }
            let updated = TrackedObject.file(name: name, offset: offset)
            guard updated.up != object.up || updated.offset != object.offset else { return [] }
            let before = effectivePriority
            tracked[name] = updated
            let what = updated.up ? "offset \(updated.offset)" : "FAULT (\(offset))"
            let actions: [VRRPAction] = [.log("\(name) is \(what); priority \(before) -> \(effectivePriority)")]
            return actions + trackingChanged(now: now)

        case .syncMaster:
            guard state == .backup else { return [] }
            return [.log("sync group: following a member to MASTER")] + enterMaster(now: now)

        case .syncBackup:
            guard state == .master else { return [] }
            return [.log("sync group: following a member to BACKUP")] + leaveMaster(now: now)

        case .claim:
            guard state == .backup else { return [] }
            // Skew_Time leaves a moment for a master of higher (or equal) priority to be heard.
            // A master heard within its advert interval at a lower priority is being preempted
            // anyway: at once (the node agent's fenced old holder at its base priority; the
            // lab's cut: 57 ms sooner).
            // The master heard before silent for a Master_Down_Interval: it is gone (a backup
            // free to claim would have taken over by now; the node agent claims only for the one
            // node whose Redis is the confirmed master): at once too (the lab's cut where VRRP
            // does not cross: 49 ms sooner). Not when nothing was ever heard: an interface down
            // until now, say, heard nothing, and a master may be there.
            var due = now + skewTime
            var why = ""
            if settings.preempt, let heard = lastAdvertHeard, heard.priority < effectivePriority,
               now - heard.at <= .milliseconds(masterAdverIntervalCentiseconds * 10) {
                due = now
                why = "the master heard advertises a lower priority"
            } else if let since = listeningSince, now - since >= masterDownInterval,
                      let last = lastAnyAdvert, now - last >= masterDownInterval {
                due = now
                why = "no master heard for \(masterDownInterval)"
            }
            if let current = masterDownTimer, current <= due { return [] }
            masterDownTimer = due
            if due == now { return [.log("claiming the addresses: taking over now (\(why))")] }
            return [.log("claiming the addresses: taking over in \(skewTime) unless a master advertises")]

        case .shutdown:
            var actions: [VRRPAction] = []
            if state == .master {
                actions += [.sendAdvert(priority: 0), .removeVirtualAddresses]
            }
            actions.append(.transition(from: state, to: .stopped, priority: effectivePriority))
            state = .stopped
            clearTimers()
            return actions
        }
    }

    /// A reload's new settings for this instance (keepalived 2.2.7's `restore_vrrp_state`): the
    /// state stays, so a master keeps its addresses and a backup its timers; the new priority,
    /// interval and tracked objects (with the states the shell reads now) apply from here. A
    /// master advertises at once, as keepalived does after a reload; when addresses were added
    /// it adds them and announces them all (`garp_master_repeat`), as keepalived does. A weight-0
    /// tracked object now down puts the instance in FAULT; none down brings it out of FAULT.
    /// A lower priority is not a reason to step down by itself: a backup that now outranks the
    /// master preempts when its Master_Down_Timer runs out, as in keepalived.
    public mutating func reconfigure(_ new: VRRPInstanceSettings, addressesAdded: Bool, now: Duration) -> [VRRPAction] {
        let before = effectivePriority
        let oldInterval = settings.intervalCentiseconds
        settings = new
        tracked = Dictionary(new.tracked.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        if new.intervalCentiseconds != oldInterval { masterAdverIntervalCentiseconds = new.intervalCentiseconds }
        var actions: [VRRPAction] = []
        if effectivePriority != before { actions.append(.log("reload: priority \(before) -> \(effectivePriority)")) }
        let fault = trackingChanged(now: now)
        if !fault.isEmpty { return actions + fault }
        switch state {
        case .master:
            actions.append(.sendAdvert(priority: effectivePriority))
            advertTimer = now + advertInterval
            if addressesAdded { actions += [.addVirtualAddresses, .sendGratuitous(count: new.garpRepeat)] }
            garpRefreshTimer = new.garpRefresh.map { now + $0 }
            if new.addressRefresh == nil { addressRefreshTimer = nil }
        case .backup:
            if !new.preempt { preemptDeadline = nil }
            // A shorter interval shortens the wait; a longer one applies from the next advert.
            if let due = masterDownTimer { masterDownTimer = min(due, now + masterDownInterval) }
        case .initialize, .fault, .stopped:
            break
        }
        return actions
    }

    /// After a tracked object changed: FAULT entered or left.
    private mutating func trackingChanged(now: Duration) -> [VRRPAction] {
        if state == .stopped || state == .initialize { return [] }
        if isFaulty && state != .fault { return enterFault(now: now) }
        if !isFaulty && state == .fault { return settings.priority == 255 ? enterMaster(now: now) : enterBackup(now: now) }
        return []
    }

    private mutating func receive(_ advert: VRRPAdvert, from: IPAddress, now: Duration) -> [VRRPAction] {
        let mine = effectivePriority
        switch state {
        case .backup:
            if advert.priority == 0 {
                masterDownTimer = now + skewTime
                return [.log("received priority 0 advert from \(from): master leaving")]
            }
            if advert.priority >= mine || !settings.preempt || brokenForTesting == .backupNeverPreempts {
                preemptDeadline = nil
                learnInterval(advert)
                masterDownTimer = now + masterDownInterval
                return []
            }
            if settings.preemptDelay > .zero {
                // Lower-priority master: keep deferring to it until preempt_delay has passed.
                if preemptDeadline == nil { preemptDeadline = now + settings.preemptDelay }
                if let deadline = preemptDeadline, now < deadline {
                    learnInterval(advert)
                    masterDownTimer = now + masterDownInterval
                    return []
                }
            }
            return [.log("ignoring lower priority \(advert.priority) advert from \(from) (ours \(mine)): preempting")]

        case .master:
            if advert.priority == 0 {
                advertTimer = now + advertInterval
                return [.sendAdvert(priority: mine)]
            }
            if settings.priority == 255 && advert.priority == 255 && from != settings.primaryAddress {
                // keepalived 2.2.7: two address owners is a configuration error; the one that
                // hears the other gives up ownership for good (until a restart or reload).
                settings.priority = 254
                var actions: [VRRPAction] = [.log("CONFIGURATION ERROR: local instance and a remote instance (\(from)) are both configured as address owner, please fix - reducing local priority to 254")]
                learnInterval(advert)
                actions += leaveMaster(now: now)
                return actions
            }
            let higher = advert.priority > mine && brokenForTesting != .masterIgnoresHigherPriority
            let wonTieBreak = advert.priority == mine && from > settings.primaryAddress && brokenForTesting != .masterSkipsTieBreak
            if higher || wonTieBreak {
                learnInterval(advert)
                var actions: [VRRPAction] = [.log("received advert from \(from) with priority \(advert.priority), ours \(mine)")]
                actions += leaveMaster(now: now)
                return actions
            }
            var actions: [VRRPAction] = [.masterReceivedLowerPriority(advert.priority, from: from)]
            if settings.advertOnLowerPriority {
                actions += [.log("received lower priority \(advert.priority) advert from \(from): forcing a new election"),
                            .sendAdvert(priority: mine)]
            }
            // Another speaker believed itself master: it may have taken the clients' ARP caches
            // (keepalived re-announces, garp_lower_prio_repeat), and our addresses may be gone
            // meanwhile — a frozen tandem's address guard takes them away once that speaker is
            // heard; they come back here, before the announcement.
            actions.append(.refreshVirtualAddresses)
            if settings.garpLowerPriorityRepeat > 0 {
                actions.append(.sendGratuitous(count: settings.garpLowerPriorityRepeat))
                if settings.garpLowerPriorityDelay > .zero { garpLowerPrioritySecondBurst = now + settings.garpLowerPriorityDelay }
            }
            return actions

        case .initialize, .fault, .stopped:
            return []
        }
    }

    /// Another router's advert, in any state: what `.claim` knows of the current master.
    private mutating func noteAdvert(_ advert: VRRPAdvert, now: Duration) {
        lastAdvertHeard = advert.priority > 0 ? (advert.priority, now) : nil
        lastAnyAdvert = now
    }

    private mutating func learnInterval(_ advert: VRRPAdvert) {
        if settings.version == .v3 && advert.intervalCentiseconds > 0 {
            masterAdverIntervalCentiseconds = advert.intervalCentiseconds
        }
    }

    private mutating func fireTimers(now: Duration) -> [VRRPAction] {
        var actions: [VRRPAction] = []
        switch state {
        case .backup:
            if let due = masterDownTimer, due <= now {
                actions += enterMaster(now: now)
            }
        case .master:
            if let due = advertTimer, due <= now {
                actions.append(.sendAdvert(priority: effectivePriority))
                advertTimer = now + advertInterval
            }
            if let due = addressRefreshTimer, due <= now, let every = settings.addressRefresh {
                actions.append(.refreshVirtualAddresses)
                addressRefreshTimer = now + every
            }
            if let due = garpSecondBurst, due <= now {
                actions.append(.sendGratuitous(count: settings.garpRepeat))
                garpSecondBurst = nil
            }
            if let due = garpLowerPrioritySecondBurst, due <= now {
                actions.append(.sendGratuitous(count: settings.garpLowerPriorityRepeat))
                garpLowerPrioritySecondBurst = nil
            }
            if let due = garpRefreshTimer, due <= now, let every = settings.garpRefresh {
                actions.append(.sendGratuitous(count: settings.garpRefreshRepeat))
                garpRefreshTimer = now + every
            }
        case .initialize, .fault, .stopped:
            break
        }
        return actions
    }

    private mutating func enterMaster(now: Duration) -> [VRRPAction] {
        let from = state
        clearTimers()
        state = .master
        masterAdverIntervalCentiseconds = settings.intervalCentiseconds
        advertTimer = now + advertInterval
        if settings.garpDelay > .zero { garpSecondBurst = now + settings.garpDelay }
        if let every = settings.garpRefresh { garpRefreshTimer = now + every }
        if let every = settings.addressRefresh { addressRefreshTimer = now + every }
        // keepalived 2.2.7's order (`vrrp_state_master_tx`: `vrrp_state_become_master` adds the
        // addresses and sends the gratuitous ARPs, then the first advert goes out): the previous
        // holder leaves on hearing that advert, and a client it resets as it leaves reconnects
        // with its ARP entry already pointing here. With the advert first, such a client's SYN
        // could reach the previous holder after it left and wait TCP's 1 s retry.
        return [
            .addVirtualAddresses,
            .sendGratuitous(count: settings.garpRepeat),
            .sendAdvert(priority: effectivePriority),
            .transition(from: from, to: .master, priority: effectivePriority),
        ]
    }

    private mutating func enterBackup(now: Duration) -> [VRRPAction] {
        let from = state
        clearTimers()
        state = .backup
        masterDownTimer = now + masterDownInterval
        return [.transition(from: from, to: .backup, priority: effectivePriority)]
    }

    private mutating func leaveMaster(now: Duration) -> [VRRPAction] {
        [.removeVirtualAddresses] + enterBackup(now: now)
    }

    private mutating func enterFault(now: Duration) -> [VRRPAction] {
        let from = state
        var actions: [VRRPAction] = []
        if state == .master {
            actions += [.sendAdvert(priority: 0), .removeVirtualAddresses]
        }
        clearTimers()
        state = .fault
        actions.append(.transition(from: from, to: .fault, priority: effectivePriority))
        return actions
    }

    private mutating func clearTimers() {
        advertTimer = nil
        masterDownTimer = nil
        preemptDeadline = nil
        garpSecondBurst = nil
        garpLowerPrioritySecondBurst = nil
        garpRefreshTimer = nil
        addressRefreshTimer = nil
    }
}
