/// What `fleetctl destroy` prints and waits for, from the answers to its concurrent deletes.
///
/// The deletes go out together, but the output is fleet's, in argument order: `Destroyed <unit>`
/// for each unit up to the first that failed, then that failure. Units after a failed one may
/// already be deleted (their requests were in flight); they are neither printed nor waited for.
struct DestroyOutcome {
    /// Lines for stdout, in argument order.
    var printed: [String] = []
    /// Units that existed and were deleted, in argument order: the ones to wait for.
    var destroyed: [String] = []
    /// The first failure in argument order, if any.
    var failure: (any Error)?

    /// - Parameter results: for each name, whether the unit existed (`DELETE` answered 2xx rather
    ///   than 404), or the request's error.
    init(names: [String], results: [Result<Bool, any Error>]) {
        var seen: Set<String> = []
        for (name, result) in zip(names, results) {
            switch result {
            case .success(let existed):
                // A name given twice is deleted twice; one of the two finds it.
                if existed, seen.insert(name).inserted { destroyed.append(name) }
                printed.append("Destroyed \(name)")
            case .failure(let error):
                failure = error
                return
            }
        }
    }
}
