import FleetDNS

extension FleetdSettings {
    /// The discovery DNS responder the `--dns-*` options describe, or nil without `--dns-listen`:
    /// the same configuration type fleet-dns builds from its own options.
    ///
    /// Made when asked rather than stored, so a reload compares the options themselves and not
    /// a zone serial that differs each second.
    var dnsConfiguration: DNSConfiguration? {
        dnsListen.map { listen in
            // One UDP socket: fleetd answers DNS beside its other work; fleet-dns is the one to scale.
            DNSConfiguration(zone: ZoneSettings(apex: dnsZone),
                             server: .init(host: listen.host, port: listen.port, udpSockets: 1, tcp: true,
                                           rateLimit: dnsRateLimit),
                             ednsPayloadSize: UInt16(clamping: dnsUDPPayload))
        }
    }
}
