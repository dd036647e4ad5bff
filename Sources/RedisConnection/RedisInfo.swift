/// The reply to `INFO`, parsed: every section and field, plus typed replication facts.
public struct RedisInfo: Sendable, Hashable {
    /// One `# Section` of the reply, its fields in reply order.
    public struct Section: Sendable, Hashable {
        /// The name as Redis prints it, e.g. `"Replication"`.
        public var name: String
        public var fields: [(String, String)] { zip(keys, values).map { ($0, $1) } }
        var keys: [String] = []
        var values: [String] = []

        /// The value of `key` in this section.
        public subscript(key: String) -> String? {
            keys.firstIndex(of: key).map { values[$0] }
        }
    }

    /// The sections in reply order.
    public private(set) var sections: [Section] = []
    private var index: [String: String] = [:]

    /// Parses the text of an INFO reply (`# Section` headers, `key:value` lines, CRLF or LF).
    public init(parsing text: String) {
        var current = Section(name: "")
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine[...]
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                if !current.name.isEmpty || !current.keys.isEmpty { sections.append(current) }
                current = Section(name: line.dropFirst().trimmingSpaces())
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let value = String(line[line.index(after: colon)...])
            current.keys.append(key)
            current.values.append(value)
            index[key] = value
        }
        if !current.name.isEmpty || !current.keys.isEmpty { sections.append(current) }
    }

    /// The section named `name`, case-insensitively (`"replication"`).
    public func section(_ name: String) -> Section? {
        sections.first { $0.name.lowercased() == name.lowercased() }
    }

    /// The value of `key` in whichever section holds it.
    public subscript(key: String) -> String? { index[key] }

    /// `run_id` from the Server section.
    public var runID: String? { index["run_id"] }

    /// The Replication section, typed.
    public var replication: ReplicationInfo { ReplicationInfo(info: self) }
}

/// A server's role as INFO and ROLE name it.
public enum RedisRoleName: Sendable, Hashable {
    case master
    case replica
    case sentinel
    case other(String)

    init(_ text: String) {
        switch text {
        case "master": self = .master
        case "slave", "replica": self = .replica
        case "sentinel": self = .sentinel
        default: self = .other(text)
        }
    }
}

/// The replication facts Sentinel and the proxy decide on.
public struct ReplicationInfo: Sendable, Hashable {
    /// A `slaveN:` line of a master's INFO.
    public struct Replica: Sendable, Hashable {
        public var ip: String
        public var port: Int
        public var state: String
        public var offset: Int64
        public var lag: Int?
    }

    public var role: RedisRoleName?
    public var masterHost: String?
    public var masterPort: Int?
    /// True when `master_link_status:up`.
    public var masterLinkUp: Bool?
    /// Seconds the link to the master has been down; -1 when it never came up.
    public var masterLinkDownSinceSeconds: Int?
    public var masterSyncInProgress: Bool?
    public var slaveReplOffset: Int64?
    /// `slave_priority` (or `replica_priority`): 0 means never promote.
    public var replicaPriority: Int?
    /// `replica_announced:0` hides a replica from Sentinel.
    public var replicaAnnounced: Bool?
    public var slaveReadOnly: Bool?
    public var connectedSlaves: Int?
    public var replicas: [Replica]
    public var masterReplID: String?
    public var masterReplOffset: Int64?
    public var masterFailoverState: String?
    /// `loading:1` (Persistence): the server is still loading its data set from disk.
    public var loading: Bool?
    /// The keys of every `dbN:keys=…` line of the Keyspace section; 0 when the section is there
    /// but empty, nil when the reply has no Keyspace section (INFO asked for other sections).
    public var keys: Int?

    init() {
        replicas = []
    }

    init(info: RedisInfo) {
        role = info["role"].map(RedisRoleName.init)
        masterHost = info["master_host"]
        masterPort = info["master_port"].flatMap { Int($0) }
        masterLinkUp = info["master_link_status"].map { $0 == "up" }
        masterLinkDownSinceSeconds = info["master_link_down_since_seconds"].flatMap { Int($0) }
        masterSyncInProgress = info["master_sync_in_progress"].map { $0 == "1" }
        slaveReplOffset = info["slave_repl_offset"].flatMap { Int64($0) }
        replicaPriority = (info["replica_priority"] ?? info["slave_priority"]).flatMap { Int($0) }
        replicaAnnounced = info["replica_announced"].map { $0 == "1" }
        slaveReadOnly = (info["replica_read_only"] ?? info["slave_read_only"]).map { $0 == "1" }
        connectedSlaves = info["connected_slaves"].flatMap { Int($0) }
        masterReplID = info["master_replid"]
        masterReplOffset = info["master_repl_offset"].flatMap { Int64($0) }
        masterFailoverState = info["master_failover_state"]
        loading = info["loading"].map { $0 == "1" }
        if let keyspace = info.section("Keyspace") {
            keys = keyspace.fields.reduce(0) { sum, field in
                Self.isDatabaseKey(field.0) ? sum &+ Self.keyCount(field.1) : sum
            }
        }
        var replicas: [Replica] = []
        for n in 0..<(connectedSlaves ?? 0) {
            guard let line = info["slave\(n)"] else { continue }
            if let replica = Self.parseReplica(line) { replicas.append(replica) }
        }
        self.replicas = replicas
    }

