using System.Text.Json;

namespace ContainmentLab.Dispatch;

/// <summary>One tool call as the dispatcher hands it to a host tool.</summary>
/// <param name="Arguments">
/// For ACP methods (<c>fs/*</c>) the request's params; for <c>_containmentlab/tool</c> its <c>arguments</c>. A view into the
/// request's parsed line, valid until the call is answered (the bridge lends it, it does not copy it per call):
/// <see cref="JsonElement.Clone"/> what must outlive <see cref="HostTool.InvokeAsync"/>.
/// </param>
public sealed record ToolInvocation(string SessionId, string ToolCallId, string Tool, JsonElement Arguments, string? RequestId)
{
    private static readonly Action s_nothing = static () => { };

    /// <summary>Tools call this for everything that shows the call is alive (output, body bytes): the watchdog's window slides.</summary>
    public Action ReportActivity { get; init; } = s_nothing;

    /// <summary>The session the call belongs to (tools that own resources register them with it, to be killed on interrupt).</summary>
    public DispatchSession? Session { get; init; }
}
