import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// keepalived's `smtp_alert`: one email per state transition through `smtp_server`, sent on a
/// background thread so a slow or dead mail server never delays VRRP.
public struct SMTPAlert: Sendable {
    public var host: String
    public var port: Int
    public var from: String
    public var to: [String]
    public var heloName: String
    public var connectTimeout: Int

    public init(host: String, port: Int, from: String, to: [String], heloName: String, connectTimeout: Int) {
        self.host = host
        self.port = port
        self.from = from
        self.to = to
        self.heloName = heloName
        self.connectTimeout = connectTimeout
    }

    /// keepalived's subject and body for an instance transition.
    public static func message(routerID: String, instance: String, state: String) -> (subject: String, body: String) {
        let subject = "[\(routerID)] VRRP Instance \(instance) - Entering \(state) state"
        let body = "=> VRRP Instance is " + (state == "MASTER" ? "now owning VRRP VIPs" : "no longer owning VRRP VIPs") + " <="
        return (subject, body)
    }

    /// keepalived's subject and body when a checker takes a real server up or down (its
    /// checker's wording: `=> TCP CHECK succeed on service <=`, HTTP_GET's `=> CHECK failed on
    /// service : REASON <=`, …), or when a reload removes a live one (`=> Removing <=`) or the
    /// daemon stops with omega (`=> Shutting down <=`).
    public static func realServerMessage(routerID: String, realServer: String, virtualServer: String, up: Bool,
                                         checker: String, reason: String? = nil) -> (subject: String, body: String) {
        let subject = "[\(routerID)] Realserver \(realServer) of virtual server \(virtualServer) - \(up ? "UP" : "DOWN")"
        let outcome = up ? "succeed" : "failed"
        let body = switch checker {
        case "TCP_CHECK": "=> TCP CHECK \(outcome) on service <="
        case "MISC_CHECK": "=> MISC CHECK \(outcome) on service <="
        case "REDIS_CHECK": "=> REDIS CHECK \(outcome) on service <="
        case "reload": "=> Removing <="
        case "shutdown": "=> Shutting down <="
        default: up ? "=> CHECK succeed on service <=" : "=> CHECK failed on service : \(reason ?? "HTTP request failed") <="
        }
        return (subject, body)
    }

    /// keepalived's subject and body when a virtual server gains or loses its quorum.
    public static func quorumMessage(routerID: String, virtualServer: String, gained: Bool, quorum: Int, hysteresis: Int,
                                     weight: Int) -> (subject: String, body: String) {
        let threshold = gained ? quorum + hysteresis : quorum - hysteresis
        let subject = "[\(routerID)] Virtualserver \(virtualServer) - \(gained ? "UP" : "DOWN")"
        return (subject, "=> \(gained ? "Gained quorum" : "Lost quorum") \(quorum)+\(hysteresis)=\(threshold) <= \(weight) <=")
    }

    /// Sends in the background; `completion` gets nil or the error text.
    public func send(subject: String, body: String, completion: @escaping @Sendable (String?) -> Void) {
        let alert = self
        Thread.detachNewThread {
            completion(alert.deliver(subject: subject, body: body))
        }
    }

    /// The SMTP conversation (blocking). Returns nil on success or what failed.
    public func deliver(subject: String, body: String) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else { return "cannot resolve \(host)" }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var timeout = timeval(tv_sec: connectTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            return "connect to \(host):\(port): \(String(cString: strerror(errno)))"
        }
        var pending: [UInt8] = []
        func reply() -> Int? {
            // Reads one (possibly multi-line) reply; returns its code. Bytes, not Characters:
            // "\r\n" is a single Character in Swift.
            while true {
                if let newline = pending.firstIndex(of: 0x0a) {
                    let line = Array(pending[..<newline])
                    pending.removeSubrange(...newline)
                    if line.count >= 4 && line[3] == UInt8(ascii: "-") { continue }
                    return Int(String(decoding: line.prefix(3), as: UTF8.self))
                }
                var buffer = [UInt8](repeating: 0, count: 1024)
                let n = read(fd, &buffer, buffer.count)
                guard n > 0 else { return nil }
                pending += buffer[..<n]
            }
        }
        func say(_ line: String) -> Bool {
            let bytes = Array((line + "\r\n").utf8)
            return write(fd, bytes, bytes.count) == bytes.count
        }
        func step(_ line: String?, expect: Int) -> String? {
            if let line, !say(line) { return "write failed" }
            guard let code = reply() else { return "no reply" + (line.map { " to \($0)" } ?? "") }
            return code / 100 == expect / 100 ? nil : "server replied \(code)" + (line.map { " to \($0)" } ?? "")
        }
        if let e = step(nil, expect: 220) { return e }
        if let e = step("HELO \(heloName)", expect: 250) { return e }
        if let e = step("MAIL FROM:<\(from)>", expect: 250) { return e }
        for rcpt in to { if let e = step("RCPT TO:<\(rcpt)>", expect: 250) { return e } }
        if let e = step("DATA", expect: 354) { return e }
        var now = time(nil)
        var tm = tm()
        gmtime_r(&now, &tm)
        var dateBuffer = [CChar](repeating: 0, count: 64)
        strftime(&dateBuffer, dateBuffer.count, "%a, %d %b %Y %H:%M:%S +0000", &tm)
        let date = String(decoding: dateBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let content = [
            "From: \(from)", "Subject: \(subject)", "X-Mailer: Tandem", "Date: \(date)",
            "To: " + to.joined(separator: ", "), "", body, ".",
        ].joined(separator: "\r\n")
        if let e = step(content, expect: 250) { return e }
        _ = step("QUIT", expect: 221)
        return nil
    }
}
