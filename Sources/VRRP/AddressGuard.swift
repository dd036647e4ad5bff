import Spawn
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// One virtual address on one interface, as the guard is told about it, with the VRRP instance
/// (VRID) it belongs to.
public struct GuardedAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int
    public var interface: Int32
    public var vrid: UInt8

    public init(address: IPAddress, prefixLength: Int, interface: Int32, vrid: UInt8) {
        self.address = address
        self.prefixLength = prefixLength
        self.interface = interface
        self.vrid = vrid
    }

    public var description: String { "\(address)/\(prefixLength) on interface #\(interface)" }
}

/// What a master sends when it leaves (priority 0) for one VRID, prepared while it is alive:
/// the guard sends it for a daemon that died, so the backups take over at once, and keeps the
/// addresses until a new master's advert is heard (or `deadlineMilliseconds`, the instance's
/// Master_Down_Interval, passes) — so that a client's reconnection in between is answered
/// (refused) rather than lost, and the address is on one node at a time but for an advert's trip.
public struct Farewell: Hashable, Sendable {
    public var vrid: UInt8
    public var interface: String
    public var family: IPAddress.Family
    public var multicast: Bool
    /// Our address in the adverts (also the unicast bind address).
    public var source: IPAddress
    public var deadlineMilliseconds: Int
    /// How long a dead daemon's addresses are kept while no new master is heard (at least
    /// `deadlineMilliseconds`): longer where what serves at the address outlives the daemon and
    /// the next master may be a while coming (the node agent's `direct` placement: its Redis
    /// runs on while the others switch the master away; down-after there, no longer than the
    /// group waits before failing a silent master over).
    public var holdMilliseconds: Int
    /// The priority-0 advert for each destination (multicast group or unicast peer).
    public var adverts: [IPAddress: [UInt8]]

    public init(vrid: UInt8, interface: String, family: IPAddress.Family, multicast: Bool, source: IPAddress,
                deadlineMilliseconds: Int, holdMilliseconds: Int? = nil, adverts: [IPAddress: [UInt8]]) {
        self.vrid = vrid
        self.interface = interface
        self.family = family
        self.multicast = multicast
        self.source = source
        self.deadlineMilliseconds = deadlineMilliseconds
        self.holdMilliseconds = max(deadlineMilliseconds, holdMilliseconds ?? deadlineMilliseconds)
        self.adverts = adverts
    }

    /// Whether a received advert shows another master for this VRID.
    public func isNewMaster(_ advert: VRRPAdvert, from sender: IPAddress) -> Bool {
        advert.vrid == vrid && advert.priority > 0 && sender != source
    }
}

/// What the daemon tells its guard, one line each:
/// - `+ IFINDEX ADDRESS PREFIX VRID` (now held) and `- IFINDEX ADDRESS PREFIX VRID` (released);
/// - `a VRID INTERFACE 4|6 m|u SOURCE DEADLINE_MS DESTINATION HEX [HOLD_MS]` (the priority-0
///   advert to send to DESTINATION if we die; one line per destination; HOLD_MS only when it is
///   longer than DEADLINE_MS) and `a- VRID` (no longer master);
/// - `h` (alive: sent with each advert while master; see `SilenceWatch`).
public enum AddressGuardMessage: Hashable, Sendable {
    case hold(GuardedAddress)
    case release(GuardedAddress)
    case farewell(Farewell)
    case forget(vrid: UInt8)
    case alive

    /// The line(s), each ending in a newline (a farewell: one per destination).
    public var line: String {
        switch self {
        case .hold(let a): return "+ \(a.interface) \(a.address) \(a.prefixLength) \(a.vrid)\n"
        case .release(let a): return "- \(a.interface) \(a.address) \(a.prefixLength) \(a.vrid)\n"
        case .forget(let vrid): return "a- \(vrid)\n"
        case .alive: return "h\n"
        case .farewell(let f):
            let head = "a \(f.vrid) \(f.interface) \(f.family == .ipv4 ? 4 : 6) \(f.multicast ? "m" : "u") \(f.source) \(f.deadlineMilliseconds)"
            let hold = f.holdMilliseconds > f.deadlineMilliseconds ? " \(f.holdMilliseconds)" : ""
            return f.adverts.sorted { $0.key < $1.key }.map { destination, bytes in
                "\(head) \(destination) \(bytes.map { String($0, radix: 16).leftPadded(2) }.joined())\(hold)\n"
            }.joined()
        }
    }

