@testable import SentinelCore

/// A simulated Redis group and a set of sentinel cores, driven by a simulated clock.
///
/// It plays the shell's part: carries out each core's actions against simulated servers and
/// peers (replies arrive at once), reconnects links when an instance becomes reachable, and
/// records every event. Faults are set by the scenario: crash, pause, partition, clock jump.
struct SimulatedGroup {
    struct Server {
        var runID: String
        var alive = true
        var paused = false
        var replicaOf: InstanceAddress?
        var priority = 100
        var offset: Int64 = 0
        var writesPaused = false
        /// A replica that stays connected but applies nothing (its offset stands still).
        var lagging = false
        /// The sentinel whose CLIENT PAUSE is in force.
        var pausedBy: Int?
        /// The host is up: with the process dead, its port refuses connections (TCP RST).
        var hostUp = true
        /// A replica: when its replication link went down, if a scenario says so; otherwise a
        /// replica whose link is down reports it down for 1 s.
        var linkDownSince: Millis?
        /// Bumped by every restart: links to the old process drop even if a new one listens.
        var incarnation = 0
        /// The keys it holds (its INFO's Keyspace section).
        var keys = 1_000
        /// Which data set it holds: a master restarted empty starts a new one, and a replica
        /// of a master holding another data set takes it by a full resync (flushing its own).
        var dataSet = 0
        /// A full resync in progress: from which master, since when.
        var resync: (from: InstanceAddress, since: Millis)?
        /// Reports `loading:1` (a restarted server loading its data from disk).
        var loading = false
        /// The clients' writes it holds (`WriteLog`): a replica copies its master's with its offset.
        var data = DataRef()
        /// With `pauseExpiry`: when the CLIENT PAUSE in force runs out.
        var pauseExpires: Millis?
    }

    /// A server's clients' writes: the first `length` entries of `writeHistories[history]`.
    /// Histories are shared and append-only; a master that writes after a prefix of one forks
    /// a new history from that prefix (a write keeps its index in every history holding it).
    struct DataRef: Hashable {
        var history = 0
        var length = 0
    }

    /// Where a write landed: the history and index it has in every server that holds it.
    struct WritePosition: Hashable {
        var id: Int
        var history: Int
        var index: Int
    }

    /// The write histories `DataRef`s point into (history 0: the initial, empty one).
    var writeHistories: [[Int]] = [[]]
    /// When set, a CLIENT PAUSE ends after its timeout, as on a real server (by default it holds until lifted).
    var pauseExpiry = false
    /// Server pairs whose replication link is cut (a partition between their hosts).
    var replicationCut: Set<ServerPair> = []

    struct ServerPair: Hashable {
        var a: InstanceAddress
        var b: InstanceAddress
        init(_ x: InstanceAddress, _ y: InstanceAddress) { (a, b) = x < y ? (x, y) : (y, x) }
    }

    func replicationPossible(_ x: InstanceAddress, _ y: InstanceAddress) -> Bool {
        replicationCut.isEmpty || !replicationCut.contains(ServerPair(x, y))
    }

    /// A client's write executed by the (master) server at `address`: appended to its data and
    /// its offset advanced.
    mutating func applyWrite(_ id: Int, at address: InstanceAddress) -> WritePosition {
        var ref = servers[address]!.data
        if writeHistories[ref.history].count != ref.length {
            // Written after a prefix of a history others went on with: a history of its own.
            writeHistories.append(Array(writeHistories[ref.history][..<ref.length]))
            ref.history = writeHistories.count - 1
        }
        writeHistories[ref.history].append(id)
        ref.length += 1
        servers[address]!.data = ref
        servers[address]!.offset += 1
        return WritePosition(id: id, history: ref.history, index: ref.length - 1)
    }

    /// Whether the server at `address` holds that write.
    func holds(_ address: InstanceAddress, _ write: WritePosition) -> Bool {
        guard let ref = servers[address]?.data, ref.length > write.index else { return false }
        let history = writeHistories[ref.history]
        return history[write.index] == write.id
    }

