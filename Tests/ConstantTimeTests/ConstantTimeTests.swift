import ConstantTime
import Testing

@Suite("Constant-time compare")
struct ConstantTimeTests {
    @Test("equal, unequal at the first, a middle or the last byte, different lengths, empty", arguments: [
        ("secret", "secret", true),
        ("secret", "Secret", false),
        ("secret", "secRet", false),
        ("secret", "secreT", false),
        ("secret", "secre", false),
        ("secret", "secrets", false),
        ("secret", "secret\0", false),
        ("", "", true),
        ("", "a", false),
        ("a", "", false),
        ("pässwörd", "pässwörd", true),
        ("pässwörd", "passwörd", false),
    ])
    func strings(a: String, b: String, equal: Bool) {
        #expect(ConstantTime.equals(a, b) == equal)
        #expect(ConstantTime.equals(b, a) == equal)
        #expect(ConstantTime.equals(Array(a.utf8), Array(b.utf8)) == equal)
    }

    @Test("a byte that differs only in its high bit, and every single-byte difference of a 64-byte hash")
    func everyPosition() {
        #expect(!ConstantTime.equals([0x80], [0x00]))
        let hash = Array("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".utf8)
        #expect(ConstantTime.equals(hash, hash))
        for i in hash.indices {
            var other = hash
            other[i] ^= 0x01
            #expect(!ConstantTime.equals(hash, other), "byte \(i)")
        }
    }
}
