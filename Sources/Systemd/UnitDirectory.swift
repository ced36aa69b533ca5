import Glibc

/// A directory of unit files that systemd reads on reload, e.g. `/run/systemd/system`.
///
/// Writes are atomic (temporary file, then `rename`), so systemd never reads half a unit.
/// The calls block on file I/O: ``SystemdUnitManager`` runs them on its bus thread.
struct UnitDirectory: Sendable {
    let path: String

    /// Throws ``SystemdError/Code/invalidUnitName`` unless `name` is a single path component.
    static func validate(_ name: String, call: String) throws(SystemdError) {
        let valid = !name.isEmpty && name != "." && name != ".." && name.utf8.count <= 255
            && !name.utf8.contains(UInt8(ascii: "/")) && !name.utf8.contains(0)
        guard valid else {
            throw SystemdError(
                code: .invalidUnitName, call: call, unit: name,
                message: "'\(name)' is not a unit file name; expected e.g. web@1.service")
        }
    }

    func filePath(_ name: String) -> String { "\(path)/\(name)" }

    /// Whether `file` names a file directly in this directory (as systemd reports a unit's
    /// `FragmentPath`), compared as text: a path that reaches here through a link does not count.
    func contains(path file: String) -> Bool {
        var directory = Substring(path)
        while directory.count > 1, directory.hasSuffix("/") { directory = directory.dropLast() }
        guard file.hasPrefix(directory + "/") else { return false }
        let name = file.dropFirst(directory.count + 1)
        return !name.isEmpty && !name.contains("/")
    }

    /// The file's contents, or nil if it does not exist.
    ///
    /// A symbolic link is never followed (it could point anywhere, `/etc/shadow` included): it
    /// reads as empty contents, which no unit file fleet writes has, so ``write(_:contents:)``
    /// replaces the link itself and the name still counts as taken in this directory.
    func read(_ name: String) throws(SystemdError) -> [UInt8]? {
        try Self.validate(name, call: "read")
        let fd = open(filePath(name), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        if fd < 0 {
            let code = Glibc.errno
            if code == ENOENT { return nil }
            if code == ELOOP { return [] }
            throw .systemCall("open", unit: name, result: -code, message: filePath(name))
        }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return bytes }
            if n < 0 {
                let code = Glibc.errno
                if code == EINTR { continue }
                throw .systemCall("read", unit: name, result: -code, message: filePath(name))
            }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    /// Writes `contents` unless the file already holds exactly that.
    func write(_ name: String, contents: String) throws(SystemdError) -> UnitFileWrite {
        try Self.validate(name, call: "writeUnitFile")
        let bytes = Array(contents.utf8)
        let existing = try read(name)
        if existing == bytes { return .unchanged }
        try makeDirectory()
        let temporary = "\(path)/.\(name).fleet-tmp"
        let fd = try createTemporary(temporary, unit: name)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                let code = Glibc.errno
                if code == EINTR { continue }
                Glibc.close(fd)
                unlink(temporary)
                throw .systemCall("write", unit: name, result: -code, message: temporary)
            }
            written += n
        }
        Glibc.close(fd)
        guard rename(temporary, filePath(name)) == 0 else {
            let code = Glibc.errno
            unlink(temporary)
            throw .systemCall("rename", unit: name, result: -code, message: filePath(name))
        }
        return existing == nil ? .created : .modified
    }

    /// A new, empty temporary file of mode 0644, opened for writing.
    ///
    /// `O_EXCL | O_NOFOLLOW`: the file is always one this call created, never an existing file
    /// or the target of a link planted at that name. What is in the way (left by a write that was
    /// cut short, or planted) is unlinked (a link itself, not what it points to) and the create
    /// tried once more. The mode is set explicitly, whatever the process's umask.
    private func createTemporary(_ temporary: String, unit name: String) throws(SystemdError) -> Int32 {
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var fd = open(temporary, flags, Self.fileMode)
        if fd < 0, Glibc.errno == EEXIST {
            unlink(temporary)
            fd = open(temporary, flags, Self.fileMode)
        }
        guard fd >= 0 else {
            let code = Glibc.errno
            throw .systemCall("open", unit: name, result: -code, message: temporary)
        }
        guard fchmod(fd, Self.fileMode) == 0 else {
            let code = Glibc.errno
            Glibc.close(fd)
            unlink(temporary)
            throw .systemCall("fchmod", unit: name, result: -code, message: temporary)
        }
        return fd
    }

    /// Unit files are world-readable like systemd's own (`systemctl cat` works for every user;
    /// systemd shows a unit's `Environment=` over D-Bus to anyone anyway).
    static let fileMode: mode_t = 0o644

    /// Removes the file; true if it existed.
    func remove(_ name: String) throws(SystemdError) -> Bool {
        try Self.validate(name, call: "removeUnitFile")
        guard unlink(filePath(name)) == 0 else {
            let code = Glibc.errno
            if code == ENOENT { return false }
            throw .systemCall("unlink", unit: name, result: -code, message: filePath(name))
        }
        return true
    }

    /// The first line of every regular file in the directory that starts with `marker`, by name.
    /// A missing directory holds nothing. Only the head of each file is read.
    func markedFiles(marker: String) throws(SystemdError) -> [String: String] {
        guard let directory = opendir(path) else {
            let code = Glibc.errno
            if code == ENOENT { return [:] }
            throw .systemCall("opendir", result: -code, message: path)
        }
        defer { closedir(directory) }
        var found: [String: String] = [:]
        let wanted = Array(marker.utf8)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard !name.hasPrefix("."), (try? Self.validate(name, call: "read")) != nil,
                let line = firstLine(name, limit: 512), line.utf8.starts(with: wanted)
            else { continue }
            found[name] = line
        }
        return found
    }

    /// The file's first line (up to `limit` bytes), or nil if it is not a readable regular file.
    private func firstLine(_ name: String, limit: Int) -> String? {
        let fd = open(filePath(name), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        var buffer = [UInt8](repeating: 0, count: limit)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let head = buffer[0..<n]
        return String(decoding: head.prefix(while: { $0 != UInt8(ascii: "\n") }), as: UTF8.self)
    }

    /// `mkdir -p path`.
    private func makeDirectory() throws(SystemdError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 {
                let code = Glibc.errno
                if code != EEXIST { throw .systemCall("mkdir", result: -code, message: prefix) }
            }
        }
    }
}
