import AlertCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 POST of a JSON body, blocking, within `timeout` for the whole try (connect,
/// send, the status line). Run on the dispatcher's own thread, never on a daemon's loop.
enum WebhookPost {
    /// nil when the server answered 2xx; else what failed.
    static func send(_ url: WebhookURL, body: String, timeoutMilliseconds: Int64) -> String? {
        let deadline = monotonicMilliseconds() + timeoutMilliseconds
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(url.host, String(url.port), &hints, &result) == 0, let info = result else {
            return "cannot resolve \(url.host)"
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        func setTimeout() -> Bool {
            let left = deadline - monotonicMilliseconds()
            guard left > 0 else { return false }
            var t = timeval(tv_sec: Int(left / 1000), tv_usec: Int((left % 1000) * 1000))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
            return true
        }
        let timedOut = "no answer within \(timeoutMilliseconds) ms"
        guard setTimeout() else { return timedOut }
        // Linux's connect() honours SO_SNDTIMEO.
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let e = errno
            return e == EINPROGRESS || e == EAGAIN ? timedOut : "connect to \(url.host):\(url.port): \(String(cString: strerror(e)))"
        }
        let hostHeader = url.host.contains(":") ? "[\(url.host)]:\(url.port)" : "\(url.host):\(url.port)"
        let request = Array(("POST \(url.path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: tandem\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body).utf8)
        var sent = 0
        while sent < request.count {
            guard setTimeout() else { return timedOut }
            let n = request[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return errno == EAGAIN || errno == EWOULDBLOCK ? timedOut : "send: \(String(cString: strerror(errno)))" }
            sent += n
        }
        // The status line is all that is needed.
        var reply: [UInt8] = []
        while !reply.contains(0x0a) {
            guard setTimeout() else { return timedOut }
            var buffer = [UInt8](repeating: 0, count: 512)
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? timedOut : "read: \(String(cString: strerror(errno)))" }
            if n == 0 { return reply.isEmpty ? "connection closed without a reply" : "connection closed in the status line" }
            reply += buffer[..<n]
            if reply.count > 4096 { break }
        }
        let line = String(decoding: reply.prefix { $0 != 0x0d && $0 != 0x0a }, as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else { return "not an HTTP reply: \(line.prefix(80))" }
        return (200..<300).contains(code) ? nil : "HTTP \(code)"
    }
}

func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
