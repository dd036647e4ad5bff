/// PURE: what is sent. The webhook's JSON body and the email's subject and body.
public enum AlertPayload {
    /// Who sends: the daemon kind (`sentinel`, `node`, `vrrp`), its name or address, the host.
    public struct Sender: Sendable, Hashable {
        public var daemon: String
        public var source: String
        public var host: String

        public init(daemon: String, source: String, host: String) {
            self.daemon = daemon
            self.source = source
            self.host = host
        }
    }

    /// Schema version 1 (docs/operations.md, "Alerts"): one JSON object, keys sorted.
    public static func json(_ entry: AlertQueue.Entry, sender: Sender) -> String {
        let a = entry.alert
        var members: [(String, String)] = [
            ("version", "1"),
            ("event", quote(a.kind.rawValue)),
            ("severity", quote(a.severity.rawValue)),
            ("summary", quote(a.summary)),
            ("origin", quote(a.origin)),
            ("group", a.group.map(quote) ?? "null"),
            ("detail", a.detail.map(quote) ?? "null"),
            ("time", quote(entry.time)),
            ("sequence", String(entry.sequence)),
            ("attempt", String(entry.attempt)),
            ("dropped_before", String(entry.droppedBefore)),
            ("daemon", quote(sender.daemon)),
            ("source", quote(sender.source)),
            ("host", quote(sender.host)),
            ("fields", "{" + a.fields.sorted { $0.key < $1.key }.map { quote($0.key) + ":" + quote($0.value) }.joined(separator: ",") + "}"),
        ]
        members.sort { $0.0 < $1.0 }
        return "{" + members.map { quote($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// The email: `[tandem] SEVERITY summary` and the fields one per line.
    public static func email(_ entry: AlertQueue.Entry, sender: Sender) -> (subject: String, body: String) {
        let a = entry.alert
        let subject = "[tandem] \(a.severity.rawValue.uppercased()) \(a.summary)"
        var lines = [
            "event: \(a.kind.rawValue)", "severity: \(a.severity.rawValue)", "time: \(entry.time)",
            "daemon: \(sender.daemon) \(sender.source) on \(sender.host)",
        ]
        if let group = a.group { lines.append("group: \(group)") }
        lines.append("origin: \(a.origin)")
        if let detail = a.detail { lines.append("detail: \(detail)") }
        for (key, value) in a.fields.sorted(by: { $0.key < $1.key }) { lines.append("\(key): \(value)") }
        if entry.droppedBefore > 0 { lines.append("dropped before this one (queue full): \(entry.droppedBefore)") }
        // One line per field: a line break in a value could make a lone "." that ends DATA.
        let flat = lines.map { line in String(line.map { $0.isNewline ? " " : $0 }) }
        return (String(subject.map { $0.isNewline ? " " : $0 }), flat.joined(separator: "\r\n"))
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
