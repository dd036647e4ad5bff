import Foundation
import Logging
import SentinelConfig
import SentinelCore

/// A sentinel that cannot start: the message says why (Redis's wording where it has one).
public struct SentinelStartError: Error, CustomStringConvertible {
    public var description: String
}

/// Loads `configPath`, starts the monitor and the sentinel port, and runs until cancelled.
/// `overrides` are redis-sentinel style `--port 26380` options, applied after the file.
public func runSentinel(configPath: String, overrides: [String: String], logger: Logger,
                        onListening: @Sendable ([Int]) -> Void = { _ in }) async throws {
    let path = URL(fileURLWithPath: configPath).standardizedFileURL.path
    guard FileManager.default.fileExists(atPath: path) else {
        throw SentinelStartError(description: "Sentinel config file \(path) does not exist. Exiting...")
    }
    guard FileManager.default.isWritableFile(atPath: path) else {
        throw SentinelStartError(description: "Sentinel config file \(path) is not writable: Permission denied. Exiting...")
    }
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var configuration = try SentinelConfiguration(parsing: text, file: path)
    for (key, value) in overrides {
        switch key {
        case "port":
            guard let port = Int(value), (0...65535).contains(port) else {
                throw SentinelStartError(description: "--port \(value): argument must be between 0 and 65535 inclusive")
            }
            configuration.port = port
        case "bind": configuration.bind = value.split(separator: " ").map(String.init)
        default:
            throw SentinelStartError(description: "--\(key): option not supported by tandem sentinel yet")
        }
    }
    let runtime = SentinelRuntime(configuration: configuration, configPath: path, configText: text, logger: logger)
    do {
        try await runtime.start()
    } catch {
        throw SentinelStartError(description: "cannot save \(path): \(error)")
    }
    let server = SentinelServer(runtime: runtime, logger: logger)
    let myID = await runtime.state.myID
    logger.notice("Sentinel ID is \(myID)")
    do {
        try await server.run(hosts: configuration.bind.isEmpty ? ["0.0.0.0"] : configuration.bind,
                             port: configuration.port, onBound: onListening)
    } catch {
        await runtime.stop()
        throw error
    }
    await runtime.stop()
}