    struct Sentinel {
        var state: SentinelState
        var address: InstanceAddress
        var alive = true
        var clockSkew: Millis = 0
        var events: [(at: Millis, event: SentinelEvent)] = []
        var saves = 0
        /// The incarnation of each server its links were made to.
        var linkedIncarnation: [InstanceAddress: Int] = [:]
        /// What its config file holds: the last save flushed (`SentinelState.saved`, as the
        /// shell's rewrite writes it). A restart (`restartSentinel`) starts from it.
        var flushed: SavedSentinelState?
        /// A `.saveConfig` not yet flushed. As the shell (`SentinelRuntime.scheduleSave`): a new
        /// epoch, vote, config epoch or master address is saved at once; other changes
        /// (discovered replicas and peers) after the pass of its loop that asked (here: at the
        /// start of the next step), or before a vote's reply goes out (`deliverAsk`). A sentinel
        /// killed before that (`killSentinel`) loses them.
        var savePending = false
        /// How many times it was killed and restarted from its file.
        var restarts = 0
    }

    var now: Millis = 0
    var servers: [InstanceAddress: Server] = [:]
    var sentinels: [Sentinel] = []
    /// Pairs (sentinel index, address) that cannot reach each other.
    var blocked: Set<Blocked> = []
    /// Pairs whose connections are actively refused (a local firewall's REJECT): like `blocked`,
    /// but the sentinel sees ECONNREFUSED.
    var rejected: Set<Blocked> = []
    /// Each promotion as the server carried it out; `epoch`: the promoting sentinel's failover
    /// epoch when it sent the command (the network may deliver it later, after that sentinel
    /// has moved on to another epoch).
    var promotions: [(at: Millis, by: Int, address: InstanceAddress, epoch: UInt64)] = []
    /// When set, the next replica told to become master dies instead (and the flag clears).
    var crashOnNextPromotion = false
    var pauses = 0
    var demotions = 0
    /// Every demote attempt a sentinel made: when, and its number.
    var demoteAttempts: [(at: Millis, attempt: Int)] = []
    /// `.notificationScript` actions: by which sentinel, for which master, the event.
    var notifications: [(by: Int, master: String, event: SentinelEvent)] = []
    /// `.simulatedCrash` actions: when, by which sentinel, and the type of its last event before.
    var simulatedCrashes: [(at: Millis, by: Int, after: String?)] = []
    /// When set, the next CLIENT PAUSE fails (and the flag clears).
    var failNextPause = false
    /// How many demote attempts still fail (a connection refused, a timeout) before one succeeds.
    var failDemotes = 0
    /// PUBLISHes a sentinel sent to a master whose writes it had paused itself (on a real
    /// server each waits out the pause and holds up every later command on that link).
    var publishesWhileOwnPause = 0
    /// When set, PINGs and INFOs sent to a paused server are answered when it resumes, as a
    /// stopped process answers what waited in its socket (by default they are never answered).
    var answerAfterPause = false
    /// Vote requests and their answers take one step (100 ms) instead of none: sentinels that
    /// stand within the same step cannot learn of each other first (a split vote).
    var askLatency = false
    var asksInFlight: [(sentinel: Int, action: SentinelAction)] = []
    /// How long a replica's full resync takes from its first contact with a master holding
    /// another data set until its own keys are flushed (7.0: ≈0.8 s after the master is back
    /// with disk-based sync, ≈5 s with the diskless default's delay).
    var fullSyncTime: Millis = 1_000
    var heldByPause: [InstanceAddress: [(sentinel: Int, action: SentinelAction)]] = [:]
    /// When set, messages take the network's delays, losses, duplicates and cuts
    /// (`SimulatedNetwork`); otherwise every request is answered at once.
    var network: SimulatedNetwork?
    /// Each sentinel's links, bumped when one goes up or down: a reply sent on an older one is dropped.
    var linkGenerations: [Blocked: Int] = [:]

    struct Blocked: Hashable {
        var sentinel: Int
        var address: InstanceAddress
    }

    /// When set, every PING a sentinel sends is recorded in `pings`.
    var recordPings = false
    var pings: [(at: Millis, by: Int, ref: InstanceRef)] = []
    /// With `recordPings`, every PING, INFO and hello sent, by command name.
    var sent: [(at: Millis, by: Int, ref: InstanceRef, command: String)] = []

    static let masterName = "mymaster"

    static func addr(_ port: Int) -> InstanceAddress { InstanceAddress(ip: "10.0.0.1", port: port) }

