import Foundation
import RESP
#if canImport(Glibc)
import Glibc
#endif

/// One ACL user as Redis 7.0 keeps it (without selectors or key permissions beyond patterns:
/// the sentinel port has no keys).
struct ACLUser: Sendable, Hashable {
    var name: String
    var enabled = false
    var noPass = false
    var sanitizePayload = false
    /// SHA-256 hex digests, in the order they were added.
    var passwords: [String] = []
    var allowed: Set<String> = []
    /// `+@all`/`allcommands` also allows commands added later (Redis's "future commands" bit).
    var allCommands = false
    var allKeys = false
    var keyPatterns: [String] = []
    var allChannels = false
    var channelPatterns: [String] = []

    /// The default user: `on nopass ~* &* +@all`, or with a password from `requirepass`.
    static func defaultUser(table: SentinelCommandTable, password: String?) -> ACLUser {
        var u = ACLUser(name: "default", enabled: true, noPass: password == nil)
        if let password { u.passwords = [PasswordHash.hex(password)] }
        u.allKeys = true
        u.allChannels = true
        u.allCommands = true
        u.allowed = Set(table.allNames)
        return u
    }

    func checks(password: String) -> Bool {
        enabled && (noPass || PasswordHash.matches(password, anyOf: passwords))
    }

    func canRun(_ fullName: String) -> Bool { allowed.contains(fullName) }

    /// Channel permission as 7.0 checks it: a channel must match one of the `&` patterns; a
    /// PSUBSCRIBE pattern must be one of them, literally.
    func canUse(channel: String, asPattern: Bool) -> Bool {
        if allChannels { return true }
        let patterns = channelPatterns.map { String($0.dropFirst()) }
        if asPattern { return patterns.contains(channel) }
        return patterns.contains { globMatch(pattern: Array($0.utf8), string: Array(channel.utf8)) }
    }

    /// Applies one `ACL SETUSER` rule; throws the message Redis gives after "modifier '…': ".
    mutating func apply(_ rule: String, table: SentinelCommandTable) throws(ACLRuleError) {
        let lower = rule.lowercased()
        switch lower {
        case "on": enabled = true
        case "off": enabled = false
        case "nopass": noPass = true; passwords = []
        case "resetpass": noPass = false; passwords = []
        case "allkeys", "~*": allKeys = true; keyPatterns = []
        case "resetkeys": allKeys = false; keyPatterns = []
        case "allchannels", "&*": allChannels = true; channelPatterns = []
        case "resetchannels": allChannels = false; channelPatterns = []
        case "allcommands", "+@all": allCommands = true; allowed = Set(table.allNames)
        case "nocommands", "-@all": allCommands = false; allowed = []
        case "sanitize-payload": sanitizePayload = true
        case "skip-sanitize-payload": sanitizePayload = false
        case "reset":
            self = ACLUser(name: name)
            sanitizePayload = true
        default:
            guard let first = rule.first else { throw ACLRuleError("Syntax error") }
            let rest = String(rule.dropFirst())
            switch first {
            case ">":
                let hash = PasswordHash.hex(rest)
                if !passwords.contains(hash) { passwords.append(hash) }
                noPass = false
            case "#":
                guard rest.utf8.count == 64, rest.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                    throw ACLRuleError("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
                }
                if !passwords.contains(rest) { passwords.append(rest) }
                noPass = false
            case "<", "!":
                let hash = first == "<" ? PasswordHash.hex(rest) : rest
                if first == "!" && !(rest.utf8.count == 64 && rest.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) })) {
                    throw ACLRuleError("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
                }
                guard let i = passwords.firstIndex(of: hash) else {
                    throw ACLRuleError("The password you are trying to remove from the user does not exist")
                }
                passwords.remove(at: i)
            case "~":
                if allKeys { throw ACLRuleError("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns") }
                if !keyPatterns.contains(rule) { keyPatterns.append(rule) }
            case "%":
                guard let tilde = rule.firstIndex(of: "~"), rule.index(after: rule.startIndex) < tilde,
                      rule[rule.index(after: rule.startIndex)..<tilde].allSatisfy({ "RWrw".contains($0) }) else {
                    throw ACLRuleError("Syntax error")
                }
                if !keyPatterns.contains(rule) { keyPatterns.append(rule) }
            case "&":
                if allChannels { throw ACLRuleError("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels") }
                if !channelPatterns.contains(rule) { channelPatterns.append(rule) }
            case "+", "-":
                let allow = first == "+"
                if rest.hasPrefix("@") {
                    let category = String(rest.dropFirst()).lowercased()
                    guard table.categories.contains(category) else { throw ACLRuleError("Unknown command or category name in ACL") }
                    for e in table.allEntries where e.categories.contains("@" + category) { set(e.name, allow) }
                } else {
                    guard let e = table.entry(named: rest) else { throw ACLRuleError("Unknown command or category name in ACL") }
                    set(e.name, allow)
                    for sub in e.subcommands.keys { set(sub, allow) }
                }
            default:
                throw ACLRuleError("Syntax error")
            }
        }
    }

    private mutating func set(_ name: String, _ allow: Bool) {
        if allow { allowed.insert(name) } else { allowed.remove(name) }
    }

    /// The command part of `ACL LIST` / `ACL GETUSER`, rebuilt from the permissions as 7.0
    /// does: `+@all` or `-@all`, then categories chosen greedily (the one that fixes the most
    /// commands first, and only while it fixes more than it leaves wrong or repeats), then the
    /// single commands that still differ. Matches redis-sentinel 7.0.15 on every case we tried;
    /// the single commands come in table order where Redis uses its hash order.
    func describeCommands(table: SentinelCommandTable) -> String {
        var rules = [allCommands ? "+@all" : "-@all"]
        var fake = allCommands ? Set(table.allNames) : Set<String>()
        var used: Set<String> = []
        while true {
            var best: (category: String, gain: Int)?
            for category in table.categories where !used.contains(category) {
                var fixes = 0, breaks = 0, repeats = 0
                for e in table.allEntries where e.categories.contains("@" + category) {
                    let user = allowed.contains(e.name), now = fake.contains(e.name)
                    if allCommands {
                        // Removing: fixes a denied command still in the fake set.
                        if !user && now { fixes += 1 } else if user && now { breaks += 1 } else if !user && !now { repeats += 1 }
                    } else {
                        if user && !now { fixes += 1 } else if !user && !now { breaks += 1 } else if user && now { repeats += 1 }
                    }
                }
                if fixes > breaks + repeats, fixes - breaks - repeats > (best?.gain ?? 0) {
                    best = (category, fixes - breaks - repeats)
                }
            }
            guard let chosen = best else { break }
            used.insert(chosen.category)
            rules.append((allCommands ? "-@" : "+@") + chosen.category)
            for e in table.allEntries where e.categories.contains("@" + chosen.category) {
                if allCommands { fake.remove(e.name) } else { fake.insert(e.name) }
            }
        }
        // Single commands: a rule for a parent command (`-acl`) also sets its subcommands, as
        // 7.0's ACLChangeSelectorPerm does, so they need no rule of their own unless they differ.
        for name in table.allNames where allowed.contains(name) != fake.contains(name) {
            let allow = allowed.contains(name)
            rules.append((allow ? "+" : "-") + name)
            let affected = name.contains("|") ? [name] : [name] + table.allNames.filter { $0.hasPrefix(name + "|") }
            for n in affected {
                if allow { fake.insert(n) } else { fake.remove(n) }
            }
        }
        return rules.joined(separator: " ")
    }

    var flags: [String] {
        var f = [enabled ? "on" : "off"]
        if noPass { f.append("nopass") }
        if sanitizePayload { f.append("sanitize-payload") }
        return f
    }

    var keysDescription: String { allKeys ? "~*" : keyPatterns.joined(separator: " ") }
    var channelsDescription: String { allChannels ? "&*" : channelPatterns.joined(separator: " ") }

    /// One `ACL LIST` line.
    func describe(table: SentinelCommandTable) -> String {
        var parts = ["user", name] + flags + passwords.map { "#" + $0 }
        if !keysDescription.isEmpty { parts.append(keysDescription) }
        parts.append(allChannels || !channelPatterns.isEmpty ? channelsDescription : "resetchannels")
        parts.append(describeCommands(table: table))
        return parts.joined(separator: " ")
    }
}

