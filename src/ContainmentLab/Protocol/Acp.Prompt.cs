using System.Text.Json;

namespace ContainmentLab.Protocol;

public sealed record ContentBlock(string Type, string? Text = null)
{
    public static ContentBlock FromText(string text) => new("text", text);
}

public sealed record PromptRequest(string SessionId, IReadOnlyList<ContentBlock> Prompt);

public sealed record PromptResponse(string StopReason);

public sealed record CancelNotification(string SessionId);

/// <summary>The <c>update</c> of <c>session/update</c>: one flat shape for the kinds we read, discriminated by <see cref="SessionUpdate"/>.</summary>
public sealed record SessionUpdateBody(
    string SessionUpdate,
    ContentBlock? Content = null,
    string? ToolCallId = null,
    string? Title = null,
    string? Kind = null,
    string? Status = null,
    JsonElement? RawInput = null,
    JsonElement? RawOutput = null);

public sealed record SessionNotification(string SessionId, SessionUpdateBody Update);

public sealed record CancelRequestNotification(JsonElement RequestId);