    /// The name of master group `g` (group 0 is `mymaster`).
    static func masterName(_ g: Int) -> String { g == 0 ? masterName : "master-\(g)" }

    /// The port of master group `g`: 6379 for group 0 (its replicas on 6380…), 10000 + 10 g for the others.
    static func masterPort(_ g: Int) -> Int { g == 0 ? 6379 : 10_000 + 10 * g }

    /// `groups` masters (the first on port 6379, see `masterPort`), each with `replicas` replicas
    /// on the ports after it, and `sentinelCount` sentinels (26379…) watching all of them.
    init(replicas: Int = 2, sentinelCount: Int = 3, quorum: Int = 2, downAfter: Millis = 1_000,
         failoverTimeout: Millis = 10_000, behaviour: SentinelBehaviour = SentinelBehaviour(), seed: UInt64 = 1,
         groups: Int = 1) {
        for g in 0..<groups {
            let port = Self.masterPort(g)
            servers[Self.addr(port)] = Server(runID: "server-\(port)")
            for i in 0..<replicas {
                servers[Self.addr(port + 1 + i)] = Server(runID: "server-\(port + 1 + i)", replicaOf: Self.addr(port))
            }
        }
        for i in 0..<sentinelCount {
            let address = InstanceAddress(ip: "10.0.0.2", port: 26379 + i)
            var state = SentinelState(myID: "sentinel\(i)" + String(repeating: "0", count: 32), announce: address,
                                      seed: seed &+ UInt64(i) &* 7919, behaviour: behaviour)
            var actions: [SentinelAction] = []
            for g in 0..<groups {
                actions += state.monitor(name: Self.masterName(g), address: Self.addr(Self.masterPort(g)), quorum: quorum,
                                         downAfter: downAfter, failoverTimeout: failoverTimeout, now: now)
            }
            sentinels.append(Sentinel(state: state, address: address))
            perform(actions, by: i)
            flushSave(i)  // the shell saves at its start
        }
    }

    // MARK: Driving

    /// Advances the clock by `duration` in 100 ms ticks.
    mutating func run(for duration: Millis) {
        let end = now + duration
        while now < end { step() }
    }

    /// Runs until `condition` holds; returns the time it took, or nil after `limit`.
    @discardableResult
    mutating func run(until limit: Millis, _ condition: (SimulatedGroup) -> Bool) -> Millis? {
        let start = now
        while now - start < limit {
            step()
            if condition(self) { return now - start }
        }
        return nil
    }

    mutating func step() {
        now += 100
        // The saves the last pass asked for are written (a stopped process writes when it runs).
        for i in sentinels.indices where sentinels[i].alive && sentinels[i].savePending { flushSave(i) }
        if network != nil { deliverDue() }
        if answerAfterPause { deliverHeld() }
        if pauseExpiry {
            for (address, server) in servers where server.writesPaused && server.pauseExpires.map({ now >= $0 }) == true {
                servers[address]!.writesPaused = false
                servers[address]!.pauseExpires = nil
            }
        }
        if !asksInFlight.isEmpty {
            let asks = asksInFlight
            asksInFlight = []
            for (i, action) in asks where sentinels[i].alive { deliverAsk(action, by: i) }
        }

        for (address, server) in servers where server.alive && !server.paused && !server.writesPaused && server.replicaOf == nil {
            servers[address]!.offset = server.offset + 100  // the master takes writes
        }
        // In address order: a replica of a replica copies what its master holds when its turn
        // comes, so the order decides; a Dictionary's own order depends on where its storage
        // lies in memory (Swift seeds each instance from it), and a seed replayed alone then ran
        // otherwise than in a batch (the write simulator's seed 5241, 2026-12-06).
        for address in servers.keys.sorted() {
            let server = servers[address]!
            guard server.alive && !server.paused else { continue }
            if let m = server.replicaOf, let master = servers[m], master.alive, !master.paused, !master.loading, !server.lagging,
               replicationPossible(address, m) {
                if server.dataSet != master.dataSet {
                    // A full resync: the replica keeps its data until the transfer flushes it.
                    let since = server.resync.flatMap { $0.from == m ? $0.since : nil } ?? now
                    servers[address]!.resync = (m, since)
                    if now - since < fullSyncTime { continue }
                    servers[address]!.dataSet = master.dataSet
                    servers[address]!.resync = nil
                    servers[address]!.data = master.data
                }
                servers[address]!.offset = master.offset
                servers[address]!.keys = master.keys
                servers[address]!.data = master.data
            }
        }
        for i in sentinels.indices where sentinels[i].alive {
            syncLinks(i)
            perform(input(i, .tick), by: i)
        }
    }

