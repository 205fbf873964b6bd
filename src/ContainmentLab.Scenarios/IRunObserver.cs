using ContainmentLab.Events;
using ContainmentLab.Scenarios.Evidence;

namespace ContainmentLab.Scenarios;

/// <summary>
/// Sees a run as its <see cref="RunRecorder"/> does, at the moment it records each thing (same <c>at</c>): a kill_host
/// fixture's host process streams this to its runner (<see cref="HostStreamWriter"/>), which replays it into a recorder
/// of its own; and, as an <see cref="ITapObserver"/>, what the runner's wire tap records. Called on the bridge's reader
/// and writer loops: keep it quick.
/// </summary>
internal interface IRunObserver : ITapObserver
{
    void OnEvent(TimeSpan at, ContainmentEvent containmentEvent);

    void OnAction(TimeSpan at, TimelineAction action, string? sessionId);

    /// <summary>A line the bridge's reader handed on (without its terminator), counted to the tap's <paramref name="connection"/>.</summary>
    void OnReceived(TimeSpan at, int? connection, long lineNumber, ReadOnlySpan<byte> line);

    /// <summary>A line the bridge wrote (with its LF).</summary>
    void OnSent(TimeSpan at, ReadOnlySpan<byte> line);
}
