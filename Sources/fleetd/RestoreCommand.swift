import ArgumentParser
import FleetStoreEmbedded
import Foundation

/// `fleetd restore FILE`: installs a backup of the embedded store (`fleetctl backup FILE`) as
/// this machine's store, offline. The data directory comes from `--data-dir`, `FLEET_DATA_DIR`
/// or the configuration file, exactly as fleetd itself finds it, so the store restored is the
/// one the next start opens.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Install a backup (from fleetctl backup) as this machine's embedded store; fleetd must be stopped.",
        discussion: """
        Checks that FILE is a sound fleet store this fleetd can open (SQLite's integrity check, \
        fleet's schema), refuses while fleetd (or anything else) holds the store, keeps the \
        current store as store.db.before-restore-<UTC time> in the data directory, and installs \
        the copy as store.db. The restored store continues from an index past both the backup's \
        and the replaced store's, so the other machines read it afresh instead of waiting for \
        indexes they saw before. Then start fleetd.

        The store is the one fleetd's own options name: --config FILE, --data-dir DIR (or \
        FLEET_DATA_DIR, or data_dir in the file; default /var/lib/fleet).

        Examples:
          systemctl stop fleetd && fleetd restore /var/backups/fleet/store.db && systemctl start fleetd
          fleetd restore --config /etc/fleet/fleet.conf --data-dir /srv/fleet store.db
        """)

    /// fleetd's own options: `--config`, `--data-dir` (and any other) are fleetd's, given
    /// before or after `restore`, and resolved exactly as fleetd resolves them.
    @ParentCommand var fleetd: FleetdCommand

    @Argument(help: "The backup to install.")
    var file: String

    func run() throws {
        let directory = try dataDirectory(environment: ProcessInfo.processInfo.environment)
        _ = try StoreFileModes.secureDirectory(at: directory)
        let outcome = try StoreRestore.restore(from: file, to: directory + "/store.db")
        print("Restored \(file) as \(outcome.installed.path): \(outcome.installed.keys) keys, \(outcome.installed.bytes) bytes, "
              + "backup index \(outcome.backupIndex) (the store continues at \(outcome.installed.index)).")
        if let aside = outcome.movedAside {
            print("The store it replaced is kept as \(aside).")
        }
        print("Start fleetd to use it.")
    }

    /// The data directory fleetd would open its store in, with these options and `environment`.
    /// - Throws: when fleetd is configured for another store (etcd, or another fleetd's).
    func dataDirectory(environment: [String: String]) throws -> String {
        var resolver = SettingResolver(try FleetdCommand.sources(config: fleetd.config, flags: fleetd.givenOptions,
                                                                 environment: environment))
        if let servers = resolver.text(.etcdServers) {
            throw ValidationError("this fleetd uses etcd (etcd_servers, \(servers.origin)), not the embedded store: "
                                  + "restore etcd with etcd's own tools (etcdutl snapshot restore)")
        }
        let store = resolver.text(.store, default: "embedded")
        guard store.text == "embedded" else {
            throw ValidationError("this fleetd uses the store at \(store.text) (\(store.origin)): restore on the machine "
                                  + "that holds the store")
        }
        return resolver.text(.dataDir, default: "/var/lib/fleet").text
    }
}
