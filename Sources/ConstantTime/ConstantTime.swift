/// Compares secrets (passwords, password hashes) in time that depends only on their lengths,
/// never on their contents or on where they first differ, as Redis's
/// `time_independent_strcmp`: every byte of the longer one is looked at.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            // The branches depend on the lengths only; a missing byte compares as 0.
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }

    /// Whether `a` and `b` have the same UTF-8 bytes.
    public static func equals(_ a: String, _ b: String) -> Bool {
        equals(Array(a.utf8), Array(b.utf8))
    }
}
