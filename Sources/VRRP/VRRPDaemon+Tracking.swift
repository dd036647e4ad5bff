import KeepalivedConfig
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// `track_file` and `vrrp_track_process`: the shell reads the files and /proc; `TrackFileValue`,
/// `ProcessPattern` and `ProcessQuorum` decide. keepalived is told by inotify and the kernel's
/// process events; here the files are read every 100 ms and /proc every 200 ms.
extension VRRPDaemon {
    static let processScanInterval: Duration = .milliseconds(200)

    /// Before the instances are made: `init_file`, the files' values and the process counts
    /// they start from (keepalived reads and scans at start too).
    func setUpTrackedFilesAndProcesses() {
        let fileNames = Set(configuration.instances.flatMap { $0.trackFiles.map(\.name) })
        for name in fileNames.sorted() {
            guard let file = configuration.trackFiles[name] else { continue }
            if let value = file.initValue, file.initOverwrite || access(file.path, F_OK) != 0 {
                if !write("\(value)\n", to: file.path) {
                    log("track_file \(name): cannot write init_file value to \(file.path): \(String(cString: strerror(errno)))")
                }
            }
            fileWatch[name] = FileWatch(file: file, value: readTrackFile(file, previous: 0))
        }
        let processNames = Set(configuration.instances.flatMap { $0.trackProcesses.map(\.name) })
        guard !processNames.isEmpty else { return }
        let table = ProcessTable.scan(commandLines: processNames.contains { configuration.trackProcesses[$0]?.pattern.fullCommand == true })
        for name in processNames.sorted() {
            guard let process = configuration.trackProcesses[name] else { continue }
            let count = table.filter { process.pattern.matches(comm: $0.comm, commandLine: $0.commandLine) }.count
            let quorum = ProcessQuorum(
                quorum: process.quorum, quorumMax: process.quorumMax ?? Int.max,
                forkDelay: .milliseconds(Int(process.forkDelay * 1000)), terminateDelay: .milliseconds(Int(process.terminateDelay * 1000)),
                initialCount: count)
            log("track_process \(name): \(count) process(es) running, \(quorum.up ? "quorum" : "no quorum")")
            processWatch[name] = ProcessWatch(process: process, quorum: quorum)
        }
    }

    /// The file's value as keepalived reads it: missing or unreadable is 0, an out-of-range
    /// number keeps `previous`.
    func readTrackFile(_ file: TrackFile, previous: Int) -> Int {
        guard let bytes = ProcessTable.read(file.path, limit: 256) else { return 0 }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let value = TrackFileValue.parse(text) else {
            log("track_file \(file.name): invalid number \(text.split(separator: "\n").first.map(String.init) ?? "") read from \(file.path) - ignoring")
            return previous
        }
        return value
    }

    func pollTrackFiles() {
        for (name, watch) in fileWatch {
            let value = readTrackFile(watch.file, previous: watch.value)
            guard value != watch.value else { continue }
            fileWatch[name]!.value = value
            log("track_file \(name): \(watch.file.path) now reads \(value)")
            for (i, object, weight, reverse) in watch.watchers {
                apply(i, .trackedOffset(name: object, offset: TrackFileValue.offset(value: value, weight: weight, reverse: reverse)))
            }
        }
    }

    func pollProcesses(now t: Duration) {
        guard !processWatch.isEmpty else { return }
        var table: [ProcessTable.Entry]?
        if t >= nextProcessScan {
            table = ProcessTable.scan(commandLines: processWatch.values.contains { $0.process.pattern.fullCommand })
            nextProcessScan = t + VRRPDaemon.processScanInterval
        }
        for (name, watch) in processWatch {
            var quorum = watch.quorum
            var changed: Bool?
            if let table {
                let count = table.filter { watch.process.pattern.matches(comm: $0.comm, commandLine: $0.commandLine) }.count
                if count != quorum.count { log("track_process \(name): \(count) process(es) running (quorum \(watch.process.quorum)\(watch.process.quorumMax.map { "…\($0)" } ?? ""))") }
                changed = quorum.update(count: count, now: t)
            } else {
                changed = quorum.timer(now: t)
            }
            processWatch[name]!.quorum = quorum
            guard let up = changed else { continue }
            log("track_process \(name): \(up ? "quorum gained" : "quorum lost")")
            for (i, object, reverse) in watch.watchers {
                apply(i, .tracked(name: object, up: reverse ? !up : up))
            }
        }
    }

    private func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return text.withCString { Glibc.write(fd, $0, strlen($0)) } == text.utf8.count
    }
}
