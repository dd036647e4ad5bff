import KeepalivedConfig
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// keepalived's notify FIFOs: every instance and sync group state change is written as a line
/// (`INSTANCE "VI_1" MASTER 100`, `GROUP "G" MASTER 0`) to `notify_fifo` and `vrrp_notify_fifo`.
extension VRRPDaemon {
    /// Creates a missing FIFO (0600, as keepalived), opens each for writing without waiting for
    /// a reader, and starts its script with the FIFO's path as the last argument.
    func openNotifyFIFOs() {
        for fifo in configuration.global.notifyFIFOs {
            var st = stat()
            if stat(fifo.path, &st) != 0 {
                guard mkfifo(fifo.path, 0o600) == 0 else {
                    log("\(fifo.location): cannot create notify FIFO \(fifo.path): \(String(cString: strerror(errno)))")
                    continue
                }
            } else if st.st_mode & S_IFMT != S_IFIFO {
                log("\(fifo.location): notify FIFO \(fifo.path) exists and is not a FIFO; not used")
                continue
            }
            // O_RDWR: the open never waits for a reader and writes never raise SIGPIPE.
            let fd = open(fifo.path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else {
                log("\(fifo.location): cannot open notify FIFO \(fifo.path): \(String(cString: strerror(errno)))")
                continue
            }
            fifos.append((fifo.path, fd))
            if let script = fifo.script {
                let user = script.user.flatMap { ScriptUser.resolve($0.user, group: $0.group) } ?? defaultScriptUser
                if let pid = runner.start(script.command, extraArguments: [fifo.path], as: user, deadline: nil, tag: "notify_fifo_script") {
                    fifoScripts.append(pid)
                }
            }
        }
    }

    func writeFIFOs(_ line: String) {
        for fifo in fifos {
            let written = line.withCString { Glibc.write(fifo.fd, $0, strlen($0)) }
            if written < 0 { log("notify FIFO \(fifo.path): line dropped: \(String(cString: strerror(errno)))") }
        }
    }

    /// At exit: once their scripts have read the last lines (the STOPs; at most a second), the
    /// scripts are sent SIGTERM (as keepalived does) and the FIFOs closed.
    func stopNotifyFIFOs() {
        if !fifoScripts.isEmpty {
            // Our own read-write descriptor polls readable while unread bytes remain in the pipe.
            for _ in 0..<100 {
                var fds = fifos.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
                guard poll(&fds, nfds_t(fds.count), 0) > 0 else { break }
                usleep(10_000)
            }
        }
        for pid in fifoScripts { kill(pid, SIGTERM) }
        for fifo in fifos { close(fifo.fd) }
        fifos = []
    }
}
