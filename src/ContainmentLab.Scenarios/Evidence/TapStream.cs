namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// One direction of one connection: every chunk the bridge read or wrote, split into lines by a trivial splitter. Only a
/// bounded head of each line is kept (with its length and hash), so a gigabyte line costs <see cref="HeadBytes"/>.
/// An <see cref="ITapObserver"/> sees each call and line as it is recorded (a kill_host host streams them to its runner).
/// </summary>
internal sealed class TapStream(int connection, TapDirection direction, ITapObserver? observer = null)
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
            observer?.OnCallBegan(Connection, Direction, _calls.Count, at);
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
            observer?.OnCallEnded(Connection, Direction, index, at, Direction == TapDirection.FromAgent ? bytes : default, failed);
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
            observer?.OnCallWritten(Connection, Direction, index, at, bytes);
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

            observer?.OnEndOfStream(Connection, Direction, at);
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
        var line = new TapLine(Connection, Direction, _lines.Count + 1, _startedAt, at, _length, _hash, complete, chunk, LineHead.Read(head, whole: _length <= HeadBytes));
        _lines.Add(line);
        observer?.OnLine(line, head);
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
