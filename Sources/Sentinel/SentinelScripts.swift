#if canImport(Glibc)
import Glibc
#endif
import Logging
import RESP
import SentinelConfig
import SentinelCore
import Spawn

/// The shell of `ScriptQueue`: starts scripts with `spawnProcess` (no descriptor but 0–2 is
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
            let how: ScriptQueue.Termination = switch ChildExit(waitStatus: status) {
            case .exited(let code): .exited(code)
            case .signalled(let signal): .signalled(signal)
            }
            logger.debug("-script-child \(job.argv[0]) \(job.pid) \(how)")
            if let event = scripts.terminated(pid: job.pid, how, now: t) { publishScriptEvent(event) }
        }
        for (job, event) in scripts.timedOut(now: t) {
            kill(job.pid, SIGKILL)
            publishScriptEvent(event)
        }
        for job in scripts.due(now: t) {
            do {
                let pid = try spawnProcess(job.argv[0], arguments: job.argv, options: Self.scriptOptions)
                scripts.started(job.id, pid: pid)
                logger.debug("+script-child \(pid)")
            } catch {
                logger.debug("\(error)")
                if let event = scripts.startFailed(job.id, now: t) { publishScriptEvent(event) }
            }
        }
    }

    private func publishScriptEvent(_ event: SentinelEvent) {
        logger.warning("\(event.type) \(event.payload)", metadata: event.logMetadata)
        hub.publish(channel: event.type, message: event.payload)
    }

    /// Scripts inherit no descriptor but 0–2.
    static let scriptOptions = {
        var options = SpawnOptions()
        options.closeOtherDescriptors = true
        return options
    }()
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
