import Synchronization
import VRRP
import VRRPCore

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
