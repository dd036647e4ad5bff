import ClusterCore
import NIOCore
import RESP
import Testing

private let foo = 12182, bar = 5061
private let a = ClusterNodeAddress(host: "10.0.0.1", port: 6379)
private let aReplica = ClusterNodeAddress(host: "10.0.0.4", port: 6379)
private let b = ClusterNodeAddress(host: "10.0.0.2", port: 6379)
private let bReplica = ClusterNodeAddress(host: "10.0.0.5", port: 6379)
private let bReplica2 = ClusterNodeAddress(host: "10.0.0.6", port: 6379)

private func masterInfo(_ offset: Int64, id: String = "aaaa") -> ClusterWait.ReplicationInfo {
    ClusterWait.ReplicationInfo("# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=10.0.0.4,port=6379,state=online,offset=1,lag=0\r\nmaster_replid:\(id)\r\nmaster_replid2:0000\r\nmaster_repl_offset:\(offset)\r\nsecond_repl_offset:-1\r\n")
}

private func replicaInfo(_ offset: Int64, id: String = "aaaa", link: String = "up") -> ClusterWait.ReplicationInfo {
    ClusterWait.ReplicationInfo("# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:\(link)\r\nslave_read_repl_offset:\(offset)\r\nslave_repl_offset:\(offset)\r\nmaster_replid:\(id)\r\nmaster_repl_offset:\(offset)\r\n")
}

private func request(_ replicas: Int64, _ timeout: Int64, slots: [Int] = [], everyMaster: Bool = false) -> ClusterWait.Request {
    var written = WrittenSlots()
    for slot in slots { written.insert(slot) }
    if everyMaster { written.insertEveryMaster() }
    return ClusterWait.Request(replicas: replicas, timeoutMilliseconds: timeout, written: written)
}

@Suite struct ClusterWaitTests {
    /// redis-server 7.0.15's answers to bad arguments (checked with redis-cli against it).
    @Test(arguments: [
        ("WAIT 1", "ERR wrong number of arguments for 'wait' command"),
        ("WAIT 1 2 3", "ERR wrong number of arguments for 'wait' command"),
        ("WAIT x 1", "ERR value is not an integer or out of range"),
        ("WAIT 01 0", "ERR value is not an integer or out of range"),
        ("WAIT 99999999999999999999 1", "ERR value is not an integer or out of range"),
        ("WAIT 1 x", "ERR timeout is not an integer or out of range"),
        ("WAIT 1 +5", "ERR timeout is not an integer or out of range"),
        ("WAIT 1 -1", "ERR timeout is negative"),
    ])
    func refusedAsANodeRefuses(text: String, error: String) {
        var state = ClusterClientState()
        #expect(state.step(command(text)) == .reply(.simpleError(error)))
    }

    @Test func writesAreRemembered() {
        var state = ClusterClientState()
        #expect(state.step(command("WAIT 1 100")) == .wait(request(1, 100)))
        _ = state.step(command("GET foo"))
        _ = state.step(command("PING"))
        _ = state.step(command("PUBLISH ch x"))
        #expect(state.written.isEmpty, "reads and keyless commands that write nothing")
        _ = state.step(command("SET foo 1"))
        _ = state.step(command("MSET bar 1 foo 2"))
        #expect(state.written.slots == [bar, foo] && !state.written.everyMaster)
        #expect(state.step(command("WAIT -1 0")) == .wait(request(-1, 0, slots: [bar, foo])))
        _ = state.step(command("FLUSHALL"))
        #expect(state.written.everyMaster)
        var scripted = ClusterClientState()
        _ = scripted.step(command("EVAL x 0"))
        #expect(scripted.written.everyMaster, "a script without keys may write anywhere")
        var blocking = ClusterClientState()
        _ = blocking.step(command("BLMOVE foo {foo}x LEFT LEFT 0"))
        #expect(blocking.written.slots == [foo])
        var transaction = ClusterClientState()
        _ = transaction.step(command("MULTI"))
        _ = transaction.step(command("INCR bar"))
        // Inside MULTI, WAIT is queued on the transaction's connection (a node answers it at once there).
        #expect(transaction.step(command("WAIT 1 0")) == .own(.slot(bar), [OwnCommand(command("WAIT 1 0"))]))
        _ = transaction.step(command("EXEC"))
        #expect(transaction.written.slots == [bar])
    }

    @Test func writtenSlotsBits() {
        var written = WrittenSlots()
        #expect(written.isEmpty && written.slots.isEmpty && !written.contains(0))
        for slot in [16383, 0, 64, 63, -1, 16384] { written.insert(slot) }
        #expect(written.slots == [0, 63, 64, 16383])
        #expect(written.contains(63) && !written.contains(62) && !written.isEmpty)
    }

