import Foundation

extension ConfigFile {
    /// Reads and parses the file at `path`.
    ///
    /// As fleet did: a missing file is fine when it is only the default (`required` false:
    /// returns nil), an error when it was named (`--config`, `FLEET_CONFIG`); a directory or
    /// anything but a regular file is an error either way. At most ``maxBytes`` + 1 bytes are
    /// read, so a file that grows while read is still refused rather than read without end.
    static func load(path: String, required: Bool) throws(ConfigurationError) -> ConfigFile? {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            if !required && !FileManager.default.fileExists(atPath: path) { return nil }
            throw ConfigurationError(.fileUnreadable, "\(path): cannot read the configuration file: \(Self.reason(error))")
        }
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            throw ConfigurationError(.fileUnreadable, "\(path): not a regular file; --config names the configuration file itself")
        }
        if let size = attributes[.size] as? Int, size > maxBytes {
            throw ConfigurationError(.fileTooLarge, "\(path): larger than \(maxBytes) bytes; is this the configuration file?")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: maxBytes + 1) ?? Data()
        } catch {
            throw ConfigurationError(.fileUnreadable, "\(path): cannot read the configuration file: \(Self.reason(error))")
        }
        return try ConfigFile(parsing: [UInt8](data), path: path)
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError { return "no such file" }
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoPermissionError { return "permission denied" }
        return nsError.localizedDescription
    }
}
