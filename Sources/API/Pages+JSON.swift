import FleetAPIClient
import FleetUnit

extension UnitPage {
    /// The page as `APIRoutes.json` would write it with `JSONEncoder` (keys sorted, nil fields
    /// left out, slashes as they are), written by hand: `fleetctl` reads this listing every
    /// 50 ms while it waits for units (``JSONText``).
    var jsonBytes: [UInt8] {
        var json = JSONText(reservingCapacity: 64 + units.count * 160)
        json.object { page in
            page.member("nextPageToken", nextPageToken)
            page.key("units")
            page.array(units) { json, unit in unit.write(into: &json) }
        }
        return json.bytes
    }
}

extension UnitEntity {
    func write(into json: inout JSONText) {
        json.object { entity in
            entity.member("currentState", currentState)
            entity.member("desiredState", desiredState)
            entity.member("machineID", machineID)
            entity.member("name", name)
            if let options {
                entity.key("options")
                entity.array(options) { json, option in
                    json.object { fields in
                        fields.member("name", option.name)
                        fields.member("section", option.section)
                        fields.member("value", option.value)
                    }
                }
            }
            entity.member("unplaceableReason", unplaceableReason)
        }
    }
}

extension UnitStatePage {
    /// As ``UnitPage/jsonBytes``: `fleetctl stop` and `destroy` read this listing while they wait,
    /// and `list-units` reads it whole.
    var jsonBytes: [UInt8] {
        var json = JSONText(reservingCapacity: 64 + states.count * 200)
        json.object { page in
            page.member("nextPageToken", nextPageToken)
            page.key("states")
            page.array(states) { json, state in
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
        return json.bytes
    }
}
