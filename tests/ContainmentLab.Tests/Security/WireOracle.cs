using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;

namespace ContainmentLab.Tests.Security;

/// <summary>What the bridge owes one wire line the agent wrote, read from JSON-RPC 2.0 itself.</summary>
/// <param name="Malformed">The line breaks the framing or JSON-RPC's shape: a ProtocolViolation must name its line.</param>
/// <param name="ResponseKey">
/// The id the bridge must answer exactly once (<see cref="WireOracle.NullId"/>: an error with a null id, for a line
/// whose id could not be read), or null when no answer is owed (notifications, responses).
/// </param>
/// <param name="RecoverableIds">
/// For a line that is not JSON but shows top-level ids before its fault: the bridge may answer it at most once, with a
/// null id or under one of these (a request's id read off the broken line), or not at all (a broken response's id).
/// </param>
internal readonly record struct LineVerdict(bool Malformed, string? ResponseKey, string Why, IReadOnlyList<string>? RecoverableIds = null);

/// <summary>
/// The fuzzer's oracle, written from the JSON-RPC 2.0 and ACP framing rules rather than from the bridge's parser:
/// anything with a <c>method</c> and a readable id is a request and gets exactly one response with that id; a line
/// that is not a readable message gets an error response with a null id; a malformed response is reported but not
/// answered (answering an answer would start a loop).
/// </summary>
internal static class WireOracle
{
    public const string NullId = "null";

    /// <summary>How much of an oversize line the bridge keeps to read its id (JSON-RPC leaves this to us; ours is 4 KiB).</summary>
    private const int OversizeHeadBytes = 4096;

    /// <summary>The canonical key of a JSON-RPC id (an integer or a string), as both sides compare them.</summary>
    public static string? IdKey(JsonElement id) => id.ValueKind switch
    {
        JsonValueKind.Number when id.TryGetInt64(out var n) => n.ToString(CultureInfo.InvariantCulture),
        JsonValueKind.String => "\"" + id.GetString() + "\"",
        JsonValueKind.Null => NullId,
        _ => null,
    };

    /// <summary>A line that is not JSON: answered with a null id, unless top-level ids can be read before the fault.</summary>
    private static LineVerdict Unreadable(ReadOnlySpan<byte> line, string why)
    {
        var ids = new List<string>();
        var reader = new Utf8JsonReader(line);
        try
        {
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read())
                {
                    if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("id"u8) && reader.Read())
                    {
                        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n))
                        {
                            ids.Add(n.ToString(CultureInfo.InvariantCulture));
                        }
                        else if (reader.TokenType == JsonTokenType.String)
                        {
                            ids.Add("\"" + reader.GetString() + "\"");
                        }
                    }
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // The fault: what was read before it stands.
        }

        return ids.Count == 0 ? new LineVerdict(true, NullId, why) : new LineVerdict(true, null, why + ", with a readable id", ids);
    }

    /// <param name="terminated">Whether an LF ended the line: only then is a CR before it part of the terminator (CRLF).</param>
    public static LineVerdict Classify(ReadOnlySpan<byte> line, int maxLineBytes, int maxDepth, bool terminated = true)
    {
        if (terminated && line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        if (line.Length > maxLineBytes)
        {
            // Skipped unread, but its head (the first 4 KiB) is kept to find whose it is: an id read there may be answered.
            return Unreadable(line[..Math.Min(line.Length, OversizeHeadBytes)], "oversize");
        }

        if (line.IsEmpty)
        {
            return new LineVerdict(false, null, "blank");
        }

        if (!Utf8.IsValid(line))
        {
            return Unreadable(line, "invalid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line.ToArray(), new JsonDocumentOptions { MaxDepth = maxDepth });
        }
        catch (JsonException)
        {
            return Unreadable(line, "not JSON (or nested too deep)");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new LineVerdict(true, NullId, "not an object");
            }

            var hasId = root.TryGetProperty("id", out var idElement);
            var id = hasId ? IdKey(idElement) : NullId;
            if (id is null)
            {
                return new LineVerdict(true, NullId, "an id that is neither an integer nor a string");
            }

            var versionOk = root.TryGetProperty("jsonrpc", out var version) && version.ValueKind == JsonValueKind.String && version.GetString() == "2.0";
            if (root.TryGetProperty("method", out var method))
            {
                var methodOk = method.ValueKind == JsonValueKind.String && method.GetString()!.Length > 0;
                var paramsOk = !root.TryGetProperty("params", out var p) || p.ValueKind is JsonValueKind.Object or JsonValueKind.Array;
                var shapeOk = versionOk && methodOk && paramsOk;

                // A request is answered whatever else is wrong with it; a broken notification is answered with a null id.
                return id != NullId
                    ? new LineVerdict(!shapeOk, id, shapeOk ? "request" : "broken request")
                    : new LineVerdict(!shapeOk, shapeOk ? null : NullId, shapeOk ? "notification" : "broken notification");
            }

            if (id == NullId)
            {
                return new LineVerdict(true, NullId, "neither a request nor a response with an id");
            }

            var hasResult = root.TryGetProperty("result", out _);
            var hasError = root.TryGetProperty("error", out var error);
            var errorOk = !hasError || (error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.Number && code.TryGetInt32(out _)
                && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String);
            var responseOk = versionOk && hasResult != hasError && errorOk;
            return new LineVerdict(!responseOk, null, responseOk ? "response" : "broken response");
        }
    }
}
