import Logging
import SentinelCore

extension SentinelEvent {
    /// The event as log fields (`--log-format json`): `event` (`+sdown`), `payload` as
    /// published, and when the payload names an instance (`<type> <name> <ip> <port>
    /// [@ <master> <ip> <port>] …`) its parts: `instance_type`, `name`, `ip`, `port`,
    /// `master_name`, `master_ip`, `master_port`, and `detail` for what follows.
    var logMetadata: Logger.Metadata {
        var fields: Logger.Metadata = ["event": .string(type), "payload": .string(payload)]
        let words = payload.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard words.count >= 4, ["master", "slave", "sentinel"].contains(words[0]), let port = Int(words[3]) else { return fields }
        fields["instance_type"] = .string(words[0])
        fields["name"] = .string(words[1])
        fields["ip"] = .string(words[2])
        fields["port"] = .stringConvertible(port)
        var rest = words.dropFirst(4)
        if rest.first == "@", rest.count >= 4, let masterPort = Int(rest[rest.startIndex + 3]) {
            fields["master_name"] = .string(rest[rest.startIndex + 1])
            fields["master_ip"] = .string(rest[rest.startIndex + 2])
            fields["master_port"] = .stringConvertible(masterPort)
            rest = rest.dropFirst(4)
        }
        if !rest.isEmpty { fields["detail"] = .string(rest.joined(separator: " ")) }
        return fields
    }
}
