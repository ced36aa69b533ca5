import FleetRegistry
import FleetSystemd
import FleetUnit
import Logging

extension Agent {
    /// Makes local systemd match this machine's assignments. A full pass first takes stock of
    /// what systemd really has (``takeStock()``). Nothing is changed when the assignments
    /// cannot be read: an unreachable store is no reason to stop anything.
    func reconcile(full: Bool) async {
        let desired: [UnitName: Assignment]
        do {
            desired = try await registry.assignments(machineID)
        } catch {
            logger.warning("agent reconcile failed; retrying on the next change",
                           metadata: ["machine.id": "\(machineID)", "error": "\(error)"])
            return
        }
        if full { await takeStock() }
        var plan = await local.plan(desired: desired)
        if !plan.unload.isEmpty, await !storeHoldsTheCluster() {
            logger.error("the store no longer holds this cluster; not stopping any unit",
                         metadata: ["agent.unloads_refused": "\(plan.unload.count)"])
            plan.unload = []
        }
        if presence.sinceConfirmed() > configuration.fenceAfter {
            // Cut off for nearly the TTL: a fenced unit may already be starting elsewhere.
            var held: [UnitName] = []
            for unit in plan.start {
                if await isolation(of: unit, desired[unit]?.hash) == .stop { held.append(unit) }
            }
            plan.start.removeAll { held.contains($0) }
        }
        await carryOut(plan)
    }

    /// Whether the cluster key is still in the store: assignments that vanished along with it
    /// mean the store was wiped or swapped, not that the engine moved every unit away.
    func storeHoldsTheCluster() async -> Bool {
        (try? await registry.isCluster()) ?? false
    }

    /// Reads fleet's marked unit files from systemd's runtime directory: a file the agent does
    /// not know (left by an earlier fleetd, e.g. after `kill -9`) is adopted as it is, running
    /// or not, so that the plan keeps it if it is assigned here (no restart) and removes it if
    /// not (an orphan); a unit whose file went missing is forgotten, so the plan writes it anew.
    func takeStock() async {
        let marked: [String: String]
        do {
            marked = try await units.markedUnitFiles(marker: UnitFileMark.prefix)
        } catch {
            logger.warning("cannot read fleet's unit files", metadata: ["error": "\(error)"])
            return
        }
        var found: Set<UnitName> = []
        var adopted: [UnitName] = []
        for (name, line) in marked.sorted(by: { $0.key < $1.key }) {
            guard let unit = try? UnitName(name), let hash = UnitFileMark.hash(inLine: line) else {
                logger.warning("ignoring a unit file with a damaged fleet mark", metadata: ["unit.name": "\(name)"])
                continue
            }
            found.insert(unit)
            if await local.isKnown(unit) { continue }
            let state = try? await units.state(of: name)
            let running = state?.activeState.isRunning ?? false
            await local.adopt(unit, hash: hash, running: running)
            if let file = try? await unitFile(hash) { await registrar.loaded(unit, file: file) }
            // Its state may be attached to a presence of the fleetd before this one (on etcd, a
            // lease that is no longer kept alive): write it anew.
            await states.enqueue(unit, .publish)
            adopted.append(unit)
            logger.info("adopted a unit found in systemd",
                        metadata: ["unit.name": "\(unit)", "unit.running": "\(running)"])
        }
        for unit in await local.forgetMissing(keeping: found) {
            logger.warning("unit file went missing; writing it again", metadata: ["unit.name": "\(unit)"])
        }
        if !adopted.isEmpty { await units.watch(adopted.map(\.rawValue)) }
    }

