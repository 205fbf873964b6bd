using System.Text.Json;

namespace ContainmentLab.FakeAgent;

/// <summary>
/// What replay compares of a wire line: its JSON-RPC shape, never its payload. A request is its method and id, a
/// notification its method and <c>params.sessionId</c>, a response its id (whether it is an error is kept aside: a
/// different outcome is a divergence but still the same line). Everything else — timestamps, arguments, results —
/// may differ from run to run.
/// </summary>
internal readonly record struct WireShape(WireShapeKind Kind, string? Method, string? Id, string? SessionId, bool IsError, string? Raw)
{
    /// <summary>The matching key: two lines with the same key are the same line of the conversation.</summary>
    public string Key => Kind switch
    {
        WireShapeKind.Request => $"request {Method} id={Id}",
        WireShapeKind.Notification => SessionId is null ? $"notification {Method}" : $"notification {Method} session={SessionId}",
        WireShapeKind.Response => $"response id={Id}",
        _ => "raw " + Raw,
    };

    public override string ToString() => Kind == WireShapeKind.Response && IsError ? Key + " (error)" : Key;

    public static WireShape Of(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            if (JsonDocument.TryParseValue(ref reader, out var document))
            {
                using (document)
                {
                    return Of(document.RootElement) ?? Unparsed(line);
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON-RPC: compared as raw text below.
        }

        return Unparsed(line);
    }

    private static WireShape? Of(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var id = root.TryGetProperty("id", out var i) ? i.GetRawText() : null;
        if (root.TryGetProperty("method", out var m) && m.ValueKind == JsonValueKind.String)
        {
            var method = m.GetString();
            if (id is not null)
            {
                return new WireShape(WireShapeKind.Request, method, id, null, false, null);
            }

            var session = root.TryGetProperty("params", out var p) && p.ValueKind == JsonValueKind.Object
                && p.TryGetProperty("sessionId", out var s) && s.ValueKind == JsonValueKind.String
                ? s.GetString()
                : null;
            return new WireShape(WireShapeKind.Notification, method, null, session, false, null);
        }

        return id is null ? null : new WireShape(WireShapeKind.Response, null, id, null, root.TryGetProperty("error", out _), null);
    }

    private static WireShape Unparsed(ReadOnlySpan<byte> line)
    {
        var text = System.Text.Encoding.UTF8.GetString(line);
        return new WireShape(WireShapeKind.Raw, null, null, null, false, text.Length > 200 ? text[..200] : text);
    }
}
