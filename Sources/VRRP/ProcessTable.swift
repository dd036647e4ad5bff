#if canImport(Glibc)
import Glibc
#endif

/// The running processes as `vrrp_track_process` sees them: each one's name (the `comm` of
/// /proc/PID/stat) and, when asked, its command line. Zombies are left out, as keepalived does.
enum ProcessTable {
    struct Entry {
        var comm: String
        var commandLine: [String]
    }

    static func scan(commandLines: Bool) -> [Entry] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let first = name.utf8.first, first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9") else { continue }
            guard let stat = read("/proc/\(name)/stat", limit: 512) else { continue }
            // "PID (comm) S …": comm may hold spaces and parentheses; the state follows the last ')'.
            guard let open = stat.firstIndex(of: UInt8(ascii: "(")), let close = stat.lastIndex(of: UInt8(ascii: ")")),
                  open < close else { continue }
            let stateIndex = close + 2
            if stateIndex < stat.count && stat[stateIndex] == UInt8(ascii: "Z") { continue }
            let comm = String(decoding: stat[(open + 1)..<close], as: UTF8.self)
            var words: [String] = []
            if commandLines, let raw = read("/proc/\(name)/cmdline", limit: 65536) {
                words = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
                if raw.last == 0 { words.removeLast() }
            }
            entries.append(Entry(comm: comm, commandLine: words))
        }
        return entries
    }

    /// A file's bytes, up to `limit`; nil when it cannot be opened.
    static func read(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = Glibc.read(fd, &buffer, min(buffer.count, limit - bytes.count))
            if n <= 0 { break }
            bytes += buffer[..<n]
        }
        return bytes
    }
}