    func time(of i: Int) -> Millis { now + sentinels[i].clockSkew }

    mutating func input(_ i: Int, _ input: SentinelInput) -> [SentinelAction] {
        sentinels[i].state.handle(input, now: time(of: i))
    }

    func reachable(_ i: Int, _ address: InstanceAddress) -> Bool {
        !blocked.contains(Blocked(sentinel: i, address: address))
    }

    func sentinelIndex(runID: String) -> Int? {
        sentinels.firstIndex { $0.state.myID == runID }
    }

    func sentinelIndex(address: InstanceAddress) -> Int? {
        sentinels.firstIndex { $0.address == address }
    }

    func address(of ref: InstanceRef, in i: Int) -> InstanceAddress? {
        let master = sentinels[i].state.masters[ref.masterName]
        switch ref {
        case .master: return master?.address
        case .replica(_, let a): return a
        case .sentinel(_, let runID): return master?.sentinels[runID]?.address
        }
    }

    /// Host names of servers: a replica reports such a master by its name in `master_host`
    /// (replicas pointed at their master by a host name).
    var hostNames: [InstanceAddress: String] = [:]

    /// Whether a TCP link from sentinel `i` to `address` would be up (a paused process still accepts).
    func linkPossible(_ i: Int, _ address: InstanceAddress) -> Bool {
        guard reachable(i, address), !rejected.contains(Blocked(sentinel: i, address: address)) else { return false }
        if let server = servers[address] { return server.alive }
        if let j = sentinelIndex(address: address) { return sentinels[j].alive && reachable(j, sentinels[i].address) }
        return false
    }

    /// The shell's reconnect loop: report links that came up or went down.
    mutating func syncLinks(_ i: Int) {
        for name in sentinels[i].state.masterNames {
            guard let master = sentinels[i].state.masters[name] else { continue }
            var refs: [(InstanceRef, Instance)] = [(.master(name), master.instance)]
            refs += master.replicas.map { (.replica(master: name, $0.key), $0.value) }
            refs += master.sentinels.map { (.sentinel(master: name, runID: $0.key), $0.value) }
            for (ref, ri) in refs {
                let broken = network != nil && oneWayBroken(i, ri.address, connected: ri.linkConnected)
                let possible = linkPossible(i, ri.address) && !broken
                var connected = ri.linkConnected
                if connected, let server = servers[ri.address],
                   sentinels[i].linkedIncarnation[ri.address].map({ $0 != server.incarnation }) == true {
                    // The process was replaced: the old connection closed (a new one may follow).
                    linkGenerations[Blocked(sentinel: i, address: ri.address), default: 0] += 1
                    perform(input(i, .linkDown(ref)), by: i)
                    connected = false
                }
                if possible && !connected {
                    sentinels[i].linkedIncarnation[ri.address] = servers[ri.address]?.incarnation
                    linkGenerations[Blocked(sentinel: i, address: ri.address), default: 0] += 1
                    perform(input(i, .linkUp(ref)), by: i)
                } else if !possible && !broken && refused(i, ri.address) {
                    // The shell retries a refused link: every attempt is reported.
                    if connected { linkGenerations[Blocked(sentinel: i, address: ri.address), default: 0] += 1 }
                    perform(input(i, .connectionRefused(ref)), by: i)
                } else if !possible && connected {
                    linkGenerations[Blocked(sentinel: i, address: ri.address), default: 0] += 1
                    perform(input(i, .linkDown(ref)), by: i)
                }
            }
        }
    }

    /// Whether a connect from sentinel `i` to the server at `address` gets a TCP RST: the
    /// process is gone from a host that is up, or a firewall rejects it.
    func refused(_ i: Int, _ address: InstanceAddress) -> Bool {
        if rejected.contains(Blocked(sentinel: i, address: address)) { return true }
        guard reachable(i, address), let server = servers[address] else { return false }
        return !server.alive && server.hostUp
    }

