/// PURE: which clients of the VIP's previous holders a new holder tickles, and when (direct
/// placement; the shell is `VIPClientTickle` in Sources/Node).
///
/// Each holder publishes the clients connected to the address (`INFO vipclients`); the other
/// nodes' heartbeats read the lists every few rounds and note them here with the time they were
/// heard. A node that takes the address over tickles every client of the fresh lists (a TCP ACK
/// out of window from the address: the client's answer reaches the new holder, whose kernel
/// resets it, and the client reconnects at once instead of at its next retransmission).
///
/// `Client` is the shell's endpoint type (an address and a port); the family filter is the
/// caller's, as only it knows the address's family.
public struct VIPClientBook<Client: Hashable & Sendable>: Sendable {
    /// Lists heard longer ago than this (ms) are not tickled: the address has moved since, or
    /// their clients are gone.
    public static var freshFor: Int64 { 30_000 }
    /// At most this many clients published (one line of INFO) and tickled.
    public static var limit: Int { 10_000 }
    /// The tickle rounds after the address is taken, in ms from the takeover: at once (the
    /// gratuitous ARPs are out), and once more after the clients' 500 ms limit on answering
    /// out-of-window segments, for any whose neighbour entry was late to move. A round is made
    /// only while the address is still held.
    public static var rounds: [Int64] { [0, 600] }

    private var known: [String: (at: Int64, clients: [Client])] = [:]

    public init() {}

    /// `node` said at `now` that these clients are connected to the address there (none if it
    /// does not hold it). A newer list replaces the node's older one.
    public mutating func heard(node: String, clients: [Client], at now: Int64) {
        known[node] = (now, clients)
    }

    /// The clients to tickle at `now`: those of every list heard within `freshFor`, nodes in
    /// name order, each client once, only those `eligible` (the address's family), at most
    /// `limit`.
    public func targets(now: Int64, eligible: (Client) -> Bool = { _ in true }) -> [Client] {
        var seen = Set<Client>()
        var out: [Client] = []
        for (_, entry) in known.sorted(by: { $0.key < $1.key }) where now - entry.at <= Self.freshFor {
            for client in entry.clients where eligible(client) && seen.insert(client).inserted {
                out.append(client)
                if out.count >= Self.limit { return out }
            }
        }
        return out
    }
}
