/// PURE: the failover history on the monitor port, for `tandem status`: a tandem monitor answers
/// `INFO failovers` with one line per failover of its `FailoverTimeline`; redis-sentinel has no
/// such section.
///
///     # Failovers
///     failovers:1
///     failover_0:master=mymaster,from=127.0.0.1:6379,to=127.0.0.1:6380,outcome=switched,leader=self,epoch=1,
///                started=1764947001000,ended=1764947002020,steps=sdown@0;odown@12;election@30;promotion@40;switch@1020
///
/// (one line). `steps`: each phase's first step, in order, as milliseconds after the first.
public struct FailoverSummary: Codable, Sendable, Hashable {
    public struct Step: Codable, Sendable, Hashable {
        /// `sdown`, `odown`, `election`, `promotion`, `switch`, `vip` or `abort`.
        public var phase: String
        /// Milliseconds after the failover's first step.
        public var afterMilliseconds: Int64

        public init(phase: String, afterMilliseconds: Int64) {
            self.phase = phase
            self.afterMilliseconds = afterMilliseconds
        }
    }

    public var master: String
    public var from: String?
    public var to: String?
    /// `running`, `switched` or `aborted`.
    public var outcome: String
    /// `self` (the monitor asked led it), the leader's run ID, or nil.
    public var leader: String?
    public var epoch: Int64?
    /// Milliseconds since the Unix epoch of the first and the last step so far.
    public var startedAt: Int64
    public var endedAt: Int64?
    public var steps: [Step]

    public init(master: String, from: String?, to: String?, outcome: String, leader: String?, epoch: Int64?,
                startedAt: Int64, endedAt: Int64?, steps: [Step]) {
        self.master = master
        self.from = from
        self.to = to
        self.outcome = outcome
        self.leader = leader
        self.epoch = epoch
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.steps = steps
    }

    /// A timeline's failover: each phase's first step.
    public init(_ f: FailoverTimeline.Failover) {
        var seen: Set<String> = []
        var steps: [Step] = []
        for s in f.steps where seen.insert(s.phase).inserted {
            steps.append(Step(phase: s.phase, afterMilliseconds: max(0, s.at - f.startedAt)))
        }
        self.init(master: f.master, from: f.from, to: f.to, outcome: f.outcome, leader: f.leader, epoch: f.epoch,
                  startedAt: f.startedAt, endedAt: f.endedAt, steps: steps)
    }

    /// First step to last (nil while it runs).
    public var durationMilliseconds: Int64? { outcome == "running" ? nil : endedAt.map { max(0, $0 - startedAt) } }

    /// `INFO failovers`' lines for `failovers`, newest last.
    public static func infoLines(_ failovers: [FailoverTimeline.Failover]) -> [String] {
        var lines = ["# Failovers", "failovers:\(failovers.count)"]
        for (i, f) in failovers.enumerated() { lines.append("failover_\(i):" + FailoverSummary(f).infoValue) }
        return lines
    }

    var infoValue: String {
        var parts = ["master=\(Self.escape(master))"]
        if let from { parts.append("from=\(Self.escape(from))") }
        if let to { parts.append("to=\(Self.escape(to))") }
        parts.append("outcome=\(Self.escape(outcome))")
        if let leader { parts.append("leader=\(Self.escape(leader))") }
        if let epoch { parts.append("epoch=\(epoch)") }
        parts.append("started=\(startedAt)")
        if let endedAt { parts.append("ended=\(endedAt)") }
        parts.append("steps=" + steps.map { "\(Self.escape($0.phase))@\($0.afterMilliseconds)" }.joined(separator: ";"))
        return parts.joined(separator: ",")
    }

    /// Every `failover_N` line of an `INFO failovers` reply, in order; nil when the reply has no
    /// `failovers:` count (a monitor that keeps no history, e.g. redis-sentinel).
    public static func parse(info text: String) -> [FailoverSummary]? {
        var count: Int?
        var out: [FailoverSummary] = []
        for line in text.split(whereSeparator: \.isNewline) {
            guard !line.hasPrefix("#"), let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon], value = line[line.index(after: colon)...]
            if key == "failovers" { count = Int(value) }
            if key.hasPrefix("failover_"), let f = FailoverSummary(infoValue: String(value)) { out.append(f) }
        }
        return count == nil ? nil : out
    }

    init?(infoValue: String) {
        var f: [String: String] = [:]
        for part in infoValue.split(separator: ",") {
            guard let eq = part.firstIndex(of: "=") else { continue }
            f[String(part[..<eq])] = Self.unescape(String(part[part.index(after: eq)...]))
        }
        guard let master = f["master"], let outcome = f["outcome"], let started = f["started"].flatMap({ Int64($0) }) else { return nil }
        let steps = (f["steps"] ?? "").split(separator: ";").compactMap { s -> Step? in
            guard let at = s.lastIndex(of: "@"), let ms = Int64(s[s.index(after: at)...]) else { return nil }
            return Step(phase: String(s[..<at]), afterMilliseconds: ms)
        }
        self.init(master: master, from: f["from"], to: f["to"], outcome: outcome, leader: f["leader"],
                  epoch: f["epoch"].flatMap { Int64($0) }, startedAt: started, endedAt: f["ended"].flatMap { Int64($0) }, steps: steps)
    }

    /// `%`, `,`, `=`, `;`, `@` and line breaks as `%XX` (a master name may hold any of them).
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if "%,=;@\r\n".unicodeScalars.contains(c) {
                let hex = String(c.value, radix: 16, uppercase: true)
                out += "%" + (hex.count < 2 ? "0" : "") + hex
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var u = Array(s.utf8)[...]
        while let b = u.first {
            if b == UInt8(ascii: "%"), u.count >= 3, let v = UInt8(String(decoding: u.dropFirst().prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                u = u.dropFirst(3)
            } else {
                bytes.append(b)
                u = u.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// PURE: the proxy's throughput from its counters sampled by the node agent: per second over
/// the interval between the last two samples.
public struct ProxyThroughput: Sendable, Hashable {
    public private(set) var commandsPerSecond: Double?
    public private(set) var bytesInPerSecond: Double?
    public private(set) var bytesOutPerSecond: Double?
    private var last: (commands: Int64, bytesIn: Int64, bytesOut: Int64, at: Int64)?

    public init() {}

    /// Counters read at `at` (milliseconds on any monotonic clock). A counter that went down
    /// (a restarted proxy) starts the rates over.
    public mutating func sample(commands: Int64, bytesIn: Int64, bytesOut: Int64, at: Int64) {
        defer { last = (commands, bytesIn, bytesOut, at) }
        guard let l = last, at > l.at, commands >= l.commands, bytesIn >= l.bytesIn, bytesOut >= l.bytesOut else {
            commandsPerSecond = nil
            bytesInPerSecond = nil
            bytesOutPerSecond = nil
            return
        }
        let seconds = Double(at - l.at) / 1000
        commandsPerSecond = Double(commands - l.commands) / seconds
        bytesInPerSecond = Double(bytesIn - l.bytesIn) / seconds
        bytesOutPerSecond = Double(bytesOut - l.bytesOut) / seconds
    }

    public static func == (a: ProxyThroughput, b: ProxyThroughput) -> Bool {
        a.commandsPerSecond == b.commandsPerSecond && a.bytesInPerSecond == b.bytesInPerSecond && a.bytesOutPerSecond == b.bytesOutPerSecond
    }

    public func hash(into h: inout Hasher) {
        h.combine(commandsPerSecond)
        h.combine(bytesInPerSecond)
        h.combine(bytesOutPerSecond)
    }
}
