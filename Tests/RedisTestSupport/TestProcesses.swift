#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOConcurrencyHelpers

/// Errors from the test harness, saying what it was waiting for or could not start.
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// PIDs of every process the harness started and has not yet reaped, so that a test
/// process that exits early still kills them (at exit), and so tests never signal
/// anything they did not start.
enum ProcessRegistry {
    private static let pids = NIOLockedValueBox<[pid_t: String?]>([:])
    private static let installed = NIOLockedValueBox(false)

    static func add(_ pid: pid_t, startTime: String?) {
        pids.withLockedValue { $0[pid] = startTime }
        installed.withLockedValue { done in
            guard !done else { return }
            done = true
            atexit { ProcessRegistry.killAll() }
        }
    }

    static func remove(_ pid: pid_t) {
        pids.withLockedValue { _ = $0.removeValue(forKey: pid) }
    }

    static func killAll() {
        for (pid, started) in pids.withLockedValue({ $0 }) where started == nil || processStartTime(pid) == started {
            kill(pid, SIGCONT)
            kill(pid, SIGKILL)
        }
    }
}

/// A process's start time (field 22 of /proc/PID/stat): with the PID, it names one process, not
/// a later one that got the same PID after the first exited (PIDs wrap around quickly here).
func processStartTime(_ pid: pid_t) -> String? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.count > 19 ? String(fields[19]) : nil
}

/// Finds an executable on PATH (and in /usr/sbin, /usr/bin for Debian's daemons).
public func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let candidate = dir + "/" + name
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// True when running under CI (`CI=true`), where a missing server binary is a failure, not a skip.
public var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

/// A loopback TCP port that was free a moment ago (the kernel's choice for port 0).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
    }
    guard bound == 0 else { throw HarnessError("bind() to 127.0.0.1:0 failed: errno \(errno)") }
    let named = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard named == 0 else { throw HarnessError("getsockname() failed: errno \(errno)") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Polls `condition` until it holds or `timeout` passes; throws naming what it waited for.
/// The one way tests wait: never a bare sleep.
public func waitUntil(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(10),
    pollEvery interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var lastError: (any Error)?
    while true {
        do {
            if try await condition() { return }
            lastError = nil
        } catch {
            lastError = error
        }
        if clock.now >= deadline {
            throw HarnessError("timed out after \(timeout) waiting for \(what())" + (lastError.map { " (last error: \($0))" } ?? ""))
        }
        try await Task.sleep(for: interval)
    }
}

/// A child process the harness owns: started, signalled and reaped by PID.
public final class ChildProcess: @unchecked Sendable {
    public let executable: String
    public let arguments: [String]
    private let process: Process
    private let lock = NIOLock()

    /// Starts `executable` with `arguments`, stdout and stderr appended to `logFile`, in
    /// `workingDirectory` (default: the test's own), with `environment` added to the test's own.
    public init(executable: String, arguments: [String], logFile: URL, workingDirectory: URL? = nil,
                environment: [String: String] = [:]) throws {
        self.executable = executable
        self.arguments = arguments
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logFile)
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        self.startTime = processStartTime(process.processIdentifier)
        ProcessRegistry.add(process.processIdentifier, startTime: startTime)
    }

    /// Tells this process from a later one that got its PID after it exited and Foundation
    /// reaped it.
    private let startTime: String?

    public var pid: pid_t { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` to this process only.
    /// Set once the harness has reaped the process, so that no signal can reach a reused PID.
    /// (Foundation's `isRunning` is not used: it turns false when the child is merely stopped.)
    private var reaped = false

    public func signal(_ signal: Int32) {
        lock.withLock {
            let pid = process.processIdentifier
            // Not after it exited: by then the PID may belong to another process.
            guard !reaped, startTime == nil || processStartTime(pid) == startTime else { return }
            kill(pid, signal)
        }
    }

    /// SIGKILL and reap. Safe to call more than once.
    public func kill9() {
        signal(SIGCONT)
        signal(SIGKILL)
        // Not `waitUntilExit()`: it spins a run loop until Foundation reaps the child, which
        // once never happened (the killed child stayed a zombie and the test run hung). Wait
        // for the reaping, but at most 10 s.
        let pid = process.processIdentifier
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline { usleep(2_000) }
        lock.withLock { reaped = true }
        ProcessRegistry.remove(pid)
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    public func terminate(grace: Duration = .seconds(5)) {
        signal(SIGCONT)
        signal(SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        kill9()
    }

    public var terminationStatus: Int32? { process.isRunning ? nil : process.terminationStatus }
}

/// Runs a short-lived program to its end: its exit status and its stdout and stderr together.
public func runProgram(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
