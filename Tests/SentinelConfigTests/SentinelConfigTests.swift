import AlertCore
import Foundation
import SentinelConfig
import Testing

@Suite("sentinel.conf: reading and rewriting")
struct SentinelConfigTests {
    static let seedPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("../../../shared/seeds/configs/seed1-sentinel.conf").path

    @Test("the first seed's sentinel.conf loads as written")
    func seed() throws {
        let text = try String(contentsOfFile: Self.seedPath, encoding: .utf8)
        let config = try SentinelConfiguration(parsing: text, file: "seed1-sentinel.conf")
        #expect(config.port == 26379)
        #expect(config.dir == "/tmp")
        #expect(config.logfile == "/var/log/redis/sentinel.log")
        let m = try #require(config.master("mymaster"))
        #expect(m.host == "192.168.1.20" && m.port == 6379 && m.quorum == 2)
        #expect(m.authPass == "my-redis-password")
        #expect(m.downAfterMilliseconds == 30_000 && m.parallelSyncs == 1 && m.failoverTimeout == 180_000)
    }

    @Test("directive order does not matter; state lines are read")
    func orderAndState() throws {
        let text = """
            sentinel down-after-milliseconds m 1000
            sentinel known-replica m 127.0.0.1 6380
            sentinel myid 0123456789012345678901234567890123456789
            sentinel monitor m 127.0.0.1 6379 2
            sentinel config-epoch m 3
            sentinel leader-epoch m 4
            sentinel known-sentinel m 127.0.0.1 26380 abcdefabcdefabcdefabcdefabcdefabcdefabcd
            sentinel current-epoch 4
            sentinel auth-pass m "with space"
            daemonize no
            """
        let c = try SentinelConfiguration(parsing: text, file: "s.conf")
        let m = try #require(c.master("m"))
        #expect(m.downAfterMilliseconds == 1000)
        #expect(m.configEpoch == 3 && m.leaderEpoch == 4)
        #expect(m.knownReplicas.map(\.port) == [6380])
        #expect(m.knownSentinels.map(\.runID) == ["abcdefabcdefabcdefabcdefabcdefabcdefabcd"])
        #expect(m.authPass == "with space")
        #expect(c.myID == "0123456789012345678901234567890123456789")
        #expect(c.currentEpoch == 4)
    }

    static let errorCases: [(String, Int, String)] = [
        ("port 26379\nsentinel monitor m 127.0.0.1 6379 0\n", 2, "Quorum must be 1 or greater."),
        ("sentinel monitor m 127.0.0.1 -1 2\n", 1, "Invalid port number."),
        ("hz abc\n", 1, "argument couldn't be parsed into an integer"),
        ("sentinel down-after-milliseconds nosuch 1000\n", 1, "No such master with specified name."),
        ("sentinel monitor m 127.0.0.1 6379 2\nsentinel down-after-milliseconds m -5\n", 2, "negative or zero time parameter."),
        ("sentinel frobnicate yes\n", 1, "Unrecognized sentinel configuration statement."),
        ("# comment\n\nbogus-directive 1\n", 3, "Bad directive or wrong number of arguments"),
        ("port 99999\n", 1, "argument must be between 0 and 65535 inclusive"),
        ("sentinel monitor m \"127.0.0.1 6379 2\n", 1, "Unbalanced quotes in configuration line"),
        ("sentinel myid tooshort\n", 1, "Malformed Sentinel id in myid option."),
        ("sentinel monitor m 127.0.0.1 6379 2\nsentinel monitor m 127.0.0.1 6380 2\n", 2, "Duplicate master name."),
        ("tls-cert-file /x.crt\ntls-port 65536\n", 2, "argument must be between 0 and 65535 inclusive"),
        ("tls-replication maybe\n", 1, "argument must be 'yes' or 'no'"),
        ("tls-auth-clients sometimes\n", 1, "argument(s) must be one of the following: no, yes, optional"),
        ("tls-protocols \"TLSv1 TLSv1.2\"\n", 1, "Invalid tls-protocols: expected a range of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 (BoringSSL takes a lowest and a highest version, so a list with a gap cannot be applied)"),
        ("tls-protocols SSLv3\n", 1, "Invalid tls-protocols: expected a range of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 (BoringSSL takes a lowest and a highest version, so a list with a gap cannot be applied)"),
        ("tls-ciphersuites TLS_FAKE_SHA1\n", 1, "Unknown TLSv1.3 ciphersuite TLS_FAKE_SHA1 (known: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256)"),
        ("tls-session-caching 1\n", 1, "argument must be 'yes' or 'no'"),
        ("include /etc/redis/common.conf\n", 1, "'include' is not supported by tandem sentinel"),
        ("loadmodule /x.so\n", 1, "'loadmodule' is not supported by tandem sentinel"),
        ("maxclients 0\n", 1, "argument must be between 1 and 4294967295 inclusive"),
        ("sentinel monitor m 127.0.0.1 6379 2\nsentinel crash-detection m maybe\n", 2, "crash-detection must be 'yes' or 'no'."),
        ("user zed on nopass\naclfile /etc/users.acl\n", 2, "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both."),
    ]

