import Testing

@testable import FleetUnit

@Suite("UnitName.mangled")
struct UnitNameManglingTests {
    @Test(arguments: [
        ("foo", "foo.service"),
        ("foo.1", "foo.1.service"),
        ("foo.service", "foo.service"),
        ("dir/bar.socket", "bar.socket"),
        ("/abs/path/to/c.timer", "c.timer"),
        ("x.target", "x.target.service"),
        ("x.swap", "x.swap.service"),
        ("a.path", "a.path"),
        ("a.device", "a.device"),
        ("a.mount", "a.mount"),
        ("a.automount", "a.automount"),
        ("web@.service", "web@.service"),
        ("units/web@1", "web@1.service"),
        ("foo/", "foo.service"),
        ("foo//", "foo.service"),
        ("/", "/.service"),
        ("", "..service"),
        (".service", ".service"),
    ])
    func mangles(_ argument: String, _ expected: String) {
        #expect(UnitName.mangled(argument) == expected)
    }
}
