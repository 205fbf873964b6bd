namespace ContainmentLab.Scenarios.Evidence;

/// <summary>Which way bytes went between the agent and the bridge.</summary>
internal enum TapDirection
{
    /// <summary>The agent's stdout, as the bridge read it.</summary>
    FromAgent,

    /// <summary>The agent's stdin, as the bridge wrote it.</summary>
    ToAgent,
}

/// <summary>One read or write call the bridge made on the agent's pipe: when it began, when it returned, how many bytes.</summary>
/// <param name="Index">1-based, per stream.</param>
/// <param name="End">When the call returned (or threw); null while it is still under way.</param>
/// <param name="Bytes">Bytes read (0 = end of stream) or handed to the write.</param>
internal sealed record TapCall(int Index, TimeSpan Start, TimeSpan? End, int Bytes, bool Failed);

/// <summary>
/// One line as the tap split it (on <c>\n</c> only, independent of the bridge's reader, no length cap): its number, when
/// its first and last bytes went by, its length and hash (the bytes without the LF, and without a CR right before it,
/// as a line reader hands them on), and the first <see cref="TapStream.HeadBytes"/> of it.
/// </summary>
/// <param name="Chunk">The read or write call whose bytes completed the line.</param>
/// <param name="Complete">False for a last fragment with no LF, seen at end of stream.</param>
internal sealed record TapLine(int Connection, TapDirection Direction, long Number, TimeSpan StartedAt, TimeSpan At, long Length, ulong Hash, bool Complete, int Chunk, LineHead Head)
{
    /// <summary>What the line is, for a message: <c>request 7 'fs/read_text_file' (session s1)</c>, or its length.</summary>
    public string Describe()
    {
        var what = Head.Kind switch
        {
            LineKind.Request => $"request {Head.Id} '{Head.Method}'",
            LineKind.Notification => $"'{Head.Method}'" + (Head.UpdateKind is { } kind ? $" {kind}" : string.Empty),
            LineKind.Response => Head.Id is { } id ? $"answer to {id}" : "answer with a null id",
            _ => "unreadable line",
        };
        return $"{what}, {Length} bytes";
    }
}

/// <summary>
/// One direction of one connection: every chunk the bridge read or wrote, split into lines by a trivial splitter. Only a
/// bounded head of each line is kept (with its length and hash), so a gigabyte line costs <see cref="HeadBytes"/>.
/// </summary>
internal sealed class TapStream(int connection, TapDirection direction)
{
    public const int HeadBytes = 16 * 1024;
    private const ulong FnvOffset = 14695981039346656037;
    private const ulong FnvPrime = 1099511628211;

    private readonly Lock _lock = new();
    private readonly List<TapLine> _lines = [];
    private readonly List<TapCall> _calls = [];
    private readonly byte[] _head = new byte[HeadBytes];
    private int _headLength;
    private long _length;
    private ulong _hash = FnvOffset;
    private bool _pendingCr;
    private bool _inLine;
    private TimeSpan _startedAt;
    private long _bytes;
    private TimeSpan? _endedAt;

    public int Connection { get; } = connection;

    public TapDirection Direction { get; } = direction;

    /// <summary>A call begins; returns its index for <see cref="EndCall"/>.</summary>
    public int BeginCall(TimeSpan at)
    {
        lock (_lock)
        {
            _calls.Add(new TapCall(_calls.Count + 1, at, null, 0, false));
            return _calls.Count;
        }
    }

    /// <summary>
    /// The call returned: <paramref name="bytes"/> are the bytes read (empty: end of stream) or written. A write's bytes
    /// are taken when the call begins (they are the bridge's, whatever the pipe then does); pass them there.
    /// </summary>
    public void EndCall(int index, TimeSpan at, ReadOnlySpan<byte> bytes, bool failed = false)
    {
        lock (_lock)
        {
            var call = _calls[index - 1];
            _calls[index - 1] = call with { End = at, Bytes = Direction == TapDirection.FromAgent ? bytes.Length : call.Bytes, Failed = failed };
            if (Direction == TapDirection.FromAgent && !failed)
            {
                if (bytes.IsEmpty)
                {
                    EndOfStream(at);
                }
                else
                {
                    Append(index, at, bytes);
                }
            }
        }
    }

