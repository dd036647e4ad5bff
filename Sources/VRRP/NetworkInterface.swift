import CVRRPSystem
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// A system call failed: what was being done and errno's text.
public struct SystemError: Error, CustomStringConvertible {
    public var operation: String
    public var code: Int32

    public init(_ operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }

    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// What tandem needs to know about a network interface.
public struct NetworkInterface: Sendable {
    public var name: String
    public var index: Int32
    public var mac: [UInt8]

    /// Looks an interface up by name; throws when it does not exist.
    public init(name: String) throws {
        let index = if_nametoindex(name)
        guard index != 0 else { throw SystemError("interface \(name)") }
        self.name = name
        self.index = Int32(index)
        var mac = [UInt8](repeating: 0, count: 6)
        let rc = cvrrp_interface_mac(name, &mac)
        self.mac = rc == 0 ? mac : mac
    }

    /// The interface's addresses of a family, in the kernel's order (the first IPv4 one is the
    /// primary address; IPv6 link-local first).
    public static func addresses(of name: String, family: IPAddress.Family) -> [IPAddress] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var result: [IPAddress] = []
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sa = entry.pointee.ifa_addr, String(cString: entry.pointee.ifa_name) == name else { continue }
            switch (Int32(sa.pointee.sa_family), family) {
            case (AF_INET, .ipv4):
                sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    result.append(.v4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr)))
                }
            case (AF_INET6, .ipv6):
                sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    let bytes = withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) }
                    result.append(IPAddress(bytes: bytes)!)
                }
            default:
                break
            }
        }
        if family == .ipv6 {
            result.sort { ($0.bytes[0] == 0xfe && $0.bytes[1] & 0xc0 == 0x80) && !($1.bytes[0] == 0xfe && $1.bytes[1] & 0xc0 == 0x80) }
        }
        return result
    }

    /// Whether the interface is administratively up and has carrier (IFF_UP and IFF_RUNNING).
    public static func isUp(_ name: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { buffer in
            for (i, byte) in name.utf8.prefix(Int(IFNAMSIZ) - 1).enumerated() { buffer[i] = byte }
        }
        guard ioctl(fd, UInt(SIOCGIFFLAGS), &request) == 0 else { return false }
        let flags = Int32(request.ifr_ifru.ifru_flags)
        return flags & Int32(IFF_UP) != 0 && flags & Int32(IFF_RUNNING) != 0
    }

    /// Sends gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6). `asReplies`:
    /// the ARPs as unsolicited replies rather than keepalived's requests (a host still holding
    /// the address answers a request, a reply nobody answers).
    public func announce(_ address: IPAddress, count: Int, asReplies: Bool = false) -> Int32 {
        var mac = self.mac
        var bytes = address.bytes
        switch address.family {
        case .ipv4: return cvrrp_send_garp(index, &mac, &bytes, Int32(count), asReplies ? 1 : 0)
        case .ipv6: return cvrrp_send_unsolicited_na(index, &mac, &bytes, Int32(count))
        }
    }
}
