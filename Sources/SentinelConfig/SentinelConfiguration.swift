#if canImport(Glibc)
import Glibc
#endif
import AlertCore
import HostPort
import RESP

/// A sentinel.conf that could not be used: names the file, the line and the directive.
public struct SentinelConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var directive: String
    public var message: String

    public init(file: String, line: Int, directive: String, message: String) {
        self.file = file
        self.line = line
        self.directive = directive
        self.message = message
    }

    public var description: String {
        line > 0 ? "\(file):\(line): '\(directive)': \(message)" : "\(file): \(message)"
    }
}

/// Settings of one `sentinel monitor` master, with its state lines.
public struct MasterSettings: Sendable, Hashable {
    public var name: String
    public var host: String
    public var port: Int
    public var quorum: Int
    public var downAfterMilliseconds: Int64 = 30_000
    public var failoverTimeout: Int64 = 180_000
    public var parallelSyncs = 1
    public var authPass: String?
    public var authUser: String?
    public var notificationScript: String?
    public var clientReconfigScript: String?
    public var masterRebootDownAfterPeriod: Int64 = 0
    /// `sentinel crash-detection <master> yes|no` (Tandem's): nil when not set, so the
    /// behaviour's default applies (on, off under `tandem-behaviour redis-7.0`).
    public var crashDetection: Bool?
    /// `sentinel durability <master> async|replicated` (Tandem's): true when replicated.
    public var replicatedDurability = false
    public var renamedCommands: [String: String] = [:]
    public var configEpoch: UInt64 = 0
    public var leaderEpoch: UInt64 = 0
    public var knownReplicas: [(host: String, port: Int)] = []
    public var knownSentinels: [(host: String, port: Int, runID: String)] = []

    public init(name: String, host: String, port: Int, quorum: Int) {
        self.name = name
        self.host = host
        self.port = port
        self.quorum = quorum
    }

