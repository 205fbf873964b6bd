namespace ContainmentLab.Protocol;

/// <summary>JSON-RPC 2.0 and ACP error codes, plus the ones ContainmentLab answers with.</summary>
public static class JsonRpcErrorCodes
{
    public const int ParseError = -32700;
    public const int InvalidRequest = -32600;
    public const int MethodNotFound = -32601;
    public const int InvalidParams = -32602;
    public const int InternalError = -32603;
    public const int RequestCancelled = -32800;
    public const int AuthRequired = -32000;
    public const int ResourceNotFound = -32002;

    /// <summary>The session's gate is closed: the request came after an interrupt and was not dispatched.</summary>
    public const int Interrupted = -32010;

    /// <summary>The policy (or the user, through the confirm callback) refused the tool call.</summary>
    public const int Denied = -32011;

    /// <summary>The tool ran and failed, or was cancelled while it ran.</summary>
    public const int ToolFailed = -32012;
}
