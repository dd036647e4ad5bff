import CVRRPSystem
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// Resets every TCP connection whose local end is `address`:`port` (any port for nil;
/// listeners excepted): the kernel's SOCK_DESTROY closes each and sends its peer an RST,
/// whether or not the process owning it runs. An IPv4 address also covers IPv6 sockets that carry it mapped
/// (`::ffff:a.b.c.d`). Returns how many were reset, or the errno of the first failure when
/// none was (EOPNOTSUPP: a kernel without CONFIG_INET_DIAG_DESTROY; EPERM: no CAP_NET_ADMIN).
public func resetTCPConnections(localAddress address: IPAddress, port: Int?) -> Result<Int, TCPResetError> {
    if let port, !(0...65535).contains(port) { return .failure(TCPResetError(code: EINVAL)) }
    var targets: [(Int32, [UInt8])] = []
    switch address {
    case .v4:
        targets = [(AF_INET, address.bytes), (AF_INET6, [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + address.bytes)]
    case .v6:
        targets = [(AF_INET6, address.bytes)]
    }
    var total = 0
    var failure: Int32?
    for (k, (family, bytes)) in targets.enumerated() {
        let result = bytes.withUnsafeBufferPointer { cvrrp_destroy_tcp(family, $0.baseAddress, Int32(port ?? -1)) }
        if result >= 0 {
            total += Int(result)
        } else if k == 0 {
            failure = -result  // the address's own family; the mapped pass is a bonus
        }
    }
    if total == 0, let failure { return .failure(TCPResetError(code: failure)) }
    return .success(total)
}

/// Why `resetTCPConnections` reset nothing.
public struct TCPResetError: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: Int32
    public var description: String { String(cString: strerror(code)) }
}
