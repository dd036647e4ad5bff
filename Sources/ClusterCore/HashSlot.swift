/// Redis Cluster's key → slot function: CRC16 (XMODEM: polynomial 0x1021, initial value 0)
/// of the key, or of its hash tag, modulo 16384.
public enum HashSlot {
    /// The number of slots in a Redis Cluster.
    public static let count = 16384

    /// The slot of `key`. A hash tag — the bytes between the first `{` and the first `}` after
    /// it, when there is at least one — is hashed instead of the whole key, as Redis does
    /// (`{user1000}.following` and `{user1000}.followers` share a slot; `{}x` hashes whole).
    public static func slot<Key: Collection<UInt8>>(of key: Key) -> Int {
        if let open = key.firstIndex(of: UInt8(ascii: "{")) {
            let afterOpen = key.index(after: open)
            if let close = key[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close != afterOpen {
                return Int(crc16(key[afterOpen..<close]) & 0x3FFF)
            }
        }
        return Int(crc16(key) & 0x3FFF)
    }

    /// The slot of a UTF-8 key.
    public static func slot(of key: String) -> Int {
        slot(of: Array(key.utf8))
    }

    /// CRC16-XMODEM of `bytes`.
    public static func crc16<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
