import ClusterCore
import NIOCore
import RESP
import Testing

func reply(_ bytes: String) throws -> RESPValue {
    var buffer = ByteBuffer(string: bytes)
    var decoder = RESPValueDecoder()
    return try #require(try decoder.decode(buffer: &buffer))
}

func node(_ port: Int) -> ClusterNodeAddress { ClusterNodeAddress(host: "127.0.0.1", port: port) }

/// CLUSTER SHARDS and CLUSTER SLOTS as redis-server 7.0.15 answered them (captured from a
/// cluster made by `redis-cli --cluster create … --cluster-replicas 1`).
enum Captured {
    static func shardNode(_ id: String, _ port: Int, _ role: String, _ offset: Int, _ health: String) -> String {
        "*14\r\n$2\r\nid\r\n$40\r\n\(id)\r\n$4\r\nport\r\n:\(port)\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n"
            + "$4\r\nrole\r\n$\(role.utf8.count)\r\n\(role)\r\n$18\r\nreplication-offset\r\n:\(offset)\r\n$6\r\nhealth\r\n$\(health.utf8.count)\r\n\(health)\r\n"
    }
    static func shard(_ start: Int, _ end: Int, _ nodes: [String]) -> String {
        "*4\r\n$5\r\nslots\r\n*2\r\n:\(start)\r\n:\(end)\r\n$5\r\nnodes\r\n*\(nodes.count)\r\n" + nodes.joined()
    }
    static let a = "a075ee0d1686c50f379f304bc5cdb61a9de889fc", b = "489bf218f3a776c2e7ff2e2ac482eac9bf87da3e"
    static let c = "8c195eeadf21a961e25b45a1245b339efd976f2f", d = "f3e8e40297ef45253d0bbcc38840d85747bdb121"
    static let e = "e11d474673a962aed2aa4008a36a5b202f9c6424", f = "9bac77241e06830442bcf6fa021a422cae2573fb"
    /// Just created (replicas still loading).
    static let shards = "*3\r\n"
        + shard(5461, 10922, [shardNode(b, 17101, "master", 0, "online"), shardNode(f, 17105, "replica", 0, "loading")])
        + shard(10923, 16383, [shardNode(c, 17102, "master", 0, "online"), shardNode(d, 17103, "replica", 0, "loading")])
        + shard(0, 5460, [shardNode(a, 17100, "master", 0, "online"), shardNode(e, 17104, "replica", 0, "loading")])
    /// 17100 killed, not failed over yet.
    static let shardsMasterFailed = "*3\r\n"
        + shard(0, 5460, [shardNode(a, 17100, "master", 0, "fail"), shardNode(e, 17104, "replica", 0, "loading")])
        + shard(10923, 16383, [shardNode(c, 17102, "master", 14, "online"), shardNode(d, 17103, "replica", 14, "online")])
        + shard(5461, 10922, [shardNode(b, 17101, "master", 14, "online"), shardNode(f, 17105, "replica", 14, "online")])
    static let slots = "*3\r\n*3\r\n:0\r\n:5460\r\n*4\r\n$9\r\n127.0.0.1\r\n:17100\r\n$40\r\n\(a)\r\n*0\r\n"
        + "*4\r\n:5461\r\n:10922\r\n*4\r\n$9\r\n127.0.0.1\r\n:17101\r\n$40\r\n\(b)\r\n*0\r\n*4\r\n$9\r\n127.0.0.1\r\n:17105\r\n$40\r\n\(f)\r\n*0\r\n"
        + "*4\r\n:10923\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:17102\r\n$40\r\n\(c)\r\n*0\r\n*4\r\n$9\r\n127.0.0.1\r\n:17103\r\n$40\r\n\(d)\r\n*0\r\n"
}

@Suite struct SlotMapTests {
    @Test func shardsOfANewCluster() throws {
        let map = try SlotMap.parseShards(try reply(Captured.shards), answeredBy: node(17100))
        #expect(map.coveredSlots == 16384)
        #expect(map.master(forSlot: 0) == node(17100))
        #expect(map.master(forSlot: 5460) == node(17100))
        #expect(map.master(forSlot: 5461) == node(17101))
        #expect(map.master(forSlot: 16383) == node(17102))
        #expect(map.replicas(forSlot: 12182) == [], "a replica still loading its first sync serves no reads")
        #expect(Set(map.masters) == [node(17100), node(17101), node(17102)])
        #expect(map.slotRanges(of: node(17101)) == [5461...10922])
    }

