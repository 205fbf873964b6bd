using System.Text.Json;

namespace ContainmentLab.Protocol;

/// <summary>
/// What can still be read from a line the parser rejected (bad JSON, too deep, invalid UTF-8): its top-level
/// <c>id</c> and whether it has a <c>method</c>, as far as the tokens before the fault go. A request the agent wrote
/// with a readable id then gets its error answer under that id, so the agent is not left waiting on it.
/// </summary>
internal static class RequestRecovery
{
    public static (RpcId? Id, bool HasMethod) Recover(ReadOnlySpan<byte> line)
    {
        RpcId? id = null;
        var hasMethod = false;
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return (null, false);
            }

            while (reader.Read())
            {
                if (reader.CurrentDepth != 1 || reader.TokenType != JsonTokenType.PropertyName)
                {
                    continue;
                }

                if (reader.ValueTextEquals("id"u8))
                {
                    reader.Read();
                    id = reader.TokenType switch
                    {
                        JsonTokenType.Number when reader.TryGetInt64(out var n) => RpcId.FromNumber(n),
                        JsonTokenType.String => RpcId.FromString(reader.GetString()!),
                        _ => id,
                    };
                }
                else if (reader.ValueTextEquals("method"u8))
                {
                    reader.Read();
                    hasMethod |= reader.TokenType == JsonTokenType.String;
                }
            }
        }
        catch (JsonException)
        {
            // The fault itself: what was read before it stands.
        }
        catch (InvalidOperationException)
        {
            // A string token that is not valid UTF-8: same.
        }

        return (id, hasMethod);
    }
}
