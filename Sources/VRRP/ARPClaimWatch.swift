import CVRRPSystem
import Synchronization
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// Listens on an interface for another host claiming one of our virtual IPv4 addresses: a
/// gratuitous ARP (sender and target the address) or an ARP reply for it, from another MAC. The
/// node agent's `direct` placement counts these as "the address's next holder heard", beside
/// the VRRP adverts of another master (`VRRPDaemon.holderAdvertsHeard`): a master's node cut off
/// from the others keeps the address, fenced, until the promoted replica's node takes it over,
/// and where VRRP does not cross but the segment does (the adverts dropped, ARP not) the new
/// holder's gratuitous ARP is what tells it. keepalived has no such rule; `tandem vrrp` does not
/// use this.
///
/// One thread blocked in `recvfrom` (a 200 ms timeout, to notice `stop`). Packets this host
/// sends are not counted, nor any from our own MAC (with a VRRP virtual MAC every holder sends
/// from the same one, so nothing is counted there: the hold runs to its end instead). Bound to
/// the interface's index at start: an interface deleted and created again is not followed (a
/// link down and up is; the hold then ends on an advert or at its end).
/// (The agent also logs when it runs without one: an IPv6 address or a virtual MAC.)
public final class ARPClaimWatch: Sendable {
    private let fd: Int32
    private let addresses: [[UInt8]]
    private let ownMAC: [UInt8]
    private let state = Mutex<(heard: Int, stopped: Bool, running: Bool)>((0, false, false))

    /// Opens the listening socket on `interface` for `addresses` (IPv4 only; others are ignored).
    public init(interface: NetworkInterface, addresses: [IPAddress]) throws {
        let rc = cvrrp_arp_listen(interface.index, 200)
        guard rc >= 0 else { throw SystemError("ARP socket on \(interface.name)", code: -rc) }
        fd = rc
        self.addresses = addresses.filter { $0.family == .ipv4 }.map(\.bytes)
        ownMAC = interface.mac
    }

    /// How many claims by other hosts have been heard so far. Thread-safe.
    public var claimsHeard: Int { state.withLock { $0.heard } }

    /// Whether an ARP packet is another host claiming one of `addresses`: a gratuitous request
    /// (sender = target) or a reply, for one of them, from a MAC other than `ownMAC`.
    public static func isClaim(op: Int, senderMAC: [UInt8], senderIP: [UInt8], targetIP: [UInt8],
                               addresses: [[UInt8]], ownMAC: [UInt8]) -> Bool {
        guard addresses.contains(senderIP), senderMAC != ownMAC else { return false }
        return op == 2 || (op == 1 && senderIP == targetIP)
    }

    /// Starts the listening thread (once).
    public func start() {
        let first = state.withLock { s -> Bool in
            defer { s.running = true }
            return !s.running && !s.stopped
        }
        guard first else { return }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self)
        let rc = pthread_create(&thread, nil, { argument in
            let watch = Unmanaged<ARPClaimWatch>.fromOpaque(argument!).takeRetainedValue()
            watch.loop()
            return nil
        }, box.toOpaque())
        if rc == 0 {
            pthread_detach(thread)
        } else {
            box.release()
            close(fd)
        }
    }

    /// Stops the thread within its receive timeout; it closes the socket (or, never started,
    /// closes it here).
    public func stop() {
        let running = state.withLock { s -> Bool in
            defer { s.stopped = true }
            return s.running || s.stopped
        }
        if !running { close(fd) }
    }

    private func loop() {
        var op: Int32 = 0
        var sha = [UInt8](repeating: 0, count: 6), sip = [UInt8](repeating: 0, count: 4), tip = [UInt8](repeating: 0, count: 4)
        while !state.withLock({ $0.stopped }) {
            let rc = cvrrp_arp_receive(fd, &op, &sha, &sip, &tip)
            if rc == 1, Self.isClaim(op: Int(op), senderMAC: sha, senderIP: sip, targetIP: tip, addresses: addresses, ownMAC: ownMAC) {
                state.withLock { $0.heard += 1 }
            } else if rc < 0, rc != -EAGAIN, rc != -EINTR {
                // The interface went away (ENETDOWN, ENXIO): look again after the timeout's worth.
                usleep(200_000)
            }
        }
        close(fd)
    }
}
