import NIOCore
import RESP

/// State changes queued inside MULTI: recorded for replay only once EXEC ran them, per element
/// of EXEC's reply (`effectReplied`, `TransactionReply`).
extension ProxySession {
    /// The reply to a command that changes connection state (or begins or ends a transaction)
    /// is in: the change is recorded for replay once it has happened on the master.
    mutating func effectReplied(_ slot: Slot, isError: Bool) {
        switch slot.effect {
        case .multi:
            guard !isError else { return }
            queuedEffects = []
            execReply = nil
        case .exec:
            // An array: the transaction ran; each queued change happened unless its element is
            // an error. Anything else (EXECABORT, a nil reply after WATCH): none did.
            if let reply = execReply, !isError {
                let seen = TransactionReply(reply)
                for queued in queuedEffects where seen.ran(queued.position) {
                    applyEffect(queued.effect, queued.arguments)
                }
            }
            queuedEffects = []
            execReply = nil
        case .discard:
            queuedEffects = []
            execReply = nil
        default:
            guard !isError else { return }
            if slot.insideTransaction {
                queuedEffects.append(QueuedEffect(effect: slot.effect, arguments: slot.effectArguments, position: slot.transactionPosition))
            } else {
                applyEffect(slot.effect, slot.effectArguments)
            }
        }
    }

    /// What the start of EXEC's reply says of its elements: whether it is an array (the
    /// transaction ran) and which of the elements read whole are errors. An element past the
    /// bytes kept (a large reply before it), or one that cannot be read, counts as run: EXEC
    /// ran the transaction, and a state change failing inside it (SELECT out of range) is rare.
    struct TransactionReply {
        private(set) var isArray = false
        private(set) var count = 0
        /// The elements read whole, in order: whether each is an error.
        private(set) var errors: [Bool] = []

        init(_ reply: ByteBuffer) {
            var buffer = reply
            guard buffer.readInteger(as: UInt8.self) == UInt8(ascii: "*"),
                  let end = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\r")),
                  let header = buffer.readString(length: end - buffer.readerIndex), let n = Int(header), n >= 0,
                  buffer.readBytes(length: 2) == [UInt8(ascii: "\r"), UInt8(ascii: "\n")] else { return }
            isArray = true
            count = n
            while errors.count < n, buffer.readableBytes > 0 {
                var scanner = RESPFrameScanner(mode: .reply)
                guard case .frame(let length)? = try? scanner.scan(buffer) else { break }
                let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)
                errors.append(type == UInt8(ascii: "-") || type == UInt8(ascii: "!"))
                buffer.moveReaderIndex(forwardBy: length)
            }
        }

        /// The element at `position` was run by EXEC without an error (as far as can be read).
        func ran(_ position: Int) -> Bool {
            guard isArray, position < count else { return false }
            return position >= errors.count || !errors[position]
        }
    }

    /// A change of connection state queued inside MULTI that the master accepted (+QUEUED):
    /// it happens at EXEC, if its element of EXEC's reply is not an error.
    struct QueuedEffect {
        var effect: StateEffect
        var arguments: [[UInt8]]
        var position: Int
    }
}
