import CSystemd

/// A D-Bus property value of the kinds `systemctl status` shows; other types are skipped.
enum BusValue: Equatable {
    case string(String)
    case bool(Bool)
    case signed(Int64)
    case unsigned(UInt64)
    case double(Double)
    case strings([String])
}

extension BusMessage {
    /// Reads an `a{sv}` (the reply of `Properties.GetAll`). Values of basic types and string
    /// arrays are kept; structs, other arrays and dictionaries are skipped. Nil if malformed.
    func readPropertyMap() -> [String: BusValue]? {
        guard enter(BusType.array, "{sv}") else { return nil }
        var properties: [String: BusValue] = [:]
        while enter(BusType.dictEntry, "sv") {
            guard let name = readString(), let contents = peekVariantContents() else { return nil }
            if let value = readVariant(contents) {
                properties[name] = value
            } else if !skip("v") {
                return nil
            }
            guard exit() else { return nil }
        }
        guard exit() else { return nil }
        return properties
    }

    /// The variant's value if its type is one ``BusValue`` holds; nil (nothing consumed) otherwise.
    private func readVariant(_ contents: String) -> BusValue? {
        guard ["s", "o", "b", "y", "n", "q", "i", "u", "x", "t", "d", "as"].contains(contents),
            enter(BusType.variant, contents)
        else { return nil }
        defer { _ = exit() }
        if contents == "as" {
            guard enter(BusType.array, "s") else { return nil }
            var strings: [String] = []
            while let string = readString() { strings.append(string) }
            _ = exit()
            return .strings(strings)
        }
        return readBasic(contents)
    }

    private func readBasic(_ contents: String) -> BusValue? {
        let type = CChar(truncatingIfNeeded: contents.unicodeScalars.first!.value)
        switch contents {
        case "s", "o":
            var value: UnsafePointer<CChar>?  // borrowed from the message
            guard sd_bus_message_read_basic(pointer, type, &value) > 0, let value else { return nil }
            return .string(String(cString: value))
        case "b": return read(type, as: Int32.self).map { .bool($0 != 0) }
        case "d": return read(type, as: Double.self).map { .double($0) }
        case "y": return read(type, as: UInt8.self).map { .unsigned(UInt64($0)) }
        case "q": return read(type, as: UInt16.self).map { .unsigned(UInt64($0)) }
        case "u": return read(type, as: UInt32.self).map { .unsigned(UInt64($0)) }
        case "t": return read(type, as: UInt64.self).map { .unsigned($0) }
        case "n": return read(type, as: Int16.self).map { .signed(Int64($0)) }
        case "i": return read(type, as: Int32.self).map { .signed(Int64($0)) }
        case "x": return read(type, as: Int64.self).map { .signed($0) }
        default: return nil
        }
    }

    /// One fixed-size basic value (sd-bus writes it into the pointed-to storage).
    private func read<Value: Numeric & BitwiseCopyable>(_ type: CChar, as: Value.Type) -> Value? {
        var value: Value = 0
        let r = withUnsafeMutableBytes(of: &value) { sd_bus_message_read_basic(pointer, type, $0.baseAddress) }
        return r > 0 ? value : nil
    }
}
