import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RESP
import SentinelConfig

/// ACL: users, rules, the ACL LOG, the aclfile.
extension SentinelRuntime {
    func aclCommand(_ args: [String], client: SentinelClient) -> RESPValue {
        let sub = args[0].lowercased()
        switch sub {
        case "setuser":
            var user = users[args[1]] ?? ACLUser(name: args[1])
            for rule in args.dropFirst(2) {
                do throws(ACLRuleError) {
                    try user.apply(rule, table: table)
                } catch {
                    return .simpleError("ERR Error in ACL SETUSER modifier '\(rule)': \(error.message)")
                }
            }
            // Connections keep their user and stay authenticated, as in 7.0: only DELUSER (and
            // ACL LOAD) closes them; `off` and a new password only refuse the next AUTH.
            users[args[1]] = user
            return .simpleString("OK")
        case "deluser":
            var count = 0
            for name in args.dropFirst() {
                if name == "default" { return .simpleError("ERR The 'default' user cannot be removed") }
            }
            for name in args.dropFirst() where users.removeValue(forKey: name) != nil {
                count += 1
                for c in clients.all where c.user == name {
                    if c.id == client.id { client.update { $0.closeAfterReply = true } } else { c.close() }
                }
            }
            return .integer(Int64(count))
        case "getuser":
            guard let u = users[args[1]] else { return .nullBulkString }
            return .map([
                RESPPair(key: .bulkString("flags"), value: .set(u.flags.map { .bulkString($0) })),
                RESPPair(key: .bulkString("passwords"), value: .array(u.passwords.map { .bulkString($0) })),
                RESPPair(key: .bulkString("commands"), value: .bulkString(u.describeCommands(table: table))),
                RESPPair(key: .bulkString("keys"), value: .bulkString(u.keysDescription)),
                RESPPair(key: .bulkString("channels"), value: .bulkString(u.channelsDescription)),
                RESPPair(key: .bulkString("selectors"), value: .array([])),
            ])
        case "list":
            return .array(users.keys.sorted().map { .bulkString(users[$0]!.describe(table: table)) })
        case "users":
            return .array(users.keys.sorted().map { .bulkString($0) })
        case "whoami":
            return .bulkString(client.user)
        case "cat":
            if args.count == 1 { return SentinelCommandTable.captured("acl-cat") }
            let category = args[1].lowercased()
            guard table.categories.contains(category) else { return .simpleError("ERR Unknown category '\(args[1])'") }
            return SentinelCommandTable.captured("acl-cat-" + category)
        case "log":
            if args.count == 2 {
                if args[1].lowercased() == "reset" {
                    aclLog.removeAll()
                    return .simpleString("OK")
                }
                guard let n = Int(args[1]), n >= 0 else { return .simpleError("ERR value is not an integer or out of range") }
                return aclLogReply(limit: n)
            }
            return aclLogReply(limit: 10)
        case "genpass":
            var bits = 256
            if args.count == 2 {
                guard let b = Int(args[1]), b > 0, b <= 4096 else {
                    return .simpleError("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
                }
                bits = b
            }
            let chars = (bits + 3) / 4
            return .bulkString(String((0..<chars).map { _ in "0123456789abcdef".randomElement()! }))
        case "dryrun":
            guard let u = users[args[1]] else { return .simpleError("ERR User '\(args[1])' not found") }
            guard case .found(let e) = table.lookup(Array(args.dropFirst(2))) else {
                if table.entry(named: args[2]) == nil { return .simpleError("ERR Command '\(args[2])' not found") }
                return .simpleError("ERR wrong number of arguments for '\(args[2].lowercased())' command")
            }
            return u.canRun(e.name) ? .simpleString("OK") : .bulkString("This user has no permissions to run the '\(e.name)' command")
        case "load", "save":
            guard let path = configuration.aclFile else {
                return .simpleError("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
            }
            if sub == "save" {
                do {
                    try ConfigFileWriter.write(ACLFile.render(users, table: table), to: path)
                } catch {
                    logger.warning("Saving the ACL file \(path): \(error)")
                    return .simpleError("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
                }
                return .simpleString("OK")
            }
            switch ACLFile.load(path, table: table) {
            case .failure(let error):
                return .simpleError("ERR " + error.message)
            case .success(let loaded):
                users = loaded
                // As 7.0: every connection authenticated as another user than default is closed
                // (the caller's after this reply); the default user's keep going.
                for c in clients.all where c.user != "default" {
                    if c.id == client.id { client.update { $0.closeAfterReply = true } } else { c.close() }
                }
                return .simpleString("OK")
            }
        case "help":
            return SentinelCommandTable.captured("acl-help")
        default:
            return .simpleError("ERR unknown subcommand '\(args[0])'. Try ACL HELP.")
        }
    }

    func aclLogReply(limit: Int) -> RESPValue {
        let t = Int64(Date().timeIntervalSince1970 * 1000)
        return .array(aclLog.prefix(limit).map { e in
            .map([
                RESPPair(key: .bulkString("count"), value: .integer(Int64(e.count))),
                RESPPair(key: .bulkString("reason"), value: .bulkString(e.reason)),
                RESPPair(key: .bulkString("context"), value: .bulkString(e.context)),
                RESPPair(key: .bulkString("object"), value: .bulkString(e.object)),
                RESPPair(key: .bulkString("username"), value: .bulkString(e.username)),
                RESPPair(key: .bulkString("age-seconds"), value: .double(Double(t - e.createdAt) / 1000)),
                RESPPair(key: .bulkString("client-info"), value: .bulkString(e.clientInfo)),
            ])
        })
    }

    func logACL(reason: String, object: String, username: String, client: SentinelClient) {
        let t = Int64(Date().timeIntervalSince1970 * 1000)
        let info = clientInfoLine(client)
        if let i = aclLog.firstIndex(where: { $0.reason == reason && $0.object == object && $0.username == username && t - $0.updatedAt < 60_000 }) {
            var e = aclLog.remove(at: i)
            e.count += 1
            e.updatedAt = t
            e.clientInfo = info
            aclLog.insert(e, at: 0)
        } else {
            aclLog.insert(ACLLogEntry(count: 1, reason: reason, context: "toplevel", object: object, username: username,
                                      createdAt: t, updatedAt: t, clientInfo: info), at: 0)
            if aclLog.count > 128 { aclLog.removeLast() }
        }
    }
}