    /// Carries out one plan: unload, load (one daemon-reload), stop, start. Each unit's step
    /// stands alone: one unit systemd refuses is logged and retried on the next pass, and never
    /// holds up the others.
    func carryOut(_ plan: AgentPlan) async {
        // systemd finds a new unit file by itself on the unit's first start, and forgets a
        // stopped unit whose file went once nothing refers to it; only a changed file, a new
        // file for a name systemd may still hold (``LocalUnits/removedSinceReload``) or an
        // [Install] change needs a daemon-reload (one per batch). A reload stops the manager for
        // 0.1 s with a few hundred units; one per destroy on every machine was a fifth of it.
        var needsReload = false
        var unloading: [UnitName] = []
        for unit in plan.unload {
            if await local.isRefusedHostUnit(unit) {
                await forget(unit)  // the host's own unit: never stopped or removed by fleet
                continue
            }
            unloading.append(unit)
        }
        // Stops and failed-state resets go out pipelined, one bus round trip per batch: a
        // destroy of 200 units no longer waits 200 round trips on each step.
        var filesRemoved: [UnitName] = []
        for unit in await stopAll(unloading, "unit unload failed; retrying on the next pass") {
            do {
                await units.unwatch(unit.rawValue)
                needsReload = await disableInstallSection(unit) || needsReload
                if try await units.removeUnitFile(unit.rawValue) { await local.fileRemoved(unit) }
            } catch {
                logger.warning("unit unload failed; retrying on the next pass",
                               metadata: ["unit.name": "\(unit)", "error": "\(error)"])
                continue
            }
            filesRemoved.append(unit)
        }
        for unit in await eachSucceeded(filesRemoved, "unit unload failed; retrying on the next pass", {
            try await units.resetFailed($0)
        }) {
            await forget(unit)
            logger.info("unit unloaded", metadata: ["unit.name": "\(unit)"])
        }
        let files = await writeUnitFiles(plan.load, needsReload: &needsReload)
        if await local.removedSinceReload.count > LocalUnits.maxRemovedBeforeReload { needsReload = true }
        if needsReload {
            do {
                try await units.reload()
                await local.reloaded()
            } catch {
                logger.warning("daemon-reload failed", metadata: ["error": "\(error)"])
            }
        }
        let startsInThisPass = Set(plan.start)
        for (unit, hash) in plan.load {
            guard let file = files[unit] else { continue }
            await local.loaded(unit, hash: hash, startFollows: startsInThisPass.contains(unit))
            await registrar.loaded(unit, file: file)
        }
        await units.watch(plan.load.map(\.0).filter { files[$0] != nil }.map(\.rawValue))
        var stopping: [UnitName] = []
        for unit in plan.stop where await !local.isRefusedHostUnit(unit) { stopping.append(unit) }
        for unit in await stopAll(stopping, "unit stop failed; retrying on the next pass") {
            await publish(unit, jobState: .loaded)
        }
        // The (durable) state writes go out from the publisher while the next starts are sent.
        var starts: [UnitName] = []
        for unit in plan.start {
            if await local.isKnown(unit), await !local.isRefusedHostUnit(unit) { starts.append(unit) }
        }
        guard !starts.isEmpty else { return }
        let failures: [String: any Error]
        do {
            failures = try await units.start(starts.map(\.rawValue))
        } catch {
            logger.warning("unit starts failed", metadata: ["error": "\(error)"])
            // Loaded, not started: their states (held while loading) are published as that.
            for unit in starts { await publish(unit, jobState: .loaded) }
            return
        }
        var unreported: [UnitName] = []
        for unit in starts {
            if let error = failures[unit.rawValue] {
                // Stays loaded; the next reconcile (a change, or the periodic resync) tries again.
                logger.warning("unit start failed", metadata: ["unit.name": "\(unit)", "error": "\(error)"])
                await publish(unit, jobState: .loaded)
            } else if await local.startSent(unit) {
                await states.enqueue(unit, .publish)
            } else {
                unreported.append(unit)
            }
        }
        if !unreported.isEmpty { publishUnreported(unreported) }
        logger.info("units started", metadata: ["agent.started": "\(starts.count - failures.count)"])
    }

    /// Publishes the started units systemd has not reported past `inactive` within
    /// ``startReportWait`` (a start job waiting for another unit): as launched and inactive.
    private func publishUnreported(_ units: [UnitName]) {
        Task {
            try? await Task.sleep(for: Self.startReportWait)
            for unit in units where await local.endHold(unit) { await states.enqueue(unit, .publish) }
        }
    }

    /// Records what the agent did with the unit and queues its state for publishing.
    private func publish(_ unit: UnitName, jobState: DesiredState) async {
        await local.setJobState(unit, jobState)
        await states.enqueue(unit, .publish)
    }

    /// Queues a stop job for each unit (pipelined) and returns those whose stop was queued, in
    /// order; the others are logged with `failure` and left for the next pass.
    private func stopAll(_ list: [UnitName], _ failure: String) async -> [UnitName] {
        await eachSucceeded(list, failure) { try await units.stop($0) }
    }

