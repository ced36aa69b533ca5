import Testing

@testable import FleetSystemd

@Suite struct MessageOrderTests {
    let early = MessageOrder(sender: ":1.1", cookie: 10)
    let late = MessageOrder(sender: ":1.1", cookie: 20)
    let reconnected = MessageOrder(sender: ":1.7", cookie: 3)

    @Test func aMessageIsStaleOnlyAgainstALaterOneFromTheSameSender() {
        #expect(early.isNotAfter(late))
        #expect(late.isNotAfter(late))
        #expect(!late.isNotAfter(early))
        #expect(!early.isNotAfter(nil))
        #expect(!reconnected.isNotAfter(late))  // systemd re-executed: its cookies restarted
    }

    @Test func latestKeepsTheNewestPositionAndFollowsANewSender() {
        #expect(MessageOrder.latest(late, early) == late)
        #expect(MessageOrder.latest(early, late) == late)
        #expect(MessageOrder.latest(nil, early) == early)
        #expect(MessageOrder.latest(late, nil) == late)
        #expect(MessageOrder.latest(late, reconnected) == reconnected)
    }
}

@Suite struct UnitStatePropertiesTests {
    @Test func aSignalWithoutLoadStateIsCompletedFromWhatWasRead() {
        // systemd never sends LoadState in PropertiesChanged (it is a "const" property).
        let signal = UnitStateProperties(loadState: nil, activeState: "active", subState: "running")
        #expect(signal.complete == nil)
        #expect(signal.missing == ["LoadState"])
        let read = UnitStateProperties(loadState: "loaded", activeState: "inactive", subState: "dead")
        #expect(
            signal.filling(from: read).complete
                == SystemdUnitState(loadState: "loaded", activeState: .active, subState: "running"))
    }

    @Test func subscriptByPropertyName() {
        var properties = UnitStateProperties()
        properties["SubState"] = "dead"
        properties["Unknown"] = "ignored"
        #expect(properties == UnitStateProperties(loadState: nil, activeState: nil, subState: "dead"))
        #expect(properties["SubState"] == "dead")
        #expect(properties["Unknown"] == nil)
    }
}
