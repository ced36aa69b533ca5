/// The contents of a systemd unit as fleet stores them: an ordered list of options.
///
/// Options are kept grouped by section, sections in the order first seen and options in file order within
/// each. That is the order fleet serializes and hashes them in, so two files compare equal exactly when
/// their ``normalizedText`` (and so their ``hash``) agree, whatever their comments, spacing or section order.
public struct UnitFile: Hashable, Sendable {
    /// systemd's `LINE_MAX`: no line, counting its newline, may be longer (fleet rejects such files,
    /// because systemd would silently truncate them).
    public static let maximumLineLength = 2048

    /// Every option, grouped by section as described above.
    public let options: [UnitOption]

    /// Wraps options as given (for example from fleet's JSON API), regrouping them by section.
    ///
    /// Nothing is validated here; call ``validate()`` to check that the options survive being written out
    /// and parsed back, as fleet's API does before accepting a unit.
    public init(options: [UnitOption]) {
        self.options = Self.grouped(options)
    }

    /// Sections in first-seen order.
    public var sections: [String] {
        var seen: Set<String> = []
        return options.compactMap { seen.insert($0.section).inserted ? $0.section : nil }
    }

    /// The canonical text: `[Section]` then `Name=Value` per option, a blank line between sections, no
    /// trailing blank line, `""` for no options. `fleetctl cat` prints exactly this.
    public var normalizedText: String {
        var text = ""
        var current: String?
        for option in options {
            if option.section != current {
                if current != nil { text += "\n" }
                text += "[\(option.section)]\n"
                current = option.section
            }
            text += "\(option.name)=\(option.value)\n"
        }
        return text
    }

    /// SHA-1 of ``normalizedText``: fleet's identity for unit contents.
    public var hash: UnitHash { UnitHash(hashing: normalizedText.utf8) }

    /// Every value of `name` in `section`, in order (systemd options may repeat).
    public func values(section: String, name: String) -> [String] {
        options.compactMap { $0.section == section && $0.name == name ? $0.value : nil }
    }

    /// The `[Unit]` `Description`, last one winning as in systemd; `nil` when absent.
    public var description: String? { values(section: "Unit", name: "Description").last }

    /// Whether the unit has `[Install]` options: the agent then enables it, so systemd may start it via
    /// `WantedBy=` regardless of fleet's desired state.
    public var hasInstallSection: Bool { options.contains { $0.section == "Install" } }

    /// Checks that ``normalizedText`` parses back to these same options, as fleet's API does before
    /// accepting options sent to it.
    ///
    /// Catches what ``init(options:)`` lets through: over-long lines, and options that would read back
    /// differently (a newline in a value would even smuggle in extra options).
    /// - Throws: ``UnitFileError`` for the first problem, with its line in ``normalizedText``.
    public func validate() throws(UnitFileError) {
        let reparsed = try UnitFile(parsing: normalizedText)
        guard reparsed != self, !options.isEmpty else { return }
        let common = min(reparsed.options.count, options.count)
        let differing = (0..<common).first { reparsed.options[$0] != options[$0] } ?? common
        let index = min(differing, options.count - 1)
        throw .unrepresentable(line: lineNumber(ofOptionAt: index), option: options[index])
    }

    /// The line of ``normalizedText`` holding option `index`.
    private func lineNumber(ofOptionAt index: Int) -> Int {
        var line = 0
        var current: String?
        for (position, option) in options.enumerated() {
            if option.section != current {
                line += current == nil ? 1 : 2
                current = option.section
            }
            line += 1
            if position == index { return line }
        }
        return line
    }

    /// Stable grouping by section, sections in first-seen order.
    private static func grouped(_ options: [UnitOption]) -> [UnitOption] {
        var order: [String] = []
        var bySection: [String: [UnitOption]] = [:]
        for option in options {
            if bySection[option.section] == nil { order.append(option.section) }
            bySection[option.section, default: []].append(option)
        }
        return order.flatMap { bySection[$0] ?? [] }
    }
}
