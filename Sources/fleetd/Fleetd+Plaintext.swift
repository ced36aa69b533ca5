import Logging

extension Fleetd {
    /// The start-up warnings of plain TCP (``FleetdSettings/checkPlaintext(keysListenGiven:)``):
    /// the default keys listener left out, and `--insecure-plaintext` in use, loud and naming
    /// what it exposes, so it is never on by accident without a trace in the log.
    func warnAboutPlaintext() {
        if settings.skippedDefaultKeysListener {
            logger.warning("""
                not serving the keys API on 127.0.0.1:4001: without TLS it would let any local user run units \
                as root; to serve it, \(FleetdSettings.plaintextAdvice)
                """)
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
