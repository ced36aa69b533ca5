import FleetDiscovery
import FleetTestSupport
import FleetUnit
import Testing

/// Seeded fuzzing of unit files with `[X-Fleet]` and `[X-Discovery]` sections (issue 11): a
/// random or mutated file parses or is rejected, never traps; one that parses survives
/// serialise -> parse unchanged; its `[X-Discovery]` numbers always come out within bounds, and
/// its requirements validate or throw. `FLEET_FUZZ_SECONDS` runs longer.
@Suite struct DiscoverySpecFuzzTests {
    static let lines = [
        "[Unit]\n", "[Service]\n", "[X-Fleet]\n", "[X-Discovery]\n", "Description=d\n", "ExecStart=/bin/true\n",
        "Global=true\n", "Conflicts=a* b?\n", "MachineOf=%n\n", "MachineID=abc\n", "MachineMetadata=\"a=1\" \"b=2\"\n",
        "Replaces=[a-\n", "Name=web\n", "Name=\n", "Port=8080 53/udp\n", "Port=http:80/tcp\n", "Port=70000\n",
        "Port=0\n", "Port=-1/tcp\n", "Tags=a,b c\n", "TXT=k=v\n", "TXT==\n", "Check=tcp\n", "Check=http://127.0.0.1:1/h\n",
        "Check=ftp://x\n", "Register=no\n", "\\\n", "# c\n", "\n", "x\n", "=\n",
    ]
    static let numberNames = ["CheckInterval", "HealthyAfter", "UnhealthyAfter", "TTL", "Port"]
    static let numbers = ["inf", "-inf", "nan", "NaN", "1e300", "-1e300", "-1", "0", "0.05", "0.1", "2", "3600", "3601",
                          "1000", "1001", "86400", "86401", "4294967295", "4294967296", "9223372036854775807",
                          "99999999999999999999", "0x10", "1_000", " 5", "5 ", "", "+3", "1.5", "é"]

    static func file(_ generator: inout SeededGenerator) -> String {
        var text = ""
        for _ in 0..<Int.random(in: 0...12, using: &generator) {
            if Int.random(in: 0..<3, using: &generator) == 0 {
                text += numberNames.randomElement(using: &generator)! + "=" + numbers.randomElement(using: &generator)! + "\n"
            } else {
                text += lines.randomElement(using: &generator)!
            }
        }
        if Int.random(in: 0..<4, using: &generator) == 0, !text.isEmpty {
            // A byte-level mutation: cut, doubled or garbled text.
            var bytes = Array(text.utf8)
            let at = Int.random(in: 0..<bytes.count, using: &generator)
            bytes[at] = Array("[]=\\\n\r\t #;\"%é".utf8).randomElement(using: &generator)!
            text = String(decoding: bytes, as: UTF8.self)
        }
        return text
    }

    @Test func unitFilesWithDiscoveryNeverTrapAndRoundTrip() async throws {
        let budget = FuzzBudget("unit files with [X-Discovery]", seed: 0xD15C_0001, cases: 4000)
        let unit = try UnitName("web@1.service")
        var parsed = 0, refused = 0
        await budget.run { generator in
            let text = Self.file(&generator)
            guard let file = try? UnitFile(parsing: text) else { return true }
            parsed += 1
            guard let again = try? UnitFile(parsing: file.normalizedText), again == file,
                  again.normalizedText == file.normalizedText
            else {
                Issue.record("parse -> serialise -> parse changed \(String(reflecting: text))")
                return false
            }
            let spec = DiscoverySpec(file: file)
            if !spec.refusals.isEmpty { refused += 1 }
            guard DiscoverySpec.checkIntervalBounds.contains(spec.checkInterval),
                  DiscoverySpec.thresholdBounds.contains(spec.healthyAfter),
                  DiscoverySpec.thresholdBounds.contains(spec.unhealthyAfter),
                  DiscoverySpec.answerTTLBounds.contains(spec.answerTTL),
                  spec.ports.allSatisfy({ $0.port > 0 }),
                  spec.checkPause >= .milliseconds(100), spec.checkPause <= .seconds(3600)
            else {
                Issue.record("out-of-bounds spec \(spec) from \(String(reflecting: text))")
                return false
            }
            let requirements = XFleetRequirements(unit: unit, file: file)
            _ = try? requirements.validate()
            _ = requirements.metadataMatches(["a": "1"])
            return true
        }
        #expect(parsed > 100, "the generator must produce files that parse")
        #expect(refused > 10, "and numbers that are refused")
    }
}
