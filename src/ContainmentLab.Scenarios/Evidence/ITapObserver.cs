using ContainmentLab.Bridge;

namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// Sees everything the tap records, as it records it, in its order per stream (called under the stream's lock): a
/// kill_host fixture's host streams it to its runner (<see cref="HostStreamWriter"/>), which rebuilds the same
/// <see cref="TapConnectionRecord"/>s (<see cref="TapReplay"/>). Called on the bridge's reader and writer loops: keep it
/// quick, never block, never throw.
/// </summary>
internal interface ITapObserver
{
    /// <summary>The tap of agent process <paramref name="connection"/> began (before the process starts).</summary>
    void OnTapOpened(int connection, TimeSpan at, string? accountPath);

    void OnTapProcessId(int connection, int? processId);

    /// <summary>A read (<see cref="TapDirection.FromAgent"/>) or write call of the bridge's began.</summary>
    void OnCallBegan(int connection, TapDirection direction, int call, TimeSpan at);

    /// <summary>The bytes a write call was handed, as it began.</summary>
    void OnCallWritten(int connection, TapDirection direction, int call, TimeSpan at, ReadOnlySpan<byte> bytes);

    /// <summary>The call returned (or threw: <paramref name="failed"/>); a read's bytes (empty: end of stream).</summary>
    void OnCallEnded(int connection, TapDirection direction, int call, TimeSpan at, ReadOnlySpan<byte> read, bool failed);

    /// <summary>The tap's splitter finished a line; <paramref name="head"/> is what it kept of it (at most <see cref="TapStream.HeadBytes"/>).</summary>
    void OnLine(TapLine line, ReadOnlySpan<byte> head);

    void OnEndOfStream(int connection, TapDirection direction, TimeSpan at);

    /// <summary>The bridge first asked the transport to stop the agent.</summary>
    void OnGaveUp(int connection, TimeSpan at, string how);

    /// <summary>The agent process ended, as its transport saw it.</summary>
    void OnExited(int connection, TimeSpan at, AgentExit? exit);
}
