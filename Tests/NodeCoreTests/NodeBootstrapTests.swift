import NodeCore
import Testing

/// The first start's choice of master, from what the other monitors and the data nodes' Redis
/// servers said.
@Suite("Node core: the group's first master")
struct NodeBootstrapTests {
    let n1 = "10.0.0.1:6379", n2 = "10.0.0.2:6379", n3 = "10.0.0.3:6379"

    @Test("a running group is followed: the master most monitors name, whatever the servers say")
    func followsMonitors() {
        let d = NodeBootstrap.decide(monitorAnswers: [n2, n3, n2], dataNodes: [(n1, .master(replicas: 0)), (n2, .down), (n3, .master(replicas: 1))],
                                     localRedis: n1)
        // n1 is a new empty master that is not the chosen one: made a replica first.
        #expect(d == .master(n2, replicateLocal: true))
        // A tie between answers goes to the first named, so every node decides alike.
        #expect(NodeBootstrap.decide(monitorAnswers: [n3, n2], dataNodes: [], localRedis: nil) == .master(n3, replicateLocal: false))
    }

    @Test("an adopted group: the master its replicas follow; a local replica or a master with replicas is left alone")
    func adopted() {
        let d = NodeBootstrap.decide(monitorAnswers: [], dataNodes: [(n1, .replica(of: n2)), (n2, .down), (n3, .replica(of: n2))], localRedis: n1)
        #expect(d == .master(n2, replicateLocal: false))
        let withReplicas = NodeBootstrap.decide(monitorAnswers: [], dataNodes: [(n1, .master(replicas: 0)), (n2, .master(replicas: 2)), (n3, .down)],
                                                localRedis: n3)
        #expect(withReplicas == .master(n2, replicateLocal: false))
        // Only an empty master is demoted by the start-up guess: one with replicas never.
        let mine = NodeBootstrap.decide(monitorAnswers: [n2], dataNodes: [(n1, .master(replicas: 1))], localRedis: n1)
        #expect(mine == .master(n2, replicateLocal: false))
    }

    @Test("a new group starts on the first data node, only once every data node has answered")
    func newGroup() {
        let all = NodeBootstrap.decide(monitorAnswers: [], dataNodes: [(n1, .master(replicas: 0)), (n2, .master(replicas: 0)), (n3, .master(replicas: 0))],
                                       localRedis: n3)
        #expect(all == .master(n1, replicateLocal: true))
        #expect(NodeBootstrap.decide(monitorAnswers: [], dataNodes: [(n1, .master(replicas: 0)), (n2, .master(replicas: 0))], localRedis: n1)
                == .master(n1, replicateLocal: false))
        let missing = NodeBootstrap.decide(monitorAnswers: [], dataNodes: [(n1, .master(replicas: 0)), (n2, .down), (n3, .master(replicas: 0))],
                                           localRedis: n1)
        guard case .wait(let why) = missing else { Issue.record("decided without n2: \(missing)"); return }
        #expect(why.contains(n2))
        // A witness (no local Redis) decides the same and replicates nothing.
        #expect(NodeBootstrap.decide(monitorAnswers: [], dataNodes: [(n1, .master(replicas: 0)), (n2, .master(replicas: 0))], localRedis: nil)
                == .master(n1, replicateLocal: false))
    }
}
