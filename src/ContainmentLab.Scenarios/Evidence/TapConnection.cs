using ContainmentLab.Bridge;

namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// One agent process the bridge started (1 for the first, 2 after a restart, …): its two tapped pipes, what the bridge
/// said it read (its wire line numbers), the stops the bridge asked for, and the process's exit. An
/// <see cref="ITapObserver"/> sees all of it as it is recorded (the bridge's reads through the recorder's "in" lines).
/// </summary>
internal sealed class TapConnection
{
    private readonly Lock _lock = new();
    private readonly ITapObserver? _observer;
    private readonly Dictionary<long, BridgeRead> _bridgeReads = [];
    private TimeSpan? _gaveUpAt;
    private string? _gaveUpHow;
    private TimeSpan? _exitedAt;
    private AgentExit? _exit;
    private int? _processId;

    public TapConnection(int index, TimeSpan startedAt, string? accountPath, ITapObserver? observer = null)
    {
        Index = index;
        StartedAt = startedAt;
        AccountPath = accountPath;
        _observer = observer;
        FromAgent = new TapStream(index, TapDirection.FromAgent, observer);
        ToAgent = new TapStream(index, TapDirection.ToAgent, observer);
        observer?.OnTapOpened(index, startedAt, accountPath);
    }

    public int Index { get; }

    public TimeSpan StartedAt { get; }

    /// <summary>Where the fake agent writes its own account (null: not a fake-agent script, no account).</summary>
    public string? AccountPath { get; }

    public TapStream FromAgent { get; }

    public TapStream ToAgent { get; }

    public void SetProcessId(int? pid)
    {
        lock (_lock)
        {
            _processId = pid;
            _observer?.OnTapProcessId(Index, pid);
        }
    }

    /// <summary>The bridge's reader handed on wire line <paramref name="number"/> (its <see cref="IWireTap"/>).</summary>
    public void OnBridgeRead(long number, ReadOnlySpan<byte> line)
    {
        var read = new BridgeRead(number, line.Length, TapStream.Hash(line));
        lock (_lock)
        {
            if (!_bridgeReads.TryAdd(number, read))
            {
                _bridgeReads[number] = read with { Repeated = true };
            }
        }
    }

    /// <summary>The bridge asked the transport to stop the agent (kill, graceful stop, dispose); the first one counts.</summary>
    public void OnGiveUp(TimeSpan at, string how)
    {
        lock (_lock)
        {
            if (_gaveUpAt is null)
            {
                _gaveUpAt = at;
                _gaveUpHow = how;
                _observer?.OnGaveUp(Index, at, how);
            }
        }
    }

    public void OnExited(TimeSpan at, AgentExit? exit)
    {
        lock (_lock)
        {
            if (_exitedAt is null)
            {
                _observer?.OnExited(Index, at, exit);
            }

            _exitedAt ??= at;
            _exit ??= exit;
        }
    }

    public TapConnectionRecord Snapshot()
    {
        lock (_lock)
        {
            return new TapConnectionRecord(Index, StartedAt, _processId, FromAgent.Snapshot(), ToAgent.Snapshot(), new Dictionary<long, BridgeRead>(_bridgeReads), _gaveUpAt, _gaveUpHow, _exitedAt, _exit)
            {
                AccountPath = AccountPath,
            };
        }
    }
}
