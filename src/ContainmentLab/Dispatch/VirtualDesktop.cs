using System.Collections.Concurrent;

namespace ContainmentLab.Dispatch;

/// <summary>One simulated desktop action, as it "happened".</summary>
public sealed record DesktopAction(long Order, string SessionId, string ToolCallId, string Action, string Target, string? Value);

/// <summary>
/// An in-memory stand-in for the user's desktop: every press, value set and key stroke the agent's tools perform
/// is recorded here, so a test can count what really happened after Stop.
/// </summary>
public sealed class VirtualDesktop
{
    private readonly ConcurrentQueue<DesktopAction> _actions = new();
    private long _order;

    public int Count => _actions.Count;

    public DesktopAction Record(string sessionId, string toolCallId, string action, string target, string? value)
    {
        var entry = new DesktopAction(Interlocked.Increment(ref _order), sessionId, toolCallId, action, target, value);
        _actions.Enqueue(entry);
        return entry;
    }

    public IReadOnlyList<DesktopAction> Snapshot() => [.. _actions.OrderBy(a => a.Order)];
}
