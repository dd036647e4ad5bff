/// Instance names given by the operator and the addresses they resolved to, as 7.0 keeps a
/// hostname and an ip for each instance: replies show the name while announce-hostnames is on
/// and the address while it is off, however often it is switched.
public struct HostnameBook: Sendable, Hashable {
    /// Names resolved by this sentinel, to their addresses.
    private var addresses: [String: String] = [:]
    /// For masters monitored by name: that name, the address it resolved to, and the port.
    private var masterNames: [String: ConfiguredName] = [:]

    struct ConfiguredName: Sendable, Hashable {
        var name: String
        var address: String
        var port: Int
    }

    public init() {}

    /// `master` was monitored by `name`, which resolved to `address`.
    public mutating func remember(master: String, name: String, address: String, port: Int) {
        addresses[name] = address
        masterNames[master] = ConfiguredName(name: name, address: address, port: port)
    }

    /// How `host` (an address in the core: a name or an ip) is shown. With announce-hostnames,
    /// a master still at the address and port its configured name resolved to is shown by that
    /// name (another instance at the same address, a promoted replica say, is not); without, a
    /// name this sentinel resolved is shown as its address.
    public func shown(_ host: String, port: Int, master: String?, announceHostnames: Bool) -> String {
        if announceHostnames {
            if let master, let configured = masterNames[master], configured.address == host, configured.port == port {
                return configured.name
            }
            return host
        }
        return addresses[host] ?? host
    }
}
