import NIOCore
import RESP
import RedisConnection
import Testing

@Suite("INFO and ROLE parsing")
struct RedisInfoTests {
    static let replicaInfo = """
        # Server\r
        redis_version:7.0.15\r
        run_id:4f3e1a2b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f\r
        tcp_port:6380\r
        \r
        # Replication\r
        role:slave\r
        master_host:10.0.0.1\r
        master_port:6379\r
        master_link_status:down\r
        master_last_io_seconds_ago:-1\r
        master_sync_in_progress:0\r
        slave_read_repl_offset:1234\r
        slave_repl_offset:1234\r
        master_link_down_since_seconds:7\r
        slave_priority:0\r
        slave_read_only:1\r
        replica_announced:0\r
        connected_slaves:0\r
        master_failover_state:no-failover\r
        master_replid:8a1c9f5d3b7e2a6c4d0f9e8b7a6c5d4e3f2a1b0c\r
        master_repl_offset:1234\r
        \r
        # Keyspace\r
        db0:keys=1,expires=0,avg_ttl=0\r

        """

    @Test("a replica's INFO: sections, fields and typed replication")
    func replica() {
        let info = RedisInfo(parsing: Self.replicaInfo)
        #expect(info.sections.map(\.name) == ["Server", "Replication", "Keyspace"])
        #expect(info.runID == "4f3e1a2b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f")
        #expect(info.section("keyspace")?["db0"] == "keys=1,expires=0,avg_ttl=0")
        let r = info.replication
        #expect(r.role == .replica)
        #expect(r.masterHost == "10.0.0.1")
        #expect(r.masterPort == 6379)
        #expect(r.masterLinkUp == false)
        #expect(r.masterLinkDownSinceSeconds == 7)
        #expect(r.slaveReplOffset == 1234)
        #expect(r.replicaPriority == 0)
        #expect(r.replicaAnnounced == false)
        #expect(r.slaveReadOnly == true)
        #expect(r.masterFailoverState == "no-failover")
        #expect(r.replicas.isEmpty)
    }

    @Test("a master's INFO lists its replicas, in both the modern and the old slaveN format")
    func master() {
        let info = RedisInfo(parsing: """
            # Replication
            role:master
            connected_slaves:2
            slave0:ip=127.0.0.1,port=6381,state=online,offset=998,lag=1
            slave1:127.0.0.1,6382,wait_bgsave
            master_repl_offset:1000
            """)
        let r = info.replication
        #expect(r.role == .master)
        #expect(r.connectedSlaves == 2)
        #expect(r.masterReplOffset == 1000)
        #expect(r.replicas.count == 2)
        #expect(r.replicas.first?.port == 6381)
        #expect(r.replicas.first?.offset == 998)
        #expect(r.replicas.first?.lag == 1)
        #expect(r.replicas.last?.state == "wait_bgsave")
        #expect(r.replicaPriority == nil)
    }

    @Test("the one-pass replication scan reads what the full parse reads", arguments: [
        replicaInfo,
        "# Replication\nrole:master\nconnected_slaves:2\nslave0:ip=127.0.0.1,port=6381,state=online,offset=998,lag=1\n"
            + "slave1:127.0.0.1,6382,wait_bgsave\nslave2:ip=127.0.0.1,port=6383,state=online,offset=1,lag=0\nmaster_repl_offset:1000\n",
        "replica_priority:42\r\nslave_priority:7\r\nrun_id:a\r\nrun_id:b\r\nslave_read_repl_offset:5\r\nslave00:ip=1.2.3.4,port=1\r\n",
        "replica_priority:x\nslave_priority:7\nconnected_slaves:1\nslave0:garbage\nmaster_link_status:up\nrole:replica\n",
        "connected_slaves:3\r\r\nslave1:ip=a,port=2\nslave01:ip=b,port=3\nslave+2:ip=c,port=4\nslave2:ip=d,port=5\n"
            + "replica_announced:10\nmaster_link_status:upx\n:novalue\nnokey\n#x:y\nslave_read_only:1\n",
        "",
        "# Persistence\r\nloading:0\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb12:keys=40,expires=1,avg_ttl=5\r\n",
        "# Persistence\nloading:1\n# keyspace \n# Keyspace\ndb0:keys=9\n# Other\ndb1:keys=5\n",
        "# Keyspace\n",
        "db0:keys=3\n# Keyspace\ndbx:keys=2\ndb1:expires=1\ndb2:keys=-4,x=1\ndb3:keys=z\n",
    ])
    func scanMatchesParse(text: String) {
        let full = RedisInfo(parsing: text)
        let scanned = RedisInfo.scanReplication(text)
        #expect(scanned.runID == full.runID)
        #expect(scanned.replication == full.replication)
    }

    @Test("the Keyspace section's keys are summed (0 when it is empty, nil without it), and loading is read")
    func keysAndLoading() {
        let loaded = RedisInfo.scanReplication("# Persistence\r\nloading:0\r\n# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb12:keys=40,expires=1,avg_ttl=5\r\n")
        #expect(loaded.replication.keys == 43)
        #expect(loaded.replication.loading == false)
        #expect(RedisInfo.scanReplication("# Keyspace\r\n").replication.keys == 0)
        #expect(RedisInfo.scanReplication("# Replication\r\nrole:master\r\n").replication.keys == nil)
        #expect(RedisInfo.scanReplication("loading:1\n").replication.loading == true)
        #expect(RedisInfo(parsing: "# Keyspace\ndb0:keys=7,expires=0\n").replication.keys == 7)
    }

    @Test("replica_priority is read as well as slave_priority")
    func replicaPriorityName() {
        #expect(RedisInfo(parsing: "replica_priority:42\r\n").replication.replicaPriority == 42)
    }

    @Test("ROLE replies of each kind, and unknown shapes rejected")
    func role() throws {
        let replies = try RESPValueParser.parseReplies(.init(string:
            "*3\r\n$6\r\nmaster\r\n:3129659\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n9001\r\n$7\r\n3129242\r\n" +
            "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:9000\r\n$9\r\nconnected\r\n:3167038\r\n" +
            "*2\r\n$8\r\nsentinel\r\n*2\r\n$8\r\nmymaster\r\n$5\r\nother\r\n" +
            "*1\r\n$7\r\nunknown\r\n"))
        #expect(RedisRole(reply: replies[0]) == .master(replicationOffset: 3129659, replicas: [.init(host: "127.0.0.1", port: 9001, offset: 3129242)]))
        #expect(RedisRole(reply: replies[1]) == .replica(masterHost: "127.0.0.1", masterPort: 9000, state: "connected", offset: 3167038))
        #expect(RedisRole(reply: replies[2]) == .sentinel(masterNames: ["mymaster", "other"]))
        #expect(RedisRole(reply: replies[3]) == nil)
    }
}
