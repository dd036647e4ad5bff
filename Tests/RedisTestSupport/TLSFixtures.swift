import Foundation
import NIOCore
import NIOSSL
import RESP
import RedisConnection

/// A CA and certificates made with `openssl` for one test, in a temporary directory: the
/// group's certificate (server and client, for 127.0.0.1 and localhost), the same key encrypted
/// with a passphrase, and a certificate from another CA (for "wrong CA" cases).
public final class TLSCertificates: @unchecked Sendable {
    public static let opensslBinary: String? = findExecutable("openssl")
    public static let redisCLIBinary: String? = findExecutable("redis-cli")
    /// Whether the TLS tests can run: openssl, redis-server, redis-sentinel and redis-cli are
    /// installed; under CI=true they run (and fail) whatever is missing.
    public static var shouldRunTests: Bool {
        (opensslBinary != nil && redisCLIBinary != nil && RedisServer.binary != nil && SentinelProcess.redisSentinelBinary != nil) || isCI
    }

    public let directory: URL
    public var caCert: String { path("ca.crt") }
    public var cert: String { path("redis.crt") }
    public var key: String { path("redis.key") }
    /// `key` encrypted (PKCS#8, AES-256) with `keyPassphrase`.
    public var encryptedKey: String { path("redis-encrypted.key") }
    public let keyPassphrase = "tandem test pass"
    /// The group's CA alone in a directory, hashed (`openssl rehash`), for `tls-ca-cert-dir`.
    public var caDirectory: String { path("cadir") }
    /// Signed by the group's CA, expired yesterday.
    public var expiredCert: String { path("expired.crt") }
    public var expiredKey: String { path("expired.key") }
    /// Signed by another CA the group does not trust.
    public var rogueCert: String { path("rogue.crt") }
    public var rogueKey: String { path("rogue.key") }
    public var rogueCA: String { path("rogue-ca.crt") }

