using System.Text.Json;

namespace ContainmentLab.Protocol;

/// <summary>The error member of a JSON-RPC response.</summary>
public sealed record RpcError(int Code, string Message, JsonElement? Data = null);
