import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// Adds and removes interface addresses through rtnetlink (RTM_NEWADDR / RTM_DELADDR), the way
/// keepalived does, but with a finite lifetime: an address tandem added disappears by itself
/// a few seconds after tandem stops renewing it (SIGKILL, SIGSTOP, a hung host).
public final class AddressNetlink {
    private let fd: Int32
    private var sequence: UInt32 = 1

    public init() throws {
        fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
        guard fd >= 0 else { throw SystemError("netlink socket") }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Adds the address, or renews its lifetime if present (NLM_F_CREATE | NLM_F_REPLACE).
    /// `lifetime` nil: permanent.
    /// `preferredLifetime`: shorter than the valid one (0: deprecated, used as a source only
    /// when nothing else fits — the link-local address a VMAC borrows from its base).
    public func add(_ address: IPAddress, prefixLength: Int, interface: Int32, label: String?, lifetime: UInt32?,
                    preferredLifetime: UInt32? = nil) throws {
        var attributes: [UInt8] = []
        let bytes = address.bytes
        if address.family == .ipv4 { attributes += attribute(2 /* IFA_LOCAL */, bytes) }
        attributes += attribute(1 /* IFA_ADDRESS */, bytes)
        if let label, address.family == .ipv4 { attributes += attribute(3 /* IFA_LABEL */, Array(label.utf8) + [0]) }
        if lifetime != nil || preferredLifetime != nil {
            // struct ifa_cacheinfo { ifa_prefered, ifa_valid, cstamp, tstamp }; 0xffffffff: forever
            let valid = lifetime ?? 0xffff_ffff
            attributes += attribute(6 /* IFA_CACHEINFO */, le32(preferredLifetime ?? valid) + le32(valid) + le32(0) + le32(0))
        }
        let flags: UInt16 = 0x1 | 0x4 | 0x400 | 0x100  // REQUEST | ACK | CREATE | REPLACE
        try request(type: 20 /* RTM_NEWADDR */, flags: flags, address: address, prefixLength: prefixLength,
                    interface: interface, attributes: attributes)
    }

    /// Removes the address; true if it was there.
    @discardableResult
    public func remove(_ address: IPAddress, prefixLength: Int, interface: Int32) throws -> Bool {
        var attributes: [UInt8] = []
        if address.family == .ipv4 { attributes += attribute(2, address.bytes) }
        attributes += attribute(1, address.bytes)
        do {
            try request(type: 21 /* RTM_DELADDR */, flags: 0x1 | 0x4, address: address, prefixLength: prefixLength,
                        interface: interface, attributes: attributes)
            return true
        } catch let error as SystemError where error.code == EADDRNOTAVAIL || error.code == ENODEV || error.code == ENOENT {
            return false
        }
    }

    private func request(type: UInt16, flags: UInt16, address: IPAddress, prefixLength: Int, interface: Int32, attributes: [UInt8]) throws {
        sequence &+= 1
        // struct ifaddrmsg { family, prefixlen, flags (IFA_F_NODAD for IPv6), scope, index }
        let family = UInt8(address.family == .ipv4 ? AF_INET : AF_INET6)
        let ifaFlags: UInt8 = address.family == .ipv6 ? 0x02 : 0
        let body = [family, UInt8(prefixLength), ifaFlags, 0] + le32(UInt32(bitPattern: interface)) + attributes
        let message = le32(UInt32(16 + body.count)) + le16(type) + le16(flags) + le32(sequence) + le32(0) + body
        let sent = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == message.count else { throw SystemError("netlink send") }
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw SystemError("netlink receive") }
            var offset = 0
            while offset + 16 <= n {
                let length = Int(readLE32(buffer, offset))
                let kind = readLE16(buffer, offset + 4)
                let seq = readLE32(buffer, offset + 8)
                if kind == 2 /* NLMSG_ERROR */ && seq == sequence {
                    let code = Int32(bitPattern: readLE32(buffer, offset + 16))
                    if code == 0 { return }
                    throw SystemError("netlink \(type == 20 ? "add" : "delete") \(address)/\(prefixLength)", code: -code)
                }
                guard length >= 16 else { break }
                offset += (length + 3) & ~3
            }
        }
    }

    private func attribute(_ type: UInt16, _ data: [UInt8]) -> [UInt8] {
        let length = 4 + data.count
        let padding = (4 - length % 4) % 4
        return le16(UInt16(length)) + le16(type) + data + Array(repeating: 0, count: padding)
    }
}

private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
private func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
private func readLE16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
private func readLE32(_ b: [UInt8], _ o: Int) -> UInt32 {
    UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
}
