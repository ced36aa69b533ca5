extension UnitName {
    /// Suffixes that fleetctl leaves alone when turning an argument into a unit name.
    ///
    /// Narrower than ``unitTypes`` on purpose: fleetctl only recognises these, so `x.target` becomes
    /// `x.target.service`, which users of fleetctl rely on.
    public static let mangleKeptSuffixes = ["service", "socket", "timer", "path", "device", "mount", "automount"]

    /// Turns a fleetctl argument (a path or a bare name) into the unit name fleetctl would use.
    ///
    /// Takes the last path element like Go's `path.Base` (`dir/bar.socket` → `bar.socket`, `""` → `.`),
    /// then appends `.service` unless the name already ends in one of ``mangleKeptSuffixes``
    /// (`foo` → `foo.service`, `foo.1` → `foo.1.service`). The result is not validated.
    public static func mangled(_ argument: String) -> String {
        let name = baseName(argument)
        if mangleKeptSuffixes.contains(where: { name.hasSuffix("." + $0) }) {
            return name
        }
        return name + ".service"
    }

    /// Go's `path.Base`: trailing slashes dropped, then the text after the last `/`.
    private static func baseName(_ path: String) -> String {
        guard !path.isEmpty else { return "." }
        var trimmed = Substring(path)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard !trimmed.isEmpty else { return "/" }
        if let slash = trimmed.lastIndex(of: "/") {
            return String(trimmed[trimmed.index(after: slash)...])
        }
        return String(trimmed)
    }
}
