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
    private readonly HashSet<string> _runningTools = new(StringComparer.Ordinal);
    private bool _stopped;
    private bool _stalling;
    private bool _cancelDeferred;
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

    /// <summary>Like <see cref="Send"/>, and records <paramref name="toolCallId"/> as a running agent-side tool.</summary>
    public void SendToolStart(string toolCallId, Action send)
    {
        lock (_gate)
        {
            Send(send);
            _runningTools.Add(toolCallId);
        }
    }

    /// <summary>Like <see cref="Send"/>, and records that the agent-side tool has ended.</summary>
    public void SendToolEnd(string toolCallId, Action send)
    {
        lock (_gate)
        {
            Send(send);
            _runningTools.Remove(toolCallId);
        }
    }

    /// <summary>
    /// Stops the turn's work and returns the agent-side tools that were running, atomically with respect to every send:
    /// none of them can report anything after this, so the caller may report them failed.
    /// </summary>
    public IReadOnlyList<string> StopWork()
    {
        string[] running;
        lock (_gate)
        {
            _stopped = true;
            running = [.. _runningTools];
            _runningTools.Clear();
        }

        _work.Cancel();
        return running;
    }

    /// <summary>A <c>stall</c> begins: until <see cref="EndStall"/> a cancel of this turn is held back.</summary>
    public void BeginStall()
    {
        lock (_gate)
        {
            _stalling = true;
        }
    }

    /// <summary>True if the turn is stalled; the cancel is then held back until the stall ends.</summary>
    public bool TryDeferCancel()
    {
        lock (_gate)
        {
            _cancelDeferred |= _stalling;
            return _stalling;
        }
    }

    /// <summary>Ends a stall; true if a cancel arrived during it and must be acted on now.</summary>
    public bool EndStall()
    {
        lock (_gate)
        {
            _stalling = false;
            var deferred = _cancelDeferred;
            _cancelDeferred = false;
            return deferred;
        }
    }
}
