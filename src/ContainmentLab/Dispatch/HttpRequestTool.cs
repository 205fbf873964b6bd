using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary>
/// <c>http.request {method, url, body?}</c>: a real HTTP call. GET/HEAD are read-only, DELETE destructive, the rest
/// side effects. Only hosts on the allow-list are reached (default: loopback), and the body read back is capped.
/// </summary>
public sealed class HttpRequestTool(HttpClient client, IReadOnlySet<string>? allowedHosts = null, int maxBodyBytes = 64 * 1024) : HostTool
{
    public const string ToolName = "http.request";

    /// <summary>The header that carries the tool call id, so a server can tell which call reached it.</summary>
    public const string ToolCallHeader = "X-ContainmentLab-ToolCall";

    public override string Name => ToolName;

    public override bool BeginsSideEffectItself => true;

    public override ToolClass Classify(JsonElement arguments) => (OptionalString(arguments, "method") ?? "GET").ToUpperInvariant() switch
    {
        "GET" or "HEAD" or "OPTIONS" => ToolClass.ReadOnly,
        "DELETE" => ToolClass.Destructive,
        _ => ToolClass.SideEffect,
    };

    public override string Describe(JsonElement arguments) =>
        $"{(OptionalString(arguments, "method") ?? "GET").ToUpperInvariant()} {OptionalString(arguments, "url")}";

    public override async ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var method = new HttpMethod((OptionalString(call.Arguments, "method") ?? "GET").ToUpperInvariant());
        if (!Uri.TryCreate(RequiredString(call.Arguments, "url"), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new ToolFailedException("argument 'url' must be an absolute http(s) URL");
        }

        if (!IsAllowed(uri))
        {
            throw new ToolDeniedException($"host '{uri.Host}' is not on the http.request allow-list");
        }

        using var request = new HttpRequestMessage(method, uri);
        request.Headers.TryAddWithoutValidation(ToolCallHeader, call.ToolCallId);
        if (OptionalString(call.Arguments, "body") is { } body)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "text/plain");
        }

        // A call refused by the allow-list or a bad URL never began. From here on the request may reach the server: the
        // gate is checked now, and SendAsync starts in the same synchronous step (no await between them).
        call.BeginSideEffect();
        try
        {
            // Bounded: the token is cancelled by Stop and by the watchdog's deadline, and the client has its own Timeout.
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            // Bounded as SendAsync is: the same token, and at most maxBodyBytes are read.
            var text = await ReadCappedAsync(response, cancellationToken).ConfigureAwait(false);
            var output = JsonSerializer.SerializeToElement(
                new Dictionary<string, string> { ["status"] = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), ["body"] = text },
                AcpJsonContext.Default.DictionaryStringString);
            return JsonSerializer.SerializeToElement(new ContainmentToolResponse(output), AcpJsonContext.Default.ContainmentToolResponse);
        }
        catch (HttpRequestException ex)
        {
            throw new ToolFailedException($"{method} {uri} failed: {ex.Message}", ex);
        }
    }

    private bool IsAllowed(Uri uri)
    {
        if (allowedHosts is not null)
        {
            return allowedHosts.Contains(uri.Host);
        }

        return uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
    }

    private async Task<string> ReadCappedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        // Every await here runs under the call's token (Stop, the watchdog's deadline); disposing the body stream only
        // releases the connection (it does not drain the rest of the body).
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[Math.Min(maxBodyBytes, 8192)];
            using var collected = new MemoryStream();
            int read;
            while (collected.Length < maxBodyBytes && (read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                collected.Write(buffer, 0, (int)Math.Min(read, maxBodyBytes - collected.Length));
            }

            return Encoding.UTF8.GetString(collected.GetBuffer(), 0, (int)collected.Length);
        }
    }
}
