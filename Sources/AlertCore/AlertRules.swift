/// PURE: which event becomes which alert. Events that are steps of something already alerted
/// (`+sdown` of the master before its `+odown`, the failover's middle steps) or that name no
/// trouble (`+reboot`, hellos) give none.
public enum AlertRules {
    /// A Sentinel event (`type` as published, `payload` its message) as an alert, or nil.
    ///
    /// - `+elected-leader` → `failover-start` (this sentinel runs the failover; the others'
    ///   attempts that lose the election are not failovers and are not alerted),
    /// - `+failover-end` → `failover-end`, `-failover-abort-*` → `failover-abort` with `reason`,
    ///   except `-failover-abort-not-elected` (another sentinel leads, or the next attempt will),
    /// - `+switch-master` → `master-switched` (every sentinel: its clients now go elsewhere),
    /// - `+odown` / `-odown` → `odown` / `odown-cleared`,
    /// - `+sdown` / `-sdown` of a sentinel or a replica → `unreachable` / `reachable` (the
    ///   master's own SDOWN is alerted as its ODOWN).
    public static func sentinelEvent(type: String, payload: String) -> Alert? {
        let words = payload.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let instance = InstanceWords(words)
        switch type {
        case "+elected-leader":
            guard let i = instance, i.type == "master" else { return nil }
            return Alert(kind: .failoverStart, severity: .critical, group: i.name,
                         summary: "failover of \(i.name) started: master \(i.address) is down", origin: type,
                         detail: payload, fields: i.fields)
        case "+failover-end":
            guard let i = instance, i.type == "master" else { return nil }
            return Alert(kind: .failoverEnd, severity: .warning, group: i.name,
                         summary: "failover of \(i.name) ended", origin: type, detail: payload, fields: i.fields)
        case "+switch-master":
            // NAME OLD-IP OLD-PORT NEW-IP NEW-PORT
            guard words.count == 5 else { return nil }
            let from = "\(words[1]):\(words[2])", to = "\(words[3]):\(words[4])"
            return Alert(kind: .masterSwitched, severity: .warning, group: words[0],
                         summary: "\(words[0]): master switched from \(from) to \(to)", origin: type, detail: payload,
                         fields: ["name": words[0], "from": from, "to": to])
        case "+odown", "-odown":
            guard let i = instance, i.type == "master" else { return nil }
            let up = type == "-odown"
            return Alert(kind: up ? .odownCleared : .odown, severity: up ? .info : .critical, group: i.name,
                         summary: up ? "\(i.name): master \(i.address) is no longer objectively down"
                                     : "\(i.name): master \(i.address) is objectively down", origin: type,
                         detail: payload, fields: i.fields)
        case "+sdown", "-sdown":
            guard let i = instance, i.type == "sentinel" || i.type == "slave", let group = i.master else { return nil }
            let up = type == "-sdown"
            let what = i.type == "sentinel" ? "sentinel" : "replica"
            return Alert(kind: up ? .reachable : .unreachable, severity: up ? .info : .warning, group: group,
                         summary: "\(group): \(what) \(i.address) " + (up ? "is reachable again" : "is unreachable"),
                         origin: type, detail: payload, fields: i.fields)
        default:
            guard type.hasPrefix("-failover-abort-"), type != "-failover-abort-not-elected",
                  let i = instance, i.type == "master" else { return nil }
            let reason = String(type.dropFirst("-failover-abort-".count))
            var fields = i.fields
            fields["reason"] = reason
            return Alert(kind: .failoverAbort, severity: .critical, group: i.name,
                         summary: "failover of \(i.name) aborted: \(reason)", origin: type, detail: payload, fields: fields)
        }
    }

    /// The node agent fenced its local Redis (no majority contact) or let it write again.
    public static func fence(node: String, group: String, fenced: Bool) -> Alert {
        Alert(kind: fenced ? .fenced : .unfenced, severity: fenced ? .critical : .info, group: group,
              summary: fenced ? "node \(node): no contact with a majority of \(group): its Redis is fenced"
                              : "node \(node): majority contact is back: its Redis takes writes again",
              origin: "fence", fields: ["node": node])
    }

    /// A VRRP instance changed state: MASTER took the virtual addresses, BACKUP/FAULT/STOP left
    /// them. INIT (keepalived's word; INITIALIZE too) is no move and gives nil. A daemon's own
    /// start goes through `VRRPAlertFilter`, which holds back the FAULT an instance starts in.
    public static func vrrpState(instance: String, state: String, priority: Int, addresses: [String]) -> Alert? {
        guard state != "INIT", state != "INITIALIZE" else { return nil }
        let holds = state == "MASTER"
        let list = addresses.joined(separator: " ")
        return Alert(kind: .vipState, severity: holds ? .warning : (state == "FAULT" ? .critical : .info), group: instance,
                     summary: "VRRP instance \(instance) is \(state): " + (holds ? "now holds" : "no longer holds")
                         + (list.isEmpty ? " its addresses" : " \(list)"),
                     origin: "vrrp",
                     fields: ["state": state, "priority": String(priority), "addresses": list])
    }
}

/// `<type> <name> <ip> <port> [@ <master> <ip> <port>] …`: an instance event's payload.
struct InstanceWords {
    var type: String
    var name: String
    var ip: String
    var port: String
    var master: String?
    var fields: [String: String]

    var address: String { "\(ip):\(port)" }

    init?(_ words: [String]) {
        guard words.count >= 4, ["master", "slave", "sentinel"].contains(words[0]), Int(words[3]) != nil else { return nil }
        type = words[0]
        name = words[1]
        ip = words[2]
        port = words[3]
        fields = ["instance_type": type, "name": name, "ip": ip, "port": port]
        if type == "master" {
            master = name
        } else if words.count >= 8, words[4] == "@" {
            master = words[5]
            fields["master_name"] = words[5]
            fields["master_ip"] = words[6]
            fields["master_port"] = words[7]
        }
    }
}
