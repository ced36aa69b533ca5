extension FleetdCommand {
    /// The settings from every source: these options, `environment`, and the configuration
    /// file (`--config`, else `FLEET_CONFIG`, else ``ConfigFile/defaultPath``, which may be absent).
    ///
    /// Called at start and again on each SIGHUP, so an edited file is read afresh.
    func settings(environment: [String: String]) throws -> FleetdSettings {
        try FleetdSettings(sources: Self.sources(config: config, flags: givenOptions, environment: environment))
    }

    /// `flags` with the environment and the configuration file (`config`, else `FLEET_CONFIG`,
    /// else ``ConfigFile/defaultPath``, which may be absent); `fleetd restore` resolves its own.
    static func sources(config: String?, flags: [String: String], environment: [String: String]) throws -> SettingSources {
        let named = config ?? environment["FLEET_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let path = named ?? ConfigFile.defaultPath
        let file = try ConfigFile.load(path: path, required: named != nil)
        return try SettingSources(flags: flags, environment: environment, file: file, filePath: path)
    }

    /// The options given on the command line, by ``ConfigKey`` name; a switch given is `true`.
    var givenOptions: [String: String] {
        let options: [(ConfigKey, String?)] = [
            (.store, store), (.etcdServers, etcdServers), (.etcdKeyPrefix, etcdKeyPrefix),
            (.etcdCAFile, etcdCAFile), (.etcdCertFile, etcdCertFile), (.etcdKeyFile, etcdKeyFile),
            (.etcdTransport, etcdTransport),
            (.tlsCA, tlsCA), (.tlsCert, tlsCert), (.tlsKey, tlsKey), (.insecurePlaintext, Self.given(insecurePlaintext)), (.dataDir, dataDir),
            (.keysListen, keysListen), (.apiSocket, apiSocket), (.apiListen, apiListen),
            (.dnsListen, dnsListen), (.dnsZone, dnsZone), (.dnsUDPPayload, dnsUdpPayload.map(String.init)),
            (.dnsRateLimit, dnsRateLimit.map(String.init)), (.dnsRateLimitExempt, dnsRateLimitExempt),
            (.mdns, Self.given(mdns)), (.systemdUser, Self.given(systemdUser)), (.unitDirectory, unitDirectory),
            (.publicIP, publicIP), (.metadata, metadata), (.agentTTL, agentTTL), (.engineLeaseTTL, engineLeaseTTL),
            (.defaultIsolation, defaultIsolation), (.allowShadowing, Self.given(allowShadowing)),
            (.drainOnStop, Self.given(drainOnStop)),
            (.tokenLimit, tokenLimit.map(String.init)), (.initStore, Self.given(initStore)),
            (.httpMaxConnections, httpMaxConnections.map(String.init)),
            (.httpIdleTimeout, httpIdleTimeout.map(String.init)),
            (.httpMaxHeaderBytes, httpMaxHeaderBytes.map(String.init)), (.maxWatchers, maxWatchers.map(String.init)),
            (.watchBuffer, watchBuffer.map(String.init)), (.disableEngine, Self.given(disableEngine)),
            (.prefix, prefix), (.machineIDFile, machineIDFile), (.verbose, Self.given(verbose)),
        ]
        var given: [String: String] = [:]
        for case let (key, value?) in options { given[key.name] = value }
        return given
    }

    /// A switch on the command line can only say yes; leaving it off lets the other sources speak.
    private static func given(_ flag: Bool) -> String? { flag ? "true" : nil }
}