    public static func == (a: MasterSettings, b: MasterSettings) -> Bool {
        a.name == b.name && a.host == b.host && a.port == b.port && a.quorum == b.quorum
            && a.downAfterMilliseconds == b.downAfterMilliseconds && a.failoverTimeout == b.failoverTimeout
            && a.parallelSyncs == b.parallelSyncs && a.configEpoch == b.configEpoch && a.leaderEpoch == b.leaderEpoch
            && a.knownReplicas.map { "\($0.host):\($0.port)" } == b.knownReplicas.map { "\($0.host):\($0.port)" }
            && a.knownSentinels.map { "\($0.host):\($0.port):\($0.runID)" } == b.knownSentinels.map { "\($0.host):\($0.port):\($0.runID)" }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

/// What a sentinel.conf says: server lines, global sentinel settings, masters and state.
public struct SentinelConfiguration: Sendable, Hashable {
    /// Which timing and safety rules a tandem sentinel follows.
    public enum Behaviour: String, Sendable, Hashable {
        case tandem
        case redis70 = "redis-7.0"
    }

    public var port = 26379
    public var bind: [String] = []
    /// Every `dir` in the order redis-sentinel applies them: it changes directory at each one as
    /// it reads it, so a relative `dir` is relative to the one before, and every relative path
    /// used after start-up (logfile, pidfile, aclfile, scripts) is relative to the last one.
    public var directoryChanges: [DirectoryChange] = []
    /// The last `dir` (nil: the sentinel stays in the directory it was started in).
    public var dir: String? { directoryChanges.last?.path }
    /// Off unless the file says `protected-mode yes`: Redis turns it off in sentinel mode.
    public var protectedMode = false
    public var logfile: String?
    public var pidfile: String?
    public var daemonize = false
    /// `debug`, `verbose`, `notice` (default) or `warning`.
    public var logLevel = "notice"
    public var requirePass: String?
    /// `maxclients`: connections on the sentinel port beyond this are refused.
    public var maxClients = 10_000
    /// `timeout`: seconds after which an idle client (not subscribed, not held) is closed; 0 never.
    public var clientIdleTimeout = 0
    /// `client-output-buffer-limit`: per class (a sentinel's clients are `normal` or, while
    /// subscribed, `pubsub`).
    public var outputBufferLimits = OutputBufferLimit.defaults
    /// `aclfile`: ACL users are loaded from (and `ACL SAVE`d to) this file instead of `user` lines.
    public var aclFile: String?
    public var myID: String?
    public var currentEpoch: UInt64 = 0
    public var announceIP: String?
    public var announcePort: Int?
    public var resolveHostnames = false
    public var announceHostnames = false
    public var denyScriptsReconfig = true
    public var sentinelUser: String?
    public var sentinelPass: String?
    /// `tls-port`, certificates, `tls-replication` and the other `tls-*` directives.
    public var tls = SentinelTLSSettings()
    /// Timing and safety: Tandem's (default) or exactly Redis Sentinel 7.0's
    /// (`sentinel tandem-behaviour redis-7.0`).
    public var tandemBehaviour: Behaviour = .tandem
    /// Tandem's own `sentinel tandem-alert-webhook URL`, `tandem-alert-email SERVER FROM TO…`,
    /// `tandem-alert-timeout MS` and `tandem-alert-attempts N`: where this sentinel's alerts go.
    public var alerts = AlertSettings()
    /// Tandem's own `sentinel tandem-http ADDR:PORT`: where GET /metrics and the status page are
    /// served (the `--http` option wins over it); nil for nowhere.
    public var httpListen: String?
    /// Masters in file order.
    public var masters: [MasterSettings] = []
    /// Lines redis-sentinel would read as a number other than the one written (`sentinel
    /// parallel-syncs m abc` is 0 there: C's atoi): accepted as it accepts them, each named here
    /// so the sentinel can say so at start.
    public var warnings: [SentinelConfigError] = []
    /// Server lines Tandem accepts but does not act on (e.g. `daemonize`, `loglevel`), by line.
    public var ignoredLines: [Int: String] = [:]
    /// Where `aclfile` was set (for the error when `user` lines are there too).
    private var aclFileLine: Int?
    /// The script directives still to be checked by `checkScripts()` once `dir` is applied.
    private var scriptDirectives: [ScriptDirective] = []

    public init() {}

    public func master(_ name: String) -> MasterSettings? { masters.first { $0.name == name } }

    /// The port this sentinel gives in its hellos: `announce-port`, else the TLS port when its
    /// links use TLS (peers must then reach it there), else `port` (sentinelSendHello).
    public var helloPort: Int {
        if let announcePort { return announcePort }
        return tls.replication && tls.port != 0 ? tls.port : port
    }
}

extension SentinelConfiguration {
    /// Server directives a sentinel.conf may carry that Tandem accepts without acting on them:
    /// every directive redis-server 7.0 knows (redis-sentinel reads its file with the same
    /// parser), `user` lines, and `locale-collate` (7.2) for files written for a newer Redis.
    static func isAcceptedServerDirective(_ keyword: String) -> Bool {
        redisConfigNames.contains(keyword) || keyword == "user" || keyword == "locale-collate"
    }

    /// Parses the text of a sentinel.conf. Directive order does not matter, as in Redis.
    public init(parsing text: String, file: String) throws(SentinelConfigError) {
        self.init()
        var monitorLines: [(Int, [String])] = []
        var laterLines: [(Int, [String])] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = rawLine.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let words = splitInlineArguments(Array(line.utf8))?.map({ String(decoding: $0, as: UTF8.self) }),
                  let first = words.first else {
                throw SentinelConfigError(file: file, line: lineNumber, directive: String(line), message: "Unbalanced quotes in configuration line")
            }
            let keyword = first.lowercased()
            if keyword == "sentinel" {
                guard words.count >= 2 else {
                    throw SentinelConfigError(file: file, line: lineNumber, directive: String(line), message: "Unrecognized sentinel configuration statement.")
                }
                // Pass 1: global options; pass 2: monitor; pass 3: per-master options.
                switch words[1].lowercased() {
                case "monitor": monitorLines.append((lineNumber, words))
                case "down-after-milliseconds", "failover-timeout", "parallel-syncs", "auth-pass", "auth-user",
                     "notification-script", "client-reconfig-script", "config-epoch", "leader-epoch",
                     "known-replica", "known-slave", "known-sentinel", "rename-command",
                     "master-reboot-down-after-period", "crash-detection", "durability":
                    laterLines.append((lineNumber, words))
                default:
                    try applyGlobal(words, line: lineNumber, text: String(line), file: file)
                }
            } else {
                try applyServer(keyword, words, line: lineNumber, text: String(line), file: file)
            }
        }
        for (lineNumber, words) in monitorLines {
            try applyMonitor(words, line: lineNumber, file: file)
        }
        for (lineNumber, words) in laterLines {
            try applyMasterOption(words, line: lineNumber, file: file)
        }
        if let line = aclFileLine, let path = aclFile, ignoredLines.values.contains(where: { $0.split(separator: " ").first?.lowercased() == "user" }) {
            throw fail(file, line, ["aclfile", path], "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.")
        }
    }

    private func fail(_ file: String, _ line: Int, _ words: [String], _ message: String) -> SentinelConfigError {
        SentinelConfigError(file: file, line: line, directive: words.joined(separator: " "), message: message)
    }

    /// C's atoi of a `sentinel …` argument, as sentinel.c reads it; a warning when that is not
    /// the number written (text, a fraction, a value past 32 bits).
    private mutating func cInt(_ text: String, _ words: [String], line: Int, file: String, warn: Bool = true) -> Int32 {
        let (value, exact) = CNumber.atoi(text)
        if warn, !exact {
            warnings.append(fail(file, line, words, "'\(text)' is not a 32-bit number: read as \(value), as redis-sentinel reads it (atoi)"))
        }
        return value
    }

    /// C's strtoull of an epoch, as sentinel.c reads it; a warning when that is not the number written.
    private mutating func cUnsigned(_ text: String, _ words: [String], line: Int, file: String) -> UInt64 {
        let (value, exact) = CNumber.strtoull(text)
        if !exact {
            warnings.append(fail(file, line, words, "'\(text)' is not a 64-bit unsigned number: read as \(value), as redis-sentinel reads it (strtoull)"))
        }
        return value
    }

    private mutating func applyServer(_ keyword: String, _ words: [String], line: Int, text: String, file: String) throws(SentinelConfigError) {
        func argument() throws(SentinelConfigError) -> String {
            guard words.count == 2 else { throw fail(file, line, words, "wrong number of arguments") }
            return words[1]
        }
        func numeric(_ name: String, _ text: String) throws(SentinelConfigError) -> Int64 {
            switch Self.redisNumericConfigs[name]!.read(text) {
            case .success(let v): return v
            case .failure(let error): throw fail(file, line, words, error.message)
            }
        }
        if keyword.hasPrefix("tls-"), try applyTLS(keyword, words, line: line, file: file) {
            ignoredLines[line] = text
            return
        }
        switch keyword {
        case "port":
            self.port = Int(try numeric(keyword, try argument()))
        case "bind":
            guard words.count >= 2 else { throw fail(file, line, words, "wrong number of arguments") }
            bind = Array(words.dropFirst())
        case "dir": directoryChanges.append(DirectoryChange(path: try argument(), line: line, file: file))
        case "logfile": logfile = try argument()
        case "pidfile": pidfile = try argument()
        case "daemonize":
            guard let value = Self.yesNo(try argument()) else { throw fail(file, line, words, "argument must be 'yes' or 'no'") }
            daemonize = value
        case "loglevel":
            let level = try argument().lowercased()
            guard ["debug", "verbose", "notice", "warning", "nothing"].contains(level) else {
                throw fail(file, line, words, "argument(s) must be one of the following: debug, verbose, notice, warning, nothing")
            }
            logLevel = level
        case "requirepass": requirePass = try argument()
        case "aclfile":
            aclFile = try argument()
            aclFileLine = line
        case "protected-mode":
            guard let value = Self.yesNo(try argument()) else { throw fail(file, line, words, "argument must be 'yes' or 'no'") }
            protectedMode = value
        case "maxclients":
            maxClients = Int(try numeric(keyword, try argument()))
            ignoredLines[line] = text
        case "timeout":
            clientIdleTimeout = Int(try numeric(keyword, try argument()))
            ignoredLines[line] = text
        case "client-output-buffer-limit":
            switch OutputBufferLimit.parse(Array(words.dropFirst())) {
            case .success(let limits):
                for (kind, limit) in limits { outputBufferLimits[kind] = limit }
            case .failure(let error):
                throw fail(file, line, words, error.message)
            }
            ignoredLines[line] = text
        case "include", "loadmodule", "rename-command":
            throw fail(file, line, words, "'\(keyword)' is not supported by tandem sentinel")
        default:
            guard Self.isAcceptedServerDirective(keyword) else {
                throw fail(file, line, words, "Bad directive or wrong number of arguments")
            }
            // Checked as redis-server checks it (type and bounds), though a sentinel does not use it.
            if words.count == 2, Self.redisNumericConfigs[keyword] != nil { _ = try numeric(keyword, words[1]) }
            ignoredLines[line] = text
        }
    }

    /// An IPv4 or IPv6 address as text (not a name to resolve).
    public static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    static func yesNo(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "yes": return true
        case "no": return false
        default: return nil
        }
    }

