using System.Collections.Concurrent;

namespace ContainmentLab.Dispatch;

/// <summary>
/// What the dispatcher keeps per session: the interrupt gate, the token its host tools run under, and the
/// permission requests waiting for an answer. An interrupted session stays closed for good (a reused session
/// would take the old turn's stragglers for the new turn's: reference/fazm-bridge.md, hang 6).
/// </summary>
public sealed class DispatchSession : IDisposable
{
    private readonly CancellationTokenSource _tools = new();
    private readonly ConcurrentDictionary<long, TaskCompletionSource<ConfirmAnswer>> _permissions = new();
    private readonly List<Action> _onInterrupt = [];
    private long _nextPermission;
    private volatile bool _turnRunning;

    public DispatchSession(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        Id = id;
    }

    public string Id { get; }

    public InterruptGate Gate { get; } = new();

    /// <summary>
    /// True when the agent may act in this session only while a prompt turn of it runs (the bridge's sessions); false
    /// (the default) for a session driven directly, without turns.
    /// </summary>
    public bool RequiresTurn { get; init; }

    /// <summary>
    /// Whether the agent may act in the session now: a turn is running (or <see cref="RequiresTurn"/> is off). The
    /// bridge opens it before the prompt is sent and closes it on the reader as the prompt's answer is read, so a request
    /// written after the answer always finds it closed.
    /// </summary>
    public bool AcceptsRequests => !RequiresTurn || _turnRunning;

    /// <summary>A prompt turn starts: the agent may act in the session (if its gate lets it).</summary>
    public void BeginTurn() => _turnRunning = true;

    /// <summary>The turn is over (answered, escalated, or the agent gone): nothing of the session dispatches until the next.</summary>
    public void EndTurn() => _turnRunning = false;

    /// <summary>Cancelled when the session is interrupted: every in-flight host tool of the session observes it.</summary>
    public CancellationToken ToolsToken => _tools.Token;

    internal (long Key, Task<ConfirmAnswer> Answer) RegisterPermission()
    {
        var key = Interlocked.Increment(ref _nextPermission);
        var source = new TaskCompletionSource<ConfirmAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        _permissions[key] = source;

        // An interrupt that closed the gate just before we registered has already answered the others: answer this one
        // too, or it would wait on the user with the session stopped.
        if (Gate.IsClosed)
        {
            AnswerPermission(key, ConfirmAnswer.Cancelled);
        }

        return (key, source.Task);
    }

    /// <summary>Answers a pending confirmation exactly once (the first answer wins); false when it was already answered.</summary>
    internal bool AnswerPermission(long key, ConfirmAnswer outcome) =>
        _permissions.TryRemove(key, out var source) && source.TrySetResult(outcome);

    /// <summary>
    /// After the gate closed: answer every pending confirmation <c>cancelled</c> and cancel the host tools.
    /// The token is cancelled asynchronously so that the caller (Interrupt) never runs tool callbacks itself.
    /// </summary>
    internal void CancelInFlight()
    {
        foreach (var key in _permissions.Keys)
        {
            AnswerPermission(key, ConfirmAnswer.Cancelled);
        }

        _ = _tools.CancelAsync();
        Action[] kills;
        lock (_onInterrupt)
        {
            kills = [.. _onInterrupt];
            _onInterrupt.Clear();
        }

        foreach (var kill in kills)
        {
            kill();
        }
    }

    /// <summary>
    /// Registers what must die when the session is interrupted (a terminal's process group). Runs at once if the
    /// session already was. The action must be quick and must not throw: it runs on the interrupt's path.
    /// </summary>
    public void OnInterrupt(Action kill)
    {
        ArgumentNullException.ThrowIfNull(kill);
        lock (_onInterrupt)
        {
            if (!Gate.IsClosed)
            {
                _onInterrupt.Add(kill);
                return;
            }
        }

        kill();
    }

    public void Dispose() => _tools.Dispose();
}
