import Foundation
import NIOSSL
import RESP
import RedisConnection

/// `tandem proxy` on a free loopback port, for tests.
public final class ProxyProcess: @unchecked Sendable {
    public private(set) var port: Int
    public let directory: URL
    private var child: ChildProcess?
    /// TLS toward the proxy's listening side, when it has one.
    private let tls: NIOSSLContext?

    public var logFile: URL { directory.appendingPathComponent("proxy.log") }

    /// Starts `tandem proxy --listen 127.0.0.1:PORT` plus `arguments`, and waits until the
    /// port accepts connections. Another process may take the free port before the proxy binds
    /// it: then it is tried again on another.
    public init(_ arguments: [String], tls: NIOSSLContext? = nil) async throws {
        self.tls = tls
        port = try freeLoopbackPort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-proxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for attempt in 1...5 {
            child = try ChildProcess(executable: try tandemExecutable(),
                                     arguments: ["proxy", "--listen", "127.0.0.1:\(port)", "--log-level", "info"] + arguments,
                                     logFile: logFile)
            do {
                try await waitUntil("tandem proxy on port \(port) to accept connections (log: \(logFile.path))") {
                    guard self.child?.isRunning == true else { throw HarnessError("tandem proxy exited: \(self.logTail())") }
                    let connection = try await self.connect()
                    await connection.close()
                    return true
                }
                return
            } catch {
                child?.kill9()
                guard attempt < 5, logTail().contains("Address already in use") else { throw error }
                port = try freeLoopbackPort()
            }
        }
    }

    /// A client connection through the proxy.
    public func connect(protocolVersion: RedisConnectionConfiguration.ProtocolVersion = .resp2,
                        password: String? = nil, timeout: TimeAmount? = .seconds(10)) async throws -> RedisConnection {
        var config = RedisConnectionConfiguration(
            host: "127.0.0.1", port: port, password: password, protocolVersion: protocolVersion,
            connectTimeout: .seconds(2), commandTimeout: timeout)
        config.tlsContext = tls
        return try await RedisConnection.connect(config)
    }

    public func logTail(lines: Int = 30) -> String {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    public var pid: pid_t? { child?.pid }
    public var isRunning: Bool { child?.isRunning ?? false }

    public func stop() {
        child?.kill9()
        if ProcessInfo.processInfo.environment["TANDEM_KEEP_LOGS"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

import NIOCore
