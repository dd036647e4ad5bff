#if canImport(Glibc)
import Glibc
#endif

/// How much of the program's code stays mapped into the process.
public enum CodePages {
    /// Unmaps the program's code (the executable's `r-xp` mappings) from this process once
    /// start-up is over; the pages the program runs from then on are mapped again as they run.
    ///
    /// RSS counts every page mapped, and the kernel maps the 16 pages around each one a process
    /// runs: a statically linked `tandem` has ~36 MB of code, start-up (argument parsing,
    /// configuration, TLS, Foundation) runs in much of it, and ~20 MB of it stayed mapped in a
    /// sentinel for good, against ~10 MB that a running sentinel uses (issue 19). Only the
    /// process's page-table entries change: the pages stay in the page cache, shared with other
    /// processes, and come back on the next use at the cost of a minor fault. Read-only
    /// mappings only: `MADV_DONTNEED` on them discards nothing but the mapping (a breakpoint
    /// or uprobe written into the code at that moment would be lost). Linux only; a failure
    /// changes nothing and is ignored.
    public static func unmapStartupCode() {
        #if os(Linux)
        var pathBuffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &pathBuffer, pathBuffer.count - 1)
        guard length > 0 else { return }
        let executable = String(decoding: pathBuffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let file = fopen("/proc/self/maps", "r") else { return }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        var ranges: [(UInt, UInt)] = []
        while getline(&line, &capacity, file) > 0, let line {
            // "start-end perms offset dev inode path"
            let text = String(cString: line)
            let fields = text.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[1] == "r-xp",
                  fields[5].trimmingCharacters(in: " \n") == executable else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start
            else { continue }
            ranges.append((start, end))
        }
        for (start, end) in ranges {
            guard let address = UnsafeMutableRawPointer(bitPattern: start) else { continue }
            _ = madvise(address, Int(end - start), MADV_DONTNEED)
        }
        #endif
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let first = s.first, set.contains(first) { s = s.dropFirst() }
        while let last = s.last, set.contains(last) { s = s.dropLast() }
        return s
    }
}
