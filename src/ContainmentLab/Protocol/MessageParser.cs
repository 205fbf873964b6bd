using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace ContainmentLab.Protocol;

/// <summary>Parses one framed line into a JSON-RPC message, enforcing the nesting-depth limit.</summary>
public sealed class MessageParser
{
    private readonly JsonDocumentOptions _options;

    public MessageParser(int maxDepth = FramingOptions.DefaultMaxDepth)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDepth, 1);
        _options = new JsonDocumentOptions { MaxDepth = maxDepth, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow };
    }

    public ParseOutcome Parse(ReadOnlyMemory<byte> line, long lineNumber) => Parse(line, lineNumber, borrow: false, out _);

    /// <summary>
    /// Parses like <see cref="Parse(ReadOnlyMemory{byte}, long)"/>, except that a request's params are not copied out:
    /// they stay a view into a pooled copy of the line, valid until <paramref name="lease"/> (set for requests only) is
    /// disposed. The copy was the largest allocation left per dispatched call. The caller must dispose the lease only when
    /// nothing reads the params any more (the bridge: once the request is answered).
    /// </summary>
    public ParseOutcome ParseBorrowingRequestParams(ReadOnlyMemory<byte> line, long lineNumber, out IDisposable? lease) =>
        Parse(line, lineNumber, borrow: true, out lease);

    private ParseOutcome Parse(ReadOnlyMemory<byte> line, long lineNumber, bool borrow, out IDisposable? lease)
    {
        lease = null;

        // JsonDocument checks UTF-8 only in what it decodes; ACP lines must be UTF-8 throughout.
        if (!Utf8.IsValid(line.Span))
        {
            return Unreadable(line.Span, $"invalid UTF-8 at byte {InvalidUtf8Offset(line.Span)}");
        }

        // A borrowed document must outlive the reader's buffer, which the next line overwrites: parse a pooled copy.
        byte[]? copy = null;
        if (borrow)
        {
            copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, line.Length));
            line.Span.CopyTo(copy);
            line = copy.AsMemory(0, line.Length);
        }

        JsonDocument document;
        try
        {
            // JsonDocument validates UTF-8 and the depth limit; both surface as JsonException.
            document = JsonDocument.Parse(line, _options);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            var unreadable = Unreadable(line.Span, "not valid JSON: " + FirstSentence(ex.Message));
            ReturnCopy(copy);
            return unreadable;
        }

        var outcome = Interpret(document.RootElement, lineNumber, borrow);
        if (borrow && outcome.Message is { Kind: MessageKind.Request })
        {
            lease = new BorrowedDocument(document, copy!);
            return outcome;
        }

        document.Dispose();
        ReturnCopy(copy);
        return outcome;
    }

    private static void ReturnCopy(byte[]? copy)
    {
        if (copy is not null)
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    /// <summary>A parse error, answered under the line's id when the tokens before the fault show a request's id.</summary>
    private static ParseOutcome Unreadable(ReadOnlySpan<byte> line, string error)
    {
        var (id, hasMethod) = RequestRecovery.Recover(line);
        return ParseOutcome.Fail(JsonRpcErrorCodes.ParseError, error, id, hasMethod && id is not null);
    }

    private static ParseOutcome Interpret(JsonElement root, long lineNumber, bool borrowRequestParams)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            var what = root.ValueKind == JsonValueKind.Array ? "a batch (ACP has no batches)" : "a " + root.ValueKind.ToString().ToLowerInvariant();
            return ParseOutcome.Fail(JsonRpcErrorCodes.InvalidRequest, "expected a JSON object, got " + what);
        }

        RpcId? id = null;
        var hasId = root.TryGetProperty("id", out var idElement);
        if (hasId && idElement.ValueKind != JsonValueKind.Null)
        {
            if (!RpcId.TryRead(idElement, out var parsed))
            {
                return ParseOutcome.Fail(JsonRpcErrorCodes.InvalidRequest, "'id' must be an integer or a string");
            }

            id = parsed;
        }

        var hasMethod = root.TryGetProperty("method", out var methodElement);
        if (!root.TryGetProperty("jsonrpc", out var version) || version.ValueKind != JsonValueKind.String || version.GetString() != "2.0")
        {
            return ParseOutcome.Fail(JsonRpcErrorCodes.InvalidRequest, "'jsonrpc' must be \"2.0\"", id, hasMethod && id is not null);
        }

        if (hasMethod)
        {
            if (methodElement.ValueKind != JsonValueKind.String || (KnownMethod(methodElement) ?? methodElement.GetString()) is not { Length: > 0 } method)
            {
                return ParseOutcome.Fail(JsonRpcErrorCodes.InvalidRequest, "'method' must be a non-empty string", id, id is not null);
            }

            var parameters = default(JsonElement);
            if (root.TryGetProperty("params", out var p))
            {
                if (p.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
                {
                    return ParseOutcome.Fail(JsonRpcErrorCodes.InvalidRequest, "'params' must be an object or an array", id, id is not null);
                }

                parameters = borrowRequestParams && hasId && id is not null ? p : p.Clone();
            }

            var kind = hasId && id is not null ? MessageKind.Request : MessageKind.Notification;
            return ParseOutcome.Ok(new IncomingMessage(kind, id, method, parameters, default, null, lineNumber));
        }

        if (id is null)
        {
            // A response whose id is null answers a request the peer could not read; there is nothing to correlate.
            return ParseOutcome.Fail(JsonRpcErrorCodes.InvalidRequest, hasId ? "a response with a null id" : "neither 'method' nor 'id': not a request, notification or response");
        }

        var hasResult = root.TryGetProperty("result", out var result);
        var hasError = root.TryGetProperty("error", out var errorElement);
        if (hasResult == hasError)
        {
            return ParseOutcome.Fail(JsonRpcErrorCodes.InvalidRequest, "a response must have exactly one of 'result' and 'error'", id);
        }

        RpcError? error = null;
        if (hasError)
        {
            if (errorElement.ValueKind != JsonValueKind.Object
                || !errorElement.TryGetProperty("code", out var code) || !code.TryGetInt32(out var codeValue)
                || !errorElement.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.String)
            {
                return ParseOutcome.Fail(JsonRpcErrorCodes.InvalidRequest, "'error' must be an object with an integer 'code' and a string 'message'", id);
            }

            JsonElement? data = errorElement.TryGetProperty("data", out var d) ? d.Clone() : null;
            error = new RpcError(codeValue, message.GetString()!, data);
        }

        return ParseOutcome.Ok(new IncomingMessage(MessageKind.Response, id, null, default, hasResult ? result.Clone() : default, error, lineNumber));
    }

    // Every message of a storm names one of a handful of methods: answer with the constant instead of a new string per line.
    private static readonly string[] s_knownMethods =
    [
        AcpMethods.ContainmentTool, AcpMethods.SessionUpdate, AcpMethods.RequestPermission, AcpMethods.SessionCancel,
        AcpMethods.SessionPrompt, AcpMethods.SessionNew, AcpMethods.Initialize, AcpMethods.ReadTextFile, AcpMethods.WriteTextFile,
        AcpMethods.TerminalCreate, AcpMethods.TerminalOutput, AcpMethods.TerminalWaitForExit, AcpMethods.TerminalKill,
        AcpMethods.TerminalRelease, AcpMethods.CancelRequest,
    ];

    private static string? KnownMethod(JsonElement method)
    {
        foreach (var known in s_knownMethods)
        {
            if (method.ValueEquals(known))
            {
                return known;
            }
        }

        return null;
    }

    private static int InvalidUtf8Offset(ReadOnlySpan<byte> bytes)
    {
        var offset = 0;
        while (offset < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[offset..], out _, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                return offset;
            }

            offset += consumed;
        }

        return offset;
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(". ", StringComparison.Ordinal);
        return cut > 0 ? message[..(cut + 1)] : message;
    }

    /// <summary>A request's parsed line, lent out with its params; disposing returns both buffers to their pools, once.</summary>
    private sealed class BorrowedDocument(JsonDocument document, byte[] copy) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                document.Dispose();
                ArrayPool<byte>.Shared.Return(copy);
            }
        }
    }
}
