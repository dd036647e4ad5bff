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
}

@Suite("smtp_alert message")
struct SMTPAlertTests {
    @Test("subject and body are keepalived's")
    func message() {
        let m = SMTPAlert.message(routerID: "LVS_MASTER", instance: "VI_1", state: "MASTER")
        #expect(m.subject == "[LVS_MASTER] VRRP Instance VI_1 - Entering MASTER state")
        #expect(m.body == "=> VRRP Instance is now owning VRRP VIPs <=")
    }
}
