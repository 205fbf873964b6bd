using ContainmentLab.Protocol;

namespace ContainmentLab.Bridge;

/// <summary>One prompt turn: it ends exactly once, by the agent's answer, escalation, or the agent's death.</summary>
internal sealed class Turn(Session session, int number, long startTimestamp)
{
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource<TurnOutcome> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _ackTimer;
    private bool _escalating;

    public Session Session { get; } = session;

    public int Number { get; } = number;

    public long StartTimestamp { get; } = startTimestamp;

    public RpcId PromptId { get; set; }

    /// <summary>When Stop was pressed for this turn (a <see cref="TimeProvider"/> timestamp), or null.</summary>
    public long? InterruptTimestamp { get; private set; }

    public Task<TurnOutcome> Completion => _completion.Task;

    public bool IsCompleted => _completion.Task.IsCompleted;

    /// <summary>Marks the turn interrupted; false when it had already ended or was already interrupted.</summary>
    public bool MarkInterrupted(long timestamp)
    {
        lock (_lock)
        {
            if (_completion.Task.IsCompleted || InterruptTimestamp is not null)
            {
                return false;
            }

            InterruptTimestamp = timestamp;
            return true;
        }
    }

    /// <summary>Arms the ack timer of an interrupted turn, unless it has ended meanwhile.</summary>
    public void ArmAckTimer(Func<ITimer> create)
    {
        lock (_lock)
        {
            if (!_completion.Task.IsCompleted && _ackTimer is null)
            {
                _ackTimer = create();
            }
        }
    }

    /// <summary>
    /// Claims the turn's end for an escalation: from here on only the escalation completes it, so neither a late answer
    /// nor the death the escalation itself causes can end it first. False when the turn had already ended.
    /// </summary>
    public bool TryBeginEscalation()
    {
        lock (_lock)
        {
            if (_completion.Task.IsCompleted || _escalating)
            {
                return false;
            }

            _escalating = true;
            return true;
        }
    }

    /// <summary>
    /// Completes the turn with the outcome <paramref name="build"/> makes from the interrupt time; null when it had already
    /// ended, or when an escalation has claimed it and this is not that escalation's completion.
    /// </summary>
    public TurnOutcome? TryComplete(Func<long?, TurnOutcome> build, bool escalation = false)
    {
        ITimer? timer;
        TurnOutcome outcome;
        lock (_lock)
        {
            if (_completion.Task.IsCompleted || (_escalating && !escalation))
            {
                return null;
            }

            outcome = build(InterruptTimestamp);
            _completion.SetResult(outcome);
            timer = _ackTimer;
            _ackTimer = null;
        }

        timer?.Dispose();
        return outcome;
    }
}
