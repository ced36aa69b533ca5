import FleetStore

/// Rebuilds v2's tree from the flat key-values of one subtree range.
///
/// A directory that has a marker key takes its indexes from the marker. A directory implied only
/// by keys below it has no record of its own: it reports the oldest creation below it as both
/// its created and modified index (v2 would keep the index at which it was first made, even
/// across its children's deletion; that index no longer exists anywhere in etcd).
struct EtcdTree {
    private final class Directory {
        var marker: EtcdKeyValue?
        var files: [String: EtcdKeyValue] = [:]
        var directories: [String: Directory] = [:]
        var oldestCreate: Int64 = .max

        func directory(_ name: String) -> Directory {
            if let existing = directories[name] { return existing }
            let made = Directory()
            directories[name] = made
            return made
        }
    }

    let key: String
    private let root = Directory()

    /// - Parameter key: the directory the key-values lie below.
    init(key: String) {
        self.key = key
    }

    var isEmpty: Bool { root.marker == nil && root.files.isEmpty && root.directories.isEmpty }

    /// Adds one key-value of the subtree, given its fleet key and whether it is a marker.
    func add(_ kv: EtcdKeyValue, fleetKey: String, isMarker: Bool) {
        let relative = key == "/" ? fleetKey.dropFirst() : fleetKey.dropFirst(key.count + 1)
        let parts = relative.split(separator: "/").map(String.init)
        let create = kv.createRevision.value
        var directory = root
        directory.oldestCreate = min(directory.oldestCreate, create)
        if parts.isEmpty {  // the marker of the directory itself
            if isMarker { root.marker = kv }
            return
        }
        for part in parts.dropLast() {
            directory = directory.directory(part)
            directory.oldestCreate = min(directory.oldestCreate, create)
        }
        let name = parts[parts.count - 1]
        if isMarker {
            let marked = directory.directory(name)
            marked.marker = kv
            marked.oldestCreate = min(marked.oldestCreate, create)
        } else {
            directory.files[name] = kv
        }
    }

    /// The directory as a node with `depth` levels of children (1: one level, as a plain get).
    func node(depth: Int) -> StoreNode {
        Self.node(root, key: key, depth: depth)
    }

    private static func node(_ directory: Directory, key: String, depth: Int) -> StoreNode {
        let created = directory.marker?.createRevision.value ?? (directory.oldestCreate == .max ? 0 : directory.oldestCreate)
        let modified = directory.marker?.modRevision.value ?? created
        var result = StoreNode(key: key, isDirectory: true, createdIndex: UInt64(max(0, created)),
                               modifiedIndex: UInt64(max(0, modified)))
        guard depth > 0 else { return result }
        var children: [StoreNode] = []
        for (name, kv) in directory.files {
            children.append(fileNode(kv, key: childKey(key, name)))
        }
        // Written by something other than fleet, a name can be both a value and a directory;
        // the value wins, as it would have in v2 (a file there makes the directory impossible).
        for (name, sub) in directory.directories where directory.files[name] == nil {
            children.append(node(sub, key: childKey(key, name), depth: depth - 1))
        }
        result.nodes = children.sorted { $0.key < $1.key }
        return result
    }

    static func fileNode(_ kv: EtcdKeyValue, key: String) -> StoreNode {
        StoreNode(key: key, value: kv.valueString, createdIndex: UInt64(max(0, kv.createRevision.value)),
                  modifiedIndex: UInt64(max(0, kv.modRevision.value)))
    }

    private static func childKey(_ parent: String, _ name: String) -> String {
        parent == "/" ? "/" + name : parent + "/" + name
    }
}