    private mutating func applyGlobal(_ words: [String], line: Int, text: String, file: String) throws(SentinelConfigError) {
        let option = words[1].lowercased()
        func value() throws(SentinelConfigError) -> String {
            guard words.count == 3 else { throw fail(file, line, words, "Unrecognized sentinel configuration statement.") }
            return words[2]
        }
        switch option {
        case "myid":
            let id = try value()
            guard id.utf8.count == 40 else { throw fail(file, line, words, "Malformed Sentinel id in myid option.") }
            myID = id
        case "current-epoch":
            let epoch = cUnsigned(try value(), words, line: line, file: file)
            currentEpoch = max(currentEpoch, epoch)
        case "announce-ip": announceIP = try value()
        case "announce-port":
            // sentinel.c: atoi, no check (0 means not set; redis-sentinel announces any other).
            let p = Int(cInt(try value(), words, line: line, file: file))
            announcePort = p == 0 ? nil : p
        case "resolve-hostnames", "announce-hostnames", "deny-scripts-reconfig":
            guard let flag = Self.yesNo(try value()) else { throw fail(file, line, words, "Please specify yes or no for the \(option) option.") }
            if option == "resolve-hostnames" { resolveHostnames = flag }
            else if option == "announce-hostnames" { announceHostnames = flag }
            else { denyScriptsReconfig = flag }
        case "tandem-behaviour", "tandem-behavior":
            guard let b = Behaviour(rawValue: try value().lowercased()) else {
                throw fail(file, line, words, "tandem-behaviour must be 'tandem' or 'redis-7.0'.")
            }
            tandemBehaviour = b
        case "tandem-alert-webhook":
            do { alerts.webhook = try WebhookURL(parsing: try value()) } catch {
                throw fail(file, line, words, "\(error)")
            }
        case "tandem-alert-email":
            guard words.count >= 5 else { throw fail(file, line, words, "tandem-alert-email needs SMTP-SERVER[:PORT] FROM TO [TO…].") }
            do { alerts.email = try EmailTarget(server: words[2], from: words[3], to: Array(words[4...])) } catch {
                throw fail(file, line, words, "\(error)")
            }
        case "tandem-alert-timeout", "tandem-alert-attempts":
            guard let n = Int(try value()), n >= 1, n <= (option == "tandem-alert-timeout" ? 600_000 : 100) else {
                throw fail(file, line, words, option == "tandem-alert-timeout"
                           ? "tandem-alert-timeout must be milliseconds from 1 to 600000." : "tandem-alert-attempts must be from 1 to 100.")
            }
            if option == "tandem-alert-timeout" { alerts.policy.timeoutMilliseconds = Int64(n) } else { alerts.policy.attempts = n }
        case "tandem-http":
            let address = try value()
            guard HostPort(address) != nil else {
                throw fail(file, line, words, "tandem-http must be ADDR:PORT with a port from 1 to 65535 (e.g. 127.0.0.1:9121, [::1]:9121).")
            }
            httpListen = address
        case "sentinel-user": sentinelUser = try value()
        case "sentinel-pass": sentinelPass = try value()
        default:
            throw fail(file, line, words, "Unrecognized sentinel configuration statement.")
        }
    }

