import Prometheus
#if canImport(Glibc)
import Glibc
#endif

/// This process's CPU time, resident memory and open descriptors, read from /proc/self.
public struct ProcessSample: Sendable, Equatable {
    public var cpuSeconds: Double
    public var residentBytes: Double
    public var openFDs: Int

    /// Fields 14 (utime), 15 (stime) and 24 (rss, pages) of /proc/self/stat. The command name
    /// (field 2) is in parentheses and may hold spaces: fields are counted after its last ')'.
    public static func parseStat(_ text: String, ticksPerSecond: Double, pageSize: Double) -> (cpuSeconds: Double, residentBytes: Double)? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // After ')': field 3 (state) is index 0.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 21, let utime = Double(fields[11]), let stime = Double(fields[12]), let rss = Double(fields[21]) else { return nil }
        return ((utime + stime) / ticksPerSecond, rss * pageSize)
    }

    /// Now, or nil where /proc is not there.
    public static func read() -> ProcessSample? {
        guard let stat = readFile("/proc/self/stat"),
              let parsed = parseStat(stat, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))), pageSize: Double(sysconf(Int32(_SC_PAGESIZE))))
        else { return nil }
        return ProcessSample(cpuSeconds: parsed.cpuSeconds, residentBytes: parsed.residentBytes, openFDs: countOpenFDs())
    }

    private static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: bytes[0..<n], as: UTF8.self)
    }

    /// Entries of /proc/self/fd, less the one opendir holds while counting.
    private static func countOpenFDs() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in raw.first }
            if name != UInt8(ascii: ".") { count += 1 }
        }
        return max(0, count - 1)
    }
}

extension MetricsRegistry {
    /// `tandem_process_*`: CPU seconds, resident memory and open descriptors at scrape time.
    public func addProcessMetrics() {
        let cpu = CounterMirror(counter("tandem_process_cpu_seconds_total", "User and system CPU time this process has used, in seconds."))
        let rss = gauge("tandem_process_resident_memory_bytes", "Resident memory of this process, in bytes.")
        let fds = gauge("tandem_process_open_fds", "Open file descriptors of this process.")
        addCollector {
            guard let sample = ProcessSample.read() else { return }
            cpu.follow(sample.cpuSeconds)
            rss.set(to: sample.residentBytes)
            fds.set(to: Double(sample.openFDs))
        }
    }
}
