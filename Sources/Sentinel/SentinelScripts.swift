import CSpawn
#if canImport(Glibc)
import Glibc
#endif
import Logging
import RESP
import SentinelConfig
import SentinelCore

/// The shell of `ScriptQueue`: starts scripts with posix_spawn (no descriptor but 0–2 is
/// inherited), reaps them, kills the ones over their time. Called on every timer tick.
extension SentinelRuntime {
    /// Queues the master's notification script, if it has one (the core says which events).
    func scheduleNotification(master name: String, _ event: SentinelEvent) {
        guard let script = configuration.master(name)?.notificationScript else { return }
        scripts.schedule([script, event.type, event.payload])
    }

    /// Queues `client-reconfig-script <master> <role> <state> <from-ip> <from-port> <to-ip> <to-port>`.
    func scheduleReconfig(master: String, role: String, state: String, from: InstanceAddress, to: InstanceAddress) {
        guard let script = configuration.master(master)?.clientReconfigScript else { return }
        scripts.schedule([script, master, role, state, from.ip, String(from.port), to.ip, String(to.port)])
    }

    func runScripts() {
        guard !scripts.jobs.isEmpty else { return }
        let t = now
        for job in scripts.jobs where job.isRunning && job.pid != 0 {
            var status: Int32 = 0
            guard waitpid(job.pid, &status, WNOHANG) == job.pid else { continue }
            let signal = status & 0x7f
            let how: ScriptQueue.Termination = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
            logger.debug("-script-child \(job.argv[0]) \(job.pid) \(how)")
            if let event = scripts.terminated(pid: job.pid, how, now: t) { publishScriptEvent(event) }
        }
        for (job, event) in scripts.timedOut(now: t) {
            kill(job.pid, SIGKILL)
            publishScriptEvent(event)
        }
        for job in scripts.due(now: t) {
            if let pid = spawn(job.argv) {
                scripts.started(job.id, pid: pid)
                logger.debug("+script-child \(pid)")
            } else if let event = scripts.startFailed(job.id, now: t) {
                publishScriptEvent(event)
            }
        }
    }

    private func publishScriptEvent(_ event: SentinelEvent) {
        logger.warning("\(event.type) \(event.payload)")
        hub.publish(channel: event.type, message: event.payload)
    }

    /// posix_spawn with every descriptor above 2 closed in the child.
    nonisolated func spawn(_ argv: [String]) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Every descriptor above 2 is closed in the child, however recently it was opened
        // (listing them first let a socket opened meanwhile by another thread leak).
        if cspawn_addclosefrom(&actions, 3) != 0 {
            for fd in openDescriptors() where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ)
        return rc == 0 ? pid : nil
    }

}

/// The process's open descriptors, from /proc/self/fd.
func openDescriptors() -> [Int32] {
        guard let dir = opendir("/proc/self/fd") else { return [] }
        defer { closedir(dir) }
        let own = dirfd(dir)
        var fds: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let fd = Int32(name), fd != own { fds.append(fd) }
        }
        return fds
}

extension SentinelRuntime {
    /// SENTINEL PENDING-SCRIPTS entries.
    func pendingScripts() -> [RESPValue] {
        let t = now
        return scripts.jobs.map { job in
            var pairs = [
                RESPPair(key: .bulkString("argv"), value: .array(job.argv.map { .bulkString($0) })),
                RESPPair(key: .bulkString("flags"), value: .bulkString(job.isRunning ? "running" : "scheduled")),
                RESPPair(key: .bulkString("pid"), value: .bulkString(String(job.pid))),
            ]
            if job.isRunning {
                pairs.append(RESPPair(key: .bulkString("run-time"), value: .bulkString(String(t - job.startTime))))
            } else {
                let delay = job.startTime == 0 ? 0 : max(0, job.startTime - t)
                pairs.append(RESPPair(key: .bulkString("run-delay"), value: .bulkString(String(delay))))
            }
            pairs.append(RESPPair(key: .bulkString("retry-num"), value: .bulkString(String(job.retryNumber))))
            return .map(pairs)
        }
    }

    /// Scripts running and queued (INFO's sentinel section).
    func scriptCounts() -> (running: Int, queued: Int) { (scripts.runningCount, scripts.jobs.count) }
}
