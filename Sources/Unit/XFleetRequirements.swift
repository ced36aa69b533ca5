/// What a unit's `[X-Fleet]` section asks of the machine it runs on, read the way fleet reads it.
///
/// The engine and agents consult this instead of the raw options, so fleet's quirks live in one place:
/// repeated keys accumulate, a value wrapped in quotes is several values, `%n %N %p %i` are replaced
/// in every value, the deprecated `X-` spellings still count, and unparseable metadata is ignored.
public struct XFleetRequirements: Hashable, Sendable {
    /// The unit these requirements belong to (a unit never conflicts with itself).
    public var unit: UnitName
    /// `MachineID`: the first value, else `X-ConditionMachineID`'s, else `X-ConditionMachineBootID`'s.
    public var machineID: String?
    /// `MachineOf` peers (exact names, merged with `X-ConditionMachineOf`): all must be on the machine.
    public var machineOf: [String]
    /// `MachineMetadata` (merged with `X-ConditionMachineMetadata`): every key must match (AND), any
    /// listed value of a key will do (OR).
    public var machineMetadata: [String: Set<String>]
    /// `Conflicts` globs (merged with `X-Conflicts`), unquoted values split at whitespace.
    public var conflicts: [String]
    /// `Global`: the last value, true for `true`, `yes`, `1`, `on` or `t` in any case.
    public var isGlobal: Bool
    /// `Replaces` globs (never split at whitespace).
    public var replaces: [String]
    /// `Isolation` (ours): what the unit's machine does with it when it loses the cluster for
    /// nearly the agent TTL; nil leaves it to fleetd's `--default-isolation`. The raw text, so
    /// that ``validate()`` can name a bad value; read it through ``isolationPolicy``.
    public var isolation: String?
    /// `[X-Fleet]` keys fleet does not know, in first-seen order; they are accepted, with a warning.
    public var unknownKeys: [String]

    /// Builds requirements directly, mainly for tests of the engine.
    public init(
        unit: UnitName, machineID: String? = nil, machineOf: [String] = [],
        machineMetadata: [String: Set<String>] = [:], conflicts: [String] = [], isGlobal: Bool = false,
        replaces: [String] = [], isolation: String? = nil, unknownKeys: [String] = []
    ) {
        self.unit = unit
        self.machineID = machineID
        self.machineOf = machineOf
        self.machineMetadata = machineMetadata
        self.conflicts = conflicts
        self.isGlobal = isGlobal
        self.replaces = replaces
        self.isolation = isolation
        self.unknownKeys = unknownKeys
    }

    /// Keys fleet understands, including the deprecated spellings.
    public static let knownKeys: Set<String> = [
        "MachineID", "X-ConditionMachineID", "X-ConditionMachineBootID", "MachineOf", "X-ConditionMachineOf",
        "MachineMetadata", "X-ConditionMachineMetadata", "Conflicts", "X-Conflicts", "Global", "Replaces",
        "Isolation",
    ]

    /// Spellings of true for `Global`.
    public static let trueSpellings: Set<String> = ["true", "yes", "1", "on", "t"]

    /// Reads the `[X-Fleet]` options of `file` for the unit called `unit` (which fills in the specifiers).
    public init(unit: UnitName, file: UnitFile) {
        let values = XFleetValues(unit: unit, file: file)
        self.unit = unit
        self.machineID = values.first("MachineID") ?? values.first("X-ConditionMachineID")
            ?? values.first("X-ConditionMachineBootID")
        self.machineOf = values.texts("X-ConditionMachineOf") + values.texts("MachineOf")
        var metadata: [String: Set<String>] = [:]
        for pair in values.texts("X-ConditionMachineMetadata") + values.texts("MachineMetadata") {
            // Exactly one "=" with text on both sides; anything else is silently ignored, as in fleet.
            let parts = pair.unicodeScalars.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { continue }
            metadata[String(parts[0]), default: []].insert(String(parts[1]))
        }
        self.machineMetadata = metadata
        self.conflicts = (values.all("X-Conflicts") + values.all("Conflicts")).flatMap { value in
            value.wasQuoted ? [value.text] : XFleetValues.fields(value.text)
        }
        self.isGlobal = values.texts("Global").last.map { Self.trueSpellings.contains($0.lowercased()) } ?? false
        self.replaces = values.texts("Replaces")
        self.isolation = values.texts("Isolation").last
        self.unknownKeys = values.keys.filter { !Self.knownKeys.contains($0) }
    }

    /// fleetctl's warning for each unknown key: `unrecognized requirement in [X-Fleet] section: "Foo"`.
    public var warnings: [String] {
        unknownKeys.map { "unrecognized requirement in [X-Fleet] section: \(GoQuoting.quoted($0))" }
    }
}
