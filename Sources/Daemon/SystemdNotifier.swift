#if canImport(Glibc)
import Glibc
#endif

/// systemd's readiness protocol without libsystemd: a datagram with `READY=1` sent to the unix
/// socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace), as
/// `sd_notify(3)` does. A unit with `Type=notify` counts the daemon as started only then.
public struct SystemdNotifier: Sendable {
    /// The socket's name as `$NOTIFY_SOCKET` gave it.
    public let socketName: String

    public init(socketName: String) { self.socketName = socketName }

    /// Reads `$NOTIFY_SOCKET` and removes it from the environment, so no child (a supervised
    /// redis-server, a script) notifies in the daemon's name. nil when not started by systemd.
    public static func takeFromEnvironment() -> SystemdNotifier? {
        guard let value = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !value.isEmpty else { return nil }
        unsetenv("NOTIFY_SOCKET")
        return SystemdNotifier(socketName: value)
    }

    /// Sends `READY=1`: the daemon is listening.
    @discardableResult
    public func ready() -> Bool { send("READY=1\nMAINPID=\(getpid())") }

    /// Sends `STOPPING=1`: the daemon is shutting down.
    @discardableResult
    public func stopping() -> Bool { send("STOPPING=1") }

    /// Sends one notification; false if the socket cannot be reached (systemd then times the
    /// start out, which says more than an error here could).
    public func send(_ state: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketName.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !path.isEmpty, path.count < capacity, abstract || path.first == UInt8(ascii: "/") else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.enumerated() { raw[i] = byte }
        }
        // An abstract name is exactly its bytes; a path ends at its NUL.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (abstract ? 0 : 1))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent == bytes.count
    }
}
