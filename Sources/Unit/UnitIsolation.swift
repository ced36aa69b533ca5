/// What an agent does with a unit while its machine is cut off from the cluster.
///
/// A machine that cannot renew its presence is taken for dead once its TTL runs out, and its
/// units are started elsewhere. `keep` (fleet's behaviour, the default) leaves the unit running
/// through the outage: nothing stops for a short one, but a longer one means two copies for a
/// while. `stop` fences the unit: the agent stops it shortly *before* the TTL can run out, so a
/// moved copy never overlaps it, at the price of stopping it for any outage that long.
/// Set per unit with `[X-Fleet] Isolation=stop|keep`, and per machine with fleetd's
/// `--default-isolation`.
public enum UnitIsolation: String, Sendable, Hashable, CaseIterable {
    case keep
    case stop

    /// Reads a value as written in a unit (case-insensitive, surrounding blanks ignored).
    public init?(_ text: String) {
        let trimmed = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
            .lowercased()
        guard let value = Self(rawValue: trimmed) else { return nil }
        self = value
    }

    /// `"keep" or "stop"`, for messages.
    public static var spellings: String { allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ") }
}

extension XFleetRequirements {
    /// The unit's `Isolation`, or `fallback` when it sets none (or an invalid one, which
    /// validation refuses before a unit is stored).
    public func isolationPolicy(default fallback: UnitIsolation) -> UnitIsolation {
        isolation.flatMap { UnitIsolation($0) } ?? fallback
    }
}
