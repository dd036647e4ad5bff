import Testing
@testable import VRRPCore

private func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    return stride(from: 0, to: digits.count, by: 2).map {
        let start = digits.index(digits.startIndex, offsetBy: $0)
        return UInt8(digits[start...digits.index(after: start)], radix: 16)!
    }
}

private let lab = IPAddress("10.99.0.2")!
private let lab1 = IPAddress("10.99.0.1")!
private let group = IPAddress.vrrpGroup(.ipv4)
private let vip = IPAddress("10.99.0.100")!

@Suite("VRRP packet codec")
struct VRRPCodecTests {
    /// keepalived 2.2.7's advert from reference/vrrp.md (tshark: checksum good).
    let keepalivedV3 = hex("31 4d 64 01 00 0a 74 ec 0a 63 00 64")
    /// A v2 PASS advert as seed 1's keepalived sends it (checksum computed independently).
    let seedV2 = hex("21 33 65 01 01 01 17 5a c0 a8 01 1e 68 6f 67 65 68 6f 67 65")

    @Test("decodes keepalived's v3 multicast capture, pseudo-header with 224.0.0.18")
    func decodeKeepalivedV3() throws {
        let advert = try VRRPAdvert.decode(keepalivedV3, family: .ipv4, source: lab, destination: group).get()
        #expect(advert.version == .v3)
        #expect(advert.vrid == 77)
        #expect(advert.priority == 100)
        #expect(advert.intervalCentiseconds == 10)
        #expect(advert.addresses == [vip])
    }

    @Test("encodes the same bytes keepalived sent")
    func encodeKeepalivedV3() {
        let advert = VRRPAdvert(version: .v3, vrid: 77, priority: 100, intervalCentiseconds: 10, addresses: [vip])
        #expect(advert.encode(source: lab, destination: group) == keepalivedV3)
    }

    @Test("v3 unicast uses the real destination in the pseudo-header")
    func v3UnicastChecksum() throws {
        let advert = VRRPAdvert(version: .v3, vrid: 77, priority: 100, intervalCentiseconds: 10, addresses: [vip])
        let bytes = advert.encode(source: lab, destination: lab1)
        #expect(Array(bytes[6...7]) == [0x4a, 0x9b])
        #expect(try VRRPAdvert.decode(bytes, family: .ipv4, source: lab, destination: lab1).get() == advert)
        // keepalived ≤ 1.3.5's checksum (group address in the pseudo-header) is refused.
        #expect(VRRPAdvert.decode(bytes, family: .ipv4, source: lab, destination: group) == .failure(.badChecksum))
        // So is a v3 checksum computed without any pseudo-header.
        var noPseudo = advert.encode()
        noPseudo[6] = 0; noPseudo[7] = 0
        let sum = internetChecksum(noPseudo)
        noPseudo[6] = UInt8(sum >> 8); noPseudo[7] = UInt8(sum & 0xff)
        #expect(VRRPAdvert.decode(noPseudo, family: .ipv4, source: lab, destination: lab1) == .failure(.badChecksum))
    }

    @Test("v2 PASS round trip: no pseudo-header, auth data always 8 bytes")
    func v2Pass() throws {
        let advert = VRRPAdvert(
            version: .v2, vrid: 51, priority: 101, intervalCentiseconds: 100,
            addresses: [IPAddress("192.168.1.30")!], authentication: .pass("hogehoge"))
        #expect(advert.encode() == seedV2)
        let decoded = try VRRPAdvert.decode(seedV2, family: .ipv4).get()
        #expect(decoded == advert)
        #expect(decoded.authType == 1)
        #expect(VRRPAuthentication.pass("hogehogeXYZ") == .pass("hogehoge"))
        #expect(VRRPAuthentication.pass("1111") == .password([0x31, 0x31, 0x31, 0x31, 0, 0, 0, 0]))
    }

