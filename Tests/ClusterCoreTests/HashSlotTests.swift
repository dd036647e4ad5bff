import ClusterCore
import Testing

@Suite struct HashSlotTests {
    /// Slots captured from redis-server 7.0.15 (`CLUSTER KEYSLOT`); IntegrationTests.ClusterProxyTests
    /// compares against a live node too.
    static let known: [(String, Int)] = [
        ("foo", 12182), ("bar", 5061), ("hello", 866), ("{user1000}.following", 3443),
        ("{user1000}.followers", 3443), ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015), ("foo{bar}{zap}", 5061),
        ("{}x", 10595), ("a{", 14311), ("}{a}", 15495), ("", 0), ("123456789", 12739), ("x{y", 2740),
        ("user:1", 10778), ("éé", 11441),
    ]

    @Test(arguments: known)
    func slotMatchesRedis(key: String, slot: Int) {
        #expect(HashSlot.slot(of: key) == slot)
    }

    @Test func crc16CheckValue() {
        // The XMODEM check value: CRC16 of "123456789".
        #expect(HashSlot.crc16(Array("123456789".utf8)) == 0x31C3)
    }

    @Test func hashTagSharesSlot() {
        #expect(HashSlot.slot(of: "{order:42}:items") == HashSlot.slot(of: "order:42"))
    }
}
