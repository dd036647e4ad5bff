import Foundation
import NIOCore
import RESP
import RedisConnection
import RedisTestSupport
import Testing

extension SentinelSurfaceSerial {
    /// `dir` and relative paths, as an operator who keeps them relative meets them: the same
    /// steps against redis-sentinel and tandem sentinel, and what the user sees compared.
    @Suite("Sentinel dir and relative paths", .serialized, .timeLimit(.minutes(2)),
           .enabled(if: SentinelProcess.shouldRunTests, "redis-server or redis-sentinel is not installed"))
    struct SentinelPathTests {
        /// What one kind of sentinel did with the relative paths; compared across kinds.
        struct Outcome: Equatable, CustomStringConvertible {
            var logInDir: Bool
            var pidfileInDir: Bool
            var filesWhereStarted: [String]
            var notifiedAtStart: [String]
            var setRelativeScript: String
            var setMissingScript: String
            var rewrittenDirLine: String?
            var scriptLinesAfterRewrite: [String]
            var scriptsAfterRestart: [String: String]
            var notifiedAfterRestart: [String]
            var description: String {
                "log in dir: \(logInDir), pidfile in dir: \(pidfileInDir), files where started: \(filesWhereStarted), "
                    + "notified at start: \(notifiedAtStart), SET relative: \(setRelativeScript), SET missing: \(setMissingScript), "
                    + "dir line: \(rewrittenDirLine ?? "none"), script lines: \(scriptLinesAfterRewrite), "
                    + "scripts after restart: \(scriptsAfterRestart), notified after restart: \(notifiedAfterRestart)"
            }
        }

        static func lines(_ url: URL) -> [String] {
            ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        static func fields(_ reply: RESPValue) -> [String: String] {
            var out: [String: String] = [:]
            for pair in reply.pairs ?? [] { if let k = pair.key.string { out[k] = pair.value.string } }
            return out
        }

        /// base/start (where the sentinel is started), base/conf/sentinel.conf, base/data (its
        /// `dir`, given relative and after the lines that depend on it), base/scripts. The
        /// notification script appends its arguments to `notified.txt` in its working directory.
        func run(_ kind: SentinelProcess.Kind, master: RedisServer) async throws -> Outcome {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-paths-\(kind)-\(UUID().uuidString)")
            let start = base.appendingPathComponent("start"), conf = base.appendingPathComponent("conf")
            let data = base.appendingPathComponent("data"), scripts = base.appendingPathComponent("scripts")
            for d in [start, conf, data, scripts] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
            for name in ["notify.sh", "reconfig.sh"] {
                let path = scripts.appendingPathComponent(name).path
                try "#!/bin/sh\necho \"$*\" >> notified.txt\n".write(toFile: path, atomically: true, encoding: .utf8)
                chmod(path, 0o755)
            }
            let port = try freeLoopbackPort()
            let configFile = conf.appendingPathComponent("sentinel.conf")
            try """
                # relative paths, resolved from dir as redis-sentinel resolves them
                port \(port)
                bind 127.0.0.1
                logfile log.txt
                pidfile sentinel.pid
                sentinel deny-scripts-reconfig no
                sentinel monitor mymaster \(master.host) \(master.port) 1
                sentinel notification-script mymaster ../scripts/notify.sh
                dir ../data

                """.write(to: configFile, atomically: true, encoding: .utf8)
            let s = try await SentinelProcess(kind: kind, port: port, directory: base, configFile: configFile,
                                              configArgument: "../conf/sentinel.conf", workingDirectory: start)
            defer { s.stop() }
            let notified = data.appendingPathComponent("notified.txt")
            try await waitUntil("\(kind): the notification script to run for +monitor") { !Self.lines(notified).isEmpty }
            var outcome = Outcome(
                logInDir: !Self.lines(data.appendingPathComponent("log.txt")).isEmpty,
                pidfileInDir: FileManager.default.fileExists(atPath: data.appendingPathComponent("sentinel.pid").path),
                filesWhereStarted: try FileManager.default.contentsOfDirectory(atPath: start.path).sorted(),
                notifiedAtStart: Self.lines(notified),
                setRelativeScript: "", setMissingScript: "", rewrittenDirLine: nil, scriptLinesAfterRewrite: [],
                scriptsAfterRestart: [:], notifiedAfterRestart: [])
            outcome.setRelativeScript = "\(try await s.command(["SENTINEL", "SET", "mymaster", "client-reconfig-script", "../scripts/reconfig.sh"]))"
            outcome.setMissingScript = "\(try await s.command(["SENTINEL", "SET", "mymaster", "notification-script", "../scripts/missing.sh"]))"
            #expect(try await s.command(["SENTINEL", "FLUSHCONFIG"]) == .simpleString("OK"))
            let rewritten = try s.configText().split(separator: "\n").map(String.init)
            outcome.rewrittenDirLine = rewritten.first { $0.hasPrefix("dir ") }?
                .replacingOccurrences(of: data.resolvingSymlinksInPath().path, with: "<data>")
                .replacingOccurrences(of: data.path, with: "<data>")
            outcome.scriptLinesAfterRewrite = rewritten.filter { $0.contains("-script ") }.sorted()
            // Restarted from another directory, where `../data` is not the data directory, from
            // the file the rewrite produced.
            let elsewhere = base.appendingPathComponent("elsewhere/deeper")
            try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
            try await s.restart(workingDirectory: elsewhere, configArgument: "../../conf/sentinel.conf")
            try await waitUntil("\(kind): the notification script to run again after the restart") { Self.lines(notified).count >= 2 }
            let master = Self.fields(try await s.command(["SENTINEL", "MASTER", "mymaster"]))
            outcome.scriptsAfterRestart = master.filter { $0.key.hasSuffix("-script") }
            outcome.notifiedAfterRestart = Self.lines(notified)
            #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("log.txt").path))
            #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty,
                    "\(kind) wrote into the directory it was restarted in")
            return outcome
        }

        @Test("logfile, pidfile and scripts resolve from dir, applied before them whatever the line order; a restart from the rewritten file works from any directory, as with redis-sentinel")
        func relativePathsFromDir() async throws {
            try await withRedisServers(1) { servers in
                let redis = try await run(.redis, master: servers[0])
                let tandem = try await run(.tandem, master: servers[0])
                #expect(redis.logInDir && redis.pidfileInDir && redis.filesWhereStarted.isEmpty, "redis-sentinel: \(redis)")
                #expect(redis.rewrittenDirLine == "dir \"<data>\"", "redis-sentinel: \(redis)")
                #expect(tandem == redis, "tandem: \(tandem)\nredis: \(redis)")
            }
        }

        @Test("a dir that cannot be entered stops the start with the file, line and reason")
        func missingDir() async throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-paths-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: base) }
            let path = base.appendingPathComponent("sentinel.conf").path
            try "port 0\ndir nonexistent\nsentinel monitor m 127.0.0.1 6379 2\n".write(toFile: path, atomically: true, encoding: .utf8)
            for (binary, args) in [(try tandemExecutable(), ["sentinel"]), (SentinelProcess.redisSentinelBinary ?? "/usr/bin/redis-sentinel", [])] {
                let (status, out) = try runProgram(binary, args + [path])
                #expect(status != 0 && out.contains("No such file or directory"), "\(binary): \(out)")
                if binary.hasSuffix("tandem") { #expect(out.contains("\(path):2: 'dir nonexistent'"), "\(out)") }
            }
        }
    }
}
