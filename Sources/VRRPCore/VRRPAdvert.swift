/// The protocol version an instance speaks: RFC 3768 (v2) or RFC 5798 (v3).
public enum VRRPVersion: Int, Sendable, Hashable {
    case v2 = 2
    case v3 = 3
}

/// VRRPv2 authentication (RFC 2338 / keepalived): none, or a simple password (PASS, type 1).
/// VRRPv3 has no authentication field and ignores this.
public enum VRRPAuthentication: Sendable, Hashable {
    case none
    /// The first 8 bytes of `auth_pass`, zero padded, as keepalived sends them.
    case password([UInt8])

    /// keepalived's `auth_pass`: the first 8 characters, zero padded.
    public static func pass(_ text: String) -> VRRPAuthentication {
        let bytes = Array(text.utf8.prefix(8))
        return .password(bytes + Array(repeating: 0, count: 8 - bytes.count))
    }

    /// The v2 auth-type byte.
    public var typeCode: UInt8 {
        switch self {
        case .none: 0
        case .password: 1
        }
    }
}

/// One VRRP advertisement, the only VRRP message type.
public struct VRRPAdvert: Sendable, Hashable {
    public var version: VRRPVersion
    public var vrid: UInt8
    public var priority: UInt8
    /// The advertisement interval in centiseconds. v2 carries whole seconds, so a multiple of 100.
    public var intervalCentiseconds: Int
    /// The virtual addresses, all of one family.
    public var addresses: [IPAddress]
    /// v2 only: the auth type byte and the 8 auth data bytes as received (or to send).
    public var authType: UInt8
    public var authData: [UInt8]

    public init(
        version: VRRPVersion, vrid: UInt8, priority: UInt8, intervalCentiseconds: Int,
        addresses: [IPAddress], authentication: VRRPAuthentication = .none
    ) {
        self.version = version
        self.vrid = vrid
        self.priority = priority
        self.intervalCentiseconds = intervalCentiseconds
        self.addresses = addresses
        self.authType = version == .v2 ? authentication.typeCode : 0
        switch authentication {
        case .password(let bytes) where version == .v2: self.authData = bytes
        default: self.authData = Array(repeating: 0, count: 8)
        }
    }
}

/// Why bytes are not a VRRP advertisement we accept. Each is counted and logged; none
/// touches a timer.
public enum VRRPRejection: Error, Sendable, Hashable, CustomStringConvertible {
    case tooShort(Int)
    case wrongVersion(Int)
    case wrongType(Int)
    case wrongVersionForInstance(got: Int, expected: Int)
    case badChecksum
    case wrongTTL(Int)
    case lengthMismatch(count: Int, length: Int)
    case wrongVRID(UInt8)
    case authTypeMismatch(got: UInt8, expected: UInt8)
    case wrongPassword
    case intervalMismatch(got: Int, expected: Int)
    case addressListMismatch
    case ownAdvert

    public var description: String {
        switch self {
        case .tooShort(let n): "packet too short (\(n) bytes)"
        case .wrongVersion(let v): "unknown VRRP version \(v)"
        case .wrongType(let t): "unknown VRRP type \(t)"
        case .wrongVersionForInstance(let got, let expected): "VRRP version \(got), this instance speaks version \(expected)"
        case .badChecksum: "invalid checksum"
        case .wrongTTL(let ttl): "invalid TTL/hop limit \(ttl), expect 255"
        case .lengthMismatch(let count, let length): "address count \(count) does not fit a \(length)-byte packet"
        case .wrongVRID(let vrid): "VRID \(vrid) is not this instance's"
        case .authTypeMismatch(let got, let expected): "auth type \(got), expected \(expected)"
        case .wrongPassword: "invalid password"
        case .intervalMismatch(let got, let expected): "advertisement interval \(got) cs, ours \(expected) cs"
        case .addressListMismatch: "virtual address list does not match ours"
        case .ownAdvert: "our own advert"
        }
    }
}

/// VRRP's IP protocol number.
public let vrrpIPProtocol: UInt8 = 112

