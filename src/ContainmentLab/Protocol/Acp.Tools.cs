using System.Text.Json;

namespace ContainmentLab.Protocol;

public sealed record ToolCallRef(string ToolCallId, string? Title = null, string? Kind = null, string? Status = null, JsonElement? RawInput = null);

public sealed record PermissionOption(string OptionId, string Name, string Kind);

public sealed record RequestPermissionRequest(string SessionId, ToolCallRef ToolCall, IReadOnlyList<PermissionOption> Options);

/// <summary><c>{outcome: "selected", optionId}</c> or <c>{outcome: "cancelled"}</c>.</summary>
public sealed record PermissionOutcome(string Outcome, string? OptionId = null)
{
    public static PermissionOutcome Cancelled { get; } = new("cancelled");

    public static PermissionOutcome Selected(string optionId) => new("selected", optionId);
}

public sealed record RequestPermissionResponse(PermissionOutcome Outcome);

public sealed record ReadTextFileRequest(string SessionId, string Path, int? Line = null, int? Limit = null);

public sealed record ReadTextFileResponse(string Content);

public sealed record WriteTextFileRequest(string SessionId, string Path, string Content);

public sealed record EmptyResponse;

/// <summary>Params of <c>_containmentlab/tool</c>.</summary>
public sealed record ContainmentToolRequest(string SessionId, string ToolCallId, string Name, JsonElement? Arguments = null);

/// <summary>Result of <c>_containmentlab/tool</c>: the tool's output, or under dry-run what it would have done.</summary>
public sealed record ContainmentToolResponse(JsonElement? Output = null, bool DryRun = false, string? WouldDo = null);
