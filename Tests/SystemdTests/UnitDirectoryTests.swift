import Glibc
import Testing

@testable import FleetSystemd

@Suite struct UnitDirectoryTests {
    /// A fresh directory under /tmp, removed by ``removeTemporaryDirectory(_:)``.
    private func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/fleet-systemd-test-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let base = try #require(created.map { String(cString: $0) })
        return base
    }

    private func removeTemporaryDirectory(_ base: String) {
        _ = system("rm -rf '\(base)'")
    }

    private func listing(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    @Test func writeCreatesTheDirectoryAndReportsChanges() throws {
        let base = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(base) }
        let path = base + "/systemd/user"  // does not exist yet
        let units = UnitDirectory(path: path)
        #expect(try units.read("a.service") == nil)
        #expect(try units.write("a.service", contents: "one") == .created)
        #expect(try units.write("a.service", contents: "one") == .unchanged)
        #expect(try units.read("a.service") == Array("one".utf8))
        #expect(try units.write("a.service", contents: "two") == .modified)
        #expect(try units.read("a.service") == Array("two".utf8))
        #expect(listing(path) == ["a.service"])  // no temporary file left behind
        #expect(try units.remove("a.service"))
        #expect(try !units.remove("a.service"))
        #expect(listing(path) == [])
    }

    @Test func rejectsPathsOutsideTheDirectory() throws {
        let base = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(base) }
        let units = UnitDirectory(path: base + "/units")
        let error = #expect(throws: SystemdError.self) { try units.write("../escape.service", contents: "x") }
        #expect(error?.code == .invalidUnitName)
        #expect(error?.unit == "../escape.service")
        #expect(listing(base) == [])
    }

    @Test func reportsWhatFailed() throws {
        let units = UnitDirectory(path: "/proc/fleet-cannot-exist")
        let error = #expect(throws: SystemdError.self) { try units.write("a.service", contents: "x") }
        #expect(error?.code == .systemCall)
        #expect(error?.description.contains("mkdir") == true)
    }

    /// The mode bits of `path` itself (a link is not followed).
    private func mode(_ path: String) -> mode_t? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode : nil
    }

    @Test func aLinkPlantedAtTheTemporaryNameIsNotFollowed() throws {
        let base = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(base) }
        let victim = base + "/victim"
        let fd = open(victim, O_WRONLY | O_CREAT, 0o600)
        #expect(fd >= 0)
        _ = write(fd, "secret", 6)
        close(fd)
        let path = base + "/units"
        let units = UnitDirectory(path: path)
        #expect(try units.write("a.service", contents: "one") == .created)  // makes the directory
        #expect(symlink(victim, path + "/.b.service.fleet-tmp") == 0)
        #expect(try units.write("b.service", contents: "two") == .created)
        #expect(try units.read("b.service") == Array("two".utf8))
        let victimMode = try #require(mode(victim))
        #expect(victimMode & 0o777 == 0o600)  // neither rewritten nor chmod-ed through the link
        var buffer = [UInt8](repeating: 0, count: 16)
        let readFD = open(victim, O_RDONLY)
        let count = read(readFD, &buffer, 16)
        close(readFD)
        #expect(Array(buffer.prefix(max(0, count))) == Array("secret".utf8))
        #expect(listing(path) == ["a.service", "b.service"])
    }

    @Test func aLinkPlantedAtTheUnitNameIsReplacedNotFollowed() throws {
        let base = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(base) }
        let victim = base + "/victim"
        let fd = open(victim, O_WRONLY | O_CREAT, 0o600)
        _ = write(fd, "secret", 6)
        close(fd)
        let path = base + "/units"
        let units = UnitDirectory(path: path)
        _ = try units.write("a.service", contents: "one")
        #expect(symlink(victim, path + "/c.service") == 0)
        #expect(try units.read("c.service") == [])  // present, but its target is never read
        #expect(try units.write("c.service", contents: "three") == .modified)
        let written = try #require(mode(path + "/c.service"))
        #expect(written & S_IFMT == S_IFREG)
        #expect(written & 0o777 == 0o644)
        var buffer = [UInt8](repeating: 0, count: 16)
        let readFD = open(victim, O_RDONLY)
        let count = read(readFD, &buffer, 16)
        close(readFD)
        #expect(Array(buffer.prefix(max(0, count))) == Array("secret".utf8))
    }
}
