import CVRRPSystem
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// A raw IP socket for protocol 112 on one interface: TTL/hop limit 255, TOS 0xC0, multicast
/// loop off, joined to 224.0.0.18 / ff02::12 unless the instance is unicast.
public final class VRRPSocket {
    public let fd: Int32
    public let family: IPAddress.Family
    private let interface: NetworkInterface

    /// `bindAddress`: the unicast source (unicast mode only: a bound raw socket receives only
    /// packets for that address, so multicast instances stay unbound).
    /// IPv4: the source address every packet is sent from (nil: the kernel's choice or the bound
    /// address). A VMAC's socket sets it: the macvlan has no address of its own but the virtual ones.
    private let sendSource: IPAddress?

    public init(family: IPAddress.Family, interface: NetworkInterface, multicast: Bool, bindAddress: IPAddress?,
                sendSource: IPAddress? = nil) throws {
        self.family = family
        self.interface = interface
        self.sendSource = family == .ipv4 && bindAddress == nil ? sendSource : nil
        let domain = family == .ipv4 ? AF_INET : AF_INET6
        fd = socket(domain, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), Int32(vrrpIPProtocol))
        guard fd >= 0 else { throw SystemError("raw socket for IP protocol 112 (needs CAP_NET_RAW)") }
        do {
            var name = Array(interface.name.utf8) + [0]
            guard setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, &name, socklen_t(name.count)) == 0 else {
                throw SystemError("SO_BINDTODEVICE \(interface.name)")
            }
            switch family {
            case .ipv4:
                try set(Int32(IPPROTO_IP), IP_TTL, 255)
                try set(Int32(IPPROTO_IP), IP_MULTICAST_TTL, 255)
                try set(Int32(IPPROTO_IP), IP_TOS, 0xc0)
                try set(Int32(IPPROTO_IP), IP_MULTICAST_LOOP, 0)
                var request = ip_mreqn()
                request.imr_ifindex = interface.index
                guard setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &request, socklen_t(MemoryLayout<ip_mreqn>.size)) == 0 else {
                    throw SystemError("IP_MULTICAST_IF")
                }
                if multicast {
                    request.imr_multiaddr.s_addr = UInt32(0xe000_0012).bigEndian
                    guard setsockopt(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ip_mreqn>.size)) == 0 else {
                        throw SystemError("joining 224.0.0.18 on \(interface.name)")
                    }
                }
            case .ipv6:
                guard cvrrp_setup_ipv6(fd) == 0 else { throw SystemError("IPv6 socket options") }
                try set(Int32(IPPROTO_IPV6), IPV6_UNICAST_HOPS, 255)
                try set(Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, 255)
                try set(Int32(IPPROTO_IPV6), IPV6_MULTICAST_LOOP, 0)
                try set(Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, Int32(interface.index))
                if multicast {
                    var request = ipv6_mreq()
                    withUnsafeMutableBytes(of: &request.ipv6mr_multiaddr) { buffer in
                        for (i, b) in IPAddress.vrrpGroup(.ipv6).bytes.enumerated() { buffer[i] = b }
                    }
                    request.ipv6mr_interface = UInt32(interface.index)
                    guard setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_ADD_MEMBERSHIP, &request, socklen_t(MemoryLayout<ipv6_mreq>.size)) == 0 else {
                        throw SystemError("joining ff02::12 on \(interface.name)")
                    }
                }
            }
            if let bindAddress {
                var storage = VRRPSocket.socketAddress(bindAddress, scope: interface.index)
                let rc = withUnsafePointer(to: &storage.0) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, storage.1) }
                }
                guard rc == 0 else { throw SystemError("binding to \(bindAddress)") }
            }
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    private func set(_ level: Int32, _ option: Int32, _ value: Int32) throws {
        var v = value
        guard setsockopt(fd, level, option, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SystemError("setsockopt \(level)/\(option)")
        }
    }

    /// Sends one packet to `destination` (the group or a unicast peer).
    public func send(_ bytes: [UInt8], to destination: IPAddress) throws {
        if let sendSource {
            var dst = destination.bytes
            var src = sendSource.bytes
            let n = bytes.withUnsafeBufferPointer { cvrrp_send4_from(fd, $0.baseAddress, $0.count, &dst, &src) }
            guard n == bytes.count else { throw SystemError("sending to \(destination) from \(sendSource)", code: n < 0 ? Int32(-n) : EIO) }
            return
        }
        var storage = VRRPSocket.socketAddress(destination, scope: interface.index)
        let n = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &storage.0) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, buffer.baseAddress, buffer.count, 0, $0, storage.1) }
            }
        }
        guard n == bytes.count else { throw SystemError("sending to \(destination)") }
    }

    /// The next queued packet, or nil when none is waiting. IPv4 parses the IP header the raw
    /// socket hands us; IPv6 gets source, destination and hop limit from recvmsg.
    public func receive() -> ReceivedPacket? {
        var buffer = [UInt8](repeating: 0, count: 2048)
        switch family {
        case .ipv4:
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard n >= 20 else { return nil }
            let headerLength = Int(buffer[0] & 0x0f) * 4
            let total = min(Int(buffer[2]) << 8 | Int(buffer[3]), n)
            guard headerLength >= 20, total >= headerLength else { return nil }
            return ReceivedPacket(
                payload: Array(buffer[headerLength..<total]),
                source: IPAddress(bytes: buffer[12..<16])!, destination: IPAddress(bytes: buffer[16..<20])!,
                ttl: Int(buffer[8]))
        case .ipv6:
            var src = [UInt8](repeating: 0, count: 16)
            var dst = [UInt8](repeating: 0, count: 16)
            var hops: Int32 = -1
            let n = cvrrp_recv6(fd, &buffer, buffer.count, &src, &dst, &hops)
            guard n >= 0 else { return nil }
            return ReceivedPacket(payload: Array(buffer[..<Int(n)]), source: IPAddress(bytes: src)!,
                                  destination: IPAddress(bytes: dst)!, ttl: Int(hops))
        }
    }

    static func socketAddress(_ address: IPAddress, scope: Int32) -> (sockaddr_storage, socklen_t) {
        var storage = sockaddr_storage()
        switch address {
        case .v4(let value):
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    $0.pointee.sin_family = sa_family_t(AF_INET)
                    $0.pointee.sin_addr.s_addr = value.bigEndian
                }
            }
            return (storage, socklen_t(MemoryLayout<sockaddr_in>.size))
        case .v6(let bytes):
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    sin6.pointee.sin6_family = sa_family_t(AF_INET6)
                    withUnsafeMutableBytes(of: &sin6.pointee.sin6_addr) { buffer in
                        for (i, b) in bytes.enumerated() { buffer[i] = b }
                    }
                    if bytes[0] == 0xff || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80) {
                        sin6.pointee.sin6_scope_id = UInt32(scope)
                    }
                }
            }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
    }
}
