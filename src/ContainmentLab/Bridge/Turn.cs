using ContainmentLab.Protocol;

namespace ContainmentLab.Bridge;

/// <summary>One prompt turn: it ends exactly once, by the agent's answer, escalation, or the agent's death.</summary>
internal sealed class Turn(Session session, int number, long startTimestamp)
{
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource<TurnOutcome> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _ackTimer;

    public Session Session { get; } = session;

    public int Number { get; } = number;

    public long StartTimestamp { get; } = startTimestamp;

    public RpcId PromptId { get; set; }

    /// <summary>When Stop was pressed for this turn (a <see cref="TimeProvider"/> timestamp), or null.</summary>
    public long? InterruptTimestamp { get; private set; }

    public Task<TurnOutcome> Completion => _completion.Task;

    public bool IsCompleted => _completion.Task.IsCompleted;

    /// <summary>Marks the turn interrupted and arms the ack timer; false when it had already ended or was already interrupted.</summary>
    public bool Interrupt(long timestamp, Func<ITimer> armAckTimer)
    {
        lock (_lock)
        {
            if (_completion.Task.IsCompleted || InterruptTimestamp is not null)
            {
                return false;
            }

            InterruptTimestamp = timestamp;
            _ackTimer = armAckTimer();
            return true;
        }
    }

    public bool TryComplete(TurnOutcome outcome)
    {
        ITimer? timer;
        lock (_lock)
        {
            if (!_completion.TrySetResult(outcome))
            {
                return false;
            }

            timer = _ackTimer;
            _ackTimer = null;
        }

        timer?.Dispose();
        return true;
    }
}
