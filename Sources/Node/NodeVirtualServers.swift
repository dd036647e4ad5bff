import Foundation
import KeepalivedConfig
import NodeConfig
import VRRPCore

/// The file `virtual-servers.config` names, read and checked: keepalived's `virtual_server`
/// (and `virtual_server_group`) blocks, with `global_defs` for script_user, script security and
/// smtp alerts. A relative path is taken from node.yaml's directory. Errors in that file name
/// its own file:line and directive (keepalived's reader); a file that cannot be read, or that
/// carries VRRP (the node's VIP is node.yaml's `vip` section), is an error at the node.yaml
/// line of `virtual-servers.config`. Nil when the node has no `virtual-servers` section.
public func loadVirtualServers(_ c: NodeConfiguration, nodeFile: String) throws -> KeepalivedConfiguration? {
    guard let section = c.virtualServers else { return nil }
    func error(_ message: String) -> NodeConfigError {
        NodeConfigError(file: nodeFile, line: section.line, key: "virtual-servers.config", message: message)
    }
    let path = virtualServersPath(section.config, nodeFile: nodeFile)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw error("cannot read \(path): no such file")
    }
    guard !isDirectory.boolValue, FileManager.default.isReadableFile(atPath: path) else {
        throw error("cannot read \(path): \(isDirectory.boolValue ? "a directory" : "permission denied")")
    }
    let file = try KeepalivedConfiguration.load(file: path)
    if let instance = file.instances.first {
        throw error("\(instance.location): vrrp_instance \(instance.name): the node's virtual IP is node.yaml's vip section; this file is for virtual_server blocks only")
    }
    if let group = file.syncGroups.first {
        throw error("\(group.location): vrrp_sync_group \(group.name): this file is for virtual_server blocks only")
    }
    if file.virtualServers.isEmpty {
        throw error("\(path) has no virtual_server")
    }
    return file
}

/// `virtual-servers.config` as a path: relative ones from node.yaml's directory.
func virtualServersPath(_ config: String, nodeFile: String) -> String {
    if config.hasPrefix("/") { return config }
    let directory = URL(fileURLWithPath: nodeFile).deletingLastPathComponent()
    return directory.appendingPathComponent(config).standardizedFileURL.path
}

/// ha_suspend in the node agent: an address is held while it is the node's VIP and the VIP's
/// instance is MASTER here; any other address is carried by no instance (nil: checks run).
func vipHolds(_ vip: NodeConfiguration.VIP?, state: @escaping @Sendable () -> VRRPState?) -> @Sendable (IPAddress) -> Bool? {
    let vipAddress = vip.flatMap { $0.address.split(separator: "/").first }.flatMap { IPAddress(String($0)) }
    return { address in
        guard let vipAddress, address == vipAddress else { return nil }
        return state() == .master
    }
}
