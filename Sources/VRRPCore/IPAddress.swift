/// An IPv4 or IPv6 address as the bytes on the wire (network order).
///
/// Ordered by its bytes, which is keepalived's "higher primary address wins" comparison.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    case v6([UInt8])

    /// The address family of a VRRP instance: its adverts carry addresses of that family only.
    public enum Family: Sendable, Hashable { case ipv4, ipv6 }

    public var family: Family {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// The address in network byte order: 4 or 16 bytes.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value):
            [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        case .v6(let bytes):
            bytes
        }
    }

    /// Builds an address from 4 or 16 network-order bytes.
    public init?(bytes: some Collection<UInt8>) {
        let array = Array(bytes)
        switch array.count {
        case 4:
            self = .v4(array.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            self = .v6(array)
        default:
            return nil
        }
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::`, and an embedded IPv4 tail).
    public init?(_ text: some StringProtocol) {
        let text = String(text)
        if !text.contains(":") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var value: UInt32 = 0
            for part in parts {
                guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let byte = UInt8(part) else { return nil }
                value = value << 8 | UInt32(byte)
            }
            self = .v4(value)
            return
        }
        var text6 = Substring(text)
        var tail: [UInt8] = []
        if let lastColon = text6.lastIndex(of: ":"), text6[text6.index(after: lastColon)...].contains(".") {
            guard case .v4(let v4)? = IPAddress(text6[text6.index(after: lastColon)...]) else { return nil }
            tail = IPAddress.v4(v4).bytes
            text6 = text6[...lastColon]
            if text6.hasSuffix("::") == false { text6 = text6.dropLast() }
        }
        func groups(_ s: Substring) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        let wanted = 8 - tail.count / 2
        var all: [UInt16]
        if let range = text6.firstRange(of: "::") {
            guard let head = groups(text6[..<range.lowerBound]), let rest = groups(text6[range.upperBound...]),
                  head.count + rest.count < wanted, !text6[range.upperBound...].contains("::") else { return nil }
            all = head + Array(repeating: 0, count: wanted - head.count - rest.count) + rest
        } else {
            guard let g = groups(text6), g.count == wanted else { return nil }
            all = g
        }
        self = .v6(all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] } + tail)
    }

    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
        case .v6(let bytes):
            var groups: [UInt16] = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
            // Longest run of at least two zero groups becomes "::".
            var best = (start: -1, length: 0)
            var i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8 && groups[j] == 0 { j += 1 }
                    if j - i > best.length { best = (i, j - i) }
                    i = j
                } else {
                    i += 1
                }
            }
            let hex = { (g: ArraySlice<UInt16>) in g.map { String($0, radix: 16) }.joined(separator: ":") }
            if best.length >= 2 {
                let head = hex(groups[0..<best.start])
                let tail = hex(groups[(best.start + best.length)...])
                return head + "::" + tail
            }
            groups = Array(groups)
            return hex(groups[...])
        }
    }

    /// True for 224.0.0.0/4 and ff00::/8.
    public var isMulticast: Bool {
        switch self {
        case .v4(let value): value >> 28 == 0xe
        case .v6(let bytes): bytes[0] == 0xff
        }
    }

    /// The VRRP multicast group of a family: 224.0.0.18 or ff02::12.
    public static func vrrpGroup(_ family: Family) -> IPAddress {
        switch family {
        case .ipv4: .v4(0xe000_0012)
        case .ipv6: .v6([0xff, 0x02] + Array(repeating: 0, count: 13) + [0x12])
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}
