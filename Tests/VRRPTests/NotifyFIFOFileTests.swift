import Foundation
import Testing
@testable import VRRP

#if canImport(Glibc)
import Glibc
#endif

/// `notify_fifo PATH [USER [GROUP]]`: who owns the FIFO, as keepalived 2.2.7 does it (a FIFO it
/// creates is given to the user; one that was there keeps its owner). chown needs root.
@Suite("Notify FIFO files", .enabled(if: getuid() == 0, "chown needs root"))
struct NotifyFIFOFileTests {
    private func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-fifo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    private func owner(_ path: String) -> (uid: uid_t, gid: gid_t, mode: mode_t)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_uid, st.st_gid, st.st_mode)
    }

    @Test("a FIFO tandem creates: 0600, given to USER:GROUP; without one, root's")
    func created() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let nobody = try #require(ScriptUser.resolve("nobody", group: "nogroup"))
        var logged: [String] = []
        let opened = try NotifyFIFOFile.open("\(dir)/k.fifo", owner: nobody, createdEarlier: false, log: { logged.append($0) })
        defer { close(opened.fd) }
        #expect(opened.created)
        let st = try #require(owner("\(dir)/k.fifo"))
        #expect(st.mode & S_IFMT == S_IFIFO)
        #expect(st.mode & 0o777 == 0o600)
        #expect(st.uid == nobody.uid && st.gid == nobody.gid)
        #expect(logged.isEmpty, "\(logged)")

        let plain = try NotifyFIFOFile.open("\(dir)/v.fifo", owner: nil, createdEarlier: false, log: { logged.append($0) })
        defer { close(plain.fd) }
        #expect(owner("\(dir)/v.fifo")?.uid == 0)
        // Written and read through the descriptor it returned.
        #expect(write(plain.fd, "x\n", 2) == 2)
        var buffer = [UInt8](repeating: 0, count: 4)
        #expect(read(plain.fd, &buffer, 4) == 2)
    }

    @Test("a FIFO that was there keeps its owner, unless this run made it (a reload changing the owner)")
    func existing() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let nobody = try #require(ScriptUser.resolve("nobody", group: "nogroup"))
        #expect(mkfifo("\(dir)/k.fifo", 0o600) == 0)
        let opened = try NotifyFIFOFile.open("\(dir)/k.fifo", owner: nobody, createdEarlier: false, log: { _ in })
        close(opened.fd)
        #expect(!opened.created)
        #expect(owner("\(dir)/k.fifo")?.uid == 0)
        let again = try NotifyFIFOFile.open("\(dir)/k.fifo", owner: nobody, createdEarlier: true, log: { _ in })
        close(again.fd)
        #expect(!again.created)
        #expect(owner("\(dir)/k.fifo")?.uid == nobody.uid)
    }

    @Test("a regular file or a missing directory in the way: an error naming the path")
    func errors() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(FileManager.default.createFile(atPath: "\(dir)/plain", contents: Data()))
        #expect {
            _ = try NotifyFIFOFile.open("\(dir)/plain", owner: nil, createdEarlier: false, log: { _ in })
        } throws: { "\($0)" == "notify FIFO \(dir)/plain exists and is not a FIFO; not used" }
        #expect {
            _ = try NotifyFIFOFile.open("\(dir)/no/k.fifo", owner: nil, createdEarlier: false, log: { _ in })
        } throws: { "\($0)".hasPrefix("cannot create notify FIFO \(dir)/no/k.fifo: ") }
    }
}
