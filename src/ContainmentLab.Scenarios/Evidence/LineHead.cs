using System.Text;
using System.Text.Json;

namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// The fields of a JSON-RPC line that the oracles need, read by a tolerant reader of the line's head: whatever was read
/// before the first fault (bad JSON, a head cut short, too deep) stands. Independent of the bridge's parser on purpose —
/// it is the evidence the bridge's reading is checked against. Ids are JSON text (<c>7</c>, <c>"a"</c>), as on the wire.
/// </summary>
internal sealed record LineHead
{
    public static LineHead Unreadable { get; } = new();

    public LineKind Kind { get; init; }

    /// <summary>The top-level id as JSON text; null when absent, <c>null</c> or not a number or string.</summary>
    public string? Id { get; init; }

    /// <summary>The top-level id was the literal <c>null</c> (the answer to a line whose id could not be read).</summary>
    public bool NullId { get; init; }

    public string? Method { get; init; }

    /// <summary><c>params.sessionId</c>.</summary>
    public string? SessionId { get; init; }

    /// <summary><c>params.toolCallId</c> (<c>_containmentlab/tool</c>), <c>params.update.toolCallId</c> (session/update) or <c>params.toolCall.toolCallId</c> (permission).</summary>
    public string? ToolCallId { get; init; }

    /// <summary><c>params.name</c>: the host tool of a <c>_containmentlab/tool</c> call.</summary>
    public string? ToolName { get; init; }

    /// <summary><c>params.update.sessionUpdate</c>: <c>tool_call</c>, <c>tool_call_update</c>, …</summary>
    public string? UpdateKind { get; init; }

    /// <summary><c>params.update.status</c>.</summary>
    public string? UpdateStatus { get; init; }

    /// <summary><c>params.update.title</c>, else <c>params.update.kind</c>: the name the bridge's watchdog gives an agent-side tool.</summary>
    public string? UpdateTitle { get; init; }

    public bool HasResult { get; init; }

    public bool HasError { get; init; }

    public int? ErrorCode { get; init; }

    /// <summary><c>result.outcome.outcome</c> of a permission answer: <c>selected</c> or <c>cancelled</c>.</summary>
    public string? PermissionOutcome { get; init; }

    /// <summary><c>result.stopReason</c> of a prompt answer.</summary>
    public string? StopReason { get; init; }

    /// <summary><c>result.sessionId</c> of a <c>session/new</c> answer.</summary>
    public string? NewSessionId { get; init; }

    /// <summary>The reader stopped at a fault (bad JSON, bad UTF-8, too deep) before the end of what it had: the line is malformed.</summary>
    public bool Partial { get; init; }

    /// <summary>Only the line's first bytes were read (<paramref name="whole"/> false): what lies past them is unknown.</summary>
    public bool Truncated { get; init; }

    /// <summary>The deepest nesting read (1 for a flat object).</summary>
    public int Depth { get; init; }