    /// `db0`, `db15`: a Keyspace line's key.
    static func isDatabaseKey(_ key: String) -> Bool {
        key.count > 2 && key.hasPrefix("db") && key.dropFirst(2).allSatisfy { ("0"..."9").contains($0) }
    }

    /// The `keys=N` of a Keyspace line's value (`keys=3,expires=0,avg_ttl=0`); 0 if unreadable.
    static func keyCount(_ value: String) -> Int {
        guard let field = value.split(separator: ",").first(where: { $0.hasPrefix("keys=") }) else { return 0 }
        return Int(field.dropFirst(5)).map { max(0, $0) } ?? 0
    }

    /// Parses `ip=127.0.0.1,port=6380,state=online,offset=123,lag=0` (and the pre-2.8 `ip,port,state` form).
    static func parseReplica(_ line: String) -> Replica? {
        var fields: [String: String] = [:]
        let parts = line.split(separator: ",").map(String.init)
        if parts.first?.contains("=") == false {
            guard parts.count >= 3, let port = Int(parts[1]) else { return nil }
            return Replica(ip: parts[0], port: port, state: parts[2], offset: 0, lag: nil)
        }
        for part in parts {
            guard let eq = part.firstIndex(of: "=") else { continue }
            fields[String(part[..<eq])] = String(part[part.index(after: eq)...])
        }
        guard let ip = fields["ip"], let port = fields["port"].flatMap({ Int($0) }) else { return nil }
        return Replica(ip: ip, port: port, state: fields["state"] ?? "", offset: fields["offset"].flatMap { Int64($0) } ?? 0,
                       lag: fields["lag"].flatMap { Int($0) })
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

extension RedisInfo {
    /// `run_id` and the replication facts of an INFO reply, read in one pass over its bytes that
    /// keeps no other field: the same values as `RedisInfo(parsing:)`'s `runID` and
    /// `replication`, for a monitor that polls hundreds of servers and reads a dozen of their
    /// ~150 fields.
    public static func scanReplication(_ text: String) -> (runID: String?, replication: ReplicationInfo) {
        var text = text
        return text.withUTF8 { InfoScanner(bytes: $0).scan() }
    }
}

/// The byte-level scan behind `RedisInfo.scanReplication`.
private struct InfoScanner {
    let bytes: UnsafeBufferPointer<UInt8>

    func string(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self) }
    func int(_ r: Range<Int>) -> Int? { Int(string(r)) }
    func is1(_ r: Range<Int>) -> Bool { r.count == 1 && bytes[r.lowerBound] == UInt8(ascii: "1") }

    func equals(_ r: Range<Int>, _ literal: StaticString) -> Bool {
        guard r.count == literal.utf8CodeUnitCount else { return false }
        let l = literal.utf8Start
        for (k, i) in r.enumerated() where bytes[i] != l[k] { return false }
        return true
    }

    /// A section header's name (after `#`) is `Keyspace` in any case, spaces around it
    /// ignored: as `trimmingSpaces().lowercased() == "keyspace"`, on the bytes (a dozen headers
    /// in each INFO reply, hundreds of replies a minute for a monitor).
    func isKeyspaceHeader(_ r: Range<Int>) -> Bool {
        var lower = r.lowerBound, upper = r.upperBound
        while lower < upper && bytes[lower] == UInt8(ascii: " ") { lower += 1 }
        while upper > lower && bytes[upper - 1] == UInt8(ascii: " ") { upper -= 1 }
        let name: StaticString = "keyspace"
        guard upper - lower == name.utf8CodeUnitCount else { return false }
        let l = name.utf8Start
        for k in 0..<(upper - lower) {
            let b = bytes[lower + k]
            // ASCII case folding (Redis writes its headers in ASCII; `lowercased()` would also
            // fold a non-ASCII letter such as the Kelvin sign, a difference no server shows).
            let folded = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b) ? b | 0x20 : b
            if folded != l[k] { return false }
        }
        return true
    }

