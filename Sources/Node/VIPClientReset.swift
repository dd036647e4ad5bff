import NodeCore
import Synchronization
import VRRP
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// `direct` placement: the clients at the VIP talk to the local Redis itself. When the address
/// leaves this node (a new master's node preempts it, a fence, a drain), their connections are
/// reset from here while the address is still on the interface, so each client learns at once
/// and reconnects to the address's next holder. Without it a client waiting for a reply — from a
/// frozen Redis whose kernel acknowledged the request, say — hears nothing until its own
/// timeout; once the address is gone nothing here can reach it. The kernel does the reset
/// (SOCK_DESTROY, `resetTCPConnections`): each client gets a TCP RST, whether or not Redis
/// answers, in well under a millisecond (the address's release waits for it).
final class VIPClientReset: Sendable {
    let port: Int
    let log: @Sendable (String) -> Void
    /// The last failure said, so that a kernel without SOCK_DESTROY is logged once, not at each move.
    private let lastFailure = Mutex<String?>(nil)

    init(port: Int, log: @escaping @Sendable (String) -> Void) {
        self.port = port
        self.log = log
    }

    /// Resets the TCP connections to each of `addresses` on the Redis port; how many were reset.
    @discardableResult
    func reset(_ addresses: [String]) -> Int {
        var total = 0
        for text in addresses {
            guard let address = IPAddress(text.split(separator: "/").first.map(String.init) ?? text) else { continue }
            switch resetTCPConnections(localAddress: address, port: port) {
            case .success(let count):
                total += count
                if count > 0 { log("reset \(count) client connection(s) at \(text):\(port) as the address leaves (they reconnect to its next holder)") }
            case .failure(let error):
                let line = "cannot reset the clients at \(text):\(port) as the address leaves (\(error)): they wait for their own timeout"
                if lastFailure.withLock({ previous in defer { previous = line }; return previous != line }) { log(line) }
            }
        }
        return total
    }
}

/// When the address moves without its old holder able to reset its clients (its link down, its
/// host gone), each client learns only at its next TCP retransmission (0.2, 0.6, 1.4 s… after
/// its last send) — the lab's link down of the master's node resumed at 1.7 s. As CTDB does
/// after taking over an address, the new holder "tickles" every connection the old holder had:
/// a TCP ACK with sequence 0 from the address to the client, which the client answers out of
/// window with an ACK of its own; that reaches the new holder (its gratuitous ARPs went out
/// first), whose kernel has no such connection and resets it. The clients reconnect at once.
///
/// The holder publishes its clients (`INFO vipclients` on its monitor's port: the peers of its
/// established connections at the address, by sock_diag, read every 250 ms while it holds the
/// address — `refresh`, off the monitor's actor); the other nodes' heartbeats read it every few
/// rounds (`heard`). Connections made since the last read are not known: they wait for their
/// retransmission as before.
final class VIPClientTickle: Sendable {
    let address: IPAddress
    let port: Int
    let log: @Sendable (String) -> Void
    /// What each other node said of its clients, and when (the agent's clock): the core's
    /// book decides whom a takeover tickles.
    private let book = Mutex(VIPClientBook<TCPPeer>())
    private let lastFailure = Mutex<String?>(nil)
    /// Whether this node holds the address (its VRRP instance is MASTER), and its clients there
    /// at the last `refresh`.
    private let held = Mutex<(holding: Bool, clients: [TCPPeer])>((false, []))
    static var limit: Int { VIPClientBook<TCPPeer>.limit }

    init(address: IPAddress, port: Int, log: @escaping @Sendable (String) -> Void) {
        self.address = address
        self.port = port
        self.log = log
    }

    /// The VIP's instance entered (true) or left (false) MASTER.
    func setHolding(_ holding: Bool) {
        held.withLock { $0 = (holding, holding ? $0.clients : []) }
    }

    func holding() -> Bool { held.withLock { $0.holding } }

    /// Reads the clients connected to the address here (a sock_diag dump), while holding it.
    func refresh() {
        guard holding() else { return }
        let peers = (try? listTCPPeers(localAddress: address, port: port, limit: Self.limit).get()) ?? []
        held.withLock { if $0.holding { $0.clients = peers } }
    }

    /// `INFO vipclients`: the clients at the address at the last `refresh` (none unless held).
    func infoLines() -> [String] {
        let peers = held.withLock { $0.holding ? $0.clients : [] }
        return ["# Vipclients", "vip_clients:\(peers.count)", "vip_client_list:" + peers.map(\.description).joined(separator: ",")]
    }

    /// Reads `infoLines`' list from a peer's INFO reply; nil if the reply has none.
    static func parse(_ info: String) -> [TCPPeer]? {
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("vip_client_list:") {
            return line.dropFirst("vip_client_list:".count).split(separator: ",").compactMap { TCPPeer($0) }
        }
        return nil
    }

    func heard(node: String, peers: [TCPPeer], at now: Int64) {
        book.withLock { $0.heard(node: node, clients: peers, at: now) }
    }

    /// The clients to tickle now (`VIPClientBook.targets`): those of this address's family.
    func targets(now: Int64) -> [TCPPeer] {
        let family = address.family
        return book.withLock { $0.targets(now: now) { $0.address.family == family } }
    }

    /// Tickles every client of the previous holders; how many were sent. A failure for one
    /// client (unreachable) goes on to the next; one of the socket itself (no CAP_NET_RAW, the
    /// address not here) ends the round, said once.
    @discardableResult
    func tickle(now: Int64) -> Int {
        var sent = 0
        for peer in targets(now: now) {
            switch tickleTCP(from: address, port: port, to: peer) {
            case .success: sent += 1
            case .failure(let error):
                let fatal = [EPERM, EACCES, EADDRNOTAVAIL, EAFNOSUPPORT, EPROTONOSUPPORT, EMFILE, ENFILE].contains(error.code)
                let line = "cannot tickle the previous holder's clients at \(address):\(port) (\(error)\(fatal ? "" : ", \(peer)")): they reconnect at their next retransmission"
                if lastFailure.withLock({ previous in defer { previous = line }; return previous != line }) { log(line) }
                if fatal { return sent }
            }
        }
        return sent
    }
}
