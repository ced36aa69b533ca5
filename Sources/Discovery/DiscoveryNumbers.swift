import FleetUnit

/// Reads the numeric options of a unit's `[X-Discovery]` section within bounds, noting every
/// value that is not a number or lies outside them (with a message naming the bounds).
///
/// An unusable value never reaches the caller: a missing or unparseable one gives the default,
/// an out-of-range one is clamped, so no later conversion (`Int(Double)`, a `Duration`) can trap.
struct DiscoveryNumbers {
    let file: UnitFile
    private(set) var refusals: [String] = []

    init(file: UnitFile) { self.file = file }

    private func text(_ name: String) -> String? {
        file.values(section: "X-Discovery", name: name).last
    }

    /// A whole number in `bounds`; `unit` names what it counts, for the message.
    mutating func whole<T: FixedWidthInteger>(_ name: String, _ bounds: ClosedRange<T>, default fallback: T,
                                              unit: String) -> T {
        guard let text = text(name), !text.isEmpty else { return fallback }
        guard let value = T(text) else {
            // Too large for T, or not a whole number at all.
            refusals.append("\(name)=\(text): expected a whole number of \(unit) in \(bounds.lowerBound)...\(bounds.upperBound)")
            return Int64(text).map { $0 < 0 ? bounds.lowerBound : bounds.upperBound } ?? fallback
        }
        guard bounds.contains(value) else {
            refusals.append("\(name)=\(text): must be in \(bounds.lowerBound)...\(bounds.upperBound) \(unit)")
            return min(max(value, bounds.lowerBound), bounds.upperBound)
        }
        return value
    }

    /// A finite number of seconds in `bounds` (fractions allowed: `0.5`).
    mutating func seconds(_ name: String, _ bounds: ClosedRange<Double>, default fallback: Double) -> Double {
        guard let text = text(name), !text.isEmpty else { return fallback }
        guard let value = Double(text), value.isFinite else {
            refusals.append("\(name)=\(text): expected a number of seconds in \(bounds.lowerBound)...\(bounds.upperBound)")
            return fallback
        }
        guard bounds.contains(value) else {
            refusals.append("\(name)=\(text): must be in \(bounds.lowerBound)...\(bounds.upperBound) seconds")
            return min(max(value, bounds.lowerBound), bounds.upperBound)
        }
        return value
    }
}