    /// Parses one line (without its newline); nil for anything else. A farewell line carries one
    /// destination (the guard merges them).
    public init?(line: some StringProtocol) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let kind = fields.first else { return nil }
        switch kind {
        case "+", "-":
            guard fields.count == 5, let index = Int32(fields[1]), index > 0,
                  let address = IPAddress(fields[2]), let prefix = Int(fields[3]), prefix >= 0,
                  prefix <= (address.family == .ipv4 ? 32 : 128), let vrid = UInt8(fields[4]) else { return nil }
            let guarded = GuardedAddress(address: address, prefixLength: prefix, interface: index, vrid: vrid)
            self = kind == "+" ? .hold(guarded) : .release(guarded)
        case "h":
            guard fields.count == 1 else { return nil }
            self = .alive
        case "a-":
            guard fields.count == 2, let vrid = UInt8(fields[1]) else { return nil }
            self = .forget(vrid: vrid)
        case "a":
            guard fields.count == 9 || fields.count == 10, let vrid = UInt8(fields[1]), !fields[2].isEmpty, fields[2].utf8.count < 16,
                  let family: IPAddress.Family = fields[3] == "4" ? .ipv4 : fields[3] == "6" ? .ipv6 : nil,
                  fields[4] == "m" || fields[4] == "u",
                  let source = IPAddress(fields[5]), source.family == family,
                  let deadline = Int(fields[6]), (0...60_000).contains(deadline),
                  let destination = IPAddress(fields[7]), destination.family == family,
                  let bytes = hexBytes(fields[8]), !bytes.isEmpty, bytes.count <= 1500 else { return nil }
            var hold: Int?
            if fields.count == 10 {
                guard let given = Int(fields[9]), given > deadline, given <= 60_000 else { return nil }
                hold = given
            }
            self = .farewell(Farewell(vrid: vrid, interface: String(fields[2]), family: family, multicast: fields[4] == "m",
                                      source: source, deadlineMilliseconds: deadline, holdMilliseconds: hold,
                                      adverts: [destination: bytes]))
        default:
            return nil
        }
    }
}

private func hexBytes(_ text: some StringProtocol) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
    for i in stride(from: 0, to: digits.count, by: 2) {
        guard let high = value(digits[i]), let low = value(digits[i + 1]) else { return nil }
        out.append(high << 4 | low)
    }
    return out
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// What the guard knows: the addresses held and not released (in the order first held), and
/// each VRID's farewell while master.
public struct GuardedSet: Sendable {
    public private(set) var held: [GuardedAddress] = []
    public private(set) var farewells: [UInt8: Farewell] = [:]

    public init() {}

    public mutating func apply(_ message: AddressGuardMessage) {
        switch message {
        case .hold(let a): if !held.contains(a) { held.append(a) }
        case .release(let a): held.removeAll { $0 == a }
        case .forget(let vrid): farewells[vrid] = nil
        case .alive: break
        case .farewell(let f):
            if var known = farewells[f.vrid], known.interface == f.interface, known.family == f.family,
               known.multicast == f.multicast, known.source == f.source {
                known.deadlineMilliseconds = f.deadlineMilliseconds
                known.holdMilliseconds = f.holdMilliseconds
                known.adverts.merge(f.adverts) { _, new in new }
                farewells[f.vrid] = known
            } else {
                farewells[f.vrid] = f
            }
        }
    }

    /// What to do once the daemon is gone: addresses to remove at once (no farewell for their
    /// VRID), and per VRID with a farewell, the advert to send and the addresses to remove when a
    /// new master is heard or the deadline passes.
    public var endOfLife: (removeNow: [GuardedAddress], handovers: [(farewell: Farewell, addresses: [GuardedAddress])]) {
        var now: [GuardedAddress] = []
        var byVRID: [UInt8: [GuardedAddress]] = [:]
        for a in held {
            if farewells[a.vrid] != nil { byVRID[a.vrid, default: []].append(a) } else { now.append(a) }
        }
        let handovers = byVRID.keys.sorted().map { (farewell: farewells[$0]!, addresses: byVRID[$0]!) }
        return (now, handovers)
    }
}

