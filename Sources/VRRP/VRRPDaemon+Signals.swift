import KeepalivedConfig
import Synchronization
import VRRPCore

#if canImport(Glibc)
import Glibc
#endif

/// Write end of the self-pipe the signal handler pokes.
nonisolated(unsafe) var signalPipeWrite: Int32 = -1
/// The last termination signal received.
nonisolated(unsafe) var receivedSignal: Int32 = 0
/// Set by SIGHUP (when the embedder asked for reloads), cleared by the loop.
nonisolated(unsafe) var reloadRequested: Int32 = 0

extension VRRPDaemon {
    // MARK: signals

    func installSignalHandlers() {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        signalPipeRead = fds[0]
        signalPipeWrite = fds[1]
        for sig in [SIGTERM, SIGINT] {
            signal(sig) { number in
                receivedSignal = number
                var byte: UInt8 = 1
                _ = write(signalPipeWrite, &byte, 1)
            }
        }
        signal(SIGPIPE, SIG_IGN)
        if onReload != nil {
            // keepalived reloads on SIGHUP: the embedder re-reads its file.
            signal(SIGHUP) { _ in
                reloadRequested = 1
                var byte: UInt8 = 1
                _ = write(signalPipeWrite, &byte, 1)
            }
        } else {
            // Nothing to reload here; a stray SIGHUP must not stop the daemon.
            signal(SIGHUP, SIG_IGN)
        }
    }
}

/// The embedding program's commands, handed over under a lock; a pipe wakes the poll loop.
final class DaemonControl: Sendable {
    let wakeRead: Int32
    let wakeWrite: Int32
    let queue = Mutex<[VRRPDaemon.Control]>([])
    let states = Mutex<[VRRPState]>([])
    let transitions = Mutex<[Int]>([])
    let holderAdverts = Mutex<Int>(0)
    /// Each instance's name and addresses, for other threads (a reload changes them).
    let instances = Mutex<[(name: String, addresses: [VirtualAddress])]>([])

    init() {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    func post(_ command: VRRPDaemon.Control) {
        queue.withLock { $0.append(command) }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    func take() -> [VRRPDaemon.Control] {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
        return queue.withLock { let taken = $0; $0 = []; return taken }
    }
}

/// A NUL-terminated C buffer as a String.
func cString(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
