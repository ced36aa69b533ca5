import FleetAPIClient
import FleetUnit

/// The body of `PUT /fleet/v1/units/<name>`: a ``UnitEntity`` whose `name` may be left out,
/// as fleet allows (the URL names the unit). A name that is given must match the URL.
struct UnitRequestBody: Decodable {
    var name: String?
    var options: [UnitOption]?
    var desiredState: String?
    var currentState: String?
    var machineID: String?
}
