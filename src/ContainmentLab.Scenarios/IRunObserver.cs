using ContainmentLab.Events;

namespace ContainmentLab.Scenarios;

/// <summary>
/// Sees a run as its <see cref="RunRecorder"/> does, at the moment it records each thing (same <c>at</c>): a kill_host
/// fixture's host process streams this to its runner (<see cref="HostStreamWriter"/>), which replays it into a recorder
/// of its own. Called on the bridge's reader and writer loops: keep it quick.
/// </summary>
internal interface IRunObserver
{
    void OnEvent(TimeSpan at, ContainmentEvent containmentEvent);

    void OnAction(TimeSpan at, TimelineAction action, string? sessionId);

    /// <summary>A line the agent wrote (without its terminator).</summary>
    void OnReceived(TimeSpan at, long lineNumber, ReadOnlySpan<byte> line);

    /// <summary>A line the bridge wrote (with its LF).</summary>
    void OnSent(TimeSpan at, ReadOnlySpan<byte> line);
}
