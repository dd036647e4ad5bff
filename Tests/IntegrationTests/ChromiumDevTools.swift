import Foundation
import RedisTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A headless chromium kept running and driven over the DevTools protocol on its pipe
/// (`--remote-debugging-pipe`: chromium reads JSON messages, each ended by a NUL, on its fd 3
/// and writes its own on fd 4; here two FIFOs). A page opened in it is loaded once and stays:
/// what it shows later is what its own script drew since, so a test can tell a page that
/// redraws itself from one that was reloaded. Stopped by its PID. One test task uses it at a
/// time (unchecked Sendable: the test's wait closures capture it).
final class DevToolsBrowser: @unchecked Sendable {
    let child: ChildProcess
    private let toBrowser: Int32
    private let fromBrowser: Int32
    private var nextID = 1
    private var pending: [UInt8] = []
    private let errorLog: URL

    /// A page opened with `open`: its DevTools session.
    struct Page {
        let targetID: String
        let session: String
    }

    init(binary: String, directory: URL) throws {
        let input = directory.appendingPathComponent("devtools-in-\(UUID().uuidString)")
        let output = directory.appendingPathComponent("devtools-out-\(UUID().uuidString)")
        guard mkfifo(input.path, 0o600) == 0, mkfifo(output.path, 0o600) == 0 else {
            throw HarnessError("mkfifo in \(directory.path): errno \(errno)")
        }
        // Read-write opens of a FIFO never block (Linux): chromium's shell may open its ends
        // before or after these.
        toBrowser = Glibc.open(input.path, O_RDWR | O_CLOEXEC)
        fromBrowser = Glibc.open(output.path, O_RDWR | O_CLOEXEC)
        guard toBrowser >= 0, fromBrowser >= 0 else { throw HarnessError("cannot open the DevTools FIFOs: errno \(errno)") }
        errorLog = directory.appendingPathComponent("devtools-err-\(UUID().uuidString)")
        let arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                         "--user-data-dir=\(directory.appendingPathComponent("devtools-profile").path)",
                         "--remote-debugging-pipe", "about:blank"]
        // `exec`: the child's PID is chromium's, so a kill reaches chromium itself.
        child = try ChildProcess(executable: "/bin/sh",
                                 arguments: ["-c", "exec \"$0\" \"$@\" 3<\"$DEVTOOLS_IN\" 4>\"$DEVTOOLS_OUT\" 2>\"$CHROMIUM_ERR\"", binary]
                                     + arguments,
                                 logFile: directory.appendingPathComponent("devtools-out.log"),
                                 environment: ["DEVTOOLS_IN": input.path, "DEVTOOLS_OUT": output.path, "CHROMIUM_ERR": errorLog.path])
    }

    /// Ends chromium (Browser.close, then SIGKILL by its PID) and closes the FIFOs.
    func close() {
        if child.isRunning { _ = try? call("Browser.close", timeout: .seconds(5)) }
        child.kill9()
        Glibc.close(toBrowser)
        Glibc.close(fromBrowser)
    }

    /// A new tab loading `url`, attached (flat session) so its page can be evaluated.
    func open(_ url: String) throws -> Page {
        let created = try call("Target.createTarget", ["url": url])
        guard let target = created["targetId"] as? String else { throw HarnessError("Target.createTarget: \(created)") }
        let attached = try call("Target.attachToTarget", ["targetId": target, "flatten": true])
        guard let session = attached["sessionId"] as? String else { throw HarnessError("Target.attachToTarget: \(attached)") }
        return Page(targetID: target, session: session)
    }

    /// `expression`'s value in `page` (JSON values: strings, numbers, booleans, nil).
    func evaluate(_ expression: String, in page: Page) throws -> Any? {
        let reply = try call("Runtime.evaluate", ["expression": expression, "returnByValue": true], session: page.session)
        if let exception = reply["exceptionDetails"] { throw HarnessError("\(expression): \(exception)") }
        return (reply["result"] as? [String: Any])?["value"]
    }

    /// The page's DOM as it is now.
    func dom(_ page: Page) throws -> String {
        try evaluate("document.documentElement.outerHTML", in: page) as? String ?? ""
    }

    /// Sends one command and waits for its reply (events in between are skipped).
    func call(_ method: String, _ params: [String: Any] = [:], session: String? = nil,
              timeout: Duration = .seconds(20)) throws -> [String: Any] {
        let id = nextID
        nextID += 1
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if let session { message["sessionId"] = session }
        var bytes = Array(try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(toBrowser, $0.baseAddress, $0.count) }
            guard n > 0 else { throw HarnessError("DevTools pipe: write failed, errno \(errno)") }
            written += n
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            while let end = pending.firstIndex(of: 0) {
                let text = Array(pending[..<end])
                pending.removeSubrange(...end)
                guard let reply = try? JSONSerialization.jsonObject(with: Data(text)) as? [String: Any],
                      reply["id"] as? Int == id else { continue }
                if let error = reply["error"] { throw HarnessError("\(method): \(error)") }
                return reply["result"] as? [String: Any] ?? [:]
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero, child.isRunning else {
                let log = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
                throw HarnessError("DevTools \(method): no reply" + (child.isRunning ? " in \(timeout)" : ": chromium exited")
                                   + "; its log: \(log.suffix(400))")
            }
            var poller = pollfd(fd: fromBrowser, events: Int16(POLLIN), revents: 0)
            let waitMs = Int32(min(200, max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
            guard poll(&poller, 1, waitMs) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { read(fromBrowser, $0.baseAddress, $0.count) }
            if n > 0 { pending += chunk[..<n] }
        }
    }
}