    @Test("v3 over IPv6: 16-byte addresses, IPv6 pseudo-header")
    func v3IPv6() throws {
        let source = IPAddress("fe80::1")!
        let vip6 = IPAddress("2001:db8::100")!
        let advert = VRRPAdvert(version: .v3, vrid: 9, priority: 200, intervalCentiseconds: 100, addresses: [vip6])
        let bytes = advert.encode(source: source, destination: .vrrpGroup(.ipv6))
        #expect(bytes.count == 8 + 16)
        #expect(try VRRPAdvert.decode(bytes, family: .ipv6, source: source, destination: .vrrpGroup(.ipv6)).get() == advert)
        #expect(VRRPAdvert.decode(bytes, family: .ipv6, source: IPAddress("fe80::2")!, destination: .vrrpGroup(.ipv6)) == .failure(.badChecksum))
    }

    @Test("malformed packets are refused with a reason", arguments: [
        ([], VRRPRejection.tooShort(0)),
        ([0x31, 0x4d, 0x64], .tooShort(3)),
        ([0x41, 0x4d, 0x64, 0x01, 0x00, 0x0a, 0x74, 0xec, 0x0a, 0x63, 0x00, 0x64], .wrongVersion(4)),
        ([0x32, 0x4d, 0x64, 0x01, 0x00, 0x0a, 0x74, 0xec, 0x0a, 0x63, 0x00, 0x64], .wrongType(2)),
        ([0x31, 0x4d, 0x64, 0x02, 0x00, 0x0a, 0x74, 0xec, 0x0a, 0x63, 0x00, 0x64], .lengthMismatch(count: 2, length: 12)),
        ([0x31, 0x4d, 0x64, 0x01, 0x00, 0x0a, 0x74, 0xed, 0x0a, 0x63, 0x00, 0x64], .badChecksum),
        ([0x31, 0x4d, 0x65, 0x01, 0x00, 0x0a, 0x74, 0xec, 0x0a, 0x63, 0x00, 0x64], .badChecksum),
    ] as [([UInt8], VRRPRejection)])
    func malformed(bytes: [UInt8], reason: VRRPRejection) {
        #expect(VRRPAdvert.decode(bytes, family: .ipv4, source: lab, destination: group) == .failure(reason))
    }

    @Test("every truncation and every single-bit flip of a capture is refused, never a crash")
    func fuzzCapture() {
        for n in 0..<keepalivedV3.count {
            #expect(throws: VRRPRejection.self) { try VRRPAdvert.decode(keepalivedV3[..<n], family: .ipv4, source: lab, destination: group).get() }
        }
        for byte in 0..<seedV2.count {
            for bit in 0..<8 {
                var flipped = seedV2
                flipped[byte] ^= 1 << bit
                #expect(throws: VRRPRejection.self) { try VRRPAdvert.decode(flipped, family: .ipv4).get() }
            }
        }
    }

    @Test("IP address text forms")
    func addresses() {
        #expect(IPAddress("10.99.0.100") == .v4(0x0a63_0064))
        #expect(IPAddress("10.99.0.100")!.description == "10.99.0.100")
        #expect(IPAddress("ff02::12") == .vrrpGroup(.ipv6))
        #expect(IPAddress("2001:db8::1:0:0:1")!.description == "2001:db8::1:0:0:1")
        #expect(IPAddress("::ffff:10.0.0.1")!.bytes.suffix(6) == [0xff, 0xff, 10, 0, 0, 1])
        #expect(IPAddress("fe80::1")!.description == "fe80::1")
        for bad in ["", "10.0.0", "10.0.0.256", "1.2.3.4.5", "::1::", "12345::", "g::1", "1:2:3:4:5:6:7:8:9"] {
            #expect(IPAddress(bad) == nil, "\(bad) parsed")
        }
        #expect(IPAddress("10.99.0.2")! > IPAddress("10.99.0.1")!)
        #expect(IPAddress("10.99.0.10")! > IPAddress("10.99.0.9")!)
    }
}