    /// N of a `slaveN` key written as Redis writes it (digits, no leading zero).
    func replicaIndex(_ key: Range<Int>) -> Int? {
        let digits = (key.lowerBound + 5)..<key.upperBound
        guard key.count > 5, key.count < 20, equals(key.lowerBound..<(key.lowerBound + 5), "slave") else { return nil }
        if digits.count > 1 && bytes[digits.lowerBound] == UInt8(ascii: "0") { return nil }
        var n = 0
        for i in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else { return nil }
            n = n * 10 + Int(bytes[i] - UInt8(ascii: "0"))
        }
        return n
    }

    func scan() -> (runID: String?, replication: ReplicationInfo) {
        var runID: String?
        var r = ReplicationInfo()
        var replicaPriority: Int??, slavePriority: Int??
        var replicaReadOnly: Bool?, slaveReadOnly: Bool?
        var replicaLines: [(Int, Range<Int>)] = []
        var inKeyspace = false
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            defer { start = end + 1 }
            // As the parse by Characters: a CR before the LF belongs to the separator, and then
            // one more trailing CR is dropped.
            var lineEnd = end
            if end < bytes.count, lineEnd > start, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            if lineEnd > start, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            if lineEnd > start, bytes[start] == UInt8(ascii: "#") {
                // As `section("Keyspace")`: the first section of that name (any case) counts.
                let isKeyspace = isKeyspaceHeader((start + 1)..<lineEnd)
                inKeyspace = isKeyspace && r.keys == nil
                if inKeyspace { r.keys = 0 }
                continue
            }
            guard lineEnd > start,
                  let colon = (start..<lineEnd).first(where: { bytes[$0] == UInt8(ascii: ":") }) else { continue }
            let key = start..<colon
            let value = (colon + 1)..<lineEnd
            switch bytes[start] {
            case UInt8(ascii: "r"):
                if equals(key, "run_id") { runID = string(value) }
                else if equals(key, "role") { r.role = RedisRoleName(string(value)) }
                else if equals(key, "replica_priority") { replicaPriority = .some(int(value)) }
                else if equals(key, "replica_announced") { r.replicaAnnounced = is1(value) }
                else if equals(key, "replica_read_only") { replicaReadOnly = is1(value) }
            case UInt8(ascii: "m"):
                if equals(key, "master_host") { r.masterHost = string(value) }
                else if equals(key, "master_port") { r.masterPort = int(value) }
                else if equals(key, "master_link_status") { r.masterLinkUp = equals(value, "up") }
                else if equals(key, "master_link_down_since_seconds") { r.masterLinkDownSinceSeconds = int(value) }
                else if equals(key, "master_sync_in_progress") { r.masterSyncInProgress = is1(value) }
                else if equals(key, "master_replid") { r.masterReplID = string(value) }
                else if equals(key, "master_repl_offset") { r.masterReplOffset = Int64(string(value)) }
                else if equals(key, "master_failover_state") { r.masterFailoverState = string(value) }
            case UInt8(ascii: "s"):
                if equals(key, "slave_repl_offset") { r.slaveReplOffset = Int64(string(value)) }
                else if equals(key, "slave_priority") { slavePriority = .some(int(value)) }
                else if equals(key, "slave_read_only") { slaveReadOnly = is1(value) }
                else if let n = replicaIndex(key) { replicaLines.append((n, value)) }
            case UInt8(ascii: "c"):
                if equals(key, "connected_slaves") { r.connectedSlaves = int(value) }
            case UInt8(ascii: "l"):
                if equals(key, "loading") { r.loading = equals(value, "1") }
            case UInt8(ascii: "d"):
                if inKeyspace, ReplicationInfo.isDatabaseKey(string(key)) {
                    r.keys = r.keys! &+ ReplicationInfo.keyCount(string(value))
                }
            default:
                break
            }
        }
        // As the key index: replica_priority wins over slave_priority, the last line of a key wins.
        r.replicaPriority = (replicaPriority ?? slavePriority) ?? nil
        r.slaveReadOnly = replicaReadOnly ?? slaveReadOnly
        for n in 0..<max(0, r.connectedSlaves ?? 0) {
            guard let line = replicaLines.last(where: { $0.0 == n })?.1 else { continue }
            if let replica = ReplicationInfo.parseReplica(string(line)) { r.replicas.append(replica) }
        }
        return (runID, r)
    }
}
