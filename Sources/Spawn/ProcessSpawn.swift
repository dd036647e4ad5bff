import CSpawn

#if canImport(Glibc)
import Glibc
#endif

/// How a child is started: what it inherits, where it runs, as whom.
public struct SpawnOptions: Sendable {
    /// What one of the child's descriptors 0–2 is.
    public enum Standard: Sendable, Hashable {
        case inherit
        case devNull
        /// This descriptor of ours (dup2'd onto it; the original may be close-on-exec).
        case descriptor(Int32)
    }

    /// Which process group and session the child is in.
    public enum Grouping: Sendable, Hashable {
        /// Ours.
        case inherit
        /// A group of its own (pgid = pid): a Ctrl-C at our terminal does not reach it.
        case ownProcessGroup
        /// A new session (setsid): no controlling terminal.
        case newSession
    }

    public var standardInput = Standard.inherit
    public var standardOutput = Standard.inherit
    public var standardError = Standard.inherit
    /// Closes every descriptor above 2 in the child itself, so that one opened by another thread
    /// just before the spawn cannot leak into it either.
    public var closeOtherDescriptors = false
    public var grouping = Grouping.inherit
    /// Signals reset to their default action in the child: an ignored signal stays ignored
    /// across exec otherwise.
    public var defaultSignals: [Int32] = []
    /// Starts the child with no signal blocked (else it inherits the spawning thread's mask).
    public var unblockSignals = false
    /// `NAME=value` entries; nil: ours.
    public var environment: [String]?
    /// Runs the child as this user (forked, then exec'd: posix_spawn cannot change the user).
    public var user: SpawnUser?

    public init() {}
}

/// A user and group to run a child as.
public struct SpawnUser: Sendable, Hashable {
    /// The name the supplementary groups are looked up under (none if nil).
    public var name: String?
    public var uid: uid_t
    public var gid: gid_t

    public init(name: String?, uid: uid_t, gid: gid_t) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }
}

/// A program that could not be started: which, and why.
public struct SpawnError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The path given to `spawnProcess`.
    public var program: String
    /// The errno of the step that failed (the exec's when the program is missing).
    public var code: Int32

    public init(program: String, code: Int32) {
        self.program = program
        self.code = code
    }

    public var description: String { "cannot start \(program): \(String(cString: strerror(code)))" }
}

/// Starts `program` with `arguments` (argv, its first element included) and returns its pid;
/// the caller reaps it. Throws when it could not be started, the exec included: a missing or
/// non-executable program is an error here, not a child that exits 127.
public func spawnProcess(_ program: String, arguments: [String], options: SpawnOptions = SpawnOptions()) throws(SpawnError) -> pid_t {
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var ownEnvironment: [UnsafeMutablePointer<CChar>?] = (options.environment ?? []).map { strdup($0) } + [nil]
    defer { for p in ownEnvironment { free(p) } }
    let result: Int32 = ownEnvironment.withUnsafeMutableBufferPointer { env in
        let envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = options.environment == nil ? environ : env.baseAddress!
        if let user = options.user {
            return forkExec(program, &argv, envp, options, user: user)
        }
        return posixSpawn(program, &argv, envp, options)
    }
    guard result > 0 else { throw SpawnError(program: program, code: -result) }
    return result
}

/// posix_spawn with `options` as file actions and attributes. The pid, or -errno.
private func posixSpawn(_ program: String, _ argv: inout [UnsafeMutablePointer<CChar>?],
                        _ envp: UnsafePointer<UnsafeMutablePointer<CChar>?>, _ options: SpawnOptions) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for (fd, standard) in [options.standardInput, options.standardOutput, options.standardError].enumerated() {
        switch standard {
        case .inherit: break
        case .devNull:
            _ = "/dev/null".withCString { posix_spawn_file_actions_addopen(&actions, Int32(fd), $0, fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        case .descriptor(let source):
            let rc = posix_spawn_file_actions_adddup2(&actions, source, Int32(fd))
            guard rc == 0 else { return -rc }
        }
    }
    if options.closeOtherDescriptors {
        let rc = cspawn_addclosefrom(&actions, 3)
        guard rc == 0 else { return -rc }
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var flags: Int16 = 0
    switch options.grouping {
    case .inherit: break
    case .ownProcessGroup:
        posix_spawnattr_setpgroup(&attributes, 0)
        flags |= cspawn_flag_setpgroup
    case .newSession:
        flags |= cspawn_flag_setsid
    }
    if !options.defaultSignals.isEmpty {
        var defaults = signalSet(options.defaultSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        flags |= cspawn_flag_setsigdef
    }
    if options.unblockSignals {
        var mask = signalSet([])
        posix_spawnattr_setsigmask(&attributes, &mask)
        flags |= cspawn_flag_setsigmask
    }
    posix_spawnattr_setflags(&attributes, flags)
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, program, &actions, &attributes, &argv, envp)
    return rc == 0 ? pid : -rc
}

/// fork, the same set-up in the child, then the user change and exec (in C). The pid, or -errno.
private func forkExec(_ program: String, _ argv: inout [UnsafeMutablePointer<CChar>?],
                      _ envp: UnsafePointer<UnsafeMutablePointer<CChar>?>, _ options: SpawnOptions, user: SpawnUser) -> pid_t {
    var defaults = signalSet(options.defaultSignals)
    var mask = signalSet([])
    var o = cspawn_fork_options()
    o.null_stdio = (options.standardInput == .devNull ? 1 : 0, options.standardOutput == .devNull ? 1 : 0,
                    options.standardError == .devNull ? 1 : 0)
    func dup(_ standard: SpawnOptions.Standard) -> Int32 {
        if case .descriptor(let source) = standard { return source }
        return -1
    }
    o.dup_stdio = (dup(options.standardInput), dup(options.standardOutput), dup(options.standardError))
    o.close_from = options.closeOtherDescriptors ? 3 : -1
    o.grouping = switch options.grouping {
    case .inherit: 0
    case .ownProcessGroup: 1
    case .newSession: 2
    }
    o.uid = Int32(bitPattern: user.uid)
    o.gid = Int32(bitPattern: user.gid)
    return withUnsafePointer(to: &defaults) { defaultsPointer in
        withUnsafePointer(to: &mask) { maskPointer in
            o.default_signals = options.defaultSignals.isEmpty ? nil : defaultsPointer
            o.mask = options.unblockSignals ? maskPointer : nil
            return withOptionalCString(user.name) { name in
                o.username = name
                return cspawn_fork_exec(program, &argv, envp, &o)
            }
        }
    }
}

private func signalSet(_ signals: [Int32]) -> sigset_t {
    var set = sigset_t()
    sigemptyset(&set)
    for s in signals { sigaddset(&set, s) }
    return set
}

private func withOptionalCString<T>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

/// How a child ended, from waitpid's status.
public enum ChildExit: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    /// Decodes a status waitpid filled in (WIFEXITED / WEXITSTATUS / WTERMSIG).
    public init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    /// Exited with status 0.
    public var succeeded: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signalled(let signal): "killed by signal \(signal)"
        }
    }
}
