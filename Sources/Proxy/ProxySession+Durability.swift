import ClusterCore
import NIOCore
import RESP

/// `durability: replicated` (`--wait-replicas N`): the WAITs that follow a client's writes and
/// what their answers do to the replies held behind them. `sendQueued` marks the slots it sends
/// after a write as gated and calls `appendWait`; a gated reply reaches the client only through
/// `syncReplied`.
extension ProxySession {
    /// WAITs sent and not yet answered.
    @inline(__always)
    var pendingGates: Int { gates.count }

    /// The WAIT to send after the streamed command that just ended, when it was a write (its
    /// reply is held until the WAIT answers, through `syncReplied`), and how many replies come
    /// before the WAIT's (after a blocking write, the `Durability.offsetRefresh` sent before it).
    mutating func syncAfterStreamedCommand() -> (bytes: ByteBuffer, skipping: Int)? {
        guard let durability = configuration.durability, let last = slots.last, last.gated, last.state == .sent else { return nil }
        gates.append(firstSeq + UInt64(slots.count - 1))
        guard last.blockingWrite else { return (durability.waitCommand, 0) }
        var bytes = Durability.offsetRefresh
        var wait = durability.waitCommand
        bytes.writeBuffer(&wait)
        return (bytes, 1)
    }

    /// A WAIT covering the commands up to `seq`: `expectSync` is told, and unless the connection
    /// sends its own (`inBatch` false: a shared one, one WAIT per event-loop turn) it is added to
    /// the batch. `afterBlocking`: a blocking write is among the commands it covers; on the
    /// client's own connection (`inBatch`, where blocking writes go) the WAIT is preceded by
    /// `Durability.offsetRefresh`, whose reply `expectSync` is told to swallow first.
    mutating func appendWait(to batch: inout ByteBuffer?, owned: inout Bool, covering seq: UInt64, inBatch: Bool,
                             afterBlocking: Bool = false, expectSync: (_ skipping: Int) -> Void) {
        var wait = configuration.durability!.waitCommand
        let refresh = inBatch && afterBlocking
        expectSync(refresh ? 1 : 0)
        gates.append(seq)
        guard inBatch else { return }
        if !owned {
            var copy = ByteBuffer()
            copy.reserveCapacity((batch?.readableBytes ?? 0) * 2 + wait.readableBytes)
            if batch != nil { copy.writeBuffer(&batch!) }
            batch = copy
            owned = true
        }
        if refresh {
            var publish = Durability.offsetRefresh
            batch!.writeBuffer(&publish)
        }
        batch!.writeBuffer(&wait)
    }

    /// A null reply (`*-1`, `$-1`, RESP3 `_`): a blocking write that timed out ran nothing, and
    /// is passed on even when the WAIT after it (with its PUBLISH, which the WAIT then counts)
    /// found too few replicas.
    static func isNull(_ reply: ByteBuffer?) -> Bool {
        guard let view = reply?.readableBytesView else { return false }
        return view.elementsEqual("*-1\r\n".utf8) || view.elementsEqual("$-1\r\n".utf8) || view.elementsEqual("_\r\n".utf8)
    }

    /// The WAIT sent after the writes up to the first pending gate answered: `replicas`
    /// acknowledged them (nil: an error, or the connection closed before the answer). With
    /// fewer than required, each write it covers is answered -NOREPLICAS instead of its reply
    /// (it ran on the master, but a failover may lose it).
    mutating func syncReplied(replicas: Int?) {
        guard let durability = configuration.durability, let last = gates.popFirst() else { return }
        // The same answer as the cluster proxy's (`ClusterDurability`).
        let answer = ClusterDurability(replicas: durability.replicas, timeoutMilliseconds: durability.timeoutMilliseconds)
            .replacement(count: replicas.map(Int64.init))
        let confirmed = answer == nil
        let unconfirmed = answer.map { value -> ByteBuffer in
            var buffer = ByteBuffer()
            buffer.writeRESPValue(value)
            return buffer
        }
        var failedWrites = false
        var seq = firstSeq
        var index = slots.startIndex
        while index < slots.endIndex && seq <= last {
            if slots[index].gated {
                slots[index].gated = false
                if !confirmed && slots[index].write && slots[index].state == .done && slots[index].replacement == nil
                    && slots[index].reply?.readableBytesView.first != UInt8(ascii: "-")
                    && !(slots[index].blockingWrite && Self.isNull(slots[index].reply)) {
                    slots[index].replacement = unconfirmed
                    failedWrites = true
                }
            }
            index = slots.index(after: index)
            seq += 1
        }
        if failedWrites {
            emit(.count(.unconfirmedWrites))
            emit(.count(.proxyError))
        }
        deliverReady()
        emit(.flush)
        afterReply()
    }
}
