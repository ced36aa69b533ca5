import FleetStore

/// The store conformance suite: every check the `KeyValueStore` contract makes, written once
/// and run by each backend's tests (in-memory, embedded and remote in `FleetStoreTests`, etcd in
/// `FleetStoreEtcdTests`) as `@Test(arguments: StoreConformance.checks)`, so no backend carries
/// its own copy that could drift.
public enum StoreConformance {
    /// Every check, in the order they are written.
    public static let checks: [StoreConformanceCheck] = [
        StoreConformanceCheck("setThenGet", setThenGet),
        StoreConformanceCheck("missingKeyIsKeyNotFound", missingKeyIsKeyNotFound),
        StoreConformanceCheck("createRefusesAnExistingKey", createRefusesAnExistingKey),
        StoreConformanceCheck("settingAnExistingDirectoryIsNotAFile", settingAnExistingDirectoryIsNotAFile),
        StoreConformanceCheck("readingBelowAValueIsNotADirectory", readingBelowAValueIsNotADirectory),
        StoreConformanceCheck("compareAndSwapByValueAndIndex", compareAndSwapByValueAndIndex),
        StoreConformanceCheck("compareAndDelete", compareAndDelete),
        StoreConformanceCheck("directoriesAreImplicitSortedAndGuarded", directoriesAreImplicitSortedAndGuarded),
        StoreConformanceCheck("keysCannotClimbOrWriteTheRoot", keysCannotClimbOrWriteTheRoot),
        StoreConformanceCheck("expiredKeysVanishWithAnExpireEvent", expiredKeysVanishWithAnExpireEvent),
        StoreConformanceCheck("refreshKeepsAKeyWithoutWakingWatchers", refreshKeepsAKeyWithoutWakingWatchers),
        StoreConformanceCheck("watchReplaysFromAnIndexWithoutLossOrRepeats", watchReplaysFromAnIndexWithoutLossOrRepeats),
        StoreConformanceCheck("watchFromBeyondTheHistoryIsIndexCleared", watchFromBeyondTheHistoryIsIndexCleared),
        StoreConformanceCheck("deletingADirectoryReachesWatchersBelowIt", deletingADirectoryReachesWatchersBelowIt),
        StoreConformanceCheck("inOrderKeysAreNamedByIndex", inOrderKeysAreNamedByIndex),
        StoreConformanceCheck("valuesSurviveAnyBytesOfText", valuesSurviveAnyBytesOfText),
        StoreConformanceCheck("guardedWritesLandWhileTheGuardKeyIsTheSameTermAcrossRenewals", guardedWritesLandWhileTheGuardKeyIsTheSameTermAcrossRenewals),
        StoreConformanceCheck("guardedWritesFailOnceTheLeaseLapsedAndWasTakenAgain", guardedWritesFailOnceTheLeaseLapsedAndWasTakenAgain),
        StoreConformanceCheck("aGuardFailsOnAMissingKeyAnOverwrittenValueOrAnotherIndex", aGuardFailsOnAMissingKeyAnOverwrittenValueOrAnotherIndex),
        StoreConformanceCheck("attachedKeysLiveWithTheirOwnerAndExpireWithIt", attachedKeysLiveWithTheirOwnerAndExpireWithIt),
        StoreConformanceCheck("attachRefusesAMissingOwnerAndOneWithoutTTL", attachRefusesAMissingOwnerAndOneWithoutTTL),
        StoreConformanceCheck("anAttachedKeyOverwrittenWithoutOwnerOutlivesIt", anAttachedKeyOverwrittenWithoutOwnerOutlivesIt),
        StoreConformanceCheck("deletingAnOwnerTakesItsAttachedKeys", deletingAnOwnerTakesItsAttachedKeys),
        StoreConformanceCheck("anAttachFollowsAnOwnerMadeAgain", anAttachFollowsAnOwnerMadeAgain),
    ]
}