    private mutating func applyMonitor(_ words: [String], line: Int, file: String) throws(SentinelConfigError) {
        guard words.count == 6 else { throw fail(file, line, words, "Unrecognized sentinel configuration statement.") }
        let name = words[2]
        guard master(name) == nil else { throw fail(file, line, words, "Duplicate master name.") }
        // sentinel.c reads both with atoi: port 0 (or "abc") is accepted, as there.
        let quorum = Int(cInt(words[5], words, line: line, file: file, warn: false))
        guard quorum > 0 else { throw fail(file, line, words, "Quorum must be 1 or greater.") }
        let port = Int(cInt(words[4], words, line: line, file: file, warn: false))
        guard (0...65535).contains(port) else { throw fail(file, line, words, "Invalid port number.") }
        _ = cInt(words[5], words, line: line, file: file)
        _ = cInt(words[4], words, line: line, file: file)
        guard !name.contains(" "), !name.isEmpty else { throw fail(file, line, words, "Invalid master name.") }
        guard resolveHostnames || Self.isIPLiteral(words[3]) else { throw fail(file, line, words, "Can't resolve instance hostname.") }
        masters.append(MasterSettings(name: name, host: words[3], port: port, quorum: quorum))
    }

    private mutating func applyMasterOption(_ words: [String], line: Int, file: String) throws(SentinelConfigError) {
        let option = words[1].lowercased()
        guard words.count >= 3 else { throw fail(file, line, words, "Unrecognized sentinel configuration statement.") }
        guard let index = masters.firstIndex(where: { $0.name == words[2] }) else {
            throw fail(file, line, words, "No such master with specified name.")
        }
        func arg(_ n: Int) throws(SentinelConfigError) -> String {
            guard words.count == n + 1 else { throw fail(file, line, words, "Unrecognized sentinel configuration statement.") }
            return words[n]
        }
        // sentinel.c reads these with atoi (strtoull for the epochs), as redis-sentinel does.
        func positive(_ s: String) throws(SentinelConfigError) -> Int64 {
            let v = Int64(cInt(s, words, line: line, file: file, warn: false))
            guard v > 0 else { throw fail(file, line, words, "negative or zero time parameter.") }
            _ = cInt(s, words, line: line, file: file)
            return v
        }
        switch option {
        case "down-after-milliseconds": masters[index].downAfterMilliseconds = try positive(try arg(3))
        case "failover-timeout": masters[index].failoverTimeout = try positive(try arg(3))
        case "parallel-syncs":
            masters[index].parallelSyncs = Int(cInt(try arg(3), words, line: line, file: file))
        case "auth-pass": masters[index].authPass = try arg(3)
        case "auth-user": masters[index].authUser = try arg(3)
        case "notification-script":
            let path = try arg(3)
            scriptDirectives.append(ScriptDirective(path: path, error: fail(file, line, words, "Notification script seems non existing or non executable.")))
            masters[index].notificationScript = path
        case "client-reconfig-script":
            let path = try arg(3)
            scriptDirectives.append(ScriptDirective(path: path, error: fail(file, line, words, "Client reconfiguration script seems non existing or non executable.")))
            masters[index].clientReconfigScript = path
        case "master-reboot-down-after-period":
            let v = Int64(cInt(try arg(3), words, line: line, file: file, warn: false))
            guard v >= 0 else { throw fail(file, line, words, "negative time parameter.") }
            _ = cInt(try arg(3), words, line: line, file: file)
            masters[index].masterRebootDownAfterPeriod = v
        case "crash-detection":
            switch try arg(3).lowercased() {
            case "yes": masters[index].crashDetection = true
            case "no": masters[index].crashDetection = false
            default: throw fail(file, line, words, "crash-detection must be 'yes' or 'no'.")
            }
        case "durability":
            switch try arg(3).lowercased() {
            case "async": masters[index].replicatedDurability = false
            case "replicated": masters[index].replicatedDurability = true
            default: throw fail(file, line, words, "durability must be 'async' or 'replicated'.")
            }
        case "config-epoch":
            masters[index].configEpoch = cUnsigned(try arg(3), words, line: line, file: file)
            // sentinel.c: a config epoch above the current epoch raises it.
            currentEpoch = max(currentEpoch, masters[index].configEpoch)
        case "leader-epoch":
            masters[index].leaderEpoch = cUnsigned(try arg(3), words, line: line, file: file)
        case "known-replica", "known-slave":
            guard words.count == 5 else { throw fail(file, line, words, "Unrecognized sentinel configuration statement.") }
            let port = Int(cInt(words[4], words, line: line, file: file, warn: false))
            guard (0...65535).contains(port) else { throw fail(file, line, words, "Invalid port number.") }
            _ = cInt(words[4], words, line: line, file: file)
            masters[index].knownReplicas.append((words[3], port))
        case "known-sentinel":
            guard words.count == 6 else { throw fail(file, line, words, "Unrecognized sentinel configuration statement.") }
            let port = Int(cInt(words[4], words, line: line, file: file, warn: false))
            guard (0...65535).contains(port) else { throw fail(file, line, words, "Invalid port number.") }
            _ = cInt(words[4], words, line: line, file: file)
            masters[index].knownSentinels.append((words[3], port, words[5]))
        case "rename-command":
            guard words.count == 5 else { throw fail(file, line, words, "Unrecognized sentinel configuration statement.") }
            masters[index].renamedCommands[words[3].uppercased()] = words[4]
        default:
            throw fail(file, line, words, "Unrecognized sentinel configuration statement.")
        }
    }
}

/// One `dir` directive: where it stands, for the error when the directory cannot be entered.
public struct DirectoryChange: Sendable, Hashable {
    public var path: String
    public var line: Int
    public var file: String

    /// The start-up error when `chdir` to this directory fails with `reason` (strerror).
    public func error(_ reason: String) -> SentinelConfigError {
        SentinelConfigError(file: file, line: line, directive: "dir \(path)", message: reason)
    }
}

/// A notification-script or client-reconfig-script line, checked after `dir` is applied.
struct ScriptDirective: Sendable, Hashable {
    var path: String
    var error: SentinelConfigError
}

extension SentinelConfiguration {
    /// What redis-sentinel checks once the whole file is read and every `dir` applied (its
    /// sentinel lines are queued and applied after the file): each notification-script and
    /// client-reconfig-script exists and is executable, a relative path taken from the current
    /// directory. Call it after changing to `dir`.
    public func checkScripts() throws(SentinelConfigError) {
        for script in scriptDirectives where access(script.path, X_OK) != 0 {
            throw script.error
        }
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}
