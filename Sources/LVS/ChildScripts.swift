import NIOCore
import Spawn
import VRRP

#if canImport(Glibc)
import Glibc
#endif

/// MISC_CHECK programs and notify scripts, run as keepalived runs them (the command line split
/// into words, no shell, stdin /dev/null, a session of their own, as the script user) and
/// reaped on the event loop (touched only there, hence @unchecked Sendable): a child is polled with waitpid(WNOHANG) every 20 ms while any
/// runs, and killed (its whole session) at its deadline.
final class ChildScripts: @unchecked Sendable {
    private struct Running {
        var deadline: NIODeadline?
        var finished: (ChildExit?) -> Void
    }

    private let loop: any EventLoop
    private let enableScriptSecurity: Bool
    private let log: @Sendable (String) -> Void
    private var running: [pid_t: Running] = [:]
    private var poll: Scheduled<Void>?
    private var warnedInsecure = false

    init(loop: any EventLoop, enableScriptSecurity: Bool, log: @escaping @Sendable (String) -> Void) {
        self.loop = loop
        self.enableScriptSecurity = enableScriptSecurity
        self.log = log
    }

    /// Starts `command`; `finished` gets its exit (nil: killed at the deadline, or it could not
    /// start — then it is called at once).
    func run(_ command: String, as user: ScriptUser?, timeout: TimeAmount?, tag: String, finished: @escaping (ChildExit?) -> Void) {
        var argv = ScriptRunner.words(command)
        guard let name = argv.first, let program = ScriptRunner.resolveProgram(name) else {
            log("cannot run \(tag) '\(command)': program not found or not executable")
            finished(nil)
            return
        }
        if let effective = user ?? ScriptUser.resolve("root", group: nil),
           let unsafe = ScriptRunner.insecurePath(program, user: effective) {
            if enableScriptSecurity {
                log("SECURITY VIOLATION - \(tag) '\(command)': \(unsafe) is writable by a non-root user; not run")
                finished(nil)
                return
            } else if !warnedInsecure {
                warnedInsecure = true
                log("SECURITY VIOLATION - scripts are being executed but script_security not enabled (\(unsafe) is writable by a non-root user)")
            }
        }
        argv[0] = program
        var options = SpawnOptions()
        options.standardInput = .devNull
        options.grouping = .newSession
        options.closeOtherDescriptors = true
        options.user = user.map { SpawnUser(name: $0.name, uid: $0.uid, gid: $0.gid) }
        let pid: pid_t
        do {
            pid = try spawnProcess(program, arguments: argv, options: options)
        } catch {
            log("cannot run \(tag) '\(command)': \(error)")
            finished(nil)
            return
        }
        running[pid] = Running(deadline: timeout.map { .now() + $0 }, finished: finished)
        schedulePoll()
    }

    /// Fire and forget (notify scripts): reaped, never waited for.
    func notify(_ command: String, as user: ScriptUser?, tag: String) {
        run(command, as: user, timeout: nil, tag: tag) { _ in }
    }

    private func schedulePoll() {
        guard poll == nil else { return }
        poll = loop.scheduleTask(in: .milliseconds(20)) { [self] in
            poll = nil
            reap()
            if !running.isEmpty { schedulePoll() }
        }
    }

    private func reap() {
        let now = NIODeadline.now()
        for (pid, child) in running {
            var status: Int32 = 0
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid {
                running[pid] = nil
                child.finished(ChildExit(waitStatus: status))
            } else if rc < 0 {
                running[pid] = nil
                child.finished(nil)
            } else if let deadline = child.deadline, now >= deadline {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                running[pid] = nil
                child.finished(nil)
            }
        }
    }

    /// Whether a child is still running.
    var isRunning: Bool { !running.isEmpty }

    /// Kills every child still running (shutdown).
    func killAll() {
        for pid in running.keys {
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        running = [:]
        poll?.cancel()
        poll = nil
    }
}