    @Test("sentinel tandem-alert-* lines: read, written back by the rewrite, bad values refused naming the line")
    func alertDirectives() throws {
        let text = """
            sentinel monitor a 127.0.0.1 6379 2
            sentinel tandem-alert-webhook http://127.0.0.1:9099/hook
            sentinel tandem-alert-email 127.0.0.1:2525 tandem@example oncall@example ops@example
            sentinel tandem-alert-timeout 1500
            sentinel tandem-alert-attempts 2
            """
        let config = try SentinelConfiguration(parsing: text, file: "s.conf")
        #expect(config.alerts.webhook?.port == 9099)
        #expect(config.alerts.webhook?.path == "/hook")
        #expect(config.alerts.email?.to == ["oncall@example", "ops@example"])
        #expect(config.alerts.policy.timeoutMilliseconds == 1500)
        #expect(config.alerts.policy.attempts == 2)
        let lines = config.renderSentinelLines()
        #expect(lines.contains("sentinel tandem-alert-webhook http://127.0.0.1:9099/hook"))
        #expect(lines.contains("sentinel tandem-alert-email 127.0.0.1:2525 tandem@example oncall@example ops@example"))
        #expect(lines.contains("sentinel tandem-alert-timeout 1500"))
        let again = try SentinelConfiguration(parsing: lines.joined(separator: "\n") + "\n", file: "rewritten")
        #expect(again.alerts == config.alerts)
        // Unset: nothing written.
        let plain = try SentinelConfiguration(parsing: "sentinel monitor a 127.0.0.1 6379 2\n", file: "s.conf")
        #expect(!plain.renderSentinelLines().contains { $0.contains("tandem-alert") })
        for (bad, says) in [
            ("sentinel tandem-alert-webhook https://x/", "https is not supported"),
            ("sentinel tandem-alert-email 127.0.0.1 tandem@example", "needs SMTP-SERVER"),
            ("sentinel tandem-alert-timeout 0", "tandem-alert-timeout must be"),
            ("sentinel tandem-alert-attempts lots", "tandem-alert-attempts must be"),
        ] {
            do {
                _ = try SentinelConfiguration(parsing: "sentinel monitor a 127.0.0.1 6379 2\n" + bad + "\n", file: "s.conf")
                Issue.record("accepted: \(bad)")
            } catch {
                #expect("\(error)".contains(says), "\(error)")
                #expect("\(error)".contains("s.conf:2:"), "\(error)")
            }
        }
    }

