import Alerts
import Foundation
import Testing
@testable import VRRP

@Suite("Notify and check scripts")
struct ScriptRunnerTests {
    @Test("command lines split into words as keepalived does: blanks separate, quotes group")
    func words() {
        #expect(ScriptRunner.words("pkill -0 -x haproxy") == ["pkill", "-0", "-x", "haproxy"])
        #expect(ScriptRunner.words("/usr/local/redis/sh/redis_check.sh 127.0.0.1  6379") == ["/usr/local/redis/sh/redis_check.sh", "127.0.0.1", "6379"])
        #expect(ScriptRunner.words("/bin/echo 'a b' \"c d\" ''") == ["/bin/echo", "a b", "c d", ""])
        #expect(ScriptRunner.words("   ") == [])
    }

    @Test("programs without a slash are found on PATH")
    func resolve() {
        #expect(ScriptRunner.resolveProgram("sh")?.hasSuffix("/sh") == true)
        #expect(ScriptRunner.resolveProgram("/nonexistent/x") == nil)
        #expect(ScriptRunner.resolveProgram("no-such-program-tandem") == nil)
    }

    @Test("script security: a script or directory writable by a non-root user is insecure; sticky directories are fine")
    func security() throws {
        let root = ScriptUser(name: "root", uid: 0, gid: 0)
        #expect(ScriptRunner.insecurePath("/bin/sh", user: root) == nil)
        guard getuid() == 0 else { return }
        let dir = "/tmp/tandem-script-sec-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let script = dir + "/notify.sh"
        FileManager.default.createFile(atPath: script, contents: Data("#!/bin/sh\n".utf8))
        chmod(script, 0o755)
        // /tmp is sticky and world-writable: allowed.
        #expect(ScriptRunner.insecurePath(script, user: root) == nil)
        chmod(script, 0o777)
        #expect(ScriptRunner.insecurePath(script, user: root) == script)
        chmod(script, 0o755)
        chmod(dir, 0o777)
        #expect(ScriptRunner.insecurePath(script, user: root) == dir)
        chmod(dir, 0o755)
        chown(script, 65534, 65534)
        #expect(ScriptRunner.insecurePath(script, user: root) == script)
        #expect(ScriptRunner.insecurePath(script, user: ScriptUser(name: "nobody", uid: 65534, gid: 65534)) == nil)
    }

    @Test("scripts run, their exit status is reaped, and a hung one is killed at its deadline")
    func runAndReap() throws {
        let runner = ScriptRunner(enableScriptSecurity: false, log: { _ in })
        #expect(runner.start("/bin/true", as: nil, deadline: nil, tag: "ok") != nil)
        #expect(runner.start("/bin/false", as: nil, deadline: nil, tag: "bad") != nil)
        #expect(runner.start("/bin/sleep 30", as: nil, deadline: .zero, tag: "hung") != nil)
        #expect(runner.start("no-such-program-tandem", as: nil, deadline: nil, tag: "missing") == nil)
        var results: [String: Bool] = [:]
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while results.count < 3 && clock.now < deadline {
            for (tag, success) in runner.reap(now: .seconds(1)) { results[tag] = success }
            usleep(10_000)
        }
        #expect(results == ["ok": true, "bad": false, "hung": false])
        #expect(!runner.hasRunning)
    }

    @Test("a script gets none of our descriptors: only stdin, stdout and stderr are open in it")
    func noDescriptorLeak() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-fds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A descriptor of ours without close-on-exec, as a leak would be.
        let held = open(dir.appendingPathComponent("held").path, O_CREAT | O_WRONLY, 0o600)
        defer { close(held) }
        let out = dir.appendingPathComponent("fds").path
        let script = dir.appendingPathComponent("list.sh").path
        // python3 rather than sh: dash keeps descriptors of its own (10, 11) open.
        try "#!/usr/bin/python3\nimport os\nfds = sorted(int(f) for f in os.listdir('/proc/self/fd'))\nopen('\(out).tmp', 'w').write(' '.join(map(str, fds)))\nos.rename('\(out).tmp', '\(out)')\n"
            .write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let runner = ScriptRunner(enableScriptSecurity: false, log: { _ in })
        #expect(runner.start(script, as: nil, deadline: nil, tag: "fds") != nil)
        let deadline = ContinuousClock.now + .seconds(5)
        while !FileManager.default.fileExists(atPath: out) && ContinuousClock.now < deadline { usleep(10_000) }
        _ = runner.reap(now: .seconds(1))
        let fds = try String(contentsOfFile: out, encoding: .utf8).split(separator: " ").compactMap { Int($0) }
        // 0-2, and 3: the directory python lists.
        #expect(fds.filter { $0 > 3 }.isEmpty, "open in the script: \(fds)")
        #expect(!fds.contains(Int(held)) || held <= 3, "our descriptor \(held) leaked: \(fds)")
    }
}

@Suite("smtp_alert message")
struct SMTPAlertTests {
    @Test("subject and body are keepalived's")
    func message() {
        let m = SMTPAlert.message(routerID: "LVS_MASTER", instance: "VI_1", state: "MASTER")
        #expect(m.subject == "[LVS_MASTER] VRRP Instance VI_1 - Entering MASTER state")
        #expect(m.body == "=> VRRP Instance is now owning VRRP VIPs <=")
    }

    @Test("checker alerts: keepalived 2.2.7's subjects and each checker's body")
    func checkerMessages() {
        let down = SMTPAlert.realServerMessage(routerID: "LVS_MASTER", realServer: "192.168.72.128:6379",
                                               virtualServer: "192.168.72.115:6379", up: false, checker: "TCP_CHECK")
        #expect(down.subject == "[LVS_MASTER] Realserver 192.168.72.128:6379 of virtual server 192.168.72.115:6379 - DOWN")
        #expect(down.body == "=> TCP CHECK failed on service <=")
        let up = SMTPAlert.realServerMessage(routerID: "R", realServer: "a", virtualServer: "v", up: true, checker: "TCP_CHECK")
        #expect(up.subject == "[R] Realserver a of virtual server v - UP" && up.body == "=> TCP CHECK succeed on service <=")
        #expect(SMTPAlert.realServerMessage(routerID: "R", realServer: "a", virtualServer: "v", up: true, checker: "HTTP_GET").body
                == "=> CHECK succeed on service <=")
        #expect(SMTPAlert.realServerMessage(routerID: "R", realServer: "a", virtualServer: "v", up: false, checker: "HTTP_GET",
                                            reason: "status code 500").body == "=> CHECK failed on service : status code 500 <=")
        #expect(SMTPAlert.realServerMessage(routerID: "R", realServer: "a", virtualServer: "v", up: false, checker: "MISC_CHECK").body
                == "=> MISC CHECK failed on service <=")
        #expect(SMTPAlert.realServerMessage(routerID: "R", realServer: "a", virtualServer: "v", up: false, checker: "reload").body
                == "=> Removing <=")
        let lost = SMTPAlert.quorumMessage(routerID: "R", virtualServer: "group G", gained: false, quorum: 3, hysteresis: 1, weight: 1)
        #expect(lost.subject == "[R] Virtualserver group G - DOWN" && lost.body == "=> Lost quorum 3+1=2 <= 1 <=")
        let gained = SMTPAlert.quorumMessage(routerID: "R", virtualServer: "v", gained: true, quorum: 3, hysteresis: 1, weight: 4)
        #expect(gained.subject == "[R] Virtualserver v - UP" && gained.body == "=> Gained quorum 3+1=4 <= 4 <=")
    }
}
