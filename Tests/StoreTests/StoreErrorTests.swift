import FleetStore
import Testing

/// Error codes are told apart by what they mean, not only by their etcd wire form (issue 14).
@Suite struct StoreErrorTests {
    /// `invalidKey` and `invalidField` share etcd's number, status and message; they used to be
    /// equal, so a caller branching on one caught the other.
    @Test func codesThatShareAWireFormAreStillDifferentCodes() {
        #expect(StoreError.Code.invalidKey != .invalidField)
        #expect(StoreError.Code.guardFailed != .compareFailed)
        #expect(StoreError(.invalidKey, "/k") != StoreError(.invalidField, "/k"))
        let named: [StoreError.Code] = StoreError.Code.all + [.guardFailed, .bodyTooLarge, .invalidKey, .tooManyWatchers]
        #expect(Set(named).count == named.count, "every named code is distinct")
    }

    /// Reading an error body back still finds the etcd code it names.
    @Test func anEtcdCodeReadsBackAsItsCode() {
        #expect(StoreError.Code.forEtcdCode(209) == .invalidField)
        #expect(StoreError.Code.forEtcdCode(101, message: "Guard failed") == .guardFailed)
        #expect(StoreError.Code.forEtcdCode(101, message: "Compare failed") == .compareFailed)
        #expect(StoreError.Code.forEtcdCode(999).etcdCode == 999)
    }
}