    func canAnswer(_ i: Int, _ address: InstanceAddress) -> Bool {
        guard linkPossible(i, address) else { return false }
        if let server = servers[address] { return !server.paused }
        return true
    }

    /// Delivers a vote request / down-state question and its answer.
    mutating func deliverAsk(_ action: SentinelAction, by i: Int) {
        guard case .askMasterState(let ref, let master, let epoch, let runID) = action else { return }
        guard let a = address(of: ref, in: i), canAnswer(i, a), sentinelIndex(address: a) != nil,
              case .sentinel(let name, let peerID) = ref else { return }
        let generation = linkGeneration(i, a)
        let candidate = runID == "*" ? "*" : "vote for s\(sentinelIndex(runID: runID) ?? -1)"
        send(sentinels[i].address, a, "is-master-down-by-addr epoch \(epoch) \(candidate)", on: Blocked(sentinel: i, address: a), late: true) { g, late in
            guard let j = g.sentinelIndex(address: a), g.sentinels[j].alive, late || g.canAnswer(i, a) else { return }
            let answer = g.sentinels[j].state.isMasterDownByAddr(address: master, epoch: epoch, runID: runID, now: g.time(of: j))
            g.perform(answer.actions, by: j)
            g.flushSave(j)  // the shell's `saveIfPending`: a vote is saved before its reply goes out
            let leader = answer.leader == "*" ? "*" : "s\(g.sentinelIndex(runID: answer.leader) ?? -1)"
            g.reply(i, from: a, generation: generation, "reply down \(answer.down) leader \(leader) epoch \(answer.leaderEpoch)",
                    .masterDownReply(master: name, sentinel: peerID, down: answer.down, leader: answer.leader, leaderEpoch: answer.leaderEpoch),
                    late: true)
        }
    }

    mutating func perform(_ actions: [SentinelAction], by i: Int) {
        // As the shell's `perform(_:)`: a new epoch, vote, config epoch or master address is
        // saved before any of the input's actions goes out.
        if sentinels[i].flushed != nil, actions.contains(where: { if case .saveConfig = $0 { true } else { false } }), urgentSave(i) {
            flushSave(i)
        }
        for action in actions { perform(action, by: i) }
    }

