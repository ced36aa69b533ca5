import CSystemd
import Glibc

extension BusConnection {
    /// `StartUnit(name, "replace")` for every unit, pipelined: all calls are sent before the
    /// first reply is awaited, so systemd queues the jobs back to back instead of waiting a
    /// bus round trip per unit (which on a loaded machine costs milliseconds each).
    ///
    /// Signals that arrive meanwhile are recorded as usual and resolved on the loop's next turn.
    /// - Returns: the units that failed, with why; empty when every job was queued.
    func startUnits(_ names: [String]) throws(SystemdError) -> [String: SystemdError] {
        try pipelined("StartUnit", names, mode: "replace")
    }

    /// `StopUnit(name, "replace")` for every unit, pipelined as ``startUnits(_:)``; a unit
    /// systemd does not have loaded is already stopped, not a failure.
    func stopUnits(_ names: [String]) throws(SystemdError) -> [String: SystemdError] {
        try pipelined("StopUnit", names, mode: "replace").filter { $0.value.code != .noSuchUnit }
    }

    /// `ResetFailedUnit(name)` for every unit, pipelined; an unknown unit has nothing to reset.
    func resetFailedUnits(_ names: [String]) throws(SystemdError) -> [String: SystemdError] {
        try pipelined("ResetFailedUnit", names, mode: nil).filter { $0.value.code != .noSuchUnit }
    }

    /// One manager method per unit (`name`, then `mode` when given), every call sent before the
    /// first reply is awaited.
    private func pipelined(_ member: String, _ names: [String], mode: String?) throws(SystemdError)
        -> [String: SystemdError]
    {
        guard let bus else { throw .connectionClosed() }
        let calls = PipelinedCalls(member: member)
        for name in names {
            let request: BusMessage
            do throws(SystemdError) {
                request = try methodCall(SystemdObjects.managerPath, SystemdObjects.managerInterface, member,
                                         unit: name, label: member)
            } catch {
                calls.failures[name] = error
                continue
            }
            var r = request.append(name)
            if r >= 0, let mode { r = request.append(mode) }
            guard r >= 0 else {
                calls.failures[name] = .systemCall("sd_bus_message_append_basic", unit: name, result: r, message: member)
                continue
            }
            let context = Unmanaged.passRetained(PipelinedCall(unit: name, calls: calls))
            r = sd_bus_call_async(bus, nil, request.pointer, { reply, userdata, _ in
                let call = Unmanaged<PipelinedCall>.fromOpaque(userdata!).takeRetainedValue()
                call.calls.finished(call.unit, reply: reply)
                return 1
            }, context.toOpaque(), 0)
            guard r >= 0 else {
                context.release()
                calls.failures[name] = .systemCall("sd_bus_call_async", unit: name, result: r, message: member)
                continue
            }
            calls.outstanding += 1
        }
        while calls.outstanding > 0 {
            let r = sd_bus_process(bus, nil)
            if r == -ENOTCONN || r == -ECONNRESET { throw .connectionClosed() }
            if r < 0 { throw .systemCall("sd_bus_process", result: r) }
            if r == 0 {
                let waited = sd_bus_wait(bus, UInt64.max)
                if waited < 0 && waited != -EINTR { throw .systemCall("sd_bus_wait", result: waited) }
            }
        }
        return calls.failures
    }
}

/// The replies still to come for one batch of pipelined calls, and the failures so far.
final class PipelinedCalls {
    let member: String
    var outstanding = 0
    var failures: [String: SystemdError] = [:]

    init(member: String) {
        self.member = member
    }

    func finished(_ unit: String, reply: OpaquePointer?) {
        outstanding -= 1
        guard let reply, sd_bus_message_is_method_error(reply, nil) > 0,
              let error = sd_bus_message_get_error(reply)
        else { return }
        failures[unit] = SystemdError(member, unit: unit, result: -sd_bus_message_get_errno(reply), error: error.pointee)
    }
}

/// One call's context in sd-bus' callback: which unit, and its batch.
final class PipelinedCall {
    let unit: String
    let calls: PipelinedCalls

    init(unit: String, calls: PipelinedCalls) {
        self.unit = unit
        self.calls = calls
    }
}