/// Why an ACL rule was refused (Redis's text after "modifier '…': ").
struct ACLRuleError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// One `ACL LOG` entry: a failed AUTH or a denied command, grouped as Redis groups them.
struct ACLLogEntry: Sendable {
    var count: Int
    var reason: String
    var context: String
    var object: String
    var username: String
    var createdAt: Int64
    var updatedAt: Int64
    var clientInfo: String
}

/// An ACL file (`aclfile`), read and written as 7.0's ACLLoadFromFile / ACLSaveToFile do.
enum ACLFile {
    struct LoadError: Error {
        var message: String
    }

    /// The users a file defines. Every error is collected (with file and line) and none of
    /// the file is used if there is one; a file without `default` gets a fresh default user
    /// (`on nopass ~* &* +@all`: a `requirepass` is not kept, as in 7.0).
    static func parse(_ text: String, path: String, table: SentinelCommandTable) -> Result<[String: ACLUser], LoadError> {
        var users: [String: ACLUser] = [:]
        var errors = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: " \t\r\n"))
            if line.isEmpty { continue }
            let words = line.split(separator: " ").map(String.init)
            guard words.count >= 2, words[0] == "user" else {
                errors += "\(path):\(lineNumber) should start with user keyword followed by the username. "
                continue
            }
            let name = words[1]
            guard users[name] == nil else {
                errors += "WARNING: Duplicate user '\(name)' found on line \(lineNumber). "
                continue
            }
            var user = ACLUser(name: name)
            var failed = false
            for rule in words.dropFirst(2) {
                do throws(ACLRuleError) {
                    try user.apply(rule.trimmingCharacters(in: CharacterSet(charactersIn: "\t\r\n")), table: table)
                } catch {
                    errors += "\(path):\(lineNumber): Error in applying operation '\(rule)': \(error.message). "
                    failed = true
                    break
                }
            }
            if !failed { users[name] = user }
        }
        guard errors.isEmpty else {
            return .failure(LoadError(message: errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"))
        }
        if users["default"] == nil { users["default"] = ACLUser.defaultUser(table: table, password: nil) }
        return .success(users)
    }

    static func load(_ path: String, table: SentinelCommandTable) -> Result<[String: ACLUser], LoadError> {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            return .failure(LoadError(message: "Error loading ACLs, opening file '\(path)': \(String(cString: strerror(errno)))"))
        }
        let file = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        guard let data = try? file.readToEnd() ?? Data() else {
            return .failure(LoadError(message: "Error loading ACLs, reading file '\(path)' failed"))
        }
        return parse(String(decoding: data, as: UTF8.self), path: path, table: table)
    }

    /// `ACL SAVE`: one `user` line per user, by name.
    static func render(_ users: [String: ACLUser], table: SentinelCommandTable) -> String {
        users.keys.sorted().map { users[$0]!.describe(table: table) + "\n" }.joined()
    }
}
