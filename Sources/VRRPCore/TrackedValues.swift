/// keepalived's `track_file`, pure: the file's text to a value, and a value to what it does to
/// the priority of an instance tracking it.
public enum TrackFileValue {
    /// The priority offset at which (or below which) a tracking instance goes to FAULT.
    public static let fault = -254

    /// The number in a track file's text, read as keepalived 2.2.7 reads it (C's strtol, base
    /// 0: leading blanks, a sign, `0x` hex and `0` octal, anything after the digits ignored; no
    /// digits at all reads 0). nil: a number outside a C int, which keepalived logs ("Invalid
    /// number … - ignoring") and ignores, keeping the previous value.
    public static func parse(_ text: String) -> Int? {
        var chars = Substring(text).drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" }
        var negative = false
        if let sign = chars.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            chars = chars.dropFirst()
        }
        var base = 10
        if chars.hasPrefix("0x") || chars.hasPrefix("0X"), let d = chars.dropFirst(2).first, d.isHexDigit {
            base = 16
            chars = chars.dropFirst(2)
        } else if chars.hasPrefix("0") {
            base = 8
        }
        var value = 0
        for ch in chars {
            guard let digit = ch.hexDigitValue, digit < base else { break }
            value = value * base + digit
            if value > Int(Int32.max) + 1 { return nil }
        }
        if negative { value = -value }
        guard value >= Int(Int32.min) && value <= Int(Int32.max) else { return nil }
        return value
    }

    /// The offset an instance applies for `value` (keepalived's `process_update_track_file_status`):
    /// with weight 0 a non-zero value is a failure (a zero one with `reverse`), otherwise value ×
    /// weight (negated with `reverse`) kept in −254…253; `fault` (−254) means FAULT.
    public static func offset(value: Int, weight: Int, reverse: Bool) -> Int {
        if weight == 0 { return (value != 0) != reverse ? fault : 0 }
        let product = value.multipliedReportingOverflow(by: weight * (reverse ? -1 : 1))
        if product.overflow { return (value < 0) != (weight * (reverse ? -1 : 1) < 0) ? fault : 253 }
        return min(max(product.partialValue, fault), 253)
    }
}

/// What a `vrrp_track_process` counts: processes by name (the kernel's 15-character `comm`) or,
/// with `full_command` or parameters, by command line, as keepalived 2.2.7 matches them.
public struct ProcessPattern: Sendable, Hashable {
    public enum ParameterMatch: Sendable, Hashable {
        /// Parameters are not looked at (a name, or `full_command` alone: argv[0] only).
        case none
        /// The process's parameters are exactly these (none if none are configured).
        case exact
        /// The process's first parameters are exactly these; it may have more (`partial`).
        case partial
        /// As `partial`, and the last configured one may be a prefix of the process's (`initial`).
        case initial
    }

    /// The name (`comm`) or, matching the command line, argv[0] exactly.
    public var program: String
    public var parameters: [String]
    public var parameterMatch: ParameterMatch
    /// Compare the command line (argv[0]) rather than the process name.
    public var fullCommand: Bool

    /// keepalived's rules: parameters imply `full_command` and an exact match unless
    /// `param_match` says otherwise; `param_match` alone means exactly no parameters.
    public init(program: String, parameters: [String] = [], parameterMatch: ParameterMatch? = nil, fullCommand: Bool = false) {
        self.program = program
        self.parameters = parameters
        self.parameterMatch = parameterMatch ?? (parameters.isEmpty ? .none : .exact)
        self.fullCommand = fullCommand || !parameters.isEmpty || parameterMatch != nil
    }

    /// Whether a process matches: `comm` from /proc/PID/stat, `commandLine` the NUL-separated
    /// words of /proc/PID/cmdline (needed only when `fullCommand`).
    public func matches(comm: String, commandLine: [String]) -> Bool {
        guard fullCommand else { return comm == program }
        guard let first = commandLine.first, first == program else { return false }
        let theirs = Array(commandLine.dropFirst())
        switch parameterMatch {
        case .none:
            return true
        case .exact:
            return theirs == parameters
        case .partial:
            return theirs.count >= parameters.count && Array(theirs.prefix(parameters.count)) == parameters
        case .initial:
            guard let last = parameters.last else { return true }
            let head = parameters.dropLast()
            guard theirs.count >= parameters.count, Array(theirs.prefix(head.count)) == Array(head) else { return false }
            return theirs[head.count].hasPrefix(last)
        }
    }
}

/// A `vrrp_track_process`'s status on a clock it never reads: up while quorum ≤ count ≤
/// quorum_max; a gain takes effect after `fork_delay`, a loss after `terminate_delay`, and a
/// change that reverts within its delay never happens.
public struct ProcessQuorum: Sendable {
    public let quorum: Int
    public let quorumMax: Int
    public let forkDelay: Duration
    public let terminateDelay: Duration
    public private(set) var up: Bool
    public private(set) var count = 0
    private var pending: (up: Bool, due: Duration)?

    /// The status before the first count: keepalived scans /proc at start and takes its
    /// count at once (no delay).
    public init(quorum: Int = 1, quorumMax: Int = Int.max, forkDelay: Duration = .zero, terminateDelay: Duration = .zero, initialCount: Int) {
        self.quorum = quorum
        self.quorumMax = quorumMax
        self.forkDelay = forkDelay
        self.terminateDelay = terminateDelay
        self.count = initialCount
        self.up = initialCount >= quorum && initialCount <= quorumMax
    }

    /// When `timer` must be called.
    public var nextDeadline: Duration? { pending?.due }

    /// A new count of matching processes; returns the new status when it changed now.
    public mutating func update(count: Int, now: Duration) -> Bool? {
        self.count = count
        let target = count >= quorum && count <= quorumMax
        if target == up {
            pending = nil
            return nil
        }
        if let pending, pending.up == target { return timer(now: now) }
        let delay = target ? forkDelay : terminateDelay
        guard delay > .zero else {
            up = target
            pending = nil
            return target
        }
        pending = (target, now + delay)
        return nil
    }

    /// Time passed: a pending change whose delay is over takes effect.
    public mutating func timer(now: Duration) -> Bool? {
        guard let p = pending, p.due <= now else { return nil }
        pending = nil
        up = p.up
        return p.up
    }
}
