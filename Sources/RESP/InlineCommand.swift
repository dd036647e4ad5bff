/// Splits an inline command line the way Redis's `sdssplitargs` does: blanks separate
/// arguments, "double quotes" take `\n \r \t \b \a \xHH` escapes, 'single quotes' take `\'`,
/// and a closing quote must be followed by a blank or the end of the line.
///
/// Returns nil for unbalanced quotes (Redis: "Protocol error: unbalanced quotes in request").
public func splitInlineArguments<Bytes: Collection<UInt8>>(_ line: Bytes) -> [[UInt8]]? {
    let bytes = Array(line)
    let n = bytes.count
    var p = 0
    var result: [[UInt8]] = []
    func at(_ i: Int) -> UInt8 { i < n ? bytes[i] : 0 }  // C-string semantics: past the end is NUL
    func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0d) }
    func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
    while true {
        while at(p) != 0 && isSpace(at(p)) { p += 1 }
        guard at(p) != 0 else { return result }
        var inDouble = false, inSingle = false, done = false
        var current: [UInt8] = []
        while !done {
            let c = at(p)
            if inDouble {
                if c == UInt8(ascii: "\\"), at(p + 1) == UInt8(ascii: "x"), let h = hexValue(at(p + 2)), let l = hexValue(at(p + 3)) {
                    current.append(h * 16 + l)
                    p += 3
                } else if c == UInt8(ascii: "\\"), at(p + 1) != 0 {
                    p += 1
                    switch at(p) {
                    case UInt8(ascii: "n"): current.append(0x0a)
                    case UInt8(ascii: "r"): current.append(0x0d)
                    case UInt8(ascii: "t"): current.append(0x09)
                    case UInt8(ascii: "b"): current.append(0x08)
                    case UInt8(ascii: "a"): current.append(0x07)
                    default: current.append(at(p))
                    }
                } else if c == UInt8(ascii: "\"") {
                    if at(p + 1) != 0 && !isSpace(at(p + 1)) { return nil }
                    done = true
                } else if c == 0 {
                    return nil
                } else {
                    current.append(c)
                }
            } else if inSingle {
                if c == UInt8(ascii: "\\"), at(p + 1) == UInt8(ascii: "'") {
                    p += 1
                    current.append(UInt8(ascii: "'"))
                } else if c == UInt8(ascii: "'") {
                    if at(p + 1) != 0 && !isSpace(at(p + 1)) { return nil }
                    done = true
                } else if c == 0 {
                    return nil
                } else {
                    current.append(c)
                }
            } else {
                switch c {
                case 0x20, 0x0a, 0x0d, 0x09, 0: done = true
                case UInt8(ascii: "\""): inDouble = true
                case UInt8(ascii: "'"): inSingle = true
                default: current.append(c)
                }
            }
            if at(p) != 0 { p += 1 }
        }
        result.append(current)
    }
}
