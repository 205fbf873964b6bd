namespace ContainmentLab.Dispatch;

/// <summary>Watches running tool calls for hangs (the bridge's watchdog). The dispatcher starts one watch per host tool call.</summary>
public interface IToolWatch
{
    /// <summary>
    /// Starts watching a call. <paramref name="cancelTool"/> runs once if the deadline passes; the handle reports the
    /// call's activity and ends the watch (and its timer) when disposed.
    /// </summary>
    IToolWatchHandle Start(string sessionId, string toolCallId, string toolName, Action? cancelTool);
}

public interface IToolWatchHandle : IDisposable
{
    /// <summary>Something that belongs to this call happened (output, an update, body bytes): the activity window slides.</summary>
    void ReportActivity();

    /// <summary>Why the watchdog cancelled the call, or null while it has not.</summary>
    string? ExpiredReason { get; }
}