    public init() throws {
        guard let openssl = Self.opensslBinary else { throw HarnessError("openssl is not installed (apt-get install openssl)") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func run(_ arguments: [String]) throws {
            let (status, output) = try runProgram(openssl, arguments)
            guard status == 0 else { throw HarnessError("openssl \(arguments.joined(separator: " ")) failed: \(output)") }
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let leafExtensions = path("leaf.ext")
        try "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: leafExtensions, atomically: true, encoding: .utf8)
        for ca in ["ca", "rogue-ca"] {
            try run(["req", "-x509", "-new"] + ec + ["-keyout", path("\(ca).key"), "-out", path("\(ca).crt"), "-days", "2",
                                                      "-subj", "/CN=Tandem test \(ca)"])
        }
        // "expired": signed by the group's CA, valid until yesterday (-days -1).
        for (ca, leaf, days) in [("ca", "redis", "2"), ("rogue-ca", "rogue", "2"), ("ca", "expired", "-1")] {
            try run(["req", "-new"] + ec + ["-keyout", path("\(leaf).key"), "-out", path("\(leaf).csr"), "-subj", "/CN=\(leaf)"])
            try run(["x509", "-req", "-in", path("\(leaf).csr"), "-CA", path("\(ca).crt"), "-CAkey", path("\(ca).key"),
                     "-CAcreateserial", "-out", path("\(leaf).crt"), "-days", days, "-extfile", leafExtensions])
        }
        try run(["pkey", "-in", key, "-out", encryptedKey, "-aes256", "-passout", "pass:\(keyPassphrase)"])
        // A CA directory as tls-ca-cert-dir wants it: certificates under their hash names.
        try FileManager.default.createDirectory(atPath: caDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: caCert, toPath: caDirectory + "/ca.pem")
        try run(["rehash", caDirectory])
        // redis-server reads its key as its own user; the files are the test's own.
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file != "cadir" {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path(file))
        }
    }

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A client context trusting the group's CA (or the rogue CA), presenting `cert` (or the rogue
    /// or expired one, or none), offering the TLS versions from `minimumVersion` to `maximumVersion`.
    public func clientContext(certificate: ClientCertificate = .group, trustRogueCA: Bool = false,
                              minimumVersion: TLSVersion = .tlsv1, maximumVersion: TLSVersion? = nil) throws -> NIOSSLContext {
        var c = TLSConfiguration.makeClientConfiguration()
        c.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trustRogueCA ? rogueCA : caCert))
        c.certificateVerification = .noHostnameVerification
        c.minimumTLSVersion = minimumVersion
        c.maximumTLSVersion = maximumVersion
        switch certificate {
        case .group:
            c.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            c.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        case .rogue:
            c.certificateChain = try NIOSSLCertificate.fromPEMFile(rogueCert).map { .certificate($0) }
            c.privateKey = .privateKey(try NIOSSLPrivateKey(file: rogueKey, format: .pem))
        case .expired:
            c.certificateChain = try NIOSSLCertificate.fromPEMFile(expiredCert).map { .certificate($0) }
            c.privateKey = .privateKey(try NIOSSLPrivateKey(file: expiredKey, format: .pem))
        case .none:
            break
        }
        return try NIOSSLContext(configuration: c)
    }

    public enum ClientCertificate: Sendable { case group, rogue, expired, none }

    /// What `openssl s_client` (OpenSSL, not BoringSSL) negotiated with a TLS port.
    public struct OpenSSLHandshake: Sendable, CustomStringConvertible {
        /// `TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256`, or `refused` when the handshake failed.
        public var outcome: String
        /// The session was resumed (`Reused`), with `-sess_in`.
        public var reused: Bool
        public var output: String
        public var description: String { outcome }
    }

    /// Connects `openssl s_client` to `port` with the group's certificate and CA, its standard
    /// input empty (it leaves once the handshake is done), with `options` (`-tls1_2`, `-cipher …`).
    /// `stayFor`: how long it keeps the connection open, after sending `input`, before its
    /// standard input ends (a TLSv1.3 server sends its session tickets after the handshake, and
    /// swift-nio-ssl only with the next data it writes; `-sess_out` needs them).
    public func opensslHandshake(port: Int, _ options: [String], input text: String = "", stayFor: Duration? = nil) throws -> OpenSSLHandshake {
        guard let openssl = Self.opensslBinary else { throw HarnessError("openssl is not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", caCert, "-cert", cert, "-key", key] + options
        let pipe = Pipe()
        let input = Pipe()
        process.standardInput = stayFor == nil ? FileHandle.nullDevice : input
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        if let stayFor {
            try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
            // s_client's output (a few kB) fits the pipe meanwhile.
            Thread.sleep(forTimeInterval: Double(stayFor.components.seconds) + Double(stayFor.components.attoseconds) / 1e18)
            try? input.fileHandleForWriting.close()
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" (or "Reused, …").
        let line = output.split(separator: "\n").first { $0.hasPrefix("New, ") || $0.hasPrefix("Reused, ") }
        guard process.terminationStatus == 0, let line, !line.hasSuffix("Cipher is (NONE)") else {
            return OpenSSLHandshake(outcome: "refused", reused: false, output: output)
        }
        let parts = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let cipher = parts.count > 2 ? parts[2].replacingOccurrences(of: "Cipher is ", with: "") : "?"
        return OpenSSLHandshake(outcome: "\(parts.count > 1 ? parts[1] : "?") \(cipher)", reused: line.hasPrefix("Reused"), output: output)
    }

    /// redis-cli's TLS options for this group.
    public var redisCLIArguments: [String] { ["--tls", "--cacert", caCert, "--cert", cert, "--key", key] }

    public func remove() {
        if ProcessInfo.processInfo.environment["TANDEM_KEEP_LOGS"] == nil { try? FileManager.default.removeItem(at: directory) }
    }
}

/// Runs one command over TLS on a short-lived connection (error replies returned as values).
public func tlsCommand(port: Int, context: NIOSSLContext, _ arguments: [String], timeout: TimeAmount = .seconds(2)) async throws -> RESPValue {
    var config = RedisConnectionConfiguration(host: "127.0.0.1", port: port, connectTimeout: .seconds(1), commandTimeout: timeout)
    config.tlsContext = context
    let c = try await RedisConnection.connect(config)
    do {
        let reply = try await c.send(arguments)
        await c.close()
        return reply
    } catch {
        await c.close()
        throw error
    }
}

/// A redis-server listening on TLS only (`--port 0 --tls-port N`), replicating over TLS.
public final class TLSRedisServer: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    private var child: ChildProcess?
    private let context: NIOSSLContext

    private init(port: Int, directory: URL, context: NIOSSLContext) {
        self.port = port
        self.directory = directory
        self.context = context
    }

    /// Starts a server with the group's certificate (or the rogue one, or the group CA's expired
    /// one), as a replica of `replicaOf` if given, and waits until it answers PING (and, as a
    /// replica, is in sync); a rogue or expired server until it refuses our client instead.
    public static func start(_ certs: TLSCertificates, replicaOf master: TLSRedisServer? = nil, rogue: Bool = false,
                             expired: Bool = false) async throws -> TLSRedisServer {
        guard let binary = RedisServer.binary else { throw HarnessError("redis-server is not installed (apt-get install redis-server)") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-tls-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var lastError: (any Error)?
        for _ in 0..<5 {  // another process may take the port before redis binds it
            let server = TLSRedisServer(port: try freeLoopbackPort(), directory: directory, context: try certs.clientContext())
            var arguments = [
                "--port", "0", "--tls-port", String(server.port), "--bind", "127.0.0.1", "--dir", directory.path,
                "--tls-cert-file", rogue ? certs.rogueCert : expired ? certs.expiredCert : certs.cert,
                "--tls-key-file", rogue ? certs.rogueKey : expired ? certs.expiredKey : certs.key,
                "--tls-ca-cert-file", rogue ? certs.rogueCA : certs.caCert, "--tls-replication", "yes",
                "--daemonize", "no", "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--logfile", "",
            ]
            if let master { arguments += ["--replicaof", "127.0.0.1", String(master.port)] }
            do {
                server.child = try ChildProcess(executable: binary, arguments: arguments, logFile: server.logFile)
                try await waitUntil("TLS redis-server on port \(server.port) to answer PING (log: \(server.logFile.path))") {
                    guard server.child?.isRunning == true else { throw HarnessError("redis-server exited: \(server.logTail())") }
                    if rogue || expired {
                        // Up (it says so) and refusing a client that verifies its certificate.
                        guard server.logTail(lines: 50).contains("Ready to accept connections") else { return false }
                        return (try? await tlsCommand(port: server.port, context: try certs.clientContext(), ["PING"])) == nil
                    }
                    return try await server.command(["PING"]).string == "PONG"
                }
                if master != nil {
                    try await waitUntil("TLS replica \(server.port) to sync", timeout: .seconds(15)) {
                        try await server.command(["INFO", "replication"]).string?.contains("master_link_status:up") == true
                    }
                }
                return server
            } catch {
                lastError = error
                server.child?.kill9()
            }
        }
        throw lastError ?? HarnessError("could not start a TLS redis-server")
    }

    public var logFile: URL { directory.appendingPathComponent("redis.log") }
    public func logTail(lines: Int = 15) -> String {
        ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// One command over TLS with the group's certificate.
    public func command(_ arguments: [String]) async throws -> RESPValue {
        try await tlsCommand(port: port, context: context, arguments)
    }

    public func kill9() { child?.kill9() }

    public func stop() {
        child?.kill9()
        if ProcessInfo.processInfo.environment["TANDEM_KEEP_LOGS"] == nil { try? FileManager.default.removeItem(at: directory) }
    }
}

/// A redis-sentinel or tandem sentinel with `tls-port` (and `port 0` unless `plainPort`),
/// `tls-replication yes`, monitoring a TLS-only master as `mymaster`.
public final class TLSSentinel: @unchecked Sendable {
    public let kind: SentinelProcess.Kind
    public private(set) var tlsPort: Int
    /// The plain port, when it has one.
    public private(set) var plainPort: Int?
    public let directory: URL
    public let configFile: URL
    public let logFile: URL
    private var child: ChildProcess?
    private let context: NIOSSLContext

    /// `encryptedKey`: the key file is the encrypted one, with `tls-key-file-pass`; `caDirectory`:
    /// the CA comes from `tls-ca-cert-dir` instead of `tls-ca-cert-file`; `rogue`: its TLS port
    /// presents the certificate from the CA the group does not trust.
    public init(kind: SentinelProcess.Kind, certs: TLSCertificates, monitoring master: TLSRedisServer, quorum: Int = 2,
                downAfter: Int = 1000, plainPort: Bool = false, encryptedKey: Bool = false, caDirectory: Bool = false,
                rogue: Bool = false, extraLines: [String] = []) async throws {
        self.kind = kind
        self.context = try certs.clientContext(trustRogueCA: rogue)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-tls-sentinel-\(UUID().uuidString)")
        configFile = directory.appendingPathComponent("sentinel.conf")
        logFile = directory.appendingPathComponent("sentinel.log")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        tlsPort = try freeLoopbackPort()
        for attempt in 1...5 {
            if plainPort { self.plainPort = try freeLoopbackPort() }
            var lines = [
                "port \(self.plainPort ?? 0)", "tls-port \(tlsPort)", "bind 127.0.0.1", "dir \(directory.path)",
                "tls-cert-file \(rogue ? certs.rogueCert : certs.cert)", caDirectory ? "tls-ca-cert-dir \(certs.caDirectory)" : "tls-ca-cert-file \(certs.caCert)",
                "tls-replication yes",
            ]
            lines += encryptedKey ? ["tls-key-file \(certs.encryptedKey)", "tls-key-file-pass \"\(certs.keyPassphrase)\""]
                                  : ["tls-key-file \(rogue ? certs.rogueKey : certs.key)"]
            lines += [
                "sentinel monitor mymaster 127.0.0.1 \(master.port) \(quorum)",
                "sentinel down-after-milliseconds mymaster \(downAfter)",
                "sentinel failover-timeout mymaster 10000",
            ] + extraLines
            try (lines.joined(separator: "\n") + "\n").write(to: configFile, atomically: true, encoding: .utf8)
            do {
                try await launch()
                return
            } catch {
                child?.kill9()
                guard attempt < 5, logTail(lines: 200).contains("Address already in use") else { throw error }
                tlsPort = try freeLoopbackPort()
            }
        }
    }

    private func launch() async throws {
        switch kind {
        case .redis:
            guard let binary = SentinelProcess.redisSentinelBinary else { throw HarnessError("redis-sentinel is not installed") }
            child = try ChildProcess(executable: binary, arguments: [configFile.path, "--daemonize", "no"], logFile: logFile)
        case .tandem:
            child = try ChildProcess(executable: try tandemExecutable(), arguments: ["sentinel", configFile.path], logFile: logFile)
        }
        try await waitUntil("\(kind) sentinel on TLS port \(tlsPort) to answer PING (log: \(logFile.path))") {
            guard self.child?.isRunning == true else { throw HarnessError("\(self.kind) sentinel exited: \(self.logTail())") }
            return try await self.command(["PING"]).string == "PONG"
        }
    }

    /// One command over TLS with the group's certificate.
    public func command(_ arguments: [String]) async throws -> RESPValue {
        try await tlsCommand(port: tlsPort, context: context, arguments)
    }

    /// `SENTINEL get-master-addr-by-name mymaster` as `host:port`, or nil.
    public func masterAddress() async throws -> String? {
        let reply = try await command(["SENTINEL", "get-master-addr-by-name", "mymaster"])
        guard let parts = reply.array, parts.count == 2, let host = parts[0].string, let port = parts[1].string else { return nil }
        return "\(host):\(port)"
    }

    /// How many other sentinels and replicas it knows for mymaster.
    public func known() async throws -> (sentinels: Int, replicas: Int) {
        let reply = try await command(["SENTINEL", "master", "mymaster"])
        var fields: [String: String] = [:]
        for pair in reply.pairs ?? [] { if let k = pair.key.string { fields[k] = pair.value.string } }
        return (Int(fields["num-other-sentinels"] ?? "") ?? -1, Int(fields["num-slaves"] ?? "") ?? -1)
    }

    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }
    public func logTail(lines: Int = 20) -> String { log.split(separator: "\n").suffix(lines).joined(separator: "\n") }
    public var isRunning: Bool { child?.isRunning ?? false }

    public func stop() {
        child?.kill9()
        if ProcessInfo.processInfo.environment["TANDEM_KEEP_LOGS"] == nil { try? FileManager.default.removeItem(at: directory) }
    }
}
