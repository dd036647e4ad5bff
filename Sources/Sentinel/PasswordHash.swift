import Crypto

/// ACL passwords as Redis stores and shows them: the SHA-256 of the password as 64 lower-case
/// hex digits, compared in time that does not depend on where two hashes differ (as 7.0's
/// time_independent_strcmp).
enum PasswordHash {
    /// The hex SHA-256 of `password`.
    static func hex(_ password: String) -> String {
        let hexDigits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(password.utf8)) {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `password` hashes to one of `hashes`, looking at every byte of every hash.
    static func matches(_ password: String, anyOf hashes: [String]) -> Bool {
        let candidate = Array(hex(password).utf8)
        var found = false
        for hash in hashes {
            let stored = Array(hash.utf8)
            var difference = UInt8(stored.count == candidate.count ? 0 : 1)
            for i in 0..<min(stored.count, candidate.count) { difference |= stored[i] ^ candidate[i] }
            found = found || difference == 0
        }
        return found
    }
}
