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
/// <param name="Content">A content block for message chunks, a list of tool-call content for tool calls: kept as JSON.</param>
public sealed record SessionUpdateBody(
    string SessionUpdate,
    JsonElement? Content = null,
    string? ToolCallId = null,
    string? Title = null,
    string? Kind = null,
    string? Status = null,
    JsonElement? RawInput = null,
    JsonElement? RawOutput = null)
{
    /// <summary>The text of a message chunk's content block, if that is what this update carries.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? Text => Content is { ValueKind: JsonValueKind.Object } c && c.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
}

public static class SessionUpdates
{
    public static SessionUpdateBody MessageChunk(string text) =>
        new(SessionUpdateKinds.AgentMessageChunk, JsonSerializer.SerializeToElement(ContentBlock.FromText(text), AcpJsonContext.Default.ContentBlock));
}

public sealed record SessionNotification(string SessionId, SessionUpdateBody Update);

public sealed record CancelRequestNotification(JsonElement RequestId);
