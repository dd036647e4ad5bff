import KeepalivedConfig
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// keepalived's notify FIFOs: every instance and sync group state change is written as a line
/// (`INSTANCE "VI_1" MASTER 100`, `GROUP "G" MASTER 0`) to `notify_fifo` and `vrrp_notify_fifo`.
extension VRRPDaemon {
    /// Creates a missing FIFO (0600, owned as configured: `NotifyFIFOFile`), opens each for
    /// writing without waiting for a reader, and starts its script with the FIFO's path as the
    /// last argument. A FIFO whose USER or GROUP does not exist is not used (keepalived 2.2.7:
    /// `Invalid user/group for … fifo - ignoring`).
    func openNotifyFIFOs() {
        for fifo in configuration.global.notifyFIFOs {
            var owner = defaultScriptUser
            if let wanted = fifo.owner {
                guard let user = ScriptUser.resolve(wanted.user, group: wanted.group) else {
                    log("\(fifo.location): notify FIFO \(fifo.path): no user '\(wanted.user)'\(wanted.group.map { " or no group '\($0)'" } ?? ""); not used")
                    continue
                }
                owner = user
            }
            let opened: NotifyFIFOFile.Opened
            do {
                opened = try NotifyFIFOFile.open(fifo.path, owner: owner, createdEarlier: createdFIFOs.contains(fifo.path),
                                                 log: { [location = fifo.location] in self.log("\(location): \($0)") })
            } catch {
                log("\(fifo.location): \(error)")
                continue
            }
            if opened.created { createdFIFOs.insert(fifo.path) }
            fifos.append((fifo.path, opened.fd))
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

/// A notify FIFO's file, as keepalived 2.2.7 treats it (compared in the namespace lab): a missing
/// one is created mode 0600 and given to its owner (`notify_fifo PATH USER [GROUP]`, else the
/// default script user; root when neither); one that was there keeps its owner and mode — unless
/// this run created it (a reload that changed the owner). A chown that fails is logged and the
/// FIFO used anyway, as keepalived does. Opened read-write: the open never waits for a reader
/// and a write never raises SIGPIPE.
enum NotifyFIFOFile {
    struct Opened {
        var fd: Int32
        /// Created by this call.
        var created: Bool
    }

    struct OpenError: Error, CustomStringConvertible {
        var description: String
    }

    static func open(_ path: String, owner: ScriptUser?, createdEarlier: Bool, log: (String) -> Void) throws -> Opened {
        var st = stat()
        var created = false
        if stat(path, &st) != 0 {
            guard mkfifo(path, 0o600) == 0 else {
                throw OpenError(description: "cannot create notify FIFO \(path): \(String(cString: strerror(errno)))")
            }
            created = true
        } else if st.st_mode & S_IFMT != S_IFIFO {
            throw OpenError(description: "notify FIFO \(path) exists and is not a FIFO; not used")
        }
        let fd = Glibc.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            if created { unlink(path) }
            throw OpenError(description: "cannot open notify FIFO \(path): \(reason)")
        }
        if let owner, created || createdEarlier {
            var now = stat()
            if fstat(fd, &now) == 0, now.st_uid != owner.uid || now.st_gid != owner.gid, fchown(fd, owner.uid, owner.gid) != 0 {
                log("notify FIFO \(path): cannot give it to \(owner): \(String(cString: strerror(errno)))")
            }
        }
        return Opened(fd: fd, created: created)
    }
}
