#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import SentinelConfig
import SentinelCore
import Spawn

/// A sentinel that cannot start: the message says why (Redis's wording where it has one).
public struct SentinelStartError: Error, CustomStringConvertible {
    public var description: String
}

/// Loads `configPath`, starts the monitor and the sentinel port, and runs until cancelled.
/// `overrides` are redis-server style `--port 26380` options, applied after the file as
/// Redis applies them: as extra config lines. With `handleTermination` SIGTERM and SIGINT
/// end the process as redis-sentinel's do: config saved, pidfile removed, exit 0 (a node agent
/// leaves it off and drains in its own order).
public func runSentinel(configPath: String, overrides: [(String, String)], logger baseLogger: Logger,
                        extraInfo: [(name: String, lines: @Sendable () -> [String])] = [],
                        handleTermination: Bool = false,
                        onListening: @Sendable ([Int]) -> Void = { _ in },
                        onRuntime: @Sendable (SentinelRuntime) async throws -> Void = { _ in }) async throws {
    let path = URL(fileURLWithPath: configPath).standardizedFileURL.path
    guard FileManager.default.fileExists(atPath: path) else {
        throw SentinelStartError(description: "Sentinel config file \(path) does not exist. Exiting...")
    }
    guard FileManager.default.isWritableFile(atPath: path) else {
        throw SentinelStartError(description: "Sentinel config file \(path) is not writable: Permission denied. Exiting...")
    }
    guard (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeRegular else {
        throw SentinelStartError(description: "Sentinel config file \(path) is not a regular file. Exiting...")
    }
    let text: String
    do {
        text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw SentinelStartError(description: "Sentinel config file \(path) cannot be read (\(String(describing: (error as NSError).localizedDescription))). Exiting...")
    }
    let extra = overrides.map { "\($0.0) \($0.1)" }.joined(separator: "\n")
    let configuration = try SentinelConfiguration(parsing: extra.isEmpty ? text : text + "\n" + extra, file: path)
    // As redis-sentinel: change to each `dir` in file order (a relative one is relative to the
    // one before), then check the scripts, then daemonize; the log file, pidfile, aclfile and
    // scripts are then found relative to the last `dir`, at start-up and after a restart from
    // the rewritten file (which records the directory as an absolute `dir`).
    let startDirectory = FileManager.default.currentDirectoryPath
    for change in configuration.directoryChanges {
        guard chdir(change.path) == 0 else { throw change.error(String(cString: strerror(errno))) }
    }
    try configuration.checkScripts()
    if configuration.daemonize && ProcessInfo.processInfo.environment["TANDEM_DAEMONIZED"] == nil {
        // The daemon is this command started again: it must read the same paths from where we began.
        chdir(startDirectory)
        try daemonize()
    }
    if let logfile = configuration.logfile, !logfile.isEmpty {
        let fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw SentinelStartError(description: "Can't open the log file: \(String(cString: strerror(errno)))") }
        dup2(fd, 1)
        dup2(fd, 2)
        close(fd)
    }
    if let pidfile = configuration.pidfile, !pidfile.isEmpty {
        try? "\(getpid())\n".write(toFile: pidfile, atomically: false, encoding: .utf8)
    }
    defer { if let pidfile = configuration.pidfile, !pidfile.isEmpty { unlink(pidfile) } }
    var logger = baseLogger
    switch configuration.logLevel {
    case "debug": logger.logLevel = .debug
    case "verbose": logger.logLevel = .info
    case "warning": logger.logLevel = .warning
    case "nothing": logger.logLevel = .critical
    default: logger.logLevel = .notice
    }
    for warning in configuration.warnings {
        logger.warning("\(warning.file):\(warning.line): '\(warning.directive)': \(warning.message)")
    }
    let tls = try SentinelTLSContexts.make(configuration.tls, logger: logger)
    let runtime = SentinelRuntime(configuration: configuration, configPath: path, configText: text, logger: logger,
                                  tlsClient: tls.client)
    await runtime.setExtraInfo(extraInfo)
    // Before start: an observer set here sees every event from the first.
    try await onRuntime(runtime)
    try await runtime.loadACLFileAtStart()
    do {
        try await runtime.start()
    } catch {
        throw SentinelStartError(description: "cannot save \(path): \(error)")
    }
    let terminationSources = handleTermination ? runtime.shutDownOnSignals(logger: logger) : []
    defer { terminationSources.forEach { $0.cancel() } }
    let server = SentinelServer(runtime: runtime, logger: logger)
    let myID = await runtime.state.myID
    logger.notice("Sentinel ID is \(myID)")
    do {
        try await server.run(hosts: configuration.bind.isEmpty ? ["0.0.0.0"] : configuration.bind,
                             port: configuration.port, tlsPort: configuration.tls.port, tls: tls.server,
                             onBound: onListening)
    } catch {
        await runtime.stop()
        throw error
    }
    await runtime.stop()
}

extension SentinelRuntime {
    /// SIGTERM/SIGINT: "Received SIGTERM scheduling shutdown...", then as SHUTDOWN (exit 0).
    /// SIGHUP is ignored, as redis-sentinel ignores it.
    nonisolated func shutDownOnSignals(logger: Logger) -> [any DispatchSourceSignal] {
        signal(SIGHUP, SIG_IGN)
        return [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                logger.warning("Received \(number == SIGTERM ? "SIGTERM" : "SIGINT") scheduling shutdown...")
                guard let self else { exit(0) }
                Task { _ = await self.shutdown([]) }
            }
            source.resume()
            return source
        }
    }

    func setExtraInfo(_ sections: [(name: String, lines: @Sendable () -> [String])]) { extraInfoSections = sections }
}

/// `daemonize yes`: starts this same command again in a new session, detached from the
/// terminal, and exits. (fork() is not safe once Swift's runtime has threads.)
func daemonize() throws -> Never {
    var options = SpawnOptions()
    options.grouping = .newSession
    options.standardInput = .devNull
    options.standardOutput = .devNull
    options.standardError = .devNull
    // Nothing else the launcher holds (a supervisor's pipes, sockets) stays open in the daemon.
    options.closeOtherDescriptors = true
    options.environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" } + ["TANDEM_DAEMONIZED=1"]
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    do {
        _ = try spawnProcess(executable, arguments: CommandLine.arguments, options: options)
    } catch {
        throw SentinelStartError(description: "daemonize: \(error)")
    }
    exit(0)
}
