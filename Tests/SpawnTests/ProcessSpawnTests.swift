import Spawn
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Waits for the child and decodes how it ended.
private func reap(_ pid: pid_t) -> ChildExit {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return ChildExit(waitStatus: status)
}

/// `sh -c script` with `options`; how it ended.
private func runShell(_ script: String, _ options: SpawnOptions = SpawnOptions()) throws -> ChildExit {
    reap(try spawnProcess("/bin/sh", arguments: ["sh", "-c", script], options: options))
}

@Suite struct ProcessSpawnTests {
    @Test func exitStatusComesBack() throws {
        #expect(try runShell("exit 3") == .exited(3))
        #expect(reap(try spawnProcess("/bin/true", arguments: ["true"])).succeeded)
    }

    @Test func signalIsReported() throws {
        #expect(try runShell("kill -9 $$") == .signalled(SIGKILL))
        #expect(ChildExit.signalled(SIGKILL).description == "killed by signal 9")
    }

    @Test func missingProgramIsAnErrorNamingIt() {
        #expect(throws: SpawnError(program: "/nonexistent/tandem-test", code: ENOENT)) {
            try spawnProcess("/nonexistent/tandem-test", arguments: ["x"])
        }
        let error = SpawnError(program: "/nonexistent/tandem-test", code: ENOENT)
        #expect(error.description == "cannot start /nonexistent/tandem-test: No such file or directory")
    }

    @Test func ownProcessGroup() throws {
        var options = SpawnOptions()
        options.grouping = .ownProcessGroup
        let pid = try spawnProcess("/bin/sleep", arguments: ["sleep", "10"], options: options)
        #expect(getpgid(pid) == pid)
        #expect(getsid(pid) == getsid(0))
        kill(pid, SIGKILL)
        _ = reap(pid)
    }

    @Test func newSession() throws {
        var options = SpawnOptions()
        options.grouping = .newSession
        let pid = try spawnProcess("/bin/sleep", arguments: ["sleep", "10"], options: options)
        #expect(getsid(pid) == pid)
        kill(pid, SIGKILL)
        _ = reap(pid)
    }

    @Test func otherDescriptorsClosed() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)  // not close-on-exec
        defer { close(fds[0]); close(fds[1]) }
        let check = "[ ! -e /proc/$$/fd/\(fds[1]) ]"
        #expect(try runShell(check) == .exited(1))  // inherited by default
        var options = SpawnOptions()
        options.closeOtherDescriptors = true
        #expect(try runShell(check, options) == .exited(0))
    }

    @Test func standardInputFromDevNull() throws {
        var options = SpawnOptions()
        options.standardInput = .devNull
        #expect(try runShell("[ \"$(readlink /proc/$$/fd/0)\" = /dev/null ]", options) == .exited(0))
    }

    @Test func environmentGiven() throws {
        var options = SpawnOptions()
        options.environment = ["TANDEM_SPAWN_TEST=1"]
        #expect(try runShell("[ \"$TANDEM_SPAWN_TEST\" = 1 ] && [ -z \"$HOME\" ]", options) == .exited(0))
    }

    @Test func defaultSignalsAndMask() throws {
        // An ignored SIGTERM is inherited across exec unless reset.
        let previous = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, previous) }
        #expect(try runShell("kill -TERM $$; exit 0") == .exited(0))
        var options = SpawnOptions()
        options.defaultSignals = [SIGTERM]
        options.unblockSignals = true
        #expect(try runShell("kill -TERM $$; exit 0", options) == .signalled(SIGTERM))
    }

    @Test(.enabled(if: getuid() == 0, "changing user needs root"))
    func runsAsAnotherUser() throws {
        var options = SpawnOptions()
        options.user = SpawnUser(name: "nobody", uid: 65534, gid: 65534)
        options.standardInput = .devNull
        options.grouping = .newSession
        options.closeOtherDescriptors = true
        #expect(try runShell("[ $(id -u) = 65534 ] && [ $(id -g) = 65534 ]", options) == .exited(0))
        #expect(throws: SpawnError(program: "/nonexistent/tandem-test", code: ENOENT)) {
            try spawnProcess("/nonexistent/tandem-test", arguments: ["x"], options: options)
        }
    }

    /// A descriptor of ours as the child's standard input: what we write, it reads; our
    /// close-on-exec end is not inherited, so our closing it is its end of file. Both spawn
    /// paths (posix_spawn, and fork+exec for a user change).
    @Test(arguments: [false, true])
    func descriptorAsStandardInput(asUser: Bool) throws {
        if asUser && getuid() != 0 { return }
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
        var options = SpawnOptions()
        options.standardInput = .descriptor(pair[1])
        options.closeOtherDescriptors = true
        if asUser { options.user = SpawnUser(name: "root", uid: 0, gid: 0) }
        // Exits 0 only if it read exactly "hello" and then end of file.
        let pid = try spawnProcess("/bin/sh", arguments: ["sh", "-c", "[ \"$(cat)\" = hello ]"], options: options)
        close(pair[1])
        let sent = Array("hello".utf8).withUnsafeBytes { send(pair[0], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        #expect(sent == 5)
        close(pair[0])
        #expect(reap(pid) == .exited(0))
    }
}
