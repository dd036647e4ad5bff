import Foundation
@testable import Node
import NIOCore
import NodeConfig
import Proxy
import Testing

/// The settings `tandem run` gives its proxy from node.yaml.
@Suite struct NodeFilesProxyTests {
    static let yaml = """
        node:
          name: n1
        group:
          name: mymaster
          nodes:
            - { name: n1, address: 10.9.0.1 }
            - { name: n2, address: 10.9.0.2 }
            - { name: n3, address: 10.9.0.3 }
        proxy:
          listen: 0.0.0.0:6380
          cluster: [10.0.0.5:7000, 10.0.0.6:7000]

        """

    /// In proxy placement the cluster proxy listens as the master-mode one does, so the agent
    /// can close its clients after the virtual IP left (fence, drain).
    @Test func clusterProxyListensTransparentlyInProxyPlacement() throws {
        let placed = try NodeConfiguration(parsing: Self.yaml + "vip:\n  address: 10.9.0.100/24\n  interface: eth0\n  mode: proxy\n", file: "n.yaml")
        let settings = try #require(try NodeFiles.proxySettings(placed))
        guard case .cluster(let seeds) = settings.discovery else {
            Issue.record("not cluster discovery: \(settings.discovery)")
            return
        }
        #expect(seeds.map(\.port) == [7000, 7000])
        #expect(settings.transparentListen)
        let unplaced = try #require(try NodeFiles.proxySettings(try NodeConfiguration(parsing: Self.yaml, file: "n.yaml")))
        #expect(!unplaced.transparentListen)
        #expect(unplaced.waitReplicas == 0)
    }

    /// `durability: replicated` with proxy.cluster: the cluster proxy waits for a replica of
    /// each write's master, with the master-mode proxy's timeout (a quarter of down-after).
    @Test func clusterProxyWaitsForAReplicaWithDurabilityReplicated() throws {
        let yaml = Self.yaml.replacingOccurrences(of: "  name: mymaster\n", with: "  name: mymaster\n  durability: replicated\n  down-after: 2s\n")
        let settings = try #require(try NodeFiles.proxySettings(try NodeConfiguration(parsing: yaml, file: "n.yaml")))
        guard case .cluster = settings.discovery else {
            Issue.record("not cluster discovery: \(settings.discovery)")
            return
        }
        #expect(settings.waitReplicas == 1)
        #expect(settings.waitTimeout == .milliseconds(500))
    }
}
