using System.Text.Json;

namespace ContainmentLab.Dispatch;

/// <summary>One tool call as the dispatcher hands it to a host tool.</summary>
/// <param name="Arguments">For ACP methods (<c>fs/*</c>) the request's params; for <c>_containmentlab/tool</c> its <c>arguments</c>.</param>
public sealed record ToolInvocation(string SessionId, string ToolCallId, string Tool, JsonElement Arguments, string? RequestId);