    /// <summary>A write call's bytes, recorded as it begins.</summary>
    public void Written(int index, TimeSpan at, ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            _calls[index - 1] = _calls[index - 1] with { Bytes = bytes.Length };
            Append(index, at, bytes);
        }
    }

    /// <summary>The bridge closed its end (the agent's stdin), or the reader saw end of stream; a last fragment becomes a line.</summary>
    public void EndOfStream(TimeSpan at)
    {
        lock (_lock)
        {
            if (_endedAt is not null)
            {
                return;
            }

            _endedAt = at;
            if (_inLine)
            {
                if (_pendingCr)
                {
                    // At end of file a CR is part of the fragment, as the bridge's reader takes it.
                    Take((byte)'\r');
                    _pendingCr = false;
                }

                Finish(_calls.Count, at, complete: false);
            }
        }
    }

    public TapStreamRecord Snapshot()
    {
        lock (_lock)
        {
            return new TapStreamRecord(Connection, Direction, [.. _lines], [.. _calls], _bytes, _endedAt);
        }
    }

    private void Append(int chunk, TimeSpan at, ReadOnlySpan<byte> bytes)
    {
        _bytes += bytes.Length;
        var rest = bytes;
        while (!rest.IsEmpty)
        {
            if (!_inLine)
            {
                _inLine = true;
                _startedAt = at;
            }

            var newline = rest.IndexOf((byte)'\n');
            var part = newline < 0 ? rest : rest[..newline];
            foreach (var b in part)
            {
                if (_pendingCr)
                {
                    Take((byte)'\r');
                    _pendingCr = false;
                }

                if (b == (byte)'\r')
                {
                    _pendingCr = true;
                }
                else
                {
                    Take(b);
                }
            }

            if (newline < 0)
            {
                return;
            }

            // A CR right before the LF is dropped, as the bridge's reader drops it.
            _pendingCr = false;
            Finish(chunk, at, complete: true);
            rest = rest[(newline + 1)..];
        }
    }

    private void Take(byte b)
    {
        if (_headLength < HeadBytes)
        {
            _head[_headLength++] = b;
        }

        _length++;
        _hash = (_hash ^ b) * FnvPrime;
    }

    private void Finish(int chunk, TimeSpan at, bool complete)
    {
        var head = _head.AsSpan(0, _headLength);
        _lines.Add(new TapLine(Connection, Direction, _lines.Count + 1, _startedAt, at, _length, _hash, complete, chunk, LineHead.Read(head, whole: _length <= HeadBytes)));
        _headLength = 0;
        _length = 0;
        _hash = FnvOffset;
        _inLine = false;
    }

    /// <summary>The hash the tap gives a line's bytes (FNV-1a, 64 bits), for comparing the bridge's copy of a line with the tap's.</summary>
    public static ulong Hash(ReadOnlySpan<byte> line)
    {
        var hash = FnvOffset;
        foreach (var b in line)
        {
            hash = (hash ^ b) * FnvPrime;
        }

        return hash;
    }
}

/// <summary>A snapshot of one direction of one connection.</summary>
/// <param name="EndedAt">End of stream seen by a read (FromAgent), or the bridge closed the agent's stdin (ToAgent); null if neither.</param>
internal sealed record TapStreamRecord(int Connection, TapDirection Direction, IReadOnlyList<TapLine> Lines, IReadOnlyList<TapCall> Calls, long Bytes, TimeSpan? EndedAt)
{
    public static TapStreamRecord Empty(int connection, TapDirection direction) => new(connection, direction, [], [], 0, null);

    /// <summary>The first call that began after call <paramref name="index"/> (the bridge asked for more), or null.</summary>
    public TapCall? CallAfter(int index) => index < Calls.Count ? Calls[index] : null;

    /// <summary>Whether the write call that carried the line failed (the bytes may not have reached the agent).</summary>
    public bool Failed(TapLine line) => line.Chunk >= 1 && line.Chunk <= Calls.Count && Calls[line.Chunk - 1].Failed;
}
