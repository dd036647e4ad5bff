import CVRRPSystem
import HostPort
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
    var total = 0
    var failure: Int32?
    for (k, (family, bytes)) in diagTargets(address).enumerated() {
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

/// The sock_diag dumps that cover `address`: its own family's, and for IPv4 also IPv6 sockets
/// that carry it mapped (`::ffff:a.b.c.d`).
private func diagTargets(_ address: IPAddress) -> [(Int32, [UInt8])] {
    switch address {
    case .v4: [(AF_INET, address.bytes), (AF_INET6, [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + address.bytes)]
    case .v6: [(AF_INET6, address.bytes)]
    }
}

/// Why `resetTCPConnections` reset nothing.
public struct TCPResetError: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: Int32
    public var description: String { String(cString: strerror(code)) }
}

/// The far end of a TCP connection: a client of the VIP.
public struct TCPPeer: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: Int

    public init(address: IPAddress, port: Int) {
        self.address = address
        self.port = port
    }

    /// `a.b.c.d:port` or `[v6]:port`.
    public var description: String {
        switch address {
        case .v4: "\(address):\(port)"
        case .v6: "[\(address)]:\(port)"
        }
    }

    /// Parses `description`'s form (`HostPort`'s, with an address for the host); nil for
    /// anything else, an IPv4 address in brackets too.
    public init?(_ text: some StringProtocol) {
        let text = String(text)
        guard let hostPort = HostPort(text), let address = IPAddress(hostPort.host),
              text.hasPrefix("[") == (address.family == .ipv6) else { return nil }
        self.init(address: address, port: hostPort.port)
    }
}

/// The peers of the established (or close-wait) TCP connections whose local end is
/// `address`:`port` — the clients connected to a VIP here. An IPv4 address also covers IPv6
/// sockets that carry it mapped; their peers are given as IPv4. At most `limit`.
public func listTCPPeers(localAddress address: IPAddress, port: Int, limit: Int = 65_536) -> Result<[TCPPeer], TCPResetError> {
    guard (1...65535).contains(port), limit > 0 else { return .failure(TCPResetError(code: EINVAL)) }
    var peers: [TCPPeer] = []
    for (k, (family, bytes)) in diagTargets(address).enumerated() {
        let room = limit - peers.count
        guard room > 0 else { break }
        var raw = [UInt8](repeating: 0, count: 16 * room)
        var ports = [UInt16](repeating: 0, count: room)
        let count = bytes.withUnsafeBufferPointer { a in
            raw.withUnsafeMutableBufferPointer { r in
                ports.withUnsafeMutableBufferPointer { p in
                    cvrrp_list_tcp_peers(family, a.baseAddress, Int32(port), r.baseAddress, p.baseAddress, Int32(room))
                }
            }
        }
        if count < 0 {
            if k == 0 { return .failure(TCPResetError(code: -count)) }
            continue
        }
        for i in 0..<Int(count) {
            let slot = raw[(16 * i)..<(16 * i + 16)]
            let peer: IPAddress?
            if family == AF_INET {
                peer = IPAddress(bytes: slot.prefix(4))
            } else if slot.prefix(12).elementsEqual([UInt8](repeating: 0, count: 10) + [0xff, 0xff]) {
                peer = IPAddress(bytes: slot.suffix(4))
            } else {
                peer = IPAddress(bytes: slot)
            }
            if let peer { peers.append(TCPPeer(address: peer, port: Int(ports[i]))) }
        }
    }
    return .success(peers)
}

/// The segment `tickleTCP` sends (for the tests): ACK, sequence and acknowledgement 0, window
/// 1234, the checksum over the pseudo-header. Nil when the two addresses' families differ.
public func tcpTickleSegment(from source: IPAddress, port: Int, to peer: TCPPeer) -> [UInt8]? {
    guard source.family == peer.address.family else { return nil }
    var segment = [UInt8](repeating: 0, count: 20)
    let family = source.family == .ipv4 ? AF_INET : AF_INET6
    source.bytes.withUnsafeBufferPointer { s in
        peer.address.bytes.withUnsafeBufferPointer { d in
            segment.withUnsafeMutableBufferPointer { out in
                cvrrp_tcp_ack_segment(family, s.baseAddress, Int32(port), d.baseAddress, Int32(peer.port), out.baseAddress)
            }
        }
    }
    return segment
}

/// Sends `peer` a tickle ACK from `source`:`port` (`cvrrp_tcp_tickle`): a client whose
/// connection to the address lived on the host that held it before answers with an ACK, and
/// this host's kernel, which has no such connection, resets it. Needs the address to be here and
/// CAP_NET_RAW.
public func tickleTCP(from source: IPAddress, port: Int, to peer: TCPPeer) -> Result<Void, TCPResetError> {
    guard source.family == peer.address.family, (1...65535).contains(port) else { return .failure(TCPResetError(code: EINVAL)) }
    let family = source.family == .ipv4 ? AF_INET : AF_INET6
    let result = source.bytes.withUnsafeBufferPointer { s in
        peer.address.bytes.withUnsafeBufferPointer { d in
            cvrrp_tcp_tickle(family, s.baseAddress, Int32(port), d.baseAddress, Int32(peer.port))
        }
    }
    return result == 0 ? .success(()) : .failure(TCPResetError(code: -result))
}
