import Foundation
import Spawn

#if canImport(Glibc)
import Glibc
#endif

/// `direct` placement: the clients at the VIP talk to the local Redis itself. When the address
/// leaves this node (a new master's node preempts it, a fence, a drain), their connections are
/// reset from here while the address is still on the interface, so each client learns at once
/// and reconnects to the address's next holder. Without it a client waiting for a reply — from a
/// frozen Redis whose kernel acknowledged the request, say — hears nothing until its own
/// timeout; once the address is gone nothing here can reach it. The kernel does the reset:
/// `ss -K` (SOCK_DESTROY) sends each client a TCP RST, whether or not Redis answers.
struct VIPClientReset: Sendable {
    let port: Int
    let program: String?
    let log: @Sendable (String) -> Void

    init(port: Int, log: @escaping @Sendable (String) -> Void) {
        self.port = port
        self.log = log
        program = ["/usr/bin/ss", "/bin/ss", "/usr/sbin/ss", "/sbin/ss"].first { FileManager.default.isExecutableFile(atPath: $0) }
        if program == nil {
            log("ss (iproute2) not found: clients at the virtual IP are not reset when it leaves this node (they wait for their own timeout)")
        }
    }

    /// Resets the TCP connections to `addresses` on the Redis port and waits for `ss` (a few ms).
    func reset(_ addresses: [String]) {
        guard let program else { return }
        for address in addresses {
            let arguments = ["ss", "-K", "-t", "-n", "-H", "src", address, "sport", "=", ":\(port)"]
            do {
                var options = SpawnOptions()
                options.standardInput = .devNull
                options.standardOutput = .devNull
                options.closeOtherDescriptors = true
                options.unblockSignals = true
                let pid = try spawnProcess(program, arguments: arguments, options: options)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            } catch {
                log("cannot reset the clients at \(address):\(port): \(error)")
            }
        }
    }
}
