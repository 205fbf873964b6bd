using System.Text.Json;

namespace ContainmentLab.Protocol;

/// <summary>
/// Reads the params of <c>_containmentlab/tool</c>, the request of every host-tool call. The well-formed case is read
/// straight off the parsed params, its <c>arguments</c> a view into them: the serializer would build an argument state
/// and copy <c>arguments</c> into a document of its own, per call. Anything else goes to the serializer, so a bad shape
/// fails exactly as before.
/// </summary>
public static class ContainmentToolParams
{
    /// <summary>The fields of a <see cref="ContainmentToolRequest"/>, without the record (one object less per call).</summary>
    public static (string SessionId, string ToolCallId, string Name, JsonElement? Arguments) Read(IncomingMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var p = request.Params;
        if (p.ValueKind == JsonValueKind.Object
            && TryString(p, "sessionId"u8, out var sessionId)
            && TryString(p, "toolCallId"u8, out var toolCallId)
            && TryString(p, "name"u8, out var name))
        {
            JsonElement? arguments = p.TryGetProperty("arguments"u8, out var a) && a.ValueKind != JsonValueKind.Null ? a : null;
            return (sessionId, toolCallId, name, arguments);
        }

        var parsed = request.ParamsAs(AcpJsonContext.Default.ContainmentToolRequest);
        return (parsed.SessionId, parsed.ToolCallId, parsed.Name, parsed.Arguments);
    }

    private static bool TryString(JsonElement parameters, ReadOnlySpan<byte> name, out string value)
    {
        if (parameters.TryGetProperty(name, out var element) && element.ValueKind == JsonValueKind.String)
        {
            value = element.GetString()!;
            return true;
        }

        value = null!;
        return false;
    }
}
