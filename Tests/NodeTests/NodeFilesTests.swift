import KeepalivedConfig
import NodeConfig
import Testing
import VRRPCore
@testable import Node

@Suite("The node agent's VRRP instance as keepalived.conf text")
struct NodeFilesTests {
    private func node(_ vrrp: String) throws -> NodeConfiguration {
        try NodeConfiguration(parsing: """
            node:
              name: n1
            group:
              name: mymaster
              nodes:
                - { name: n1, address: 10.9.0.1 }
                - { name: n2, address: 10.9.0.2 }
                - { name: n3, address: 10.9.0.3 }
            vip:
              address: 10.9.0.100/24
              interface: eth0
              vrrp:
                router-id: 77
            \(vrrp)
            """, file: "n.yaml")
    }

    @Test("vip.vrrp.vmac becomes use_vmac, read back by tandem vrrp's reader as the same macvlan")
    func vmac() throws {
        let text = try #require(NodeFiles.keepalivedConf(try node("    vmac: true")))
        let instance = try #require(try KeepalivedConfiguration.parse(text).instances.first)
        #expect(instance.vmac?.name == "vrrp.77")
        #expect(instance.vmac?.macText == "00:00:5e:00:01:4d")
        let named = try #require(NodeFiles.keepalivedConf(try node("    vmac: vip0")))
        #expect(try KeepalivedConfiguration.parse(named).instances.first?.vmac?.name == "vip0")
        let none = try #require(NodeFiles.keepalivedConf(try node("")))
        #expect(try KeepalivedConfiguration.parse(none).instances.first?.vmac == nil)
    }
}