    mutating func perform(_ action: SentinelAction, by i: Int) {
        switch action {
        case .connect, .disconnect, .reconnect:
            break  // links are synced every step
        case .ping(let ref):
            if recordPings { pings.append((now, i, ref)); sent.append((now, i, ref, "PING")) }
            guard let a = address(of: ref, in: i) else { return }
            let generation = linkGeneration(i, a)
            send(sentinels[i].address, a, "PING", on: Blocked(sentinel: i, address: a)) { g, _ in
                if g.answerAfterPause, g.linkPossible(i, a), g.servers[a]?.paused == true {
                    g.heldByPause[a, default: []].append((i, action))
                    return
                }
                guard g.canAnswer(i, a) else { return }
                g.reply(i, from: a, generation: generation, "PONG", .pingReply(ref, .pong))
            }
        case .info(let ref):
            if recordPings { sent.append((now, i, ref, "INFO")) }
            guard let a = address(of: ref, in: i) else { return }
            let generation = linkGeneration(i, a)
            send(sentinels[i].address, a, "INFO", on: Blocked(sentinel: i, address: a)) { g, _ in
                if g.answerAfterPause, g.linkPossible(i, a), g.servers[a]?.paused == true {
                    g.heldByPause[a, default: []].append((i, action))
                    return
                }
                guard g.canAnswer(i, a), let report = g.info(a) else { return }
                g.reply(i, from: a, generation: generation,
                        "INFO reply (\(report.isReplica ? "replica of \(report.masterPort ?? 0)" : "master"), offset \(report.replicationOffset))",
                        .info(ref, report))
            }
        case .publishHello(let ref, let payload):
            if recordPings { sent.append((now, i, ref, "PUBLISH")) }
            guard let a = address(of: ref, in: i), canAnswer(i, a) else { return }
            let toSentinel = servers[a] == nil
            send(sentinels[i].address, a, "hello", on: Blocked(sentinel: i, address: a), late: toSentinel) { g, late in
                guard late || g.canAnswer(i, a) else { return }
                if g.servers[a]?.writesPaused == true && g.servers[a]?.pausedBy == i { g.publishesWhileOwnPause += 1 }
                if g.servers[a] != nil {
                    // Every sentinel subscribed on that server receives it.
                    for j in g.sentinels.indices where g.sentinels[j].alive && g.canAnswer(j, a) {
                        g.reply(j, from: a, generation: g.linkGeneration(j, a), "hello of s\(i)", .hello(payload))
                    }
                } else if let j = g.sentinelIndex(address: a), g.sentinels[j].alive {
                    g.perform(g.input(j, .hello(payload)), by: j)
                }
            }
        case .askMasterState:
            if askLatency {
                asksInFlight.append((i, action))
            } else {
                deliverAsk(action, by: i)
            }
        case .promote(let ref):
            guard let a = address(of: ref, in: i), canAnswer(i, a) else { return }
            let epoch = sentinels[i].state.masters[ref.masterName]?.failoverEpoch ?? 0
            send(sentinels[i].address, a, "REPLICAOF NO ONE", on: Blocked(sentinel: i, address: a), duplicable: false) { g, _ in
                guard g.canAnswer(i, a) else { return }
                if g.crashOnNextPromotion {
                    g.crashOnNextPromotion = false
                    g.servers[a]!.alive = false
                    return
                }
                g.servers[a]!.replicaOf = nil
                g.promotions.append((g.now, i, a, epoch))
            }
        case .replicate(let ref, let to):
            guard let a = address(of: ref, in: i), canAnswer(i, a) else { return }
            send(sentinels[i].address, a, "REPLICAOF \(to.port)", on: Blocked(sentinel: i, address: a), duplicable: false) { g, _ in
                guard g.canAnswer(i, a) else { return }
                g.servers[a]!.replicaOf = to
            }
        case .pauseWrites(let ref, let timeout):
            let master = ref.masterName
            guard let a = address(of: ref, in: i), canAnswer(i, a), !failNextPause else {
                failNextPause = false
                perform(input(i, .pauseFailed(master: master, .failed("unreachable"))), by: i)
                return
            }
            let generation = linkGeneration(i, a)
            let failed: (inout SimulatedGroup) -> Void = { g in
                if g.sentinels[i].alive { g.perform(g.input(i, .pauseFailed(master: master, .failed("timeout"))), by: i) }
            }
            send(sentinels[i].address, a, "CLIENT PAUSE \(timeout) WRITE", on: Blocked(sentinel: i, address: a), duplicable: false, lost: failed) { g, _ in
                guard g.canAnswer(i, a) else { return failed(&g) }
                g.servers[a]!.writesPaused = true
                g.servers[a]!.pausedBy = i
                if g.pauseExpiry {
                    g.servers[a]!.pauseExpires = max(g.servers[a]!.pauseExpires ?? 0, g.now + timeout)
                }
                g.pauses += 1
                let offset = g.servers[a]!.offset
                g.reply(i, from: a, generation: generation, "paused at offset \(offset)",
                        .writesPaused(master: master, offset: offset), duplicable: false, lost: failed)
            }
        case .unpauseWrites(let ref):
            guard let a = address(of: ref, in: i), canAnswer(i, a) else { return }
            send(sentinels[i].address, a, "CLIENT UNPAUSE", on: Blocked(sentinel: i, address: a), duplicable: false) { g, _ in
                guard g.canAnswer(i, a) else { return }
                g.servers[a]!.writesPaused = false
                g.servers[a]!.pauseExpires = nil
            }
        case .demote(let name, let a, let to, let attempt):
            demoteAttempts.append((now, attempt))
            guard canAnswer(i, a), servers[a] != nil, failDemotes == 0 else {
                failDemotes = max(0, failDemotes - 1)
                perform(input(i, .demoteResult(master: name, at: a, failure: "unreachable")), by: i)
                return
            }
            let generation = linkGeneration(i, a)
            let failed: (inout SimulatedGroup) -> Void = { g in
                if g.sentinels[i].alive { g.perform(g.input(i, .demoteResult(master: name, at: a, failure: "timeout")), by: i) }
            }
            send(sentinels[i].address, a, "demote to \(to.port)", on: Blocked(sentinel: i, address: a), duplicable: false, lost: failed) { g, _ in
                guard g.canAnswer(i, a) else { return failed(&g) }
                g.servers[a]!.replicaOf = to
                g.servers[a]!.writesPaused = false
                g.servers[a]!.pauseExpires = nil
                g.demotions += 1
                g.reply(i, from: a, generation: generation, "demoted", .demoteResult(master: name, at: a, failure: nil),
                        duplicable: false, lost: failed)
            }
        case .publish(let event):
            sentinels[i].events.append((now, event))
        case .saveConfig:
            sentinels[i].saves += 1
            sentinels[i].savePending = true
            if urgentSave(i) { flushSave(i) }
        case .simulatedCrash:
            // The shell exits at its next tick; here the crash is recorded with the event it followed.
            simulatedCrashes.append((now, i, sentinels[i].events.last?.event.type))
        case .notificationScript(let master, let event):
            notifications.append((i, master, event))
        case .clientReconfigScript, .scriptKill:
            break
        }
    }

