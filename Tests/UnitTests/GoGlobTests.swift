import Testing

@testable import FleetUnit

@Suite("globMatches (Go path.Match)")
struct GoGlobTests {
    @Test(arguments: [
        ("abc", "abc", true),
        ("*", "abc", true),
        ("*c", "abc", true),
        ("a*", "a", true),
        ("a*", "abc", true),
        ("a*", "ab/c", false),
        ("a*/b", "abc/b", true),
        ("a*/b", "a/c/b", false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true),
        ("a*b?c*x", "abxbbxdbxebxczzy", false),
        ("ab[c]", "abc", true),
        ("ab[b-d]", "abc", true),
        ("ab[e-g]", "abc", false),
        ("ab[^c]", "abc", false),
        ("ab[^b-d]", "abc", false),
        ("ab[^e-g]", "abc", true),
        ("a\\*b", "a*b", true),
        ("a\\*b", "ab", false),
        ("a?b", "a☺b", true),
        ("a[^a]b", "a☺b", true),
        ("a???b", "a☺b", false),
        ("a[^a][^a][^a]b", "a☺b", false),
        ("[a-ζ]*", "α", true),
        ("*[a-ζ]", "A", false),
        ("a?b", "a/b", false),
        ("a*b", "a/b", false),
        ("[\\]a]", "]", true),
        ("[\\-]", "-", true),
        ("[x\\-]", "x", true),
        ("[x\\-]", "-", true),
        ("[x\\-]", "z", false),
        ("[\\-x]", "x", true),
        ("[\\-x]", "-", true),
        ("[\\-x]", "a", false),
        ("*x", "xxx", true),
        ("[!a]", "!", true),
        ("[!a]", "b", false),
        ("[*]", "*", true),
        ("[/]", "/", true),
        ("", "", true),
        ("", "a", false),
        ("a", "", false),
        ("*", "", true),
        ("**", "ab", true),
        ("a*", "a/", false),
        ("foo*", "foo.service", true),
        ("*.service", "web@1.service", true),
        ("web@*.service", "web@1.service", true),
        ("web@*.service", "web.service", false),
        ("db?.service", "db1.service", true),
        ("db?.service", "db12.service", false),
        ("*.socket", "web.service", false),
    ])
    func matchesLikeGo(_ pattern: String, _ name: String, _ expected: Bool) {
        #expect(XFleetRequirements.globMatches(pattern, name) == expected)
    }

    /// Go reports `ErrBadPattern` for these; fleet ignored the error, so they never match.
    @Test(arguments: [
        ("[]a]", "]"), ("[-]", "-"), ("[x-]", "x"), ("[x-]", "-"), ("[x-]", "z"), ("[-x]", "x"), ("[-x]", "-"),
        ("[-x]", "a"), ("\\", "a"), ("a\\", "a"), ("[a-b-c]", "a"), ("[", "a"), ("[^", "a"), ("[^bc", "a"),
        ("a[", "a"), ("a[", "ab"), ("a[", "x"), ("a/b[", "x"), ("*[", "x"), ("[]", ""), ("x[a-", "xa"),
        ("*x[", "yx"), ("[\\", "a"), ("ab*[", "abc"),
    ])
    func malformedPatternsNeverMatch(_ pattern: String, _ name: String) {
        #expect(!XFleetRequirements.globMatches(pattern, name))
    }
}