/// A small child process (`tandem address-guard`) that hands over the virtual addresses this
/// process holds once it is gone without releasing them itself — SIGKILL, a crash, the OOM
/// killer: it sends the priority-0 advert we would have sent, so a backup takes over at once,
/// and removes the addresses as soon as the new master's advert arrives (at most the
/// instance's Master_Down_Interval later). Without it such an address stays until its lifetime
/// runs out (3 s), beside the new holder's. The child reads what is held from a socket whose
/// other end only this process has (close-on-exec, so no other child keeps it open); end of
/// file there means we are gone. A SIGSTOPped daemon keeps its end open: the guard takes its
/// addresses away once it has been silent and a backup has claimed them (`SilenceWatch`).
public final class AddressGuard {
    private let socket: Int32
    public let pid: pid_t
    private var sent: Set<GuardedAddress> = []
    private var farewellSent: [UInt8: Farewell] = [:]
    private var broken = false
    private let log: (String) -> Void

    /// Starts `program` (normally /proc/self/exe) with `arguments` (argv, normally
    /// `["tandem", "address-guard"]`).
    public init(program: String, arguments: [String], log: @escaping (String) -> Void) throws {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemError("address guard: socketpair")
        }
        defer { close(pair[1]) }
        var options = SpawnOptions()
        options.standardInput = .descriptor(pair[1])
        options.closeOtherDescriptors = true
        options.grouping = .ownProcessGroup  // a Ctrl-C at the terminal is ours to handle, not its
        options.defaultSignals = [SIGPIPE]
        do {
            pid = try spawnProcess(program, arguments: arguments, options: options)
        } catch {
            close(pair[0])
            throw SystemError("address guard: cannot start \(program)", code: error.code)
        }
        socket = pair[0]
        self.log = log
    }

    deinit { close(socket) }

    /// Tells the guard an address is now ours (once per address until released).
    public func hold(_ address: GuardedAddress) {
        guard !sent.contains(address) else { return }
        sent.insert(address)
        send(.hold(address))
    }

    public func release(_ address: GuardedAddress) {
        guard sent.remove(address) != nil else { return }
        send(.release(address))
    }

    /// The advert to send for `farewell.vrid` if we die as its master (sent again only if changed).
    public func prepareFarewell(_ farewell: Farewell) {
        guard farewellSent[farewell.vrid] != farewell else { return }
        farewellSent[farewell.vrid] = farewell
        send(.forget(vrid: farewell.vrid))
        send(.farewell(farewell))
    }

    /// The daemon runs: said with each advert while master, so the guard can tell a frozen
    /// daemon from a running one (`SilenceWatch`).
    public func alive() { send(.alive) }

    /// No longer master of `vrid`: nothing to send for it.
    public func forgetFarewell(vrid: UInt8) {
        guard farewellSent.removeValue(forKey: vrid) != nil else { return }
        send(.forget(vrid: vrid))
    }

    private func send(_ message: AddressGuardMessage) {
        guard !broken else { return }
        let bytes = Array(message.line.utf8)
        let n = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n != bytes.count {
            broken = true
            log("address guard (pid \(pid)) unreachable: \(String(cString: strerror(errno))); a SIGKILLed tandem's addresses will last their lifetime (\(VRRPDaemon.addressLifetime) s)")
        }
    }
}

