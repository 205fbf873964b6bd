using ContainmentLab.Protocol;

namespace ContainmentLab.FakeAgent;

/// <summary>
/// One prompt turn. <see cref="StopWork"/> and every send of the turn take the same lock, so once StopWork returns no
/// further line of this turn can reach the wire — an honoured cancel is answered with nothing of the turn after it.
/// </summary>
internal sealed class Turn
{
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _work;
    private bool _stopped;
    private int _answered;
    private int _cancelReceived;

    public Turn(AgentSession session, RpcId promptId, CancellationToken shutdown)
    {
        Session = session;
        PromptId = promptId;
        // Not disposed: a hung turn lives as long as the engine, and the link dies with the engine's shutdown source.
        _work = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
    }

    public AgentSession Session { get; }

    public RpcId PromptId { get; }

    /// <summary>Cancelled when the turn must issue no more work (or the engine shuts down).</summary>
    public CancellationToken WorkToken => _work.Token;

    /// <summary>True once <see cref="StopWork"/> has been called (its token may be cancelled a moment later).</summary>
    public bool IsStopped
    {
        get
        {
            lock (_gate)
            {
                return _stopped;
            }
        }
    }

    /// <summary>True the first time only: a second <c>session/cancel</c> for the same turn changes nothing.</summary>
    public bool MarkCancelReceived() => Interlocked.Exchange(ref _cancelReceived, 1) == 0;

    /// <summary>True exactly once: the prompt is answered once.</summary>
    public bool MarkAnswered() => Interlocked.Exchange(ref _answered, 1) == 0;

    /// <summary>Runs <paramref name="send"/> unless the turn's work was stopped; throws <see cref="OperationCanceledException"/> if it was.</summary>
    public void Send(Action send)
    {
        lock (_gate)
        {
            if (_stopped)
            {
                throw new OperationCanceledException(_work.Token);
            }

            send();
        }
    }

    public void StopWork()
    {
        lock (_gate)
        {
            _stopped = true;
        }

        _work.Cancel();
    }
}