    @Test("sentinel tandem-http ADDR:PORT: read, kept by the rewrite in place, absent when unset, bad values refused naming the line")
    func httpDirective() throws {
        let text = """
            sentinel monitor a 127.0.0.1 6379 2
            # metrics and the status page
            sentinel tandem-http 127.0.0.1:9121
            """
        let config = try SentinelConfiguration(parsing: text, file: "s.conf")
        #expect(config.httpListen == "127.0.0.1:9121")
        let lines = config.renderSentinelLines()
        #expect(lines.filter { $0.contains("tandem-http") } == ["sentinel tandem-http 127.0.0.1:9121"])
        // The rewrite puts it back where it was (under its comment), not under the generated marker.
        let rewritten = SentinelConfiguration.rewrite(text + "\n", sentinelLines: lines)
        let kept = rewritten.split(separator: "\n").map(String.init)
        let at = try #require(kept.firstIndex(of: "sentinel tandem-http 127.0.0.1:9121"), "\(rewritten)")
        #expect(kept[at - 1] == "# metrics and the status page", "\(rewritten)")
        #expect(try SentinelConfiguration(parsing: rewritten, file: "rewritten").httpListen == "127.0.0.1:9121")
        #expect(try SentinelConfiguration(parsing: "sentinel tandem-http [::1]:9121\n", file: "s.conf").httpListen == "[::1]:9121")
        #expect(try SentinelConfiguration(parsing: "sentinel tandem-http localhost:9121\n", file: "s.conf").httpListen == "localhost:9121")
        // Unset: nothing written.
        let plain = try SentinelConfiguration(parsing: "sentinel monitor a 127.0.0.1 6379 2\n", file: "s.conf")
        #expect(plain.httpListen == nil)
        #expect(!plain.renderSentinelLines().contains { $0.contains("tandem-http") })
        for bad in ["sentinel tandem-http 9121", "sentinel tandem-http 127.0.0.1:0", "sentinel tandem-http 127.0.0.1:65536",
                    "sentinel tandem-http :9121", "sentinel tandem-http ::1:9121", "sentinel tandem-http 127.0.0.1:x",
                    "sentinel tandem-http 127.0.0.1:9121 127.0.0.1:9122", "sentinel tandem-http"] {
            do {
                _ = try SentinelConfiguration(parsing: "sentinel monitor a 127.0.0.1 6379 2\n" + bad + "\n", file: "s.conf")
                Issue.record("accepted: \(bad)")
            } catch {
                #expect("\(error)".hasPrefix("s.conf:2: '\(bad)': "), "\(error)")
                let words = bad.split(separator: " ").count
                #expect("\(error)".contains(words == 3 ? "tandem-http must be ADDR:PORT" : "Unrecognized sentinel configuration statement."), "\(error)")
            }
        }
    }

    @Test("sentinel crash-detection <master> yes|no is read and rewritten; unset, it is left to the behaviour and not written")
    func crashDetection() throws {
        let text = """
            sentinel monitor a 127.0.0.1 6379 2
            sentinel monitor b 127.0.0.1 6479 2
            sentinel monitor c 127.0.0.1 6579 2
            sentinel crash-detection a no
            sentinel crash-detection b YES
            """
        let config = try SentinelConfiguration(parsing: text, file: "s.conf")
        #expect(config.master("a")?.crashDetection == false)
        #expect(config.master("b")?.crashDetection == true)
        #expect(config.master("c")?.crashDetection == nil)
        let lines = config.renderSentinelLines()
        #expect(lines.contains("sentinel crash-detection a no"))
        #expect(lines.contains("sentinel crash-detection b yes"))
        #expect(!lines.contains { $0.hasPrefix("sentinel crash-detection c") })
        let again = try SentinelConfiguration(parsing: lines.joined(separator: "\n") + "\n", file: "rewritten")
        #expect(again.masters == config.masters)
    }

