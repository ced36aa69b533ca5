/// A request context that carries a batch's writes when a middleware has already read and
/// parsed them (the role check judges a batch by its writes), so the batch route does not parse
/// the same body a second time: every agent's writes arrive as batches, and the second parse
/// was about 2 % of the store's fleetd's CPU in a start of 200 units.
public protocol ParsedBatchContext {
    /// The writes parsed from this request's body (already collected), if a middleware did.
    var parsedBatch: [KeysBatchWrite]? { get }
}