    /// <summary>Reads what can be read of <paramref name="head"/>: the whole line, or (<paramref name="whole"/> false) its first bytes.</summary>
    public static LineHead Read(ReadOnlySpan<byte> head, bool whole = true)
    {
        var start = 0;
        while (start < head.Length && head[start] is (byte)' ' or (byte)'\t')
        {
            start++;
        }

        if (start == head.Length || head[start] != (byte)'{')
        {
            return Unreadable with { Truncated = !whole };
        }

        var fields = new Fields();
        var partial = false;
        var depth = 0;

        // A head cut short is read as a first block (it runs out without a fault); a whole line as the final one.
        var reader = new Utf8JsonReader(head[start..], isFinalBlock: whole, new JsonReaderState(new JsonReaderOptions { MaxDepth = 1024 }));
        var path = new List<string>(8);
        string? property = null;
        try
        {
            while (reader.Read())
            {
                depth = Math.Max(depth, reader.CurrentDepth + (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray ? 1 : 0));
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        property = reader.GetString();
                        break;
                    case JsonTokenType.StartObject:
                        if (reader.CurrentDepth > 0)
                        {
                            fields.Enter(path, property);
                            path.Add(property ?? "[]");
                        }

                        property = null;
                        break;
                    case JsonTokenType.StartArray:
                        fields.Enter(path, property);
                        path.Add("[]");
                        property = null;
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        if (path.Count > 0)
                        {
                            path.RemoveAt(path.Count - 1);
                        }

                        property = null;
                        break;
                    default:
                        if (property is not null)
                        {
                            fields.Take(path, property, ref reader);
                        }

                        property = null;
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            partial = true;
        }

        // A whole line that ends before its object closes is malformed too (trailing bytes make the reader throw), and so
        // is one with bytes that are not UTF-8 (the reader checks only the strings it is asked to decode). A head cut
        // short may end inside a character: its last three bytes are not judged.
        var text = whole ? head : head[..Math.Max(0, head.Length - 3)];
        var malformed = partial || !System.Text.Unicode.Utf8.IsValid(text) || (whole && (reader.CurrentDepth > 0 || reader.TokenType != JsonTokenType.EndObject));
        return fields.Build(malformed) with { Truncated = !whole, Depth = depth };
    }

    private sealed class Fields
    {
        private string? _id;
        private bool _nullId;
        private bool _hasId;
        private string? _method;
        private string? _sessionId;
        private string? _toolCallId;
        private string? _toolName;
        private string? _updateKind;
        private string? _updateStatus;
        private string? _title;
        private string? _kind;
        private bool _hasResult;
        private bool _hasError;
        private int? _errorCode;
        private string? _outcome;
        private string? _stopReason;
        private string? _newSessionId;

        /// <summary>A nested value begins under <paramref name="property"/>: a top-level <c>result</c> or <c>error</c> object counts as one even when empty.</summary>
        public void Enter(List<string> path, string? property)
        {
            if (path.Count == 0)
            {
                _hasResult |= property == "result";
                _hasError |= property == "error";
            }
        }

        public void Take(List<string> path, string property, ref Utf8JsonReader reader)
        {
            var at = path.Count switch
            {
                0 => property,
                1 => path[0] + "." + property,
                2 => path[0] + "." + path[1] + "." + property,
                _ => null,
            };
            switch (at)
            {
                case "id":
                    _hasId = true;
                    _nullId = reader.TokenType == JsonTokenType.Null;
                    _id = reader.TokenType switch
                    {
                        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
                        JsonTokenType.String => JsonSerializer.Serialize(reader.GetString()),
                        _ => null,
                    };
                    break;
                case "method":
                    _method = Text(ref reader);
                    break;
                case "params.sessionId":
                    _sessionId = Text(ref reader);
                    break;
                case "params.toolCallId" or "params.update.toolCallId" or "params.toolCall.toolCallId":
                    _toolCallId ??= Text(ref reader);
                    break;
                case "params.name":
                    _toolName = Text(ref reader);
                    break;
                case "params.update.sessionUpdate":
                    _updateKind = Text(ref reader);
                    break;
                case "params.update.status":
                    _updateStatus = Text(ref reader);
                    break;
                case "params.update.title":
                    _title = Text(ref reader);
                    break;
                case "params.update.kind":
                    _kind = Text(ref reader);
                    break;
                case "error.code":
                    _hasError = true;
                    _errorCode = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var code) ? code : null;
                    break;
                case "result.outcome.outcome":
                    _hasResult = true;
                    _outcome = Text(ref reader);
                    break;
                case "result.stopReason":
                    _hasResult = true;
                    _stopReason = Text(ref reader);
                    break;
                case "result.sessionId":
                    _hasResult = true;
                    _newSessionId = Text(ref reader);
                    break;
                case "result":
                    _hasResult = true; // a scalar result (null, true, 3)
                    break;
                case "error":
                    _hasError = true;
                    break;
            }
        }

        public LineHead Build(bool partial)
        {
            var kind = (_method, _hasId) switch
            {
                (not null, true) when _id is not null => LineKind.Request,
                (not null, _) => LineKind.Notification,
                (null, true) => LineKind.Response,
                _ => _hasResult || _hasError ? LineKind.Response : LineKind.Unreadable,
            };
            return new LineHead
            {
                Kind = kind,
                Id = _id,
                NullId = _nullId,
                Method = _method,
                SessionId = _sessionId,
                ToolCallId = _toolCallId,
                ToolName = _toolName,
                UpdateKind = _updateKind,
                UpdateStatus = _updateStatus,
                UpdateTitle = _title ?? _kind,
                HasResult = _hasResult,
                HasError = _hasError,
                ErrorCode = _errorCode,
                PermissionOutcome = _outcome,
                StopReason = _stopReason,
                NewSessionId = _newSessionId,
                Partial = partial,
            };
        }

        private static string? Text(ref Utf8JsonReader reader) => reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
    }
}
