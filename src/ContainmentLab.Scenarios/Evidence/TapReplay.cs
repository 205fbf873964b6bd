using System.Text.Json;
using ContainmentLab.Bridge;

namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// The runner's rebuild of a kill_host host's wire tap from what the host streamed of it (the <see cref="ITapObserver"/>
/// records of <see cref="HostStreamWriter"/>): the same <see cref="TapConnectionRecord"/>s as the host's own tap held
/// when it sent them, so that every oracle judges a kill_host run on the same evidence as an in-process run. Lines come
/// as the host's splitter cut them (number, times, length, hash, the kept head); the runner reads each head itself.
/// </summary>
/// <remarks>
/// A pipe loses nothing but its tail (what the host had not written when it was killed): a call or line number that does
/// not follow the one before, a head longer than the tap keeps, a record about a connection that was never opened, are
/// refused with a <see cref="JsonException"/> (the runner reports the stream as damaged). What the tail held is missing:
/// how the oracles treat that is written at <see cref="RunLog.HostCutAt"/>.
/// </remarks>
internal sealed class TapReplay
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<int, Connection> _connections = [];

    public void Opened(int connection, TimeSpan at, string? accountPath)
    {
        lock (_lock)
        {
            if (!_connections.TryAdd(connection, new Connection(connection, at, accountPath)))
            {
                throw new JsonException($"the tap of agent {connection} was opened twice");
            }
        }
    }

    public void ProcessId(int connection, int? processId) => With(connection, c => c.ProcessId = processId);

    public void CallBegan(int connection, TapDirection direction, int call, TimeSpan at) => With(connection, c =>
    {
        var stream = c.Stream(direction);
        if (call != stream.Calls.Count + 1)
        {
            throw new JsonException($"tap of agent {connection} ({HostStreamWriter.Name(direction)}): call {call} began after call {stream.Calls.Count}");
        }

        stream.Calls.Add(new TapCall(call, at, null, 0, false));
    });

    public void CallWritten(int connection, TapDirection direction, int call, int length) => With(connection, c =>
    {
        var stream = c.Stream(direction);
        var index = Existing(connection, direction, stream, call);
        stream.Calls[index] = stream.Calls[index] with { Bytes = length };
        stream.Bytes += length;
    });

    public void CallEnded(int connection, TapDirection direction, int call, TimeSpan at, int length, bool failed) => With(connection, c =>
    {
        var stream = c.Stream(direction);
        var index = Existing(connection, direction, stream, call);
        var read = direction == TapDirection.FromAgent;
        stream.Calls[index] = stream.Calls[index] with { End = at, Bytes = read ? length : stream.Calls[index].Bytes, Failed = failed };
        if (read)
        {
            stream.Bytes += length;
        }
    });

    public void Line(int connection, TapDirection direction, long number, TimeSpan startedAt, TimeSpan at, long length, ulong hash, bool complete, int chunk, ReadOnlySpan<byte> head)
    {
        var kept = head.ToArray();
        With(connection, c =>
        {
            var stream = c.Stream(direction);
            if (number != stream.Lines.Count + 1)
            {
                throw new JsonException($"tap of agent {connection} ({HostStreamWriter.Name(direction)}): line {number} after line {stream.Lines.Count}");
            }

            if (kept.Length > TapStream.HeadBytes || kept.Length > length || (length <= TapStream.HeadBytes && kept.Length != length))
            {
                throw new JsonException($"tap of agent {connection}: line {number} of {length} bytes came with a head of {kept.Length}");
            }

            stream.Lines.Add(new TapLine(connection, direction, number, startedAt, at, length, hash, complete, chunk, LineHead.Read(kept, whole: length <= TapStream.HeadBytes)));
        });
    }

    public void EndOfStream(int connection, TapDirection direction, TimeSpan at) => With(connection, c => c.Stream(direction).EndedAt ??= at);

    public void GaveUp(int connection, TimeSpan at, string how) => With(connection, c =>
    {
        if (c.GaveUpAt is null)
        {
            c.GaveUpAt = at;
            c.GaveUpHow = how;
        }
    });

    public void Exited(int connection, TimeSpan at, AgentExit? exit) => With(connection, c =>
    {
        c.ExitedAt ??= at;
        c.Exit ??= exit;
    });

    /// <summary>The bridge's reader handed on wire line <paramref name="number"/> of this connection (the host's <c>in</c> line), as <see cref="TapConnection.OnBridgeRead"/> counts it.</summary>
    public void BridgeRead(int connection, long number, ReadOnlySpan<byte> line)
    {
        var read = new BridgeRead(number, line.Length, TapStream.Hash(line));
        With(connection, c =>
        {
            if (!c.Reads.TryAdd(number, read))
            {
                c.Reads[number] = read with { Repeated = true };
            }
        });
    }

    public IReadOnlyList<TapConnectionRecord> Snapshot()
    {
        lock (_lock)
        {
            return [.. _connections.Values.Select(c => new TapConnectionRecord(
                c.Index,
                c.StartedAt,
                c.ProcessId,
                c.FromAgent.Snapshot(c.Index, TapDirection.FromAgent),
                c.ToAgent.Snapshot(c.Index, TapDirection.ToAgent),
                new Dictionary<long, BridgeRead>(c.Reads),
                c.GaveUpAt,
                c.GaveUpHow,
                c.ExitedAt,
                c.Exit)
            {
                AccountPath = c.AccountPath,
            })];
        }
    }

    private void With(int connection, Action<Connection> change)
    {
        lock (_lock)
        {
            change(_connections.TryGetValue(connection, out var c) ? c : throw new JsonException($"a tap record of agent {connection}, whose tap was never opened"));
        }
    }

    private static int Existing(int connection, TapDirection direction, Pipe stream, int call) =>
        call >= 1 && call <= stream.Calls.Count ? call - 1
            : throw new JsonException($"tap of agent {connection} ({HostStreamWriter.Name(direction)}): call {call} never began");

    private sealed class Connection(int index, TimeSpan startedAt, string? accountPath)
    {
        public int Index { get; } = index;

        public TimeSpan StartedAt { get; } = startedAt;

        public string? AccountPath { get; } = accountPath;

        public int? ProcessId { get; set; }

        public Pipe FromAgent { get; } = new();

        public Pipe ToAgent { get; } = new();

        public Dictionary<long, BridgeRead> Reads { get; } = [];

        public TimeSpan? GaveUpAt { get; set; }

        public string? GaveUpHow { get; set; }

        public TimeSpan? ExitedAt { get; set; }

        public AgentExit? Exit { get; set; }

        public Pipe Stream(TapDirection direction) => direction == TapDirection.FromAgent ? FromAgent : ToAgent;
    }

    /// <summary>One direction of one connection, as rebuilt.</summary>
    private sealed class Pipe
    {
        public List<TapCall> Calls { get; } = [];

        public List<TapLine> Lines { get; } = [];

        public long Bytes { get; set; }

        public TimeSpan? EndedAt { get; set; }

        public TapStreamRecord Snapshot(int connection, TapDirection direction) => new(connection, direction, [.. Lines], [.. Calls], Bytes, EndedAt);
    }
}