extension VRRPAdvert {
    /// The packet's bytes. v3 needs the source and the *actual* destination for the checksum's
    /// pseudo-header (the peer's address when unicast, as keepalived ≥ 1.3.6 does).
    public func encode(source: IPAddress? = nil, destination: IPAddress? = nil) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(version.rawValue << 4 | 1), vrid, priority, UInt8(addresses.count)]
        switch version {
        case .v2:
            bytes += [authType, UInt8(clamping: intervalCentiseconds / 100), 0, 0]
        case .v3:
            let interval = UInt16(min(max(intervalCentiseconds, 0), 0xfff))
            bytes += [UInt8(interval >> 8), UInt8(interval & 0xff), 0, 0]
        }
        for address in addresses { bytes += address.bytes }
        if version == .v2 { bytes += authData.prefix(8) + Array(repeating: 0, count: max(0, 8 - authData.count)) }
        let sum: UInt16
        if version == .v3, let source, let destination {
            sum = internetChecksum(pseudoHeader(source: source, destination: destination, length: bytes.count) + bytes)
        } else {
            sum = internetChecksum(bytes)
        }
        bytes[6] = UInt8(sum >> 8)
        bytes[7] = UInt8(sum & 0xff)
        return bytes
    }

    /// Decodes and checks the VRRP message itself (version, type, length, checksum); the
    /// instance-specific checks are `VRRPAdvertFilter`'s. `family` is the IP family it came on.
    public static func decode(
        _ bytes: some Collection<UInt8>, family: IPAddress.Family, source: IPAddress? = nil, destination: IPAddress? = nil
    ) -> Result<VRRPAdvert, VRRPRejection> {
        let b = Array(bytes)
        guard b.count >= 8 else { return .failure(.tooShort(b.count)) }
        let versionNumber = Int(b[0] >> 4)
        guard let version = VRRPVersion(rawValue: versionNumber) else { return .failure(.wrongVersion(versionNumber)) }
        guard b[0] & 0x0f == 1 else { return .failure(.wrongType(Int(b[0] & 0x0f))) }
        let count = Int(b[3])
        let addressSize = family == .ipv4 ? 4 : 16
        let expected = 8 + count * addressSize + (version == .v2 ? 8 : 0)
        // keepalived accepts trailing bytes (padding) but never fewer than the count says.
        guard b.count >= expected else { return .failure(.lengthMismatch(count: count, length: b.count)) }
        if version == .v2 && family == .ipv6 { return .failure(.wrongVersion(2)) }
        let body = Array(b[..<expected])
        let checksumOK: Bool
        if version == .v3, let source, let destination {
            checksumOK = internetChecksum(pseudoHeader(source: source, destination: destination, length: body.count) + body) == 0
        } else {
            checksumOK = internetChecksum(body) == 0
        }
        guard checksumOK else { return .failure(.badChecksum) }
        var addresses: [IPAddress] = []
        for i in 0..<count {
            let start = 8 + i * addressSize
            addresses.append(IPAddress(bytes: body[start..<start + addressSize])!)
        }
        var advert = VRRPAdvert(version: version, vrid: b[1], priority: b[2], intervalCentiseconds: 0, addresses: addresses)
        switch version {
        case .v2:
            advert.authType = b[4]
            advert.intervalCentiseconds = Int(b[5]) * 100
            advert.authData = Array(body[(expected - 8)...])
        case .v3:
            advert.intervalCentiseconds = Int(UInt16(b[4] & 0x0f) << 8 | UInt16(b[5]))
        }
        return .success(advert)
    }
}

/// The pseudo-header of RFC 5798 §5.2.8: IPv4 (src, dst, 0, 112, length) or IPv6 (src, dst,
/// 32-bit length, 3 zero bytes, next header 112).
func pseudoHeader(source: IPAddress, destination: IPAddress, length: Int) -> [UInt8] {
    switch source.family {
    case .ipv4:
        return source.bytes + destination.bytes + [0, vrrpIPProtocol, UInt8(length >> 8), UInt8(length & 0xff)]
    case .ipv6:
        return source.bytes + destination.bytes
            + [UInt8(length >> 24 & 0xff), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), 0, 0, 0, vrrpIPProtocol]
    }
}

/// The Internet checksum (RFC 1071): one's complement of the one's complement sum of 16-bit words.
/// Over data that includes a correct checksum it is 0.
public func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i + 1 < bytes.count {
        sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
        i += 2
    }
    if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}
