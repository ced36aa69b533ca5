import ArgumentParser
import FleetIdentity
import Foundation

/// `fleetctl cluster`: the cluster's identity, made and kept by the operator. The CA key never
/// leaves the directory it was made in; machines get only their own certificate and key.
struct Cluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Make the cluster's CA and issue certificates for machines and clients.",
        discussion: """
        Examples (CA files in ~/.fleetctl/tls unless --dir says otherwise):
          fleetctl cluster init
          fleetctl cluster issue --role machine --machine-id ID --ip 10.0.0.2 --out node1
        Then on the machine (with ca.pem, node1.pem and node1-key.pem copied there):
          fleetd --tls-ca ca.pem --tls-cert node1.pem --tls-key node1-key.pem \\
              --api-listen 10.0.0.2:4002
        and for the operator:
          fleetctl --endpoint https://10.0.0.2:4002 --ca-file ca.pem \\
              --cert-file admin.pem --key-file admin-key.pem list-machines
        See docs/tls.md.
        """,
        subcommands: [ClusterInit.self, ClusterIssue.self])
}

/// Where the CA lives, and how long a certificate is valid.
struct ClusterDirectoryOptions: ParsableArguments {
    @Option(help: "Directory of the cluster CA (ca.pem, ca-key.pem); made 0700 if missing.")
    var dir: String = NSHomeDirectory() + "/.fleetctl/tls"

    @Option(help: "Days the new certificate is valid (1-3650).")
    var validityDays: Int = 365

    func validate() throws {
        guard (1...3650).contains(validityDays) else {
            throw ValidationError("--validity-days must be between 1 and 3650, not \(validityDays).")
        }
    }

    var validity: Duration { .seconds(validityDays * 86400) }
}

struct ClusterInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the cluster CA and an admin client certificate.",
        discussion: """
        Writes ca.pem, ca-key.pem (the CA, 10 years), admin.pem and admin-key.pem (role admin)
        into --dir: keys 0600, certificates 0644, the directory 0700. Existing files are never
        overwritten: the command fails instead, so a CA cannot be replaced by accident.
        Keep ca-key.pem off the machines; copy only ca.pem and each machine's own pair there.
        Example: fleetctl cluster init --dir ~/.fleetctl/tls
        """)

    @OptionGroup var options: ClusterDirectoryOptions

    func run() throws {
        let files = IdentityFiles(directory: options.dir)
        do {
            try files.prepare()
            for name in ["ca.pem", "ca-key.pem", "admin.pem", "admin-key.pem"] where files.exists(name) {
                throw IdentityError(.fileExists, "\(files.path(name)) exists already; a cluster is initialised once (move the directory away to start over)")
            }
            let ca = try ClusterCA.create()
            try files.create(ca)
            try files.create(try ca.issue(LeafRequest(role: .admin, validity: options.validity)), prefix: "admin")
        } catch let error as IdentityError {
            Terminal.error("Error: \(error)")
            throw ExitCode.failure
        }
        print("Created the cluster CA and an admin certificate in \(options.dir):")
        for name in ["ca.pem", "ca-key.pem", "admin.pem", "admin-key.pem"] { print("  \(files.path(name))") }
    }
}

struct ClusterIssue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Issue a certificate for a machine or a client, signed by the cluster CA.",
        discussion: """
        Writes PREFIX.pem (0644) and PREFIX-key.pem (0600). A PREFIX without a '/' is a name in
        --dir; with one it is a path. Roles: machine (a fleetd; needs --machine-id, and --ip /
        --dns for every address it serves on), admin (fleetctl), discovery-reader (apps that
        only read /discovery). The role and machine ID are in the certificate as the SAN URIs
        fleet://role/<role> and fleet://machine/<id>.
        Example: fleetctl cluster issue --role machine --machine-id 4a1f... --ip 10.0.0.2 --out node1
        """)

    @OptionGroup var options: ClusterDirectoryOptions

    @Option(help: "machine, admin or discovery-reader.")
    var role: String

    @Option(help: "The machine's ID (its /etc/machine-id); role machine only.")
    var machineID: String?

    @Option(help: "An IP address the holder serves on (repeatable).")
    var ip: [String] = []

    @Option(help: "A DNS name the holder serves on (repeatable).")
    var dns: [String] = []

    @Option(help: "Path prefix of the files to write.")
    var out: String

    @Option(help: ArgumentHelp(
        "The day (YYYY-MM-DD, UTC) the certificate starts to be valid, instead of now.",
        discussion: "With a past day and a short --validity-days it is already expired; with a future one it is not valid yet. For testing that fleet refuses both."))
    var notBefore: String?

    /// `--not-before` as a date: midnight UTC of a day in 2000-2999.
    var start: Date? {
        get throws {
            guard let notBefore else { return nil }
            let format = ISO8601DateFormatter()
            format.formatOptions = [.withFullDate, .withDashSeparatorInDate]
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
            guard let date = format.date(from: notBefore), (2000...2999).contains(calendar.component(.year, from: date))
            else { throw ValidationError("--not-before must be a day YYYY-MM-DD between 2000 and 2999, not \"\(notBefore)\".") }
            return date
        }
    }

    func validate() throws {
        _ = try start
        guard ClusterRole(rawValue: role) != nil else {
            throw ValidationError("--role must be one of \(ClusterRole.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(role)\".")
        }
        guard !out.isEmpty, !out.hasSuffix("/") else { throw ValidationError("--out needs a file name prefix, not \"\(out)\".") }
    }

    func run() throws {
        let ca = IdentityFiles(directory: options.dir)
        let target = out.contains("/")
            ? IdentityFiles(directory: (out as NSString).deletingLastPathComponent)
            : ca
        let prefix = out.contains("/") ? (out as NSString).lastPathComponent : out
        do {
            var request = LeafRequest(role: ClusterRole(rawValue: role) ?? .admin, machineID: machineID,
                                      ipAddresses: ip, dnsNames: dns, validity: options.validity)
            let start = (try? self.start) ?? nil  // checked in validate()
            if start != nil { request.backdate = .zero }
            let issued = try ca.loadCA().issue(request, now: start ?? Date())
            try target.prepare()
            try target.create(issued, prefix: prefix)
        } catch let error as IdentityError {
            Terminal.error("Error: \(error)")
            throw ExitCode.failure
        }
        print("Issued a \(role) certificate: \(target.path(prefix + ".pem")), \(target.path(prefix + "-key.pem"))")
    }
}