    @Test("sentinel durability <master> async|replicated (Tandem's): read, written back only when replicated, bad values refused")
    func durability() throws {
        let text = """
            sentinel monitor a 127.0.0.1 6379 2
            sentinel monitor b 127.0.0.1 6479 2
            sentinel durability a Replicated
            sentinel durability b async
            """
        let config = try SentinelConfiguration(parsing: text, file: "s.conf")
        #expect(config.master("a")?.replicatedDurability == true)
        #expect(config.master("b")?.replicatedDurability == false)
        let lines = config.renderSentinelLines()
        #expect(lines.contains("sentinel durability a replicated"))
        #expect(!lines.contains { $0.hasPrefix("sentinel durability b") })
        let again = try SentinelConfiguration(parsing: lines.joined(separator: "\n") + "\n", file: "rewritten")
        #expect(again.master("a")?.replicatedDurability == true && again.master("b")?.replicatedDurability == false)
        #expect {
            _ = try SentinelConfiguration(parsing: "sentinel monitor a 127.0.0.1 6379 2\nsentinel durability a sync\n", file: "bad.conf")
        } throws: { "\($0)" == "bad.conf:2: 'sentinel durability a sync': durability must be 'async' or 'replicated'." }
    }

    @Test("TLS switched off (tls-port 0, tls-replication no) and its file paths are accepted; aclfile is read")
    func tlsOffAndACLFile() throws {
        let c = try SentinelConfiguration(parsing: "tls-port 0\ntls-replication no\ntls-cert-file /x.crt\naclfile /etc/users.acl\n", file: "ok.conf")
        #expect(c.aclFile == "/etc/users.acl")
    }

    @Test("invalid files name the file, the line and the directive", arguments: errorCases.indices)
    func errors(index: Int) {
        let (text, line, message) = Self.errorCases[index]
        #expect {
            _ = try SentinelConfiguration(parsing: text, file: "bad.conf")
        } throws: { error in
            guard let e = error as? SentinelConfigError else { return false }
            return e.line == line && e.message == message && e.file == "bad.conf"
                && "\(e)".hasPrefix("bad.conf:\(line): '")
        }
    }

    @Test("rewrite keeps comments and other lines in place and replaces the sentinel lines")
    func rewrite() throws {
        let original = try String(contentsOfFile: Self.seedPath, encoding: .utf8)
        var config = try SentinelConfiguration(parsing: original, file: "seed")
        config.myID = String(repeating: "a", count: 40)
        config.currentEpoch = 7
        config.masters[0].configEpoch = 7
        config.masters[0].host = "192.168.1.21"
        config.masters[0].knownReplicas = [("192.168.1.20", 6379)]
        let rewritten = SentinelConfiguration.rewrite(original, sentinelLines: config.renderSentinelLines())
        let lines = rewritten.split(separator: "\n").map(String.init)
        #expect(lines[0] == "# sentinel.conf from the first seed, in Redis's own syntax")
        #expect(lines[1] == "port 26379")
        #expect(lines.contains("# sentinel notification-script mymaster /var/redis/notify.sh"))
        #expect(lines.contains("sentinel monitor mymaster 192.168.1.21 6379 2"))
        #expect(lines.contains("sentinel known-replica mymaster 192.168.1.20 6379"))
        #expect(lines.contains("sentinel current-epoch 7"))
        #expect(lines.contains("# Generated by CONFIG REWRITE"))
        // Reading the result back gives the same configuration.
        let again = try SentinelConfiguration(parsing: rewritten, file: "rewritten")
        #expect(again.masters == config.masters)
        #expect(again.myID == config.myID && again.currentEpoch == 7)
        // Rewriting again adds only the blank line redis-sentinel leaves at the end (the text after
        // the last newline is a line to it); a third rewrite is the second.
        let second = SentinelConfiguration.rewrite(rewritten, sentinelLines: again.renderSentinelLines())
        #expect(second == rewritten + "\n")
        #expect(SentinelConfiguration.rewrite(second, sentinelLines: again.renderSentinelLines()) == second)
    }

    @Test("every dir is kept in order with its line; scripts are checked only when asked, after dir is applied")
    func directoriesAndScripts() throws {
        let text = "sentinel monitor m 127.0.0.1 6379 2\ndir /tmp\nsentinel notification-script m ../missing.sh\ndir sub\n"
        let config = try SentinelConfiguration(parsing: text, file: "s.conf")
        #expect(config.directoryChanges.map(\.path) == ["/tmp", "sub"] && config.directoryChanges.map(\.line) == [2, 4])
        #expect(config.dir == "sub")
        #expect(config.master("m")?.notificationScript == "../missing.sh")
        #expect(config.directoryChanges[1].error("No such file or directory").description == "s.conf:4: 'dir sub': No such file or directory")
        #expect(throws: SentinelConfigError(file: "s.conf", line: 3, directive: "sentinel notification-script m ../missing.sh",
                                            message: "Notification script seems non existing or non executable.")) {
            try config.checkScripts()
        }
    }

    @Test("the rewrite records the working directory as redis-sentinel does: first dir line in place, later ones dropped, or generated")
    func rewriteDirectory() throws {
        let lines = ["sentinel monitor m 127.0.0.1 6379 2", "sentinel current-epoch 0"]
        let withDirs = SentinelConfiguration.rewrite("# c\ndir ../data\nport 1\ndir x\nsentinel monitor m 127.0.0.1 6379 2\n",
                                                      sentinelLines: lines, directory: "/srv/a b")
        #expect(withDirs == "# c\ndir \"/srv/a b\"\nport 1\nsentinel monitor m 127.0.0.1 6379 2\n\n# Generated by CONFIG REWRITE\nsentinel current-epoch 0\n")
        let without = SentinelConfiguration.rewrite("port 1\nsentinel monitor m 127.0.0.1 6379 2\nsentinel current-epoch 0\n",
                                                     sentinelLines: lines, directory: "/srv")
        #expect(without == "port 1\nsentinel monitor m 127.0.0.1 6379 2\nsentinel current-epoch 0\n\n# Generated by CONFIG REWRITE\ndir \"/srv\"\n")
        // Rewriting again adds only redis-sentinel's blank line at the end; runs of blank lines are one.
        #expect(SentinelConfiguration.rewrite(without, sentinelLines: lines, directory: "/srv") == without + "\n")
        #expect(SentinelConfiguration.rewrite("port 1\n\n\n# c\n", sentinelLines: [], directory: nil) == "port 1\n\n# c\n\n")
        #expect(SentinelConfiguration.rewrite("port 1\n\n", sentinelLines: ["sentinel current-epoch 0"])
                == "port 1\n\n# Generated by CONFIG REWRITE\nsentinel current-epoch 0\n")
    }

    @Test("the file is replaced atomically; an unwritable path is an error naming it")
    func writeFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-conf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sentinel.conf").path
        try ConfigFileWriter.write("port 1\n", to: path)
        try ConfigFileWriter.write("port 2\n", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "port 2\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["sentinel.conf"])
        #expect(throws: ConfigWriteError.self) { try ConfigFileWriter.write("x", to: dir.path + "/missing/dir/s.conf") }
    }
}

