import ArgumentParser

/// Plain TCP only on request (issue 13 item 2). fleetd runs any unit it is given as root, so a
/// plain HTTP listener lets anyone who reaches it run anything on every machine and read every
/// unit's secrets. Without TLS files fleetd therefore opens no TCP listener and talks to no
/// `http://` store unless `--insecure-plaintext` says so; what the user asked for by name
/// is refused at start-up (a silent downgrade would look like it worked), while the default
/// keys API on 127.0.0.1:4001 is only skipped with a warning, so a plain `fleetd` still runs
/// and serves the unix socket.
extension FleetdSettings {
    /// The two ways out, named in every refusal and warning.
    static let plaintextAdvice = "give --tls-ca, --tls-cert and --tls-key (made by fleetctl cluster init and "
        + "fleetctl cluster issue; see docs/tls.md), or pass --insecure-plaintext to allow plain, unauthenticated HTTP"

    /// Refuses a plain listener or store the user named without `--insecure-plaintext`.
    func checkPlaintext() throws {
        if case .remote(let url) = store, url.hasPrefix("http://"), !insecurePlaintext {
            throw ValidationError("--store \(url) is plain HTTP: use https:// with --tls-ca, --tls-cert and --tls-key "
                + "(see docs/tls.md), or pass --insecure-plaintext to allow plain, unauthenticated HTTP")
        }
        guard tls == nil, !insecurePlaintext else { return }
        if let listen = apiListen {
            throw ValidationError("--api-listen \(listen.host):\(listen.port) would serve the fleet API as plain HTTP "
                + "without TLS: \(Self.plaintextAdvice)")
        }
        // Without TLS the default keys listener is already none (FleetdSettings.init), so one
        // here was asked for.
        if let keys = keysListen {
            throw ValidationError("--keys-listen \(keys.host):\(keys.port) would serve the keys API as plain HTTP "
                + "without TLS: \(Self.plaintextAdvice)")
        }
    }

    /// What goes over plain HTTP on TCP, for the `--insecure-plaintext` warning; empty with TLS
    /// everywhere.
    var plaintextUses: [String] {
        var uses: [String] = []
        if tls == nil {
            if let keys = keysListen { uses.append("keys API on \(keys.host):\(keys.port)") }
            if let api = apiListen { uses.append("fleet API on \(api.host):\(api.port)") }
            uses.append("status and journal passed on to other fleetds")
        }
        if case .remote(let url) = store, url.hasPrefix("http://") { uses.append("store at \(url)") }
        return uses
    }
}
