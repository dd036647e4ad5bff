import ClusterCore
import NIOCore
import RESP
import Testing

/// `--wait-replicas` in cluster mode: which commands wait for the replicas, how a WAIT's reply
/// is read, and what the client of a write that too few replicas have gets.
@Suite struct ClusterDurabilityTests {
    static func info(_ words: [String]) -> CommandInfo? {
        CommandKeys.info(for: words.map { ByteBuffer(string: $0) })
    }

    @Test("writes are the commands redis-server 7.0.15 flags write, scripts and functions, EXEC and unknown commands; reads and the rest are not")
    func whichCommandsWait() {
        for words in [["SET", "k", "v"], ["DEL", "k"], ["MSET", "a", "1"], ["FLUSHALL"], ["BLPOP", "l", "0"], ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
                      ["EVAL", "return 1", "0"], ["EVALSHA", "abc", "0"], ["FCALL", "f", "0"], ["EXEC"], ["FUNCTION", "LOAD", "code"]] {
            #expect(Self.info(words) != nil && ClusterDurability.mayWrite(Self.info(words)), "\(words)")
        }
        #expect(ClusterDurability.mayWrite(nil), "a command the table does not know")
        for words in [["GET", "k"], ["MGET", "a", "b"], ["EVAL_RO", "return 1", "0"], ["FCALL_RO", "f", "0"], ["PING"], ["PUBLISH", "c", "m"],
                      ["CLIENT", "ID"], ["MULTI"], ["WATCH", "k"], ["INFO"]] {
            let info = Self.info(words)
            #expect(info != nil && !ClusterDurability.mayWrite(info), "\(words)")
        }
    }

    @Test("on a shared connection every write reply waits for the WAIT: redirections pass at once, other errors keep their text, the rest (nulls too: SET … GET of a missing key, a script returning nil) are checked; on the client's own connection an error or a null (EXECABORT, a lost WATCH, a timed-out pop) ran nothing")
    func whichRepliesWait() {
        for frame in ["+OK\r\n", ":1\r\n", "$1\r\nx\r\n", "*2\r\n+OK\r\n:1\r\n", "%0\r\n", "$-1\r\n", "*-1\r\n", "_\r\n"] {
            #expect(ClusterDurability.hold(reply: ByteBuffer(string: frame)) == .holdCheck, "\(frame)")
        }
        for frame in ["-MOVED 1 10.0.0.1:6379\r\n", "-ASK 1 10.0.0.1:6379\r\n", "-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
                      "-CLUSTERDOWN The cluster is down\r\n"] {
            #expect(ClusterDurability.hold(reply: ByteBuffer(string: frame)) == .passNow, "\(frame)")
        }
        for frame in ["-ERR x\r\n", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "!3\r\nerr\r\n",
                      "-ASKING is not a redirection\r\n"] {
            #expect(ClusterDurability.hold(reply: ByteBuffer(string: frame)) == .holdKeep, "\(frame)")
        }
        #expect(ClusterDurability.ran(.array([.simpleString("OK")])))
        #expect(!ClusterDurability.ran(.nullArray) && !ClusterDurability.ran(.simpleError("EXECABORT x")) && !ClusterDurability.ran(.nullBulkString))
    }

    @Test("a WAIT's reply is its count; an error is no count; enough replicas keep the write's reply, fewer or none replace it with -NOREPLICAS naming why")
    func answers() {
        #expect(ClusterDurability.count(ofWaitReply: ByteBuffer(string: ":2\r\n")) == 2)
        #expect(ClusterDurability.count(ofWaitReply: ByteBuffer(string: ":0\r\n")) == 0)
        #expect(ClusterDurability.count(ofWaitReply: ByteBuffer(string: "-ERR WAIT cannot be used with replica instances\r\n")) == nil)
        let two = ClusterDurability(replicas: 2, timeoutMilliseconds: 300)
        #expect(two.waitArguments.map { String(buffer: $0) } == ["WAIT", "2", "300"])
        #expect(two.replacement(count: 2) == nil && two.replacement(count: 3) == nil)
        #expect(two.replacement(count: 1) == .simpleError("NOREPLICAS Tandem proxy: only 1 of 2 replicas acknowledged this write within 300 ms (durability: replicated); it ran on the master and a failover may lose it"))
        #expect(two.replacement(count: nil)?.errorMessage?.hasPrefix("NOREPLICAS Tandem proxy: the master did not confirm that a replica has this write") == true)
    }
}
