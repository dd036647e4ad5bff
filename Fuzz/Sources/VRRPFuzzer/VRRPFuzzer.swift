import VRRPCore

/// libFuzzer entry point for the VRRP receive path: `VRRPAdvert.decode` and the per-instance
/// checks of `VRRPAdvertFilter` (keepalived's vrrp_check_packet), fed packets as a raw socket
/// hands them over. Byte 0 chooses the case: bit 0 IPv6, bit 1 the instance speaks v3, bit 2
/// a multicast destination, bit 3 "fix the checksum" (so the fuzzer gets past it and explores
/// the fields behind), bit 4 a TTL other than 255; the rest is the VRRP payload.
/// Beyond "no crash": an accepted advert encodes to bytes that decode to the same advert, and
/// the filter accepts only what the decoder accepts, unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let flags = data[0]
    var payload = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let ipv6 = flags & 1 != 0
    let family: IPAddress.Family = ipv6 ? .ipv6 : .ipv4
    let source = ipv6 ? IPAddress("fe80::1")! : IPAddress("10.0.0.1")!
    let destination = flags & 4 != 0 ? (ipv6 ? IPAddress("ff02::12")! : IPAddress("224.0.0.18")!)
                                     : (ipv6 ? IPAddress("fe80::2")! : IPAddress("10.0.0.2")!)
    if flags & 8 != 0, payload.count >= 8 {
        // A correct checksum over what the decoder will read (v3: with the pseudo-header).
        let count = Int(payload[3])
        let length = min(payload.count, 8 + count * (ipv6 ? 16 : 4) + (payload[0] >> 4 == 2 ? 8 : 0))
        payload[6] = 0
        payload[7] = 0
        var body = Array(payload[..<length])
        let sum = payload[0] >> 4 == 3
            ? internetChecksum(pseudo(source: source, destination: destination, length: body.count) + body)
            : internetChecksum(body)
        body[6] = UInt8(sum >> 8)
        body[7] = UInt8(sum & 0xff)
        payload.replaceSubrange(..<length, with: body)
    }

    for (from, to) in [(Optional(source), Optional(destination)), (nil, nil)] {
        if case .success(let advert) = VRRPAdvert.decode(payload, family: family, source: from, destination: to) {
            let again = VRRPAdvert.decode(advert.encode(source: from, destination: to), family: family, source: from, destination: to)
            precondition(again == .success(advert), "an accepted advert does not survive encode/decode: \(advert) → \(again)")
        }
    }

    let version: VRRPVersion = flags & 2 != 0 || ipv6 ? .v3 : .v2
    let vrid = payload.count >= 2 ? payload[1] : 1
    let filter = VRRPAdvertFilter(version: version, vrid: vrid, family: family, authentication: .pass("secret"),
                                  intervalCentiseconds: 100, virtualAddresses: [], ownAddresses: [])
    let packet = ReceivedPacket(payload: payload, source: source, destination: destination, ttl: flags & 16 != 0 ? 64 : 255)
    if case .success(let advert) = filter.check(packet) {
        precondition(VRRPAdvert.decode(payload, family: family, source: source, destination: destination) == .success(advert),
                     "the filter accepted what the decoder does not, or changed it")
    }
    return 0
}

/// RFC 5798 §5.2.8's pseudo-header (VRRPCore's own is internal).
func pseudo(source: IPAddress, destination: IPAddress, length: Int) -> [UInt8] {
    switch source.family {
    case .ipv4:
        return source.bytes + destination.bytes + [0, 112, UInt8(length >> 8), UInt8(length & 0xff)]
    case .ipv6:
        return source.bytes + destination.bytes
            + [UInt8(length >> 24 & 0xff), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), 0, 0, 0, 112]
    }
}

// SwiftPM links an executable target's entry point as `<module>_main`; with
// -parse-as-library there is none, so provide it and hand control to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("VRRPFuzzer_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}