@Suite("VRRP receive filter (keepalived's checks)")
struct VRRPFilterTests {
    let filter = VRRPAdvertFilter(
        version: .v2, vrid: 51, family: .ipv4, authentication: .pass("hogehoge"), intervalCentiseconds: 100,
        virtualAddresses: [IPAddress("192.168.1.30")!], ownAddresses: [IPAddress("192.168.1.31")!])
    let peer = IPAddress("192.168.1.32")!

    func packet(_ advert: VRRPAdvert, ttl: Int = 255, from: IPAddress? = nil, to: IPAddress = .vrrpGroup(.ipv4)) -> ReceivedPacket {
        ReceivedPacket(payload: advert.encode(source: from ?? peer, destination: to), source: from ?? peer, destination: to, ttl: ttl)
    }

    var good: VRRPAdvert {
        VRRPAdvert(version: .v2, vrid: 51, priority: 100, intervalCentiseconds: 100, addresses: [IPAddress("192.168.1.30")!], authentication: .pass("hogehoge"))
    }

    @Test("a good advert passes")
    func good_() throws {
        #expect(try filter.check(packet(good)).get() == good)
    }

    @Test("TTL must be 255 on multicast; unicast TTL is not checked (keepalived)")
    func ttl() throws {
        #expect(filter.check(packet(good, ttl: 64)) == .failure(.wrongTTL(64)))
        #expect(filter.check(packet(good, ttl: 254)) == .failure(.wrongTTL(254)))
        #expect(try filter.check(packet(good, ttl: 64, to: IPAddress("192.168.1.31")!)).get() == good)
    }

    @Test("wrong VRID, version, auth, password, interval and address list are refused")
    func refusals() {
        var a = good; a.vrid = 52
        #expect(filter.check(packet(a)) == .failure(.wrongVRID(52)))
        let v3 = VRRPAdvert(version: .v3, vrid: 51, priority: 100, intervalCentiseconds: 100, addresses: good.addresses)
        #expect(filter.check(packet(v3)) == .failure(.wrongVersionForInstance(got: 3, expected: 2)))
        let noAuth = VRRPAdvert(version: .v2, vrid: 51, priority: 100, intervalCentiseconds: 100, addresses: good.addresses)
        #expect(filter.check(packet(noAuth)) == .failure(.authTypeMismatch(got: 0, expected: 1)))
        let wrongPass = VRRPAdvert(version: .v2, vrid: 51, priority: 100, intervalCentiseconds: 100, addresses: good.addresses, authentication: .pass("hogehogf"))
        #expect(filter.check(packet(wrongPass)) == .failure(.wrongPassword))
        var slow = good; slow.intervalCentiseconds = 200
        #expect(filter.check(packet(slow)) == .failure(.intervalMismatch(got: 200, expected: 100)))
        var other = good; other.addresses = [IPAddress("192.168.1.99")!]
        #expect(filter.check(packet(other)) == .failure(.addressListMismatch))
        var more = good; more.addresses.append(IPAddress("192.168.1.99")!)
        #expect(filter.check(packet(more)) == .failure(.addressListMismatch))
        #expect(filter.check(packet(good, from: IPAddress("192.168.1.31")!)) == .failure(.ownAdvert))
    }

    @Test("v3 adopts the master's interval instead of refusing it, and ignores authentication")
    func v3Interval() throws {
        let v3 = VRRPAdvertFilter(version: .v3, vrid: 51, family: .ipv4, authentication: .pass("x"), intervalCentiseconds: 10,
                                 virtualAddresses: good.addresses, ownAddresses: [])
        let advert = VRRPAdvert(version: .v3, vrid: 51, priority: 100, intervalCentiseconds: 100, addresses: good.addresses)
        #expect(try v3.check(packet(advert)).get() == advert)
    }
}
