using System.Text;

namespace ContainmentLab.Dispatch;

/// <summary>
/// A terminal's output, at most <see cref="Limit"/> bytes: when more comes, the oldest bytes are dropped, up to a UTF-8
/// character boundary (ACP asks for the cut at a character, so the output stays a valid string). Thread-safe: stdout
/// and stderr append concurrently. Each stream appends whole characters only (see <see cref="Terminal.IncompleteUtf8Tail"/>), so the
/// two never split one another's characters.
/// </summary>
internal sealed class TerminalOutputBuffer
{
    private readonly Lock _lock = new();
    private byte[] _data = [];
    private int _length;
    private bool _truncated;

    public TerminalOutputBuffer(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        Limit = limit;
    }

    public int Limit { get; }

    public void Append(ReadOnlySpan<byte> chunk)
    {
        if (chunk.IsEmpty)
        {
            return;
        }

        lock (_lock)
        {
            if (chunk.Length >= Limit)
            {
                // The chunk alone fills the buffer: keep its tail.
                _truncated = true;
                chunk = chunk[(chunk.Length - Limit)..];
                chunk = chunk[LeadingContinuationBytes(chunk)..];
                EnsureCapacity(chunk.Length);
                chunk.CopyTo(_data);
                _length = chunk.Length;
                return;
            }

            var overflow = _length + chunk.Length - Limit;
            if (overflow > 0)
            {
                _truncated = true;
                var drop = overflow + LeadingContinuationBytes(_data.AsSpan(overflow, _length - overflow));
                _data.AsSpan(drop, _length - drop).CopyTo(_data);
                _length -= drop;
            }

            EnsureCapacity(_length + chunk.Length);
            chunk.CopyTo(_data.AsSpan(_length));
            _length += chunk.Length;
        }
    }

    public (string Output, bool Truncated) Snapshot()
    {
        lock (_lock)
        {
            return (Encoding.UTF8.GetString(_data, 0, _length), _truncated);
        }
    }

    private void EnsureCapacity(int needed)
    {
        if (_data.Length < needed)
        {
            // Grows with the output, never past the limit: a quiet command costs nothing.
            Array.Resize(ref _data, Math.Min(Limit, Math.Max(needed, Math.Max(4096, _data.Length * 2))));
        }
    }

    /// <summary>UTF-8 continuation bytes (10xxxxxx) at the start: the rest of a character whose first byte was dropped.</summary>
    private static int LeadingContinuationBytes(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length && (bytes[i] & 0xC0) == 0x80)
        {
            i++;
        }

        return i;
    }
}