    @Test func failedMasterKeepsItsSlotsUntilPromotion() throws {
        let map = try SlotMap.parseShards(try reply(Captured.shardsMasterFailed), answeredBy: node(17101))
        #expect(map.master(forSlot: 100) == node(17100))
        #expect(map.replicas(forSlot: 100) == [])
        #expect(map.replicas(forSlot: 12182) == [node(17103)])
    }

    @Test func slotsReply() throws {
        let map = try SlotMap.parseSlots(try reply(Captured.slots), answeredBy: node(17100))
        let shards = try SlotMap.parseShards(try reply(Captured.shards), answeredBy: node(17100))
        for slot in stride(from: 0, to: 16384, by: 97) {
            #expect(map.master(forSlot: slot) == shards.master(forSlot: slot))
        }
        #expect(map.replicas(forSlot: 6000) == [node(17105)])
        #expect(map.replicas(forSlot: 0) == [])
    }

    @Test func resp3MapsAndEmptyAddresses() throws {
        // RESP3 (HELLO 3) answers with maps; a node not knowing its address reports ip "".
        let text = "*1\r\n%2\r\n$5\r\nslots\r\n*4\r\n:0\r\n:99\r\n:200\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n%4\r\n$4\r\nport\r\n:7000\r\n"
            + "$2\r\nip\r\n$0\r\n\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$6\r\nhealth\r\n$6\r\nonline\r\n"
        let map = try SlotMap.parseShards(try reply(text), answeredBy: ClusterNodeAddress(host: "10.0.0.9", port: 7000))
        #expect(map.master(forSlot: 50) == ClusterNodeAddress(host: "10.0.0.9", port: 7000))
        #expect(map.master(forSlot: 150) == nil)
        #expect(map.coveredSlots == 100 + 16184)
    }

    @Test(arguments: [
        ("-ERR unknown subcommand 'shards'\r\n", "CLUSTER SHARDS answered: ERR unknown subcommand 'shards'"),
        (":3\r\n", "CLUSTER SHARDS: expected an array"),
        ("*1\r\n*2\r\n$5\r\nslots\r\n*0\r\n", "CLUSTER SHARDS shard 1: no 'slots' or 'nodes'"),
        ("*1\r\n*4\r\n$5\r\nslots\r\n*1\r\n:5\r\n$5\r\nnodes\r\n*0\r\n", "CLUSTER SHARDS shard 1: odd number of slot bounds"),
        ("*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:5\r\n:99999\r\n$5\r\nnodes\r\n*0\r\n", "CLUSTER SHARDS shard 1: bad slot"),
        ("*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:5\r\n:9\r\n$5\r\nnodes\r\n*0\r\n", "CLUSTER SHARDS shard 1: slots but no master"),
    ])
    func badShardsReplies(text: String, message: String) throws {
        let value = try reply(text)
        #expect { try SlotMap.parseShards(value, answeredBy: node(1)) } throws: { error in
            (error as? SlotMapError)?.message.hasPrefix(message) == true
        }
    }

    @Test(arguments: ["*1\r\n*2\r\n:0\r\n:5\r\n", "*1\r\n*3\r\n:9\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n", "*1\r\n*3\r\n:0\r\n:5\r\n*1\r\n$1\r\nh\r\n"])
    func badSlotsReplies(text: String) throws {
        let value = try reply(text)
        #expect(throws: SlotMapError.self) { try SlotMap.parseSlots(value, answeredBy: node(1)) }
    }

    @Test func movedUpdatesOneSlot() throws {
        var map = try SlotMap.parseShards(try reply(Captured.shards), answeredBy: node(17100))
        map.moved(slot: 12182, to: node(17101))
        #expect(map.master(forSlot: 12182) == node(17101))
        #expect(map.master(forSlot: 12181) == node(17102))
        map.moved(slot: 7, to: node(17999))
        #expect(map.master(forSlot: 7) == node(17999))
        #expect(map.masters.contains(node(17999)))
        map.moved(slot: 99999, to: node(17999))  // ignored
        #expect(map.coveredSlots == 16384)
    }

    @Test(arguments: [
        ("127.0.0.1:6379", "127.0.0.1", 6379), ("[::1]:7000", "::1", 7000), ("::1:7000", "::1", 7000),
        (":7001", "10.1.1.1", 7001), ("redis-0.local:6380", "redis-0.local", 6380),
    ])
    func addresses(text: String, host: String, port: Int) {
        #expect(ClusterNodeAddress(parsing: text[...], defaultHost: "10.1.1.1") == ClusterNodeAddress(host: host, port: port))
    }

    @Test(arguments: ["127.0.0.1", "h:0", "h:70000", "h:x", ":1"])
    func badAddresses(text: String) {
        #expect(ClusterNodeAddress(parsing: text[...]) == nil)
    }
}
