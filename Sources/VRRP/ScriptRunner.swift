import KeepalivedConfig
import Spawn

#if canImport(Glibc)
import Glibc
#endif

/// A user and group scripts run as.
public struct ScriptUser: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var uid: uid_t
    public var gid: gid_t

    /// Resolves `user [group]` from /etc/passwd and /etc/group.
    public static func resolve(_ user: String, group: String?) -> ScriptUser? {
        guard let pw = getpwnam(user) else { return nil }
        var gid = pw.pointee.pw_gid
        if let group {
            guard let gr = getgrnam(group) else { return nil }
            gid = gr.pointee.gr_gid
        }
        return ScriptUser(name: user, uid: pw.pointee.pw_uid, gid: gid)
    }

    public var description: String { "\(name) (\(uid):\(gid))" }
}

/// Runs notify and check scripts as keepalived does: the command line split into words (with
/// quotes), the program looked up on PATH, run directly (no shell) as the script user.
public final class ScriptRunner {
    public struct Running {
        public var pid: pid_t
        public var deadline: Duration?
        public var tag: String
    }

    private var running: [pid_t: Running] = [:]
    /// A reload may change it (`enable_script_security`).
    public var enableScriptSecurity: Bool
    private let log: @Sendable (String) -> Void
    private var warnedInsecureRoot = false

    public init(enableScriptSecurity: Bool, log: @escaping @Sendable (String) -> Void) {
        self.enableScriptSecurity = enableScriptSecurity
        self.log = log
    }

    /// Splits a command line into words: blanks separate, '…' and "…" quote.
    public static func words(_ command: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character?
        var inWord = false
        for ch in command {
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
            } else if ch == "\"" || ch == "'" {
                quote = ch
                inWord = true
            } else if ch == " " || ch == "\t" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(ch)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// The program's path: as given when it has a '/', else the first match on PATH.
    public static func resolveProgram(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// keepalived's check_security: the script and every directory above it must be writable
    /// only by root (or the script user); sticky-bit directories are allowed. Returns the
    /// unsafe path, or nil if safe.
    public static func insecurePath(_ program: String, user: ScriptUser) -> String? {
        var path = ""
        let components = program.split(separator: "/")
        var prefixes = ["/"]
        for c in components {
            path += "/" + c
            prefixes.append(path)
        }
        for p in prefixes {
            var st = stat()
            guard stat(p, &st) == 0 else { return p }
            let isDirectory = st.st_mode & S_IFMT == S_IFDIR
            let sticky = st.st_mode & S_ISVTX != 0
            if st.st_uid != 0 && st.st_uid != user.uid { return p }
            if st.st_mode & (S_IWGRP | S_IWOTH) != 0 && !(isDirectory && sticky) { return p }
        }
        return nil
    }

    /// Starts a command; nil if it cannot run (not found, insecure). `deadline`: when to kill it.
    @discardableResult
    public func start(_ command: String, extraArguments: [String] = [], as user: ScriptUser?, deadline: Duration?, tag: String) -> pid_t? {
        var argv = ScriptRunner.words(command) + extraArguments
        guard let name = argv.first, let program = ScriptRunner.resolveProgram(name) else {
            log("cannot run \(tag) '\(command)': program not found or not executable")
            return nil
        }
        let effective = user ?? ScriptUser(name: "root", uid: 0, gid: 0)
        if let unsafe = ScriptRunner.insecurePath(program, user: effective) {
            if enableScriptSecurity {
                log("SECURITY VIOLATION - \(tag) '\(command)': \(unsafe) is writable by a non-root user; not run")
                return nil
            } else if !warnedInsecureRoot {
                warnedInsecureRoot = true
                log("SECURITY VIOLATION - scripts are being executed but script_security not enabled (\(unsafe) is writable by a non-root user)")
            }
        }
        argv[0] = program
        let pid: pid_t
        do {
            pid = try spawnProcess(program, arguments: argv, options: ScriptRunner.options(as: user))
        } catch {
            log("cannot run \(tag) '\(command)': \(String(cString: strerror(error.code)))")
            return nil
        }
        running[pid] = Running(pid: pid, deadline: deadline, tag: tag)
        return pid
    }

    /// As keepalived runs them: stdin from /dev/null, a session of their own, no descriptor of
    /// ours (raw socket, netlink socket, pipe), as the script user when there is one.
    static func options(as user: ScriptUser?) -> SpawnOptions {
        var options = SpawnOptions()
        options.standardInput = .devNull
        options.grouping = .newSession
        options.closeOtherDescriptors = true
        options.user = user.map { SpawnUser(name: $0.name, uid: $0.uid, gid: $0.gid) }
        return options
    }

    /// Whether any child is still running (the caller then polls more often).
    public var hasRunning: Bool { !running.isEmpty }

    /// The earliest kill deadline of a running script.
    public var nextDeadline: Duration? { running.values.compactMap(\.deadline).min() }

    /// Reaps finished children and kills those past their deadline. Returns (tag, success).
    public func reap(now: Duration) -> [(tag: String, success: Bool)] {
        var done: [(String, Bool)] = []
        for (pid, child) in running {
            var status: Int32 = 0
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid {
                running[pid] = nil
                done.append((child.tag, ChildExit(waitStatus: status).succeeded))
            } else if rc < 0 {
                running[pid] = nil
                done.append((child.tag, false))
            } else if let deadline = child.deadline, now >= deadline {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                running[pid] = nil
                log("\(child.tag) timed out; killed")
                done.append((child.tag, false))
            }
        }
        return done
    }

    /// Whether a script with this tag is still running (checks do not overlap).
    public func isRunning(tag: String) -> Bool { running.values.contains { $0.tag == tag } }
}
