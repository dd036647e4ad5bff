#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a directive was written: the file and its 1-based line.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// A configuration error a person can act on: file, line, and what is wrong there.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// A warning about the configuration: an unsupported or unknown directive that is ignored.
public struct ConfigWarning: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public var description: String { "\(location): warning: \(message)" }
}

/// One keepalived.conf statement: a keyword, its arguments, and a `{ }` block if it has one.
public struct ConfigStatement: Sendable {
    public var keyword: String
    public var arguments: [String]
    public var block: [ConfigStatement]?
    public var location: SourceLocation

    /// The statement as text, without locations or comments: two statements that read the same
    /// have the same fingerprint wherever they are written (what a reload compares).
    public var fingerprint: String {
        var text = ([keyword] + arguments).joined(separator: "\u{1F}")
        if let block { text += "{" + block.map(\.fingerprint).joined(separator: "\u{1E}") + "}" }
        return text
    }
}

/// keepalived.conf's lexical syntax: words separated by blanks, `"…"` quoting, `#` and `!`
/// comments, `{ }` blocks (the `{` on the keyword's line or the next), and `include GLOB`.
public enum ConfigSyntax {
    /// Reads a file, following includes, into statements.
    public static func parse(file path: String) throws -> [ConfigStatement] {
        var depth = 0
        return try parse(file: path, includeDepth: &depth)
    }

    /// Parses text that came from `file` (used for error locations and relative includes).
    public static func parse(text: String, file: String) throws -> [ConfigStatement] {
        var depth = 0
        return try parse(text: text, file: file, includeDepth: &depth)
    }

    private static func parse(file path: String, includeDepth: inout Int) throws -> [ConfigStatement] {
        let text = try readFile(path)
        return try parse(text: text, file: path, includeDepth: &includeDepth)
    }

    private struct Token {
        var text: String
        var quoted: Bool
        var line: Int
    }

    private static func tokenize(_ text: String, file: String) throws -> [[Token]] {
        var lines: [[Token]] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var tokens: [Token] = []
            var current = ""
            var inQuotes = false
            var quotedToken = false
            func flush() {
                if !current.isEmpty || quotedToken { tokens.append(Token(text: current, quoted: quotedToken, line: lineNumber)) }
                current = ""
                quotedToken = false
            }
            scan: for ch in rawLine {
                if inQuotes {
                    if ch == "\"" { inQuotes = false } else { current.append(ch) }
                    continue
                }
                switch ch {
                case "\"":
                    inQuotes = true
                    quotedToken = true
                case "#" where current.isEmpty && !quotedToken, "!" where current.isEmpty && !quotedToken:
                    break scan  // a comment runs to the end of the line
                case " ", "\t", "\r":
                    flush()
                case "{", "}":
                    flush()
                    tokens.append(Token(text: String(ch), quoted: false, line: lineNumber))
                default:
                    current.append(ch)
                }
            }
            if inQuotes {
                throw ConfigError(SourceLocation(file: file, line: lineNumber), "unterminated quoted string")
            }
            flush()
            lines.append(tokens)
        }
        return lines
    }

    private static func parse(text: String, file: String, includeDepth: inout Int) throws -> [ConfigStatement] {
        let lines = try tokenize(text, file: file)
        // Stack of open blocks: the statements collected so far in each.
        var stack: [[ConfigStatement]] = [[]]
        var openers: [ConfigStatement] = []
        for tokens in lines {
            var i = 0
            var statement: ConfigStatement?
            func finishStatement() throws {
                guard let s = statement else { return }
                statement = nil
                if s.keyword == "include" && s.block == nil {
                    guard let pattern = s.arguments.first else { throw ConfigError(s.location, "include needs a file name") }
                    includeDepth += 1
                    defer { includeDepth -= 1 }
                    guard includeDepth < 16 else { throw ConfigError(s.location, "include nested too deeply") }
                    let base = pattern.hasPrefix("/") ? pattern : directory(of: file) + "/" + pattern
                    let files = expand(glob: base)
                    if files.isEmpty { throw ConfigError(s.location, "include \(pattern): no such file") }
                    for f in files { stack[stack.count - 1] += try parse(file: f, includeDepth: &includeDepth) }
                    return
                }
                stack[stack.count - 1].append(s)
            }
            while i < tokens.count {
                let token = tokens[i]
                let location = SourceLocation(file: file, line: token.line)
                if token.text == "{" && !token.quoted {
                    if statement == nil {
                        // `{` on its own line opens the block of the previous statement.
                        guard var previous = stack[stack.count - 1].popLast() else {
                            throw ConfigError(location, "'{' without a keyword before it")
                        }
                        previous.block = []
                        statement = previous
                    }
                    openers.append(statement!)
                    statement = nil
                    stack.append([])
                } else if token.text == "}" && !token.quoted {
                    try finishStatement()
                    guard var opener = openers.popLast() else { throw ConfigError(location, "'}' without a matching '{'") }
                    opener.block = stack.removeLast()
                    stack[stack.count - 1].append(opener)
                } else if statement == nil {
                    statement = ConfigStatement(keyword: token.text, arguments: [], block: nil, location: location)
                } else {
                    statement!.arguments.append(token.text)
                }
                i += 1
            }
            try finishStatement()
        }
        if let unclosed = openers.last {
            throw ConfigError(unclosed.location, "'\(unclosed.keyword)' block is not closed: missing '}'")
        }
        return stack[0]
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    private static func expand(glob pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }
    }

    /// The largest file read (a configuration is a few kilobytes).
    static let maxFileSize = 16 << 20

    /// A regular file's text: a device, FIFO or directory (`include /dev/zero`) or a file over
    /// `maxFileSize` is refused rather than read forever.
    private static func readFile(_ path: String) throws -> String {
        let location = SourceLocation(file: path, line: 0)
        guard let f = fopen(path, "r") else {
            throw ConfigError(location, "cannot read file: \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var info = stat()
        guard fstat(fileno(f), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw ConfigError(location, "cannot read file: not a regular file")
        }
        guard info.st_size <= maxFileSize else {
            throw ConfigError(location, "cannot read file: \(info.st_size) bytes, more than \(maxFileSize)")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count <= maxFileSize {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes += buffer[..<n]
        }
        guard bytes.count <= maxFileSize else {
            throw ConfigError(location, "cannot read file: more than \(maxFileSize) bytes")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
