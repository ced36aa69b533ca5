import FleetStore

/// The version of fleet's key layout in the store (which keys exist and what their values
/// mean), kept in the cluster key so that every fleetd can tell whether it understands the
/// store it is pointed at.
///
/// A fleetd refuses a layout newer than its own (``LayoutTooNewError``): a rollback to an
/// older fleet, or one old machine left behind, must not read keys it would misunderstand and
/// act on them. An older layout is brought forward at start by the first fleetd that sees it,
/// one ``LayoutMigration`` after another, and the new version is recorded with a
/// compare-and-swap on the cluster key. Migrations must be idempotent: two fleetds starting at
/// once may both run one, and a fleetd killed halfway runs it again at its next start.
/// A cluster key without a layout (made before there was one) is layout 1.
public enum RegistryLayout {
    /// The layout this fleet reads and writes.
    public static let current = 1

    /// The steps from older layouts to ``current``; empty while there has only been layout 1.
    public static let migrations: [LayoutMigration] = []
}

/// One step of the store's key layout: what turns layout `to - 1` into layout `to`.
public struct LayoutMigration: Sendable {
    /// The layout this step produces.
    public var to: Int
    /// What the step does, for the log.
    public var summary: String
    /// The step itself; must be safe to run more than once.
    public var run: @Sendable (Registry) async throws -> Void

    public init(to: Int, summary: String, run: @escaping @Sendable (Registry) async throws -> Void) {
        self.to = to
        self.summary = summary
        self.run = run
    }
}

/// The store was written by a newer fleet than this fleetd.
public struct LayoutTooNewError: Error, CustomStringConvertible {
    public var found: Int
    public var known: Int

    public var description: String {
        "the store holds fleet key layout \(found), newer than this fleetd understands (\(known)): it was "
            + "written by a newer fleet. Upgrade this fleetd to that version (a rollback to an older fleet "
            + "needs the store backed up before the upgrade)"
    }
}

extension Registry {
    /// What ``upgradeLayout(to:migrations:)`` found and did.
    public struct LayoutUpgrade: Sendable, Equatable {
        /// The layout the store had.
        public var from: Int
        /// The layout it has now.
        public var to: Int
        /// The summaries of the steps this call ran.
        public var ran: [String]

        public init(from: Int, to: Int, ran: [String]) {
            self.from = from
            self.to = to
            self.ran = ran
        }
    }

    /// Checks the store's key layout against this fleet's and brings an older one forward.
    /// Call after ``ensureCluster(create:by:)``.
    /// - Throws: ``LayoutTooNewError`` for a newer layout; a store error, or a migration's, as is
    ///   (fleetd then exits and starts again, and the migration runs again).
    @discardableResult
    public func upgradeLayout(to target: Int = RegistryLayout.current,
                              migrations: [LayoutMigration] = RegistryLayout.migrations) async throws -> LayoutUpgrade {
        var ran: [String] = []
        var from: Int?
        // A lost compare-and-swap means another fleetd recorded a layout meanwhile: read again.
        for _ in 0..<8 {
            guard let node = try await store.getIfPresent(keys.cluster), let text = node.value else {
                throw NoClusterError(missing: "key \(keys.cluster)")
            }
            var record = Self.decode(ClusterRecord.self, text) ?? ClusterRecord(created: "", by: "")
            let layout = record.layout ?? 1
            if from == nil { from = layout }
            guard layout <= target else { throw LayoutTooNewError(found: layout, known: target) }
            if layout == target { return LayoutUpgrade(from: from ?? layout, to: layout, ran: ran) }
            for step in migrations.sorted(by: { $0.to < $1.to }) where step.to > layout && step.to <= target {
                try await step.run(self)
                ran.append(step.summary)
            }
            record.layout = target
            do {
                try await store.set(keys.cluster, try Self.encode(record), condition: StoreCondition(prevIndex: node.modifiedIndex))
                return LayoutUpgrade(from: from ?? layout, to: target, ran: ran)
            } catch let error as StoreError where error.code == .compareFailed {
                continue
            }
        }
        throw StoreError(.unavailable, "the cluster key \(keys.cluster) kept changing while its layout was recorded")
    }
}
