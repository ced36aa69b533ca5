import Foundation

/// How long one seeded fuzz test runs.
///
/// By default (`swift test`, CI) a fixed number of cases from a fixed seed: a few seconds, the
/// same inputs on every run. With `FLEET_FUZZ_SECONDS=N` (`scripts/fuzz-inputs`) it runs for N
/// seconds instead, from `FLEET_FUZZ_SEED` or a fresh seed that it prints, so a failure found in
/// a long run is reproduced by running again with that seed and `FLEET_FUZZ_SECONDS`.
public struct FuzzBudget: Sendable {
    public let seed: UInt64
    /// Cases to run; nil when running for ``seconds`` instead.
    public let cases: Int?
    public let seconds: Double?

    /// The budget for a fuzz test named `name` whose default is `cases` cases from `seed`.
    public init(_ name: String, seed: UInt64, cases: Int,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let text = environment["FLEET_FUZZ_SECONDS"], let seconds = Double(text),
              seconds > 0, seconds <= 10_000_000  // NaN fails too; the bound keeps the deadline representable
        else {
            self.seed = seed
            self.cases = cases
            self.seconds = nil
            return
        }
        self.seed = environment["FLEET_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        self.cases = nil
        self.seconds = seconds
        print("fuzz \(name): FLEET_FUZZ_SEED=\(self.seed) for \(seconds) s")
    }

    /// Calls `body` once per case with the one generator of this run, until the budget is spent
    /// or `body` returns false (a failure it recorded: later cases would only repeat it).
    ///
    /// - Returns: how many cases ran.
    @discardableResult
    public func run(_ body: (inout SeededGenerator) async throws -> Bool) async rethrows -> Int {
        var generator = SeededGenerator(seed: seed)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(Int64((seconds ?? 0) * 1000)))
        var count = 0
        while cases.map({ count < $0 }) ?? (clock.now < deadline) {
            count += 1
            guard try await body(&generator) else { break }
        }
        return count
    }
}
