/// A FIFO of a client's pending commands with in-place element access (an array and a head
/// index), so checking a slot's state does not copy it.
struct SlotQueue: RandomAccessCollection {
    private var storage: [ProxySession.Slot] = []
    private var head = 0

    init() {
        storage.reserveCapacity(8)
    }

    var startIndex: Int { 0 }
    var endIndex: Int { storage.count - head }

    subscript(position: Int) -> ProxySession.Slot {
        // `_read` lends the slot in place: reading one field does not copy (and retain) the
        // slot's buffers.
        _read { yield storage[head + position] }
        _modify { yield &storage[head + position] }
    }

    mutating func append(_ slot: consuming ProxySession.Slot) {
        storage.append(slot)
    }

    mutating func removeFirst() {
        removeFirst(1)
    }

    mutating func removeFirst(_ n: Int) {
        head += n
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 32 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }

    mutating func removeAll() {
        storage.removeAll()
        head = 0
    }

    /// Whether any slot waits to be sent.
    var hasQueued: Bool {
        var i = head
        while i < storage.count {
            if storage[i].state == .queued { return true }
            i += 1
        }
        return false
    }
}
