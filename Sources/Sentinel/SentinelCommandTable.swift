import NIOCore
import RESP

/// redis-sentinel 7.0.15's command table, read from the captured `COMMAND` reply: names,
/// arity, flags, ACL categories and subcommands, so lookup, arity errors, ACL categories and
/// every COMMAND subcommand answer as the reference does.
struct SentinelCommandTable: Sendable {
    /// One command or subcommand (`sentinel|set`).
    struct Entry: Sendable {
        var name: String
        var arity: Int
        var flags: [String]
        var categories: [String]
        /// The entry as `COMMAND INFO` returns it (RESP3 shape).
        var reply: RESPValue
        var subcommands: [String: Entry]
    }

    /// Top-level commands by lower-case name, in the captured order.
    let commands: [String: Entry]
    let order: [String]
    /// `COMMAND DOCS` entries by name (RESP3 shape: name → doc map).
    let docs: [String: RESPValue]
    let docsOrder: [String]

    static let shared = SentinelCommandTable()

    /// A captured reply by key (see `CapturedSentinelReplies`), parsed.
    static func captured(_ key: String) -> RESPValue {
        var buffer = ByteBuffer()
        buffer.writeString(CapturedSentinelReplies.replies[key]!)
        return (try? RESPValueParser.parseReplies(buffer).first) ?? .array([])
    }

    init() {
        func entry(_ value: RESPValue) -> Entry? {
            guard let e = value.array, e.count >= 10, let name = e[0].string, let arity = e[1].int else { return nil }
            var subs: [String: Entry] = [:]
            for s in e[9].array ?? [] { if let sub = entry(s) { subs[sub.name] = sub } }
            return Entry(name: name, arity: Int(arity), flags: Self.strings(e[2]), categories: Self.strings(e[6]),
                         reply: value, subcommands: subs)
        }
        var commands: [String: Entry] = [:]
        var order: [String] = []
        for value in Self.captured("command").array ?? [] {
            guard let e = entry(value) else { continue }
            commands[e.name] = e
            order.append(e.name)
        }
        self.commands = commands
        self.order = order
        var docs: [String: RESPValue] = [:]
        var docsOrder: [String] = []
        for pair in Self.captured("command-docs").pairs ?? [] {
            guard let name = pair.key.string else { continue }
            docs[name] = pair.value
            docsOrder.append(name)
        }
        self.docs = docs
        self.docsOrder = docsOrder
    }

    static func strings(_ value: RESPValue) -> [String] {
        switch value {
        case .set(let items), .array(let items): return items.compactMap(\.string)
        default: return []
        }
    }

    /// What a command line resolves to, as Redis's `lookupCommand` + arity check decide.
    enum Lookup {
        case found(Entry)
        /// `-ERR …` text without the leading `ERR `.
        case rejected(String)
    }

    func lookup(_ args: [String]) -> Lookup {
        let name = args[0].lowercased()
        guard let top = commands[name] else {
            let shown = args.dropFirst().prefix(3).map { "'\($0.prefix(128))' " }.joined()
            return .rejected("unknown command '\(args[0].prefix(128))', with args beginning with: \(shown)")
        }
        var found = top
        if !top.subcommands.isEmpty, args.count >= 2 {
            guard let sub = top.subcommands["\(name)|\(args[1].lowercased())"] else {
                return .rejected("unknown subcommand '\(args[1].prefix(128))'. Try \(args[0].uppercased()) HELP.")
            }
            found = sub
        }
        if (found.arity > 0 && args.count != found.arity) || args.count < -found.arity {
            return .rejected("wrong number of arguments for '\(found.name)' command")
        }
        return .found(found)
    }

    /// Every name `COMMAND LIST` gives: commands and their subcommands.
    var allNames: [String] {
        order.flatMap { name -> [String] in
            let e = commands[name]!
            return [name] + (e.reply.array?[9].array ?? []).compactMap { $0.array?.first?.string }
        }
    }

    /// Every entry, subcommands included.
    var allEntries: [Entry] {
        allNames.compactMap { entry(named: $0) }
    }

    func entry(named name: String) -> Entry? {
        let lower = name.lowercased()
        if let top = commands[lower] { return top }
        let parts = lower.split(separator: "|", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        return commands[String(parts[0])]?.subcommands[lower]
    }

    /// The 21 ACL categories, in `ACL CAT` order.
    var categories: [String] {
        Self.strings(Self.captured("acl-cat"))
    }
}
