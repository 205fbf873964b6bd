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
    private int _began; // 0 not yet, 1 asked (refused, or being checked), 2 began

    /// <summary>Tools call this for everything that shows the call is alive (output, body bytes): the watchdog's window slides.</summary>
    public Action ReportActivity { get; init; } = s_nothing;

    /// <summary>The session the call belongs to (tools that own resources register them with it, to be killed on interrupt).</summary>
    public DispatchSession? Session { get; init; }

    /// <summary>The log the call's <c>began</c> record goes to (set by the dispatcher).</summary>
    internal AuditLog? Audit { get; init; }

    /// <summary>
    /// G1 at the side effect: call this exactly once, right before the effect (the desktop action, the file write, the
    /// process start, the HTTP send), with no await between it and the effect. Under the session gate's lock it checks
    /// the gate and writes the <c>began</c> record; when the session was interrupted since the call was dispatched it
    /// throws <see cref="ToolInterruptedException"/> instead and the effect must not happen. A tool that overrides
    /// <see cref="HostTool.BeginsSideEffectItself"/> calls it; for any other tool the dispatcher calls it right before
    /// <see cref="HostTool.InvokeAsync"/>. Outside a dispatcher (no session) it only counts the call.
    /// </summary>
    /// <exception cref="ToolInterruptedException">The gate closed: do not begin.</exception>
    /// <exception cref="InvalidOperationException">Called a second time for this call.</exception>
    public void BeginSideEffect()
    {
        if (Interlocked.Exchange(ref _began, 1) != 0)
        {
            throw new InvalidOperationException($"'{Tool}' ({ToolCallId}) began its side effect twice; BeginSideEffect is called once per call");
        }

        if (Session is { } session && Audit is { } audit && !session.Gate.TryBegin(audit, SessionId, ToolCallId, Tool, RequestId))
        {
            throw new ToolInterruptedException($"'{Tool}' not begun: session '{SessionId}' was interrupted after the call was dispatched");
        }

        Volatile.Write(ref _began, 2);
    }

    /// <summary>Whether <see cref="BeginSideEffect"/> let the call begin its side effect.</summary>
    public bool Began => Volatile.Read(ref _began) == 2;
}