    func info(_ address: InstanceAddress) -> InfoReport? {
        guard let server = servers[address] else { return nil }
        if let m = server.replicaOf {
            let up = (servers[m].map { $0.alive && !$0.paused } ?? false) && replicationPossible(address, m)
            // master_link_down_since_seconds: whole seconds.
            let downFor = up ? 0 : server.linkDownSince.map { (now - $0) / 1_000 * 1_000 } ?? 1_000
            return InfoReport(runID: server.runID, isReplica: true, masterHost: hostNames[m] ?? m.ip, masterPort: m.port,
                              masterLinkUp: up && server.resync == nil, masterLinkDownTime: downFor, replicaPriority: server.priority,
                              replicationOffset: server.offset, keyCount: server.keys, loading: server.loading)
        }
        let replicas = servers.filter { $0.value.alive && $0.value.replicaOf == address }.map(\.key).sorted()
        return InfoReport(runID: server.runID, isReplica: false, replicationOffset: server.offset, replicas: replicas,
                          keyCount: server.keys, loading: server.loading)
    }

    // MARK: Faults and queries

    mutating func crash(_ port: Int) {
        servers[Self.addr(port)]!.alive = false
        if answerAfterPause {
            // The process is gone: what waited in its sockets is never answered, and every
            // sentinel sees its links drop (a restart in the same step must not hide that).
            heldByPause[Self.addr(port)] = nil
            for i in sentinels.indices where sentinels[i].alive { syncLinks(i) }
        }
    }
    /// The master's whole host stops answering (power loss, a cable): no process refuses
    /// anything, connections time out.
    mutating func hostFails(_ port: Int) {
        servers[Self.addr(port)]!.alive = false
        servers[Self.addr(port)]!.hostUp = false
    }

    mutating func pause(_ port: Int) { servers[Self.addr(port)]!.paused = true }
    mutating func resume(_ port: Int) { servers[Self.addr(port)]!.paused = false }

    /// Answers what waited for a paused server once it runs again, to sentinels that run (a
    /// stopped sentinel gets its answers when it runs again).
    mutating func deliverHeld() {
        for address in heldByPause.keys.sorted() where servers[address].map({ $0.alive && !$0.paused }) == true {
            var waiting: [(sentinel: Int, action: SentinelAction)] = []
            for (i, action) in heldByPause.removeValue(forKey: address) ?? [] {
                if sentinels[i].alive { perform(action, by: i) } else { waiting.append((i, action)) }
            }
            if !waiting.isEmpty { heldByPause[address, default: []] += waiting }
        }
    }

    /// The server comes back with its old configuration (a master restarting as master) and
    /// its data; `empty`: a new process (new run id) without persistence, no keys, offset 0.
    mutating func restart(_ port: Int, asReplicaOf master: InstanceAddress? = nil, empty: Bool = false) {
        if empty {
            servers[Self.addr(port)]!.runID = "server-\(port)-restart-\(servers[Self.addr(port)]!.incarnation + 1)"
            servers[Self.addr(port)]!.keys = 0
            servers[Self.addr(port)]!.offset = 0
            servers[Self.addr(port)]!.dataSet = port * 1_000 + servers[Self.addr(port)]!.incarnation + 1
            servers[Self.addr(port)]!.data = DataRef()
        }
        if pauseExpiry {
            // A restarted process is not paused: CLIENT PAUSE does not survive it.
            servers[Self.addr(port)]!.writesPaused = false
            servers[Self.addr(port)]!.pauseExpires = nil
        }
        servers[Self.addr(port)]!.alive = true
        servers[Self.addr(port)]!.hostUp = true
        servers[Self.addr(port)]!.replicaOf = master
        servers[Self.addr(port)]!.incarnation += 1
    }

