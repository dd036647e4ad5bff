import Foundation
import Testing
@testable import Daemon

@Suite("Code pages")
struct CodePagesTests {
    /// Resident KB of this executable's code (`r-xp` mappings of /proc/self/exe), from smaps.
    static func residentCodeKB() throws -> Int {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let smaps = try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8)
        var total = 0
        var inCode = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 2, first.first?.isHexDigit == true {
                inCode = fields.count >= 6 && fields[1] == "r-xp" && fields[5...].joined(separator: " ") == executable
            } else if inCode, fields.first == "Rss:", fields.count >= 2, let kb = Int(fields[1]) {
                total += kb
            }
        }
        return total
    }

    @Test("unmapping the start-up's code leaves fewer of the executable's code pages mapped, and the code runs on")
    func unmapStartupCode() throws {
        #if os(Linux)
        let before = try Self.residentCodeKB()
        #expect(before > 0, "the test binary's code is mapped")
        CodePages.unmapStartupCode()
        // Code runs after it (it is mapped again as it runs): read the figure once more.
        let after = try Self.residentCodeKB()
        #expect(after < before, "\(after) KB of code mapped after, \(before) KB before")
        #endif
    }
}
