import NIOCore

extension ByteBuffer {
    /// Writes `value` in RESP (RESP3 types as RESP3; RESP2 readers only ever get RESP2 types
    /// from servers speaking RESP2).
    @discardableResult
    public mutating func writeRESPValue(_ value: RESPValue) -> Int {
        let start = writerIndex
        switch value {
        case .simpleString(let b): writeLine(UInt8(ascii: "+"), b)
        case .simpleError(let b): writeLine(UInt8(ascii: "-"), b)
        case .integer(let i): writeHeader(UInt8(ascii: ":"), i)
        case .bulkString(let b): writeBlob(UInt8(ascii: "$"), b)
        case .nullBulkString: writeStaticString("$-1\r\n")
        case .nullArray: writeStaticString("*-1\r\n")
        case .null: writeStaticString("_\r\n")
        case .array(let a): writeAggregate(UInt8(ascii: "*"), a)
        case .set(let a): writeAggregate(UInt8(ascii: "~"), a)
        case .push(let a): writeAggregate(UInt8(ascii: ">"), a)
        case .double(let d):
            writeInteger(UInt8(ascii: ","))
            writeString(RESPValue.format(double: d))
            writeStaticString("\r\n")
        case .boolean(let b): writeStaticString(b ? "#t\r\n" : "#f\r\n")
        case .blobError(let b): writeBlob(UInt8(ascii: "!"), b)
        case .verbatimString(let b): writeBlob(UInt8(ascii: "="), b)
        case .bigNumber(let b): writeLine(UInt8(ascii: "("), b)
        case .map(let pairs): writePairs(UInt8(ascii: "%"), pairs)
        case .attributed(let attributes, let inner):
            writePairs(UInt8(ascii: "|"), attributes)
            writeRESPValue(inner)
        }
        return writerIndex - start
    }

    /// Writes a command as a multibulk array of bulk strings, e.g. `["SET", "k", "v"]`.
    @discardableResult
    public mutating func writeRESPCommand(_ arguments: [String]) -> Int {
        let start = writerIndex
        writeHeader(UInt8(ascii: "*"), Int64(arguments.count))
        for argument in arguments {
            writeHeader(UInt8(ascii: "$"), Int64(argument.utf8.count))
            writeString(argument)
            writeStaticString("\r\n")
        }
        return writerIndex - start
    }

    /// Writes a command whose arguments are already bytes.
    @discardableResult
    public mutating func writeRESPCommand(_ arguments: [ByteBuffer]) -> Int {
        let start = writerIndex
        writeHeader(UInt8(ascii: "*"), Int64(arguments.count))
        for argument in arguments { writeBlob(UInt8(ascii: "$"), argument) }
        return writerIndex - start
    }

    private mutating func writeHeader(_ type: UInt8, _ n: Int64) {
        writeInteger(type)
        writeString(String(n))
        writeStaticString("\r\n")
    }

    private mutating func writeLine(_ type: UInt8, _ b: ByteBuffer) {
        writeInteger(type)
        // A simple string cannot carry CR or LF; Redis replaces them with spaces, and so do we.
        if b.readableBytesView.contains(where: { $0 == 0x0d || $0 == 0x0a }) {
            writeBytes(b.readableBytesView.map { $0 == 0x0d || $0 == 0x0a ? 0x20 : $0 })
        } else {
            writeImmutableBuffer(b)
        }
        writeStaticString("\r\n")
    }

    private mutating func writeBlob(_ type: UInt8, _ b: ByteBuffer) {
        writeHeader(type, Int64(b.readableBytes))
        writeImmutableBuffer(b)
        writeStaticString("\r\n")
    }

    private mutating func writeAggregate(_ type: UInt8, _ elements: [RESPValue]) {
        writeHeader(type, Int64(elements.count))
        for element in elements { writeRESPValue(element) }
    }

    private mutating func writePairs(_ type: UInt8, _ pairs: [RESPPair]) {
        writeHeader(type, Int64(pairs.count))
        for pair in pairs {
            writeRESPValue(pair.key)
            writeRESPValue(pair.value)
        }
    }
}
