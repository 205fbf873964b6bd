using ContainmentLab.Bridge;

namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// The runner's own record of the wire (DESIGN.md §5, "oracles never trust the bridge's own view"): every agent the
/// bridge starts goes through <see cref="Attach"/>, which tees both pipes into a <see cref="TapConnection"/>. The bridge's
/// view of the same wire (its <see cref="IWireTap"/>: the lines its reader handed on) is kept beside it, per connection,
/// so that an oracle can hold the one against the other. Raw bytes also go to the transcript, up to a budget.
/// </summary>
internal sealed class WireTap : IRawSink
{
    /// <summary>Raw bytes written to the transcript per run; past it only the chunks' lengths are.</summary>
    public const long TranscriptBudget = 16L * 1024 * 1024;

    // The connection whose agent the bridge is starting: set (synchronously) by the start hook inside the bridge's
    // StartAsync, so the reader and writer loops the bridge starts next carry it in their execution context, and the
    // bridge's IWireTap calls from those loops can be told apart by agent, with no identity on the interface itself.
    private static readonly AsyncLocal<TapConnection?> s_current = new();

    private readonly Func<TimeSpan> _clock;
    private readonly TranscriptWriter? _transcript;
    private readonly ITapObserver? _observer;
    private readonly Lock _lock = new();
    private readonly List<TapConnection> _connections = [];
    private long _transcribed;

    /// <param name="observer">Sees everything the tap records (a kill_host host streams it to its runner).</param>
    public WireTap(Func<TimeSpan> clock, TranscriptWriter? transcript = null, ITapObserver? observer = null)
    {
        _clock = clock;
        _transcript = transcript;
        _observer = observer;
    }

    /// <summary>Starts the next agent with <paramref name="start"/> (given the connection's index) and taps it.</summary>
    public IAgentTransport Attach(Func<int, string?> accountPath, Func<int, IAgentTransport> start)
    {
        TapConnection connection;
        lock (_lock)
        {
            var index = _connections.Count + 1;
            connection = new TapConnection(index, _clock(), accountPath(index), _observer);
            _connections.Add(connection);
        }

        s_current.Value = connection;
        var inner = start(connection.Index);
        connection.SetProcessId(inner.ProcessId);
        return new TappedTransport(inner, connection, _clock, _transcript is null ? null : this);
    }

    /// <summary>The bridge's reader handed on a wire line (called from its <see cref="IWireTap.Received"/>); returns the connection it was counted to.</summary>
    public int? OnBridgeRead(long lineNumber, ReadOnlySpan<byte> line)
    {
        var connection = s_current.Value;
        if (connection is null)
        {
            lock (_lock)
            {
                connection = _connections.Count > 0 ? _connections[^1] : null;
            }
        }

        connection?.OnBridgeRead(lineNumber, line);
        return connection?.Index;
    }

    /// <summary>
    /// Every connection, in the order the agents started, with their sessions named as the bridge names them: a restarted
    /// agent hands out the ids of the one before (<c>sess-1</c> again), and the bridge's handle is then <c>sess-1#2</c> (the
    /// smallest <c>#n</c>, from 2, not taken yet). Derived from the tap's own <c>session/new</c> answers.
    /// </summary>
    public IReadOnlyList<TapConnectionRecord> Snapshot()
    {
        List<TapConnectionRecord> connections;
        lock (_lock)
        {
            connections = [.. _connections.Select(c => c.Snapshot())];
        }

        var taken = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < connections.Count; i++)
        {
            var handles = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (id, _, _) in connections[i].Sessions())
            {
                if (!handles.ContainsKey(id))
                {
                    handles[id] = Handle(taken, id);
                }
            }

            if (handles.Any(h => h.Key != h.Value))
            {
                connections[i] = connections[i].WithSessionHandles(handles);
            }
        }

        return connections;
    }

    private static string Handle(HashSet<string> taken, string id)
    {
        if (taken.Add(id))
        {
            return id;
        }

        for (var n = 2; ; n++)
        {
            var handle = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{id}#{n}");
            if (taken.Add(handle))
            {
                return handle;
            }
        }
    }

    public void Raw(int connection, TapDirection direction, TimeSpan at, ReadOnlySpan<byte> bytes) => Raw(connection, direction, at, bytes, bytes.Length);

    /// <summary>A chunk of <paramref name="length"/> bytes, of which <paramref name="bytes"/> are known (empty: only its length, as a kill_host host streams a chunk past its raw budget).</summary>
    public void Raw(int connection, TapDirection direction, TimeSpan at, ReadOnlySpan<byte> bytes, int length)
    {
        var within = Interlocked.Add(ref _transcribed, length) <= TranscriptBudget && bytes.Length == length;
        _transcript?.WriteRaw(at, connection, direction == TapDirection.FromAgent ? "agent" : "bridge", within ? bytes : default, length);
    }
}
