using System.Globalization;

namespace ContainmentLab.FakeAgent;

/// <summary>One ACP session of the fake agent: its cwd, its prompt count, its running turn and its tool-request counters.</summary>
internal sealed class AgentSession(string id, string cwd)
{
    private readonly Lock _gate = new();
    private int _promptCount;
    private int _toolCallCounter;
    private int _sent;
    private int _succeeded;
    private int _failed;
    private int _maxOutstanding;

    public string Id { get; } = id;

    public string Cwd { get; } = cwd;

    /// <summary>The running turn, or null. A turn stays here until its prompt is answered (for ever under <c>hang</c>).</summary>
    public Turn? CurrentTurn
    {
        get
        {
            lock (_gate)
            {
                return field;
            }
        }

        private set;
    }

    /// <summary>Starts a turn unless one is running; returns the turn and which prompt of the session it is (0-based).</summary>
    public bool TryStartTurn(Func<Turn> create, out Turn turn, out int promptIndex)
    {
        lock (_gate)
        {
            if (CurrentTurn is { } running)
            {
                turn = running;
                promptIndex = -1;
                return false;
            }

            turn = create();
            CurrentTurn = turn;
            promptIndex = _promptCount++;
            return true;
        }
    }

    public void EndTurn(Turn turn)
    {
        lock (_gate)
        {
            if (ReferenceEquals(CurrentTurn, turn))
            {
                CurrentTurn = null;
            }
        }
    }

    public string NextToolCallId() =>
        Id + "/t" + Interlocked.Increment(ref _toolCallCounter).ToString(CultureInfo.InvariantCulture);

    public void OnToolRequestSent()
    {
        lock (_gate)
        {
            _sent++;
            _maxOutstanding = Math.Max(_maxOutstanding, _sent - _succeeded - _failed);
        }
    }

    public void OnToolResponse(bool success)
    {
        lock (_gate)
        {
            if (success)
            {
                _succeeded++;
            }
            else
            {
                _failed++;
            }
        }
    }

    public SessionStats Stats
    {
        get
        {
            lock (_gate)
            {
                return new SessionStats(_sent, _succeeded, _failed, _maxOutstanding);
            }
        }
    }
}
