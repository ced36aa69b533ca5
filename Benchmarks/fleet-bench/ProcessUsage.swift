import Foundation

/// This process's memory (from `/proc/self/status`) and CPU time (`getrusage`), for the
/// benchmark's report: everything runs in one process, so these are the store's, the engine's
/// and every agent's together.
struct ProcessUsage: Sendable {
    /// Resident set now and its peak, in KiB; nil where `/proc` does not say.
    var rssKiB: Int?
    var peakKiB: Int?
    /// User plus system CPU time so far.
    var cpuSeconds: Double

    static func now() -> ProcessUsage {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        // The file is a few hundred bytes; a bounded read keeps a surprise from costing more.
        let handle = FileHandle(forReadingAtPath: "/proc/self/status")
        let data = (try? handle?.read(upToCount: 64 * 1024)) ?? nil
        try? handle?.close()
        let text = data.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return ProcessUsage(rssKiB: field("VmRSS:", in: text), peakKiB: field("VmHWM:", in: text), cpuSeconds: cpu)
    }

    /// `VmRSS:    123456 kB` → 123456.
    static func field(_ name: String, in status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
        }
        return nil
    }

    var summary: String {
        func mib(_ kib: Int?) -> String { kib.map { String(format: "%.0f MiB", Double($0) / 1024) } ?? "?" }
        return "RSS \(mib(rssKiB)) (peak \(mib(peakKiB))), CPU \(String(format: "%.1f", cpuSeconds)) s so far"
    }
}
