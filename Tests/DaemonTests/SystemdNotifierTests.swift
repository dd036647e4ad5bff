import Foundation
import Testing
@testable import Daemon

#if canImport(Glibc)
import Glibc
#endif

/// A unix datagram socket bound to `name` (a path, or `@name` abstract), as systemd's.
func notifySocket(_ name: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    #expect(fd >= 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var bytes = Array(name.utf8)
    let abstract = bytes.first == UInt8(ascii: "@")
    if abstract { bytes[0] = 0 }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    #expect(bound == 0, "bind \(name): \(String(cString: strerror(errno)))")
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

func receive(_ fd: Int32) -> String? {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = recv(fd, &buffer, buffer.count, 0)
    return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
}

@Suite("systemd readiness (sd_notify without libsystemd)")
struct SystemdNotifierTests {
    @Test("READY=1 reaches a socket named by a path")
    func pathSocket() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-notify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("notify").path
        let fd = try notifySocket(path)
        defer { close(fd) }
        #expect(SystemdNotifier(socketName: path).ready())
        let message = try #require(receive(fd))
        #expect(message.split(separator: "\n").contains("READY=1"), "\(message)")
        #expect(message.contains("MAINPID=\(getpid())"))
    }

    @Test("READY=1 reaches an abstract socket ('@name')")
    func abstractSocket() throws {
        let name = "@tandem-notify-\(UUID().uuidString)"
        let fd = try notifySocket(name)
        defer { close(fd) }
        #expect(SystemdNotifier(socketName: name).ready())
        #expect(receive(fd)?.hasPrefix("READY=1") == true)
    }

    @Test("a relative or missing socket is reported, not a crash")
    func unusable() {
        #expect(!SystemdNotifier(socketName: "relative/path").ready())
        #expect(!SystemdNotifier(socketName: "/nonexistent/tandem-notify").ready())
    }
}
