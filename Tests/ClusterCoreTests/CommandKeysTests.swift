import ClusterCore
import NIOCore
import Testing

func command(_ text: String) -> [ByteBuffer] {
    text.split(separator: " ").map { $0 == "''" ? ByteBuffer() : ByteBuffer(string: String($0)) }
}

@Suite struct CommandKeysTests {
    /// `COMMAND GETKEYS` of redis-server 7.0.15 for each command (captured; the integration test
    /// compares with a live server).
    static let getkeys: [(String, [String])] = [
        ("GET k1", ["k1"]), ("SET k1 v", ["k1"]), ("MGET a b c", ["a", "b", "c"]), ("MSET a 1 b 2", ["a", "b"]),
        ("DEL a b", ["a", "b"]), ("BLPOP l1 l2 0", ["l1", "l2"]), ("LMOVE s d LEFT RIGHT", ["s", "d"]),
        ("EVAL s 2 k1 k2 a1", ["k1", "k2"]), ("FCALL f 1 k1 a", ["k1"]), ("EVALSHA abc 0 a1", []),
        ("ZUNIONSTORE d 2 z1 z2 WEIGHTS 1 2", ["d", "z1", "z2"]), ("ZINTER 2 z1 z2", ["z1", "z2"]),
        ("ZDIFFSTORE d 1 z1", ["d", "z1"]), ("SINTERCARD 2 s1 s2 LIMIT 1", ["s1", "s2"]),
        ("LMPOP 2 l1 l2 LEFT", ["l1", "l2"]), ("BLMPOP 0 2 l1 l2 LEFT", ["l1", "l2"]), ("BZMPOP 0 1 z1 MIN", ["z1"]),
        ("XREAD COUNT 1 STREAMS s1 s2 0 0", ["s1", "s2"]), ("XREADGROUP GROUP g c STREAMS s1 >", ["s1"]),
        ("SORT k BY w LIMIT 0 1 GET x STORE d", ["k", "d"]), ("SORT_RO k", ["k"]),
        ("GEORADIUS k 0 0 1 m STORE d", ["k", "d"]), ("GEORADIUSBYMEMBER k m 1 m STOREDIST d", ["k", "d"]),
        ("OBJECT ENCODING k", ["k"]), ("XINFO STREAM s", ["s"]), ("MEMORY USAGE k", ["k"]), ("RENAME a b", ["a", "b"]),
        ("BITOP AND d a b", ["d", "a", "b"]), ("PFCOUNT a b", ["a", "b"]), ("MIGRATE h 1 '' 0 1 KEYS a b", ["a", "b"]),
        ("ZRANGESTORE d src 0 1", ["d", "src"]), ("COPY a b", ["a", "b"]), ("SMOVE a b m", ["a", "b"]),
        ("get k1", ["k1"]), ("PING", []), ("EVAL s 0", []), ("CLUSTER KEYSLOT k", []),
    ]

    @Test(arguments: getkeys)
    func keysLikeRedis(text: String, keys: [String]) {
        #expect(CommandKeys.keys(command(text)).map { String(buffer: $0) } == keys)
    }

    /// Counts that do not fit, unknown commands, wrong arity: no keys (Redis answers the error).
    @Test(arguments: ["EVAL s 3 k1", "EVAL s x k1", "ZUNIONSTORE d -1 z", "XREAD STREAMS s1", "NOSUCH a b", "GET", "GET a b",
                      "XREAD COUNT 1 s1 0"])
    func malformedHasNoKeys(text: String) {
        #expect(CommandKeys.keyIndices(command(text)).isEmpty)
    }

    @Test func flagsFromTheTable() throws {
        let blpop = try #require(CommandKeys.info(for: command("BLPOP l 0")))
        #expect(blpop.flags.contains(.blocking))
        let get = try #require(CommandKeys.info(for: command("get k")))
        #expect(get.flags.contains(.readonly) && !get.flags.contains(.write))
        #expect(CommandKeys.info(for: command("OBJECT ENCODING k"))?.name == "OBJECT|ENCODING")
        #expect(CommandKeys.table.count > 300)
    }

    /// Names and subcommands match in any ASCII case, as Redis's strcasecmp does; other bytes
    /// are compared as they are (no Unicode case folding: "ß" is not "SS").
    @Test func namesMatchInAnyASCIICase() {
        #expect(CommandKeys.info(for: command("gEt k"))?.name == "GET")
        #expect(CommandKeys.info(for: command("object encoding k"))?.name == "OBJECT|ENCODING")
        #expect(CommandKeys.info(for: command("xInFo StReAm s"))?.name == "XINFO|STREAM")
        #expect(CommandKeys.keyIndices(command("zunionstore d 2 a b weights 1 2")) == [1, 3, 4])
        #expect(CommandKeys.keyIndices(command("xread count 1 streams s1 s2 0 0")) == [4, 5])
        #expect(CommandKeys.info(for: command("gét k")) == nil)
        #expect(CommandKeys.info(for: [ByteBuffer(bytes: [0x67, 0xFF, 0x74])]) == nil)
        #expect(CommandKeys.info(for: [ByteBuffer(bytes: [0x67, 0x65, 0x74, 0x00])]) == nil)
    }
}
