import Foundation
import Spawn
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `redis.supervise`'s process handling: starts redis-server as a child, reports its exit,
/// stops it. It decides nothing: `RedisSupervision` (NodeCore) says when and as what.
final class SupervisedRedis: Sendable {
    let server: String
    let configFile: String
    let port: Int
    private let child = Mutex<pid_t?>(nil)

    init(server: String, configFile: String, port: Int) {
        self.server = server
        self.configFile = configFile
        self.port = port
    }

    /// The command line for a start: `replicaOf` a `host:port`, "" for a master (`--replicaof no
    /// one`, over whatever its file says), nil to leave the file's role as it is.
    func arguments(replicaOf: String?) -> [String] {
        var argv = [server, configFile, "--port", String(port), "--daemonize", "no"]
        switch replicaOf {
        case .none: break
        case .some(""): argv += ["--replicaof", "no", "one"]
        case .some(let master):
            let (host, port) = splitHostPort(master)
            argv += ["--replicaof", host, String(port)]
        }
        return argv
    }

    var isRunning: Bool { child.withLock { $0 != nil } }

    /// Starts the server; `onExit` runs (on a thread of its own) when it exits, with a
    /// description of how. Throws when it cannot be started at all.
    func start(replicaOf: String?, onExit: @escaping @Sendable (String) -> Void) throws {
        let argv = arguments(replicaOf: replicaOf)
        // Its own process group (a Ctrl-C at the agent's terminal is the agent's to handle: it
        // stops the server last, in order), default dispositions for the signals the agent
        // catches or ignores (ignored ones would be inherited), and nothing blocked.
        var options = SpawnOptions()
        options.standardInput = .devNull
        options.grouping = .ownProcessGroup
        options.defaultSignals = [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT]
        options.unblockSignals = true
        let pid: pid_t
        do {
            pid = try spawnProcess(server, arguments: argv, options: options)
        } catch {
            throw NodeStartError(error.description)
        }
        child.withLock { $0 = pid }
        let thread = Thread { [self, pid] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            self.child.withLock { if $0 == pid { $0 = nil } }
            let how: String
            if status & 0x7f == 0 {
                how = "exited with status \((status >> 8) & 0xff)"
            } else {
                how = "killed by signal \(status & 0x7f)"
            }
            onExit("redis-server (pid \(pid)) \(how)")
        }
        thread.name = "tandem-redis-wait"
        thread.start()
    }

    /// SIGTERM (Redis saves and exits), then SIGKILL after `grace` milliseconds.
    func stop(grace: Int64 = 10_000) async {
        guard let pid = child.withLock({ $0 }) else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .milliseconds(grace)
        while isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if isRunning { kill(pid, SIGKILL) }
        while isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }
}