@Suite("sentinel.conf: rewrite keeps every line where it was")
struct SentinelRewriteOrderTests {
    @Test("each old sentinel line is replaced by the next new line of the same option; comments stay beside their directive; new lines go after a blank line and the marker")
    func linesStayInPlace() throws {
        let original = """
            # Sentinel for the cache
            port 26379
            # monitoring set
            sentinel monitor mymaster 10.0.0.1 6379 2
            # a master silent this long is down
            sentinel down-after-milliseconds mymaster 5000
            sentinel known-slave mymaster 10.0.0.2 6379

            """
        var config = try SentinelConfiguration(parsing: original, file: "s.conf")
        config.myID = String(repeating: "a", count: 40)
        config.masters[0].failoverTimeout = 20_000
        let rewritten = SentinelConfiguration.rewrite(original, sentinelLines: config.renderSentinelLines())
        #expect(rewritten == """
            # Sentinel for the cache
            port 26379
            # monitoring set
            sentinel monitor mymaster 10.0.0.1 6379 2
            # a master silent this long is down
            sentinel down-after-milliseconds mymaster 5000

            # Generated by CONFIG REWRITE
            sentinel myid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
            sentinel failover-timeout mymaster 20000
            sentinel config-epoch mymaster 0
            sentinel leader-epoch mymaster 0
            sentinel known-replica mymaster 10.0.0.2 6379
            sentinel current-epoch 0

            """)
        // Rewriting the result again adds only the blank line redis-sentinel leaves at the end.
        let again = try SentinelConfiguration(parsing: rewritten, file: "s.conf")
        #expect(SentinelConfiguration.rewrite(rewritten, sentinelLines: again.renderSentinelLines()) == rewritten + "\n")
    }
}
