import FleetDiscovery
import FleetMDNS
import FleetStore
import Foundation
import ServiceLifecycle

/// Mirrors a directory of discovery-record JSON files into the store, the way fleet's registrar
/// would write them: `web-1.json` holding a record for service `web`, instance `1` becomes
/// `<root>/web/1`. Editing a file updates the key, deleting it deletes the key. Tests drive the
/// bridge this way (write to a temporary name, then rename, so a half-written file is never read).
struct DirectoryFeed: Service {
    let directory: URL
    let store: any KeyValueStore
    let root: String

    func run() async throws {
        var seen: [String: (key: String, json: String)] = [:]  // file name -> what it put in the store
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            var present: Set<String> = []
            for name in names where name.hasSuffix(".json") {
                present.insert(name)
                guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path),
                      let record = DiscoveryRecord.decode(String(decoding: data, as: UTF8.self)) else { continue }
                let key = DiscoveryKeys(root: root).record(of: record)
                let json = record.encoded()
                if let old = seen[name], old.key == key, old.json == json { continue }
                if let old = seen[name], old.key != key { try await store.deleteIfPresent(old.key) }
                try await store.set(key, json)
                seen[name] = (key, json)
            }
            for (name, old) in seen where !present.contains(name) {
                try await store.deleteIfPresent(old.key)
                seen[name] = nil
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
