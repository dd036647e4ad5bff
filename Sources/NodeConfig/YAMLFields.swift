import Yams

/// A node.yaml that cannot be used: the file, the line, the key (as a dotted path) and why.
public struct NodeConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var key: String
    public var message: String

    public init(file: String, line: Int, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        key.isEmpty ? "\(file):\(line): \(message)" : "\(file):\(line): '\(key)': \(message)"
    }
}

/// One YAML mapping being read into settings: typed look-ups that name the key and its line
/// on error, and a check that no key was left unread (a misspelt key is an error, not ignored).
struct YAMLFields {
    let file: String
    /// The dotted path of this mapping (`vip.vrrp`), empty at the top.
    let path: String
    let line: Int
    private let entries: [(key: String, line: Int, value: Node)]
    private var read: Set<String> = []

    /// `keyLine`: where the mapping's own key stands (errors about a missing key point there).
    init(_ node: Node, path: String, file: String, keyLine: Int? = nil) throws(NodeConfigError) {
        self.file = file
        self.path = path
        let line = keyLine ?? node.mark?.line ?? 1
        self.line = line
        guard case .mapping(let mapping) = node else {
            throw NodeConfigError(file: file, line: line, key: path, message: "expected a mapping of keys to values")
        }
        var entries: [(key: String, line: Int, value: Node)] = []
        for (key, value) in mapping {
            let keyLine = key.mark?.line ?? line
            guard case .scalar(let scalar) = key else {
                throw NodeConfigError(file: file, line: keyLine, key: path, message: "a key must be a plain name")
            }
            if entries.contains(where: { $0.key == scalar.string }) {
                throw NodeConfigError(file: file, line: keyLine, key: Self.join(path, scalar.string), message: "given twice")
            }
            entries.append((scalar.string, keyLine, value))
        }
        self.entries = entries
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func fullKey(_ key: String) -> String { Self.join(path, key) }

    func error(_ key: String, _ message: String) -> NodeConfigError {
        NodeConfigError(file: file, line: lineOf(key), key: fullKey(key), message: message)
    }

    /// The line of `key`, or of this mapping when the key is absent.
    func lineOf(_ key: String) -> Int { entries.first { $0.key == key }?.line ?? line }

    func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    mutating func node(_ key: String) -> Node? {
        guard let entry = entries.first(where: { $0.key == key }) else { return nil }
        read.insert(key)
        // `key:` with nothing after it is YAML's null: treated as absent.
        if case .scalar(let s) = entry.value, s.string.isEmpty || s.string == "~" || s.string == "null", s.style == .plain { return nil }
        return entry.value
    }

    mutating func string(_ key: String) throws(NodeConfigError) -> String? {
        guard let value = node(key) else { return nil }
        guard case .scalar(let scalar) = value else { throw error(key, "expected a single value, not a list or mapping") }
        return scalar.string
    }

    mutating func requiredString(_ key: String) throws(NodeConfigError) -> String {
        guard let value = try string(key) else { throw error(key, "is required") }
        return value
    }

    mutating func bool(_ key: String) throws(NodeConfigError) -> Bool? {
        guard let text = try string(key) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(key, "expected true or false, got '\(text)'")
        }
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>) throws(NodeConfigError) -> Int? {
        guard let text = try string(key) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw error(key, "expected a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return value
    }

    /// A duration: `250ms`, `1.5s`, `2m`, or a bare number of milliseconds.
    mutating func milliseconds(_ key: String, in range: ClosedRange<Int64>) throws(NodeConfigError) -> Int64? {
        guard let text = try string(key) else { return nil }
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000)]
        var number = Substring(text.trimmingCharacters(in: " "))
        var factor = 1.0
        for (suffix, f) in units where number.hasSuffix(suffix) {
            number = number.dropLast(suffix.count)
            factor = f
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0 else {
            throw error(key, "expected a duration such as 500ms, 1s or 2m, got '\(text)'")
        }
        let ms = (value * factor).rounded()
        guard ms >= Double(range.lowerBound), ms <= Double(range.upperBound) else {
            throw error(key, "must be from \(range.lowerBound) ms to \(range.upperBound) ms, got '\(text)'")
        }
        return Int64(ms)
    }

    mutating func choice(_ key: String, _ choices: [String]) throws(NodeConfigError) -> String? {
        guard let text = try string(key) else { return nil }
        guard choices.contains(text) else {
            throw error(key, "must be one of \(choices.joined(separator: ", ")), got '\(text)'")
        }
        return text
    }

    mutating func mapping(_ key: String) throws(NodeConfigError) -> YAMLFields? {
        guard let value = node(key) else { return nil }
        return try YAMLFields(value, path: fullKey(key), file: file, keyLine: lineOf(key))
    }

    /// A list of single values; one value alone is taken as a list of one.
    mutating func strings(_ key: String) throws(NodeConfigError) -> [String]? {
        guard let value = node(key) else { return nil }
        switch value {
        case .scalar(let s): return [s.string]
        case .sequence(let items):
            var out: [String] = []
            for item in items {
                guard case .scalar(let s) = item else { throw error(key, "expected a list of single values") }
                out.append(s.string)
            }
            return out
        case .mapping: throw error(key, "expected a list of values, not a mapping")
        }
    }

    /// A list of mappings (`nodes:`), each read by `body`.
    mutating func list<T>(_ key: String, _ body: (inout YAMLFields) throws(NodeConfigError) -> T) throws(NodeConfigError) -> [T]? {
        guard let value = node(key) else { return nil }
        guard case .sequence(let items) = value else { throw error(key, "expected a list") }
        var out: [T] = []
        for (index, item) in items.enumerated() {
            var fields = try YAMLFields(item, path: "\(fullKey(key))[\(index)]", file: file)
            out.append(try body(&fields))
            try fields.finish()
        }
        return out
    }

    /// Every key must have been read: an unknown (e.g. misspelt) key is an error.
    func finish() throws(NodeConfigError) {
        if let unknown = entries.first(where: { !read.contains($0.key) }) {
            throw NodeConfigError(file: file, line: unknown.line, key: fullKey(unknown.key), message: "unknown key")
        }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
