import ArgumentParser
import FleetAPIClient
import FleetUnit
import Foundation

/// Turns command-line unit arguments into units in the registry, as fleet's submit/load/start
/// do: local files by path, instances from a template in the registry or next to the path.
struct UnitCreator {
    let client: FleetClient
    let replace: Bool
    /// The desired state new units are created with: `start` and `load` create them in their
    /// target state at once (one write instead of two, and the engine can place them at once).
    /// Templates are always created `inactive`.
    var desiredState: DesiredState = .inactive

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// What ``ensure(_:)`` did.
    struct Outcome {
        /// The unit names, in argument order (refused ones included).
        var names: [String]
        /// Units created or replaced already in ``desiredState``: no second write needed.
        var createdInState: Set<String>
        /// Units whose `--replace` was refused (their state is beyond the command's): the
        /// command must leave them alone.
        var refused: Set<String> = []
    }

    /// Creates the units that are missing and, with `--replace`, replaces those whose local
    /// file differs; returns what it did.
    ///
    /// - Throws: ``Failure`` with a message naming the unit; nothing after it is created.
    func ensure(_ arguments: [String]) async throws -> Outcome {
        // One listing answers "is it registered?" for every argument.
        let registered = Dictionary(try await client.units().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var names: [String] = []
        var toCreate: [UnitEntity] = []
        var replaced: Set<String> = [], refused: Set<String> = []
        var templates: [String: [UnitOption]] = [:]
        for argument in arguments {
            let raw = UnitName.mangled(argument)
            let name: UnitName
            do { name = try UnitName(raw) } catch { throw Failure(description: "\(raw): \(error)") }
            let path = Self.localPath(for: argument, name: name.rawValue)
            if let existing = registered[name.rawValue] {
                switch try await compare(existing, withFileAt: path, name: name) {
                case .replaced: replaced.insert(name.rawValue)
                case .refused: refused.insert(name.rawValue)
                case .kept: break
                }
            } else if !toCreate.contains(where: { $0.name == name.rawValue }) {
                let options = try await options(for: name, path: path, registered: registered, templates: &templates)
                toCreate.append(UnitEntity(name: name.rawValue, options: options,
                                           desiredState: name.isTemplate ? .inactive : desiredState))
            }
            names.append(name.rawValue)
        }
        // Every file was read and parsed before anything is created; creations are independent.
        try await writeUnits(toCreate, client: client)
        for unit in toCreate { print("Unit \(unit.name) inactive") }
        let inState = Set(toCreate.filter { $0.desired == desiredState }.map(\.name)).union(replaced)
        return Outcome(names: names, createdInState: inState, refused: refused)
    }

    /// `dir/web.service` stays a path; a bare `web` means `./web.service`.
    static func localPath(for argument: String, name: String) -> String {
        let directory = (argument as NSString).deletingLastPathComponent
        return directory.isEmpty ? name : directory + "/" + name
    }

    /// - Parameter templates: local template files already read, by path, so `fleetctl start
    ///   web@{1..200}.service` reads `web@.service` once, not once per instance.
    func options(for name: UnitName, path: String, registered: [String: UnitEntity],
                 templates: inout [String: [UnitOption]]) async throws -> [UnitOption] {
        if FileManager.default.fileExists(atPath: path) {
            return try parse(path, name: name)
        }
        guard name.isInstance, let template = name.templateName else {
            throw Failure(description: "unable to find Unit(\(name)) in Registry or on filesystem")
        }
        if let options = registered[template.rawValue]?.options {
            return options
        }
        let templatePath = ((path as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent(template.rawValue)
        if let known = templates[templatePath] { return known }
        if FileManager.default.fileExists(atPath: templatePath) {
            let options = try parse(templatePath, name: template)
            templates[templatePath] = options
            return options
        }
        throw Failure(description: "unable to find template Unit(\(template)) in Registry or on filesystem")
    }

    func parse(_ path: String, name: UnitName) throws -> [UnitOption] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "unable to read unit file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "unit file \(path) is not valid UTF-8")
        }
        do {
            return try UnitFile(parsing: text).options
        } catch {
            throw Failure(description: "unit file \(path) for \(name) is malformed: \(error)")
        }
    }

    enum Comparison { case kept, replaced, refused }

    /// A registry unit that differs from the local file (or, for an instance without a file of
    /// its own, from the local template next to where it would be) is kept unless `--replace`
    /// is given, and then replaced only if fleet's rule allows it for this command
    /// (``replaceDecision(_:registered:target:)``).
    func compare(_ existing: UnitEntity, withFileAt path: String, name: UnitName) async throws -> Comparison {
        var localPath = path
        var kind = "unit"
        if !FileManager.default.fileExists(atPath: path) {
            guard name.isInstance, let template = name.templateName else { return .kept }
            localPath = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(template.rawValue)
            guard FileManager.default.fileExists(atPath: localPath) else { return .kept }
            kind = "template unit"
        }
        let local = UnitFile(options: try parse(localPath, name: name))
        let registered = UnitFile(options: existing.options ?? [])
        guard local.hash != registered.hash else {
            if replace { print("Found same Unit(\(name)) in Registry, nothing to do") }
            return .kept
        }
        guard replace else {
            Terminal.error("WARNING: Unit \(name) in registry differs from local \(kind) file \(localPath). Add --replace to override.")
            return .kept
        }
        let target: DesiredState = name.isTemplate ? .inactive : desiredState
        switch Self.replaceDecision(name.rawValue, registered: existing.desired ?? .inactive, target: target) {
        case .refuse(let message):
            Terminal.error(message)
            return .refused
        case .replace(let state):
            try await client.createUnit(UnitEntity(name: name.rawValue, options: local.options, desiredState: state))
            DebugLog.log("replaced the contents of \(name); desired state \(state.rawValue)")
            return state == desiredState ? .replaced : .kept
        }
    }
}
