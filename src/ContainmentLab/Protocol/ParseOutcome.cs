namespace ContainmentLab.Protocol;

/// <summary>What the parser made of one line: a message, or a violation with the JSON-RPC error to answer it with.</summary>
public readonly record struct ParseOutcome(IncomingMessage? Message, int ErrorCode, string? Error, RpcId? RecoveredId, bool WasRequest)
{
    public bool IsValid => Message is not null;

    public static ParseOutcome Ok(IncomingMessage message) => new(message, 0, null, null, false);

    public static ParseOutcome Fail(int code, string error, RpcId? id = null, bool wasRequest = false) => new(null, code, error, id, wasRequest);
}
