import NIOCore

/// COMMAND's flags the cluster router uses.
public struct CommandFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let readonly = CommandFlags(rawValue: 1 << 0)
    public static let write = CommandFlags(rawValue: 1 << 1)
    public static let blocking = CommandFlags(rawValue: 1 << 2)
    public static let movablekeys = CommandFlags(rawValue: 1 << 3)
    public static let pubsub = CommandFlags(rawValue: 1 << 4)
    public static let noscript = CommandFlags(rawValue: 1 << 5)
    public static let admin = CommandFlags(rawValue: 1 << 6)
    public static let loading = CommandFlags(rawValue: 1 << 7)
    public static let stale = CommandFlags(rawValue: 1 << 8)
}

/// One command's entry in Redis's command table (COMMAND's legacy key fields).
public struct CommandInfo: Sendable, Hashable {
    /// Upper case; a subcommand as `CONTAINER|SUB`.
    public var name: String
    /// Exact argument count (name included) when positive, the minimum when negative.
    public var arity: Int
    public var firstKey: Int
    /// Negative: counted from the end (-1 is the last argument).
    public var lastKey: Int
    public var keyStep: Int
    public var flags: CommandFlags

    /// Whether `count` arguments (the name included) satisfy the arity.
    public func accepts(argumentCount count: Int) -> Bool {
        arity >= 0 ? count == arity : count >= -arity
    }
}

/// Where a command's keys are, as Redis Cluster finds them: the legacy first/last/step of
/// redis-server 7.0's command table (captured in CommandKeyTable.swift), and by hand for the
/// commands flagged `movablekeys` (EVAL/FCALL numkeys, ZUNIONSTORE and friends, XREAD STREAMS,
/// SORT … STORE, GEORADIUS … STORE, MIGRATE … KEYS).
public enum CommandKeys {
    /// The command table by upper-case name.
    public static let table: [String: CommandInfo] = {
        var table: [String: CommandInfo] = [:]
        for (name, arity, first, last, step, flags) in captured {
            table[name] = CommandInfo(name: name, arity: arity, firstKey: first, lastKey: last, keyStep: step, flags: flags)
        }
        return table
    }()

    /// Containers (commands with subcommands, such as OBJECT, XINFO, CLUSTER).
    static let containers: Set<String> = Set(captured.compactMap { entry in
        entry.0.firstIndex(of: "|").map { String(entry.0[..<$0]) }
    })

    /// The text of argument `index` with ASCII letters in upper case (Redis compares command
    /// names and options with strcasecmp: ASCII only). Byte by byte, without `uppercased()`'s
    /// Unicode tables: it runs several times per command on the proxy's hot path.
    public static func word(_ arguments: [ByteBuffer], _ index: Int) -> String {
        let view = arguments[index].readableBytesView
        return String(unsafeUninitializedCapacity: view.count) { out in
            var i = 0
            for byte in view {
                out[i] = byte &- 0x61 < 26 ? byte &- 0x20 : byte
                i += 1
            }
            return i
        }
    }

    /// The table entry for a command (its subcommand's for a container); nil for an unknown one.
    public static func info(for arguments: [ByteBuffer]) -> CommandInfo? {
        guard let first = arguments.first, first.readableBytes <= 64 else { return nil }
        let name = word(arguments, 0)
        if containers.contains(name), arguments.count >= 2, arguments[1].readableBytes <= 64,
           let sub = table[name + "|" + word(arguments, 1)] {
            return sub
        }
        return table[name]
    }

    /// The indices of the key arguments of `arguments` (a whole command, name first), in order.
    /// Empty for a command without keys, an unknown command or a wrong argument count (Redis
    /// answers those itself, wherever they are sent).
    public static func keyIndices(_ arguments: [ByteBuffer]) -> [Int] {
        keyIndices(arguments, info: info(for: arguments))
    }

    /// The same with the command's table entry already looked up (`info(for:)`): the proxy's
    /// hot path looks it up once per command.
    public static func keyIndices(_ arguments: [ByteBuffer], info: CommandInfo?) -> [Int] {
        guard let info, info.accepts(argumentCount: arguments.count) else { return [] }
        let count = arguments.count
        if info.flags.contains(.movablekeys) {
            return movableKeyIndices(info.name, arguments)
        }
        guard info.firstKey > 0 else { return [] }
        let last = info.lastKey < 0 ? count + info.lastKey : info.lastKey
        guard last >= info.firstKey, info.keyStep > 0 else { return [] }
        return Array(stride(from: info.firstKey, through: min(last, count - 1), by: info.keyStep))
    }

    /// The key arguments themselves.
    public static func keys(_ arguments: [ByteBuffer]) -> [ByteBuffer] {
        keyIndices(arguments).map { arguments[$0] }
    }

    private static func integer(_ arguments: [ByteBuffer], _ index: Int) -> Int? {
        guard index < arguments.count else { return nil }
        return Int(String(decoding: arguments[index].readableBytesView, as: UTF8.self))
    }

    /// `numkeys` at `at`, the keys right after it; nil (no keys: Redis reports the error) when it
    /// is not a count that fits.
    private static func counted(_ arguments: [ByteBuffer], numkeysAt at: Int) -> [Int]? {
        guard let n = integer(arguments, at), n >= 0, at + n < arguments.count else { return nil }
        return Array(stride(from: at + 1, to: at + 1 + n, by: 1))
    }

    private static func movableKeyIndices(_ name: String, _ arguments: [ByteBuffer]) -> [Int] {
        let count = arguments.count
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            return counted(arguments, numkeysAt: 2) ?? []
        case "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE":
            guard let keys = counted(arguments, numkeysAt: 2), !keys.isEmpty else { return [] }
            return [1] + keys
        case "ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD", "SINTERCARD", "LMPOP", "ZMPOP":
            return counted(arguments, numkeysAt: 1) ?? []
        case "BLMPOP", "BZMPOP":
            return counted(arguments, numkeysAt: 2) ?? []
        case "XREAD", "XREADGROUP":
            // The first STREAMS token; half of what follows it are keys, half IDs.
            for index in 1..<count where word(arguments, index) == "STREAMS" {
                let rest = count - index - 1
                guard rest > 0, rest % 2 == 0 else { return [] }
                return Array(index + 1...index + rest / 2)
            }
            return []
        case "SORT", "SORT_RO":
            var keys = [1]
            var index = 2
            while index < count {
                switch word(arguments, index) {
                case "LIMIT": index += 2
                case "GET", "BY": index += 1
                case "STORE" where name == "SORT" && index + 1 < count: keys.append(index + 1); index += 1
                default: break
                }
                index += 1
            }
            return keys
        case "GEORADIUS", "GEORADIUSBYMEMBER":
            var keys = [1]
            for index in 2..<count - 1 {
                let w = word(arguments, index)
                if w == "STORE" || w == "STOREDIST" { keys.append(index + 1) }
            }
            return keys
        case "MIGRATE":
            if arguments[3].readableBytes > 0 { return [3] }
            for index in 6..<count where word(arguments, index) == "KEYS" {
                return Array(index + 1..<count)
            }
            return []
        default:
            return []
        }
    }
}
