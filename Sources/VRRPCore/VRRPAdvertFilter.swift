/// A received IP packet carrying VRRP, as the socket layer saw it.
public struct ReceivedPacket: Sendable {
    public var payload: [UInt8]
    public var source: IPAddress
    public var destination: IPAddress
    /// IPv4 TTL or IPv6 hop limit.
    public var ttl: Int

    public init(payload: [UInt8], source: IPAddress, destination: IPAddress, ttl: Int) {
        self.payload = payload
        self.source = source
        self.destination = destination
        self.ttl = ttl
    }
}

/// keepalived's receive checks for one instance (vrrp.c vrrp_check_packet), as a pure function.
public struct VRRPAdvertFilter: Sendable {
    public var version: VRRPVersion
    public var vrid: UInt8
    public var family: IPAddress.Family
    public var authentication: VRRPAuthentication
    /// Our advert interval in centiseconds (v2 rejects a different one; v3 adopts the master's).
    public var intervalCentiseconds: Int
    /// The configured virtual addresses of the instance's family: received lists must match.
    public var virtualAddresses: [IPAddress]
    /// Our own source addresses: adverts from them are ours, looped back.
    public var ownAddresses: Set<IPAddress>

    public init(
        version: VRRPVersion, vrid: UInt8, family: IPAddress.Family, authentication: VRRPAuthentication,
        intervalCentiseconds: Int, virtualAddresses: [IPAddress], ownAddresses: Set<IPAddress>
    ) {
        self.version = version
        self.vrid = vrid
        self.family = family
        self.authentication = authentication
        self.intervalCentiseconds = intervalCentiseconds
        self.virtualAddresses = virtualAddresses.filter { $0.family == family }
        self.ownAddresses = ownAddresses
    }

    /// Whether a packet is addressed to this instance at all (its VRID); others are not ours to
    /// count. Returns nil when the payload is too short to carry a VRID.
    public static func vrid(of payload: [UInt8]) -> UInt8? {
        payload.count >= 2 ? payload[1] : nil
    }

    /// Checks a received packet. Multicast adverts need TTL 255; keepalived does not check the
    /// TTL of unicast adverts unless told to, and neither does this.
    public func check(_ packet: ReceivedPacket) -> Result<VRRPAdvert, VRRPRejection> {
        if ownAddresses.contains(packet.source) { return .failure(.ownAdvert) }
        if packet.destination.isMulticast && packet.ttl != 255 { return .failure(.wrongTTL(packet.ttl)) }
        let decoded = VRRPAdvert.decode(packet.payload, family: family, source: packet.source, destination: packet.destination)
        guard case .success(let advert) = decoded else { return decoded }
        if advert.version != version {
            return .failure(.wrongVersionForInstance(got: advert.version.rawValue, expected: version.rawValue))
        }
        if advert.vrid != vrid { return .failure(.wrongVRID(advert.vrid)) }
        if version == .v2 {
            if advert.authType != authentication.typeCode {
                return .failure(.authTypeMismatch(got: advert.authType, expected: authentication.typeCode))
            }
            if case .password(let expected) = authentication, !constantTimeEqual(expected, advert.authData) {
                return .failure(.wrongPassword)
            }
        }
        // keepalived checks the list on every advert, priority 0 included.
        if Set(advert.addresses) != Set(virtualAddresses) || advert.addresses.count != virtualAddresses.count {
            return .failure(.addressListMismatch)
        }
        if version == .v2 && advert.intervalCentiseconds != intervalCentiseconds {
            return .failure(.intervalMismatch(got: advert.intervalCentiseconds, expected: intervalCentiseconds))
        }
        return .success(advert)
    }
}

/// Compares without an early exit, as keepalived compares passwords.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in a.indices { diff |= a[i] ^ b[i] }
    return diff == 0
}
