namespace ContainmentLab.Protocol;

/// <summary>
/// The JSON-RPC envelope of a line that could not be parsed whole, read from its top level: its <c>id</c> (null when
/// it has none, or one that is not an integer or a string of at most 256 bytes), and whether it has a <c>method</c>
/// (a request or notification) or a <c>result</c> / <c>error</c> (a response).
/// </summary>
public readonly record struct RecoveredEnvelope(RpcId? Id, bool HasMethod, bool HasResultOrError);