    /// Runs a batch call of the unit manager over `list` and returns the units it succeeded for,
    /// in order; failures are logged with `failure`. When the manager cannot be reached at all,
    /// none succeeded.
    private func eachSucceeded(_ list: [UnitName], _ failure: String,
                               _ call: ([String]) async throws -> [String: any Error]) async -> [UnitName] {
        guard !list.isEmpty else { return [] }
        let failures: [String: any Error]
        do {
            failures = try await call(list.map(\.rawValue))
        } catch {
            logger.warning("\(failure)", metadata: ["agent.units": "\(list.count)", "error": "\(error)"])
            return []
        }
        return list.filter { unit in
            guard let error = failures[unit.rawValue] else { return true }
            logger.warning("\(failure)", metadata: ["unit.name": "\(unit)", "error": "\(error)"])
            return false
        }
    }

    /// Writes the files of units to load (each marked with its hash), after refusing names the
    /// host already has a unit of. Returns the contents of the units written.
    private func writeUnitFiles(_ load: [(UnitName, UnitHash)], needsReload: inout Bool) async -> [UnitName: UnitFile] {
        guard !load.isEmpty else { return [:] }
        let hostOwned: Set<String>
        do {
            hostOwned = try await units.hostUnits(load.map(\.0.rawValue))
        } catch {
            logger.warning("cannot check unit names against the host's units; not loading",
                           metadata: ["error": "\(error)"])
            return [:]
        }
        var files: [UnitName: UnitFile] = [:]
        for (unit, hash) in load {
            if hostOwned.contains(unit.rawValue) && configuration.allowShadowing {
                logger.notice("loading a unit that shadows one the host has outside fleet's directory (--allow-shadowing)",
                              metadata: ["unit.name": "\(unit)"])
            } else if hostOwned.contains(unit.rawValue) {
                logger.warning("refusing a unit that the host already has outside fleet's directory (fleetd --allow-shadowing permits it)",
                               metadata: ["unit.name": "\(unit)"])
                await local.refuseAsHostUnit(unit, hash: hash)
                await states.enqueue(unit, .publish)
                continue
            }
            do {
                guard let file = try await unitFile(hash) else {
                    logger.warning("unit contents missing from the store", metadata: ["unit.name": "\(unit)"])
                    continue
                }
                let fenced = XFleetRequirements(unit: unit, file: file).isolationPolicy(default: configuration.defaultIsolation) == .stop
                let written = try await units.writeUnitFile(unit.rawValue, contents: UnitFileMark.contents(file, fenced: fenced))
                let stale = written == .created ? await local.removedSinceReload.contains(unit) : false
                needsReload = written == .modified || stale || needsReload
                files[unit] = file
            } catch {
                logger.warning("unit load failed; retrying on the next pass", metadata: ["unit.name": "\(unit)", "error": "\(error)"])
            }
        }
        needsReload = await enableInstallSections(files) || needsReload
        return files
    }

    /// Drops a unit from the books, its discovery records and its published state.
    private func forget(_ unit: UnitName) async {
        await local.forget(unit)
        await registrar.forget(unit)
        await states.enqueue(unit, .remove)
    }

    /// Unit contents by hash: fetched from the store once, then from the cache (contents never
    /// change under a hash, and the instances of one template share theirs).
    func unitFile(_ hash: UnitHash) async throws -> UnitFile? {
        if let cached = await local.file(hash) { return cached }
        guard let file = try await registry.unitFile(hash) else { return nil }
        await local.remember(file, hash: hash)
        return file
    }

    /// The unit's isolation policy from the contents cached here, never asking the store (the
    /// fence acts exactly when the store cannot be reached); fleetd's default if not cached.
    func cachedIsolation(of unit: UnitName, _ hash: UnitHash) async -> UnitIsolation {
        guard let file = await local.file(hash) else { return configuration.defaultIsolation }
        return XFleetRequirements(unit: unit, file: file).isolationPolicy(default: configuration.defaultIsolation)
    }

    /// The unit's isolation policy, from its contents (``Configuration/defaultIsolation`` when it
    /// sets none). Contents that cannot be read count as `stop`: when in doubt, do not start.
    func isolation(of unit: UnitName, _ hash: UnitHash?) async -> UnitIsolation {
        guard let hash, let file = try? await unitFile(hash) else { return .stop }
        return XFleetRequirements(unit: unit, file: file).isolationPolicy(default: configuration.defaultIsolation)
    }
}
