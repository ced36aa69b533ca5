import FleetAPIClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /fleet/v1/discovery`: a small Google-discovery-style description of API v1, as fleet
/// serves for its generated Go client. `rootUrl` is where the request came in, `basePath` `/fleet/v1/`.
extension APIRoutes {
    func discovery(_ request: Request) -> Response {
        let host = request.head.authority ?? "localhost"
        let root = String(decoding: (try? JSONEncoder().encode("http://\(host)/")) ?? Data(#""http://localhost/""#.utf8),
                          as: UTF8.self)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(string: Self.discoveryTemplate.replacingOccurrences(of: "\"__ROOT__\"", with: root))))
    }

    static let discoveryTemplate = #"""
    {
     "kind": "discovery#restDescription",
     "discoveryVersion": "v1",
     "id": "fleet:v1",
     "name": "fleet",
     "version": "v1",
     "title": "fleet API",
     "description": "Run systemd units on a cluster of machines (fleet's HTTP API v1).",
     "protocol": "rest",
     "rootUrl": "__ROOT__",
     "servicePath": "fleet/v1/",
     "basePath": "/fleet/v1/",
     "batchPath": "batch",
     "parameters": {
      "alt": {"type": "string", "description": "Data format for the response.", "default": "json", "enum": ["json"], "location": "query"}
     },
     "schemas": {
      "Machine": {"id": "Machine", "type": "object", "properties": {
       "id": {"type": "string"}, "primaryIP": {"type": "string"},
       "metadata": {"type": "object", "additionalProperties": {"type": "string"}}}},
      "MachinePage": {"id": "MachinePage", "type": "object", "properties": {
       "machines": {"type": "array", "items": {"$ref": "Machine"}}, "nextPageToken": {"type": "string"}}},
      "UnitOption": {"id": "UnitOption", "type": "object", "properties": {
       "section": {"type": "string"}, "name": {"type": "string"}, "value": {"type": "string"}}},
      "Unit": {"id": "Unit", "type": "object", "properties": {
       "name": {"type": "string"}, "options": {"type": "array", "items": {"$ref": "UnitOption"}},
       "desiredState": {"type": "string", "enum": ["inactive", "loaded", "launched"]},
       "currentState": {"type": "string", "enum": ["inactive", "loaded", "launched"]},
       "machineID": {"type": "string"}}},
      "UnitPage": {"id": "UnitPage", "type": "object", "properties": {
       "units": {"type": "array", "items": {"$ref": "Unit"}}, "nextPageToken": {"type": "string"}}},
      "UnitState": {"id": "UnitState", "type": "object", "properties": {
       "name": {"type": "string"}, "hash": {"type": "string"}, "machineID": {"type": "string"},
       "systemdLoadState": {"type": "string"}, "systemdActiveState": {"type": "string"}, "systemdSubState": {"type": "string"}}},
      "UnitStatePage": {"id": "UnitStatePage", "type": "object", "properties": {
       "states": {"type": "array", "items": {"$ref": "UnitState"}}, "nextPageToken": {"type": "string"}}}
     },
     "resources": {
      "Machines": {"methods": {
       "List": {"id": "fleet.Machine.List", "path": "machines", "httpMethod": "GET",
        "parameters": {"nextPageToken": {"type": "string", "location": "query"}}, "response": {"$ref": "MachinePage"}}}},
      "Units": {"methods": {
       "Get": {"id": "fleet.Unit.Get", "path": "units/{unitName}", "httpMethod": "GET",
        "parameters": {"unitName": {"type": "string", "required": true, "location": "path"}},
        "parameterOrder": ["unitName"], "response": {"$ref": "Unit"}},
       "Delete": {"id": "fleet.Unit.Delete", "path": "units/{unitName}", "httpMethod": "DELETE",
        "parameters": {"unitName": {"type": "string", "required": true, "location": "path"}}, "parameterOrder": ["unitName"]},
       "Set": {"id": "fleet.Unit.Set", "path": "units/{unitName}", "httpMethod": "PUT",
        "parameters": {"unitName": {"type": "string", "required": true, "location": "path"}},
        "parameterOrder": ["unitName"], "request": {"$ref": "Unit"}},
       "List": {"id": "fleet.Unit.List", "path": "units", "httpMethod": "GET",
        "parameters": {"nextPageToken": {"type": "string", "location": "query"}}, "response": {"$ref": "UnitPage"}}}},
      "UnitState": {"methods": {
       "List": {"id": "fleet.UnitState.List", "path": "state", "httpMethod": "GET",
        "parameters": {"nextPageToken": {"type": "string", "location": "query"},
         "machineID": {"type": "string", "location": "query"}, "unitName": {"type": "string", "location": "query"}},
        "response": {"$ref": "UnitStatePage"}}}}
     }
    }
    """#
}
