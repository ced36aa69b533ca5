import Logging

extension Fleetd {
    /// The start-up warnings of plain TCP (``FleetdSettings/checkPlaintext()``):
    /// the default keys listener left out, and `--insecure-plaintext` in use, loud and naming
    /// what it exposes, so it is never on by accident without a trace in the log.
    func warnAboutPlaintext() {
        if settings.skippedDefaultKeysListener {
            logger.warning("""
                not serving the keys API on 127.0.0.1:4001: without TLS it would let any local user run units \
                as root; to serve it, \(FleetdSettings.plaintextAdvice)
                """)
        }
        if case .etcd(let endpoints, _, _, _, _) = settings.store {
            let plain = endpoints.filter { $0.hasPrefix("http://") }
            if !plain.isEmpty {
                // etcd holds every unit and schedule: whoever reaches it runs anything as root on every
                // machine. etcd's own authentication is the operator's, so this is a warning, not a refusal.
                logger.warning("""
                    INSECURE: etcd over plain HTTP: the store is readable and writable by anyone who reaches \
                    these endpoints unless etcd itself restricts them; use https:// endpoints with \
                    --etcd-ca-file, --etcd-cert-file and --etcd-key-file (docs/security.md)
                    """, metadata: ["fleetd.etcd_plaintext": "\(plain.joined(separator: ", "))"])
            }
        }
        guard settings.insecurePlaintext else { return }
        let uses = settings.plaintextUses
        guard !uses.isEmpty else {
            logger.notice("--insecure-plaintext is given, but nothing is plain: TLS is on for every listener and peer")
            return
        }
        logger.warning("""
            INSECURE: --insecure-plaintext: plain, unauthenticated HTTP on TCP; anyone who can reach it can read \
            every unit and its secrets and run anything as root on every machine. Use TLS instead (docs/tls.md)
            """, metadata: ["fleetd.plaintext": "\(uses.joined(separator: "; "))"])
    }
}
