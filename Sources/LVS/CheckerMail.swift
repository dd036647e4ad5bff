import KeepalivedConfig
import Synchronization
import VRRP
import Alerts

#if canImport(Glibc)
import Glibc
#endif

/// `smtp_alert` for the virtual servers: keepalived's e-mails when a real server goes up or
/// down and when a virtual server's quorum changes, through global_defs' `smtp_server`, sent
/// on a background thread (a dead mail server never delays a check or a connection).
final class CheckerMail: Sendable {
    private let smtp: SMTPAlert?
    let routerID: String
    private let log: @Sendable (String) -> Void
    private let inFlight = Atomic<Int>(0)

    init(global: GlobalDefinitions, log: @escaping @Sendable (String) -> Void) {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let host = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        routerID = global.routerID ?? host
        self.log = log
        smtp = global.smtpServer.map { server in
            SMTPAlert(host: server.host, port: server.port, from: global.notificationEmailFrom ?? "keepalived@\(host)",
                      to: global.notificationEmails, heloName: global.smtpHeloName ?? host,
                      connectTimeout: global.smtpConnectTimeout)
        }
    }

    /// E-mails still being sent (a stop waits for them, briefly).
    var sending: Bool { inFlight.load(ordering: .sequentiallyConsistent) > 0 }

    func send(_ message: (subject: String, body: String)) {
        guard let smtp else {
            log("smtp_alert: no smtp_server in global_defs; not sent: \(message.subject)")
            return
        }
        inFlight.add(1, ordering: .sequentiallyConsistent)
        smtp.send(subject: message.subject, body: message.body) { [self] error in
            log(error.map { "smtp alert failed: \($0)" } ?? "smtp alert sent: \(message.subject)")
            inFlight.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}