    @Test func countsReplicasThatReachedTheMastersOffset() {
        var progress = ClusterWait.Progress(request: request(1, 500, slots: [foo, bar]),
                                            masters: [ClusterWait.Master(address: a, replicas: [aReplica]),
                                                      ClusterWait.Master(address: b, replicas: [bReplica, bReplica2])], now: 1000)
        #expect(progress.answer(now: 1000) == nil)
        // A replica heard before its master's history is known does not count.
        progress.replica(aReplica, of: a, info: replicaInfo(500))
        progress.master(a, info: masterInfo(400))
        progress.master(b, info: masterInfo(900, id: "bbbb"))
        #expect(progress.masters[0].count == 0 && progress.answer(now: 1010) == nil)
        progress.replica(aReplica, of: a, info: replicaInfo(399))
        progress.replica(bReplica, of: b, info: replicaInfo(900, id: "bbbb"))
        #expect(progress.masters[0].count == 0 && progress.masters[1].count == 1)
        #expect(progress.answer(now: 1020) == nil)
        // The target stays the offset the master had first: later writes of others do not move it.
        progress.master(a, info: masterInfo(4000))
        progress.replica(aReplica, of: a, info: replicaInfo(400))
        #expect(progress.answer(now: 1030) == .integer(1))
    }

    @Test func timeoutAnswersTheSmallestCount() {
        var progress = ClusterWait.Progress(request: request(2, 500, slots: [foo]),
                                            masters: [ClusterWait.Master(address: b, replicas: [bReplica, bReplica2])], now: 1000)
        progress.master(b, info: masterInfo(900))
        progress.replica(bReplica, of: b, info: replicaInfo(950))
        // Another history, or a link down: not counted, as a node counts only its online replicas.
        progress.replica(bReplica2, of: b, info: replicaInfo(950, id: "cccc"))
        #expect(progress.answer(now: 1499) == nil)
        progress.replica(bReplica2, of: b, info: replicaInfo(950, link: "down"))
        #expect(progress.answer(now: 1499) == nil)
        #expect(progress.answer(now: 1500) == .integer(1))
        progress.replica(bReplica2, of: b, info: replicaInfo(960))
        #expect(progress.answer(now: 1501) == .integer(2))
    }

    @Test func noTimeoutWaitsForever() {
        var progress = ClusterWait.Progress(request: request(1, 0, slots: [foo]),
                                            masters: [ClusterWait.Master(address: b, replicas: [bReplica])], now: 1000)
        progress.master(b, info: masterInfo(900))
        progress.replica(bReplica, of: b, info: replicaInfo(10))
        #expect(progress.answer(now: 1_000_000_000) == nil)
        let huge = ClusterWait.Progress(request: request(1, Int64.max, slots: [foo]),
                                        masters: [ClusterWait.Master(address: b, replicas: [bReplica])], now: 1000)
        #expect(huge.deadline == nil && huge.answer(now: 5000) == nil)
    }

    @Test func withoutWritesEveryConnectedReplicaCounts() {
        // As a node's WAIT on a connection that wrote nothing: offset 0.
        var progress = ClusterWait.Progress(request: request(0, 0),
                                            masters: [ClusterWait.Master(address: a, replicas: [aReplica]),
                                                      ClusterWait.Master(address: b, replicas: [bReplica])], now: 0)
        #expect(progress.answer(now: 0) == nil, "WAIT 0 answers after one round, with the count then")
        progress.master(a, info: masterInfo(400))
        progress.master(b, info: masterInfo(900, id: "bbbb"))
        progress.replica(aReplica, of: a, info: replicaInfo(3))
        #expect(progress.answer(now: 1) == nil)
        progress.replica(bReplica, of: b, info: replicaInfo(0, id: "bbbb", link: "down"))
        #expect(progress.answer(now: 2) == .integer(0))
        progress.replica(bReplica, of: b, info: replicaInfo(5, id: "bbbb"))
        #expect(progress.answer(now: 3) == .integer(1))
    }

    @Test func aMasterTurnedReplicaUnblocksWithRedisError() {
        var progress = ClusterWait.Progress(request: request(1, 0, slots: [foo]),
                                            masters: [ClusterWait.Master(address: b, replicas: [bReplica])], now: 0)
        progress.master(b, info: masterInfo(900))
        progress.master(b, info: replicaInfo(900))
        #expect(progress.answer(now: 1) == .simpleError("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"))
        let none = ClusterWait.Progress(request: request(1, 0, slots: [foo]), masters: [], now: 0)
        #expect(none.answer(now: 0)?.errorMessage?.hasPrefix("CLUSTERDOWN") == true)
    }

    @Test func aRestartedMastersNewHistoryStartsTheCountAgain() {
        var progress = ClusterWait.Progress(request: request(1, 0, slots: [foo]),
                                            masters: [ClusterWait.Master(address: b, replicas: [bReplica])], now: 0)
        progress.master(b, info: masterInfo(900))
        progress.replica(bReplica, of: b, info: replicaInfo(800))
        progress.master(b, info: masterInfo(50, id: "new"))
        #expect(progress.masters[0].reached.isEmpty && progress.masters[0].target == 900)
    }
}
