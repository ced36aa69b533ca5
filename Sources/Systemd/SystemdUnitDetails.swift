import FleetUnit

/// What systemd knows about one unit, as much as `systemctl status` shows: read with
/// ``SystemdUnitManager/details(of:)``. Timestamps are microseconds since the epoch, 0 if never.
public struct SystemdUnitDetails: Sendable, Equatable {
    public var name: String
    public var description = ""
    public var state: SystemdUnitState
    public var fragmentPath = ""
    public var unitFileState = ""
    public var unitFilePreset = ""
    public var dropInPaths: [String] = []
    public var activeEnterTimestamp: UInt64 = 0
    public var activeExitTimestamp: UInt64 = 0
    public var inactiveEnterTimestamp: UInt64 = 0
    public var inactiveExitTimestamp: UInt64 = 0
    /// Why a service last stopped (`success`, `exit-code`, `signal`, ...); empty for other types.
    public var result = ""
    public var mainPID: UInt32 = 0
    /// The main process of the last run, kept after it exited, with how it ended.
    public var execMainPID: UInt32 = 0
    public var execMainCode: Int32 = 0
    public var execMainStatus: Int32 = 0
    /// Relative to the manager's cgroup root; empty when the unit has no processes.
    public var controlGroup = ""
    /// nil when systemd does not account for it (`[no data]`).
    public var tasksCurrent: UInt64?
    public var tasksMax: UInt64?
    public var memoryCurrent: UInt64?
    public var cpuUsageNanoseconds: UInt64?

    public init(name: String, state: SystemdUnitState) {
        self.name = name
        self.state = state
    }

    /// systemd's "not set" for counters is `UINT64_MAX`.
    static func counter(_ value: BusValue?) -> UInt64? {
        guard case .unsigned(let number)? = value, number != UInt64.max else { return nil }
        return number
    }

    init(name: String, properties: [String: BusValue]) {
        func string(_ key: String) -> String {
            if case .string(let value)? = properties[key] { return value }
            return ""
        }
        func unsigned(_ key: String) -> UInt64 {
            if case .unsigned(let value)? = properties[key] { return value }
            return 0
        }
        func signed(_ key: String) -> Int64 {
            if case .signed(let value)? = properties[key] { return value }
            return 0
        }
        self.init(name: name, state: SystemdUnitState(
            loadState: string("LoadState"), activeState: ActiveState(rawValue: string("ActiveState")), subState: string("SubState")))
        description = string("Description")
        fragmentPath = string("FragmentPath")
        unitFileState = string("UnitFileState")
        unitFilePreset = string("UnitFilePreset")
        if case .strings(let paths)? = properties["DropInPaths"] { dropInPaths = paths }
        activeEnterTimestamp = unsigned("ActiveEnterTimestamp")
        activeExitTimestamp = unsigned("ActiveExitTimestamp")
        inactiveEnterTimestamp = unsigned("InactiveEnterTimestamp")
        inactiveExitTimestamp = unsigned("InactiveExitTimestamp")
        result = string("Result")
        mainPID = UInt32(truncatingIfNeeded: unsigned("MainPID"))
        execMainPID = UInt32(truncatingIfNeeded: unsigned("ExecMainPID"))
        execMainCode = Int32(truncatingIfNeeded: signed("ExecMainCode"))
        execMainStatus = Int32(truncatingIfNeeded: signed("ExecMainStatus"))
        controlGroup = string("ControlGroup")
        tasksCurrent = Self.counter(properties["TasksCurrent"])
        tasksMax = Self.counter(properties["TasksMax"])
        memoryCurrent = Self.counter(properties["MemoryCurrent"])
        cpuUsageNanoseconds = Self.counter(properties["CPUUsageNSec"])
    }
}