    /// Writes sentinel `i`'s pending save to its file (`flushed`).
    mutating func flushSave(_ i: Int) {
        sentinels[i].flushed = sentinels[i].state.saved
        sentinels[i].savePending = false
    }

    /// The shell's `configurationChangedSinceSave`: the epoch, a master's address, config
    /// epoch or vote's epoch differs from the file's.
    func urgentSave(_ i: Int) -> Bool {
        guard let file = sentinels[i].flushed else { return true }
        let state = sentinels[i].state
        if state.currentEpoch != file.currentEpoch { return true }
        for m in file.masters {
            guard let now = state.masters[m.name] else { continue }
            if now.configEpoch != m.configEpoch || now.leaderEpoch != m.leaderEpoch || now.address != m.address { return true }
        }
        return false
    }

    /// Kills sentinel `i` (kill -9, a power loss): it stops at once, and a save it asked for
    /// and had not yet written is lost. `restartSentinel` brings it back from its file.
    mutating func killSentinel(_ i: Int) {
        sentinels[i].alive = false
        sentinels[i].savePending = false
    }

    /// Starts sentinel `i` again as a new process from what its file holds: the same run id and
    /// address, a fresh core given the saved state by `SentinelState.restore` (as the shell's
    /// start does), new links. What it had in memory only (votes not saved, SDOWN, a failover
    /// under way, its peers' votes) is gone.
    mutating func restartSentinel(_ i: Int) {
        let old = sentinels[i].state
        var random = old.random
        var state = SentinelState(myID: old.myID, announce: old.announce, learnsAnnounceIP: false, seed: random.next(),
                                  timers: old.timers, behaviour: old.behaviour)
        state.brokenForTesting = old.brokenForTesting
        state.hostnames = old.hostnames
        state.announceHostnames = old.announceHostnames
        sentinels[i].state = state
        sentinels[i].alive = true
        sentinels[i].savePending = false
        sentinels[i].restarts += 1
        // The old process's connections are gone: what it sent and awaits is dropped.
        sentinels[i].linkedIncarnation = [:]
        for key in linkGenerations.keys where key.sentinel == i { linkGenerations[key]! += 1 }
        asksInFlight.removeAll { $0.sentinel == i }
        for address in heldByPause.keys { heldByPause[address]!.removeAll { $0.sentinel == i } }
        let actions = sentinels[i].state.restore(sentinels[i].flushed!, now: time(of: i))
        perform(actions, by: i)
        flushSave(i)  // the shell saves at its start
    }

    mutating func isolate(sentinel i: Int, from address: InstanceAddress) {
        blocked.insert(Blocked(sentinel: i, address: address))
    }

    /// Cuts sentinel `i` off from everything: servers and peers, both ways.
    mutating func isolate(sentinel i: Int) {
        for a in servers.keys { isolate(sentinel: i, from: a) }
        for j in sentinels.indices where j != i {
            isolate(sentinel: i, from: sentinels[j].address)
            isolate(sentinel: j, from: sentinels[i].address)
        }
    }

    mutating func heal() {
        blocked = []
        rejected = []
    }

    /// What sentinel `i` answers to get-master-addr-by-name (for group 0 unless `master` is given).
    func advertisedMaster(_ i: Int, master: String = masterName) -> InstanceAddress? {
        sentinels[i].state.currentMasterAddress(master)
    }

    /// Servers that think they are masters and are alive.
    var liveMasters: [InstanceAddress] {
        servers.filter { $0.value.alive && $0.value.replicaOf == nil }.map(\.key).sorted()
    }

    func events(_ type: String, in i: Int? = nil) -> [SentinelEvent] {
        let indices = i.map { [$0] } ?? Array(sentinels.indices)
        return indices.flatMap { sentinels[$0].events.map(\.event).filter { $0.type == type } }
    }

    /// True when every live sentinel advertises `address` and it is the only live master.
    func converged(on address: InstanceAddress) -> Bool {
        sentinels.indices.allSatisfy { !sentinels[$0].alive || advertisedMaster($0) == address }
            && liveMasters == [address]
    }
}
