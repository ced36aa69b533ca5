import FleetAPIClient
import FleetHTTPServer
import FleetUnit

extension JSONText {
    /// `{"nextPageToken":…,"<key>":[…]}`: every listing page of the API has this shape.
    static func page<Item>(_ key: String, _ items: [Item], next: String?, bytesPerItem: Int,
                           _ write: (inout JSONText, Item) -> Void) -> [UInt8] {
        var json = JSONText(reservingCapacity: 64 + items.count * bytesPerItem)
        json.object { page in
            page.member("nextPageToken", next)
            page.key(key)
            page.array(items, write)
        }
        return json.bytes
    }
}

extension UnitPage {
    /// The page as `APIRoutes.json` would write it with `JSONEncoder` (keys sorted, nil fields
    /// left out, slashes as they are), written by hand: `fleetctl` reads this listing every
    /// 50 ms while it waits for units (``JSONText``).
    var jsonBytes: [UInt8] {
        JSONText.page("units", units, next: nextPageToken, bytesPerItem: 160) { json, unit in
            json.object { entity in
                entity.member("currentState", unit.currentState)
                entity.member("desiredState", unit.desiredState)
                entity.member("machineID", unit.machineID)
                entity.member("name", unit.name)
                if let options = unit.options {
                    entity.key("options")
                    entity.array(options) { json, option in
                        json.object { fields in
                            fields.member("name", option.name)
                            fields.member("section", option.section)
                            fields.member("value", option.value)
                        }
                    }
                }
                entity.member("unplaceableReason", unit.unplaceableReason)
            }
        }
    }
}

extension UnitStatePage {
    /// As ``UnitPage/jsonBytes``: `fleetctl stop` and `destroy` read this listing while they wait,
    /// and `list-units` reads it whole.
    var jsonBytes: [UInt8] {
        JSONText.page("states", states, next: nextPageToken, bytesPerItem: 200) { json, state in
            json.object { fields in
                fields.member("hash", state.hash)
                fields.member("machineID", state.machineID)
                fields.member("name", state.name)
                fields.member("systemdActiveState", state.systemdActiveState)
                fields.member("systemdLoadState", state.systemdLoadState)
                fields.member("systemdSubState", state.systemdSubState)
            }
        }
    }
}
