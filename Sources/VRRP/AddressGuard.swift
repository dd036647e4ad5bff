import Spawn
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// One virtual address on one interface, as the guard is told about it.
public struct GuardedAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int
    public var interface: Int32

    public init(address: IPAddress, prefixLength: Int, interface: Int32) {
        self.address = address
        self.prefixLength = prefixLength
        self.interface = interface
    }

    public var description: String { "\(address)/\(prefixLength) on interface #\(interface)" }
}

/// What the daemon tells its guard, one line each: `+ IFINDEX ADDRESS PREFIX` (now held) or
/// `- IFINDEX ADDRESS PREFIX` (released).
public enum AddressGuardMessage: Hashable, Sendable {
    case hold(GuardedAddress)
    case release(GuardedAddress)

    public var line: String {
        switch self {
        case .hold(let a): "+ \(a.interface) \(a.address) \(a.prefixLength)\n"
        case .release(let a): "- \(a.interface) \(a.address) \(a.prefixLength)\n"
        }
    }

    /// Parses one line (without its newline); nil for anything else.
    public init?(line: some StringProtocol) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 4, let index = Int32(fields[1]), index > 0,
              let address = IPAddress(fields[2]), let prefix = Int(fields[3]), prefix >= 0,
              prefix <= (address.family == .ipv4 ? 32 : 128) else { return nil }
        let guarded = GuardedAddress(address: address, prefixLength: prefix, interface: index)
        switch fields[0] {
        case "+": self = .hold(guarded)
        case "-": self = .release(guarded)
        default: return nil
        }
    }
}

/// The set of addresses the guard removes when its daemon is gone: the holds not yet released,
/// in the order they were first held.
public struct GuardedSet: Sendable {
    public private(set) var held: [GuardedAddress] = []

    public init() {}

    public mutating func apply(_ message: AddressGuardMessage) {
        switch message {
        case .hold(let a): if !held.contains(a) { held.append(a) }
        case .release(let a): held.removeAll { $0 == a }
        }
    }
}

/// A small child process (`tandem address-guard`) that removes the virtual addresses this
/// process holds once it is gone without removing them itself — SIGKILL, a crash, the OOM
/// killer. Without it such an address stays until its lifetime runs out (3 s), beside the new
/// holder's. The child reads what is held from a socket whose other end only this process has
/// (close-on-exec, so no other child keeps it open); end of file there means we are gone.
/// A SIGSTOPped daemon keeps its end open: then the lifetime is what removes the address.
public final class AddressGuard {
    private let socket: Int32
    public let pid: pid_t
    private var sent: Set<GuardedAddress> = []
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

    /// Whether the guard process has ended (reaps it then).
    public var hasExited: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid
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
/// file, then removes what is still held, reporting each removal on standard error. Ignores
/// SIGINT, SIGTERM and SIGHUP: its daemon's end of the socket decides when it ends (a daemon
/// stopping cleanly releases its addresses first, and this finds nothing left to remove).
public func runAddressGuard(log: (String) -> Void) -> Int32 {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    signal(SIGHUP, SIG_IGN)
    let parent = getppid()
    var set = GuardedSet()
    var pending: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
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
        if pending.count > 4096 { pending.removeAll() }  // no newline in 4 KiB: not ours
    }
    guard !set.held.isEmpty else { return 0 }
    let netlink: AddressNetlink
    do {
        netlink = try AddressNetlink()
    } catch {
        log("tandem (pid \(parent)) is gone but its addresses stay until their lifetime ends: \(error)")
        return 1
    }
    var failed = false
    for a in set.held {
        do {
            if try netlink.remove(a.address, prefixLength: a.prefixLength, interface: a.interface) {
                log("tandem (pid \(parent)) is gone: removed \(a)")
            }
        } catch {
            failed = true
            log("tandem (pid \(parent)) is gone: cannot remove \(a): \(error)")
        }
    }
    return failed ? 1 : 0
}
