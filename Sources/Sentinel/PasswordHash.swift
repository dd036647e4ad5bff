import ConstantTime
import Crypto

/// ACL passwords as Redis stores and shows them: the SHA-256 of the password as 64 lower-case
/// hex digits, compared in time that does not depend on where two hashes differ (`ConstantTime`, as
/// 7.0's time_independent_strcmp).
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
            // Not short-circuited: every stored hash is compared whatever the earlier ones gave.
            let equal = ConstantTime.equals(Array(hash.utf8), candidate)
            found = found || equal
        }
        return found
    }
}