/// `tandem address-guard`: the guard's side. Reads messages from standard input until end of
/// file, then hands over what is still held (see `AddressGuard`), reporting each step on
/// standard error. Ignores SIGINT, SIGTERM and SIGHUP: its daemon's end of the socket decides
/// when it ends (a daemon stopping cleanly releases its addresses first, and this finds
/// nothing left to do).
public func runAddressGuard(log: (String) -> Void) -> Int32 {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    signal(SIGHUP, SIG_IGN)
    let parent = getppid()
    var set = GuardedSet()
    var pending: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    // A daemon that is there but does not run (SIGSTOP): see SilenceWatch.
    let clock = ContinuousClock()
    let origin = clock.now
    func elapsed() -> Duration { origin.duration(to: clock.now) }
    var watch = SilenceWatch(now: elapsed())
    var listeners: [UInt8: (farewell: Farewell, socket: VRRPSocket?)] = [:]
    while true {
        let wanted = watch.listening(set, now: elapsed())
        listeners = listeners.filter { vrid, listener in wanted.contains(listener.farewell) }
        for farewell in wanted where listeners[farewell.vrid] == nil {
            do {
                listeners[farewell.vrid] = (farewell, try VRRPSocket(
                    family: farewell.family, interface: try NetworkInterface(name: farewell.interface),
                    multicast: farewell.multicast, bindAddress: farewell.multicast ? nil : farewell.source))
            } catch {
                listeners[farewell.vrid] = (farewell, nil)  // said once, until the farewell changes
                log("tandem (pid \(parent)) is silent, but VRID \(farewell.vrid)'s adverts cannot be heard here (\(error)): its addresses stay until their lifetime ends")
            }
        }
        let order = listeners.keys.sorted()
        var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0)]
        fds += order.compactMap { listeners[$0]!.socket.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) } }
        let timeout = watch.nextChange(set, now: elapsed()).map { Int32(clamping: max(1, (($0 - elapsed()).wholeMilliseconds + 1))) } ?? -1
        if poll(&fds, nfds_t(fds.count), timeout) < 0 {
            // Never taken for the daemon's end: that hands its addresses over. Try again.
            if errno != EINTR { usleep(10_000) }
            continue
        }
        if fds[0].revents != 0 {
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            watch.daemonSpoke(now: elapsed())
            pending += buffer[0..<n]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if let message = AddressGuardMessage(line: line) {
                    set.apply(message)
                } else {
                    log("ignored a malformed line: \(line.prefix(80).debugDescription)")
                }
            }
            if pending.count > 8192 { pending.removeAll() }  // no newline in 8 KiB: not ours
        }
        for vrid in order {
            guard let (farewell, socket) = listeners[vrid], let socket else { continue }
            while let packet = socket.receive() {
                guard case .success(let advert) = VRRPAdvert.decode(packet.payload, family: farewell.family,
                                                                    source: packet.source, destination: packet.destination) else { continue }
                let silent = elapsed() - watch.lastHeard
                let taken = watch.heard(advert, from: packet.source, set: set, now: elapsed())
                guard !taken.isEmpty else { continue }
                takeAway(taken, because: "tandem (pid \(parent)) has said nothing for \(silent.wholeMilliseconds) ms and VRID \(vrid)'s new master \(packet.source) is heard", log: log)
            }
        }
    }
    let (removeNow, handovers) = set.endOfLife
    guard !removeNow.isEmpty || !handovers.isEmpty else { return 0 }
    let netlink: AddressNetlink
    do {
        netlink = try AddressNetlink()
    } catch {
        log("tandem (pid \(parent)) is gone but its addresses stay until their lifetime ends: \(error)")
        return 1
    }
    var failed = false
    func remove(_ addresses: [GuardedAddress], _ why: String, resettingConnections: Bool = false) {
        for a in addresses {
            var reset = ""
            if resettingConnections {
                switch resetTCPConnections(localAddress: a.address, port: nil) {
                case .success(let count): reset = count > 0 ? " after resetting \(count) connection(s) at it" : ""
                case .failure(let error): reset = " (its connections could not be reset: \(error))"
                }
            }
            do {
                if try netlink.remove(a.address, prefixLength: a.prefixLength, interface: a.interface) {
                    log("tandem (pid \(parent)) is gone: removed \(a)\(why)\(reset)")
                }
            } catch {
                failed = true
                log("tandem (pid \(parent)) is gone: cannot remove \(a): \(error)")
            }
        }
    }
    remove(removeNow, "")
    // Hand over: the priority-0 advert, then wait for the new master's (or the deadline).
    let start = clock.now
    var waiting: [(farewell: Farewell, addresses: [GuardedAddress], socket: VRRPSocket?, deadline: ContinuousClock.Instant)] = []
    for (farewell, addresses) in handovers {
        var socket: VRRPSocket?
        do {
            let s = try VRRPSocket(family: farewell.family, interface: try NetworkInterface(name: farewell.interface),
                                   multicast: farewell.multicast, bindAddress: farewell.multicast ? nil : farewell.source,
                                   sendSource: farewell.source)
            for (destination, advert) in farewell.adverts { try s.send(advert, to: destination) }
            log("tandem (pid \(parent)) is gone: sent VRID \(farewell.vrid)'s priority-0 advert; its addresses stay until a new master is heard (at most \(farewell.holdMilliseconds) ms)")
            socket = s
        } catch {
            log("tandem (pid \(parent)) is gone: cannot send VRID \(farewell.vrid)'s priority-0 advert: \(error)")
        }
        waiting.append((farewell, addresses, socket, start + .milliseconds(socket == nil ? 0 : farewell.holdMilliseconds)))
    }
    while !waiting.isEmpty {
        let now = clock.now
        var still: [(farewell: Farewell, addresses: [GuardedAddress], socket: VRRPSocket?, deadline: ContinuousClock.Instant)] = []
        for w in waiting {
            var heard: IPAddress?
            var ourNewRun = false
            while heard == nil && !ourNewRun, let packet = w.socket?.receive() {
                if case .success(let advert) = VRRPAdvert.decode(packet.payload, family: w.farewell.family,
                                                                 source: packet.source, destination: packet.destination) {
                    if w.farewell.isNewMaster(advert, from: packet.source) { heard = packet.source }
                    // A new tandem on this host (the same source) is master again: the addresses
                    // are its now; removing them at the deadline would take them from it.
                    else if advert.vrid == w.farewell.vrid && advert.priority > 0 && packet.source == w.farewell.source { ourNewRun = true }
                }
            }
            if ourNewRun {
                log("tandem (pid \(parent)) is gone, but a new run here is VRID \(w.farewell.vrid)'s master: its addresses are left to it")
            } else if let heard {
                // Its clients reset while the address is still here (an RST they get now, not
                // after a retransmission reaches the new master): they reconnect to it at once.
                remove(w.addresses, " (VRID \(w.farewell.vrid)'s new master \(heard) heard after \(start.duration(to: now).wholeMilliseconds) ms)",
                       resettingConnections: true)
            } else if now >= w.deadline {
                // Reset too: a client waiting on a reply (its request acknowledged) would
                // otherwise learn nothing until its own timeout.
                remove(w.addresses, " (no new master for VRID \(w.farewell.vrid) within \(w.farewell.holdMilliseconds) ms)",
                       resettingConnections: true)
            } else {
                still.append(w)
            }
        }
        waiting = still
        guard !waiting.isEmpty else { break }
        var fds = waiting.compactMap { $0.socket.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) } }
        let untilNext = clock.now.duration(to: waiting.map(\.deadline).min()!)
        _ = poll(&fds, nfds_t(fds.count), Int32(max(0, min(1000, untilNext.wholeMilliseconds + 1))))
    }
    return failed ? 1 : 0
}

/// A silent daemon's addresses taken away (SilenceWatch): every TCP connection at each reset
/// while the address is still here (its peer gets an RST now), then the address removed.
private func takeAway(_ addresses: [GuardedAddress], because why: String, log: (String) -> Void) {
    let netlink: AddressNetlink
    do {
        netlink = try AddressNetlink()
    } catch {
        log("\(why), but its addresses stay until their lifetime ends: \(error)")
        return
    }
    for a in addresses {
        var reset = ""
        switch resetTCPConnections(localAddress: a.address, port: nil) {
        case .success(let count): reset = count > 0 ? "reset \(count) connection(s) at \(a.address), " : ""
        case .failure(let error): reset = "cannot reset the connections at \(a.address) (\(error)), "
        }
        do {
            let removed = try netlink.remove(a.address, prefixLength: a.prefixLength, interface: a.interface)
            log("\(why): \(reset)\(removed ? "removed \(a)" : "\(a) was gone already")")
        } catch {
            log("\(why): \(reset)cannot remove \(a): \(error)")
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
