namespace ContainmentLab.Bridge;

/// <summary>
/// A bounded rolling tail of what the agent wrote to stderr: the last <c>capacity</c> characters, whatever the lines'
/// lengths (a line without a newline is in it as it arrives). Free text: logged, never parsed for control.
/// </summary>
public sealed class StderrTail(int capacity = 8 * 1024)
{
    private readonly Lock _lock = new();
    private readonly char[] _ring = new char[capacity];
    private int _next;
    private int _length;

    public int Capacity => _ring.Length;

    /// <summary>Appends one line and its newline.</summary>
    public void Append(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        lock (_lock)
        {
            AppendLocked(line);
            AppendLocked("\n");
        }
    }

    /// <summary>Appends text as it came (newlines included).</summary>
    public void AppendText(ReadOnlySpan<char> text)
    {
        lock (_lock)
        {
            AppendLocked(text);
        }
    }

    public override string ToString()
    {
        lock (_lock)
        {
            var start = (_next - _length + _ring.Length) % _ring.Length;
            if (start + _length <= _ring.Length)
            {
                return new string(_ring, start, _length);
            }

            return string.Concat(_ring.AsSpan(start), _ring.AsSpan(0, _next));
        }
    }

    private void AppendLocked(ReadOnlySpan<char> text)
    {
        if (_ring.Length == 0)
        {
            return;
        }

        if (text.Length >= _ring.Length)
        {
            // Only its end fits.
            text[^_ring.Length..].CopyTo(_ring);
            _next = 0;
            _length = _ring.Length;
            return;
        }

        var first = Math.Min(text.Length, _ring.Length - _next);
        text[..first].CopyTo(_ring.AsSpan(_next));
        text[first..].CopyTo(_ring);
        _next = (_next + text.Length) % _ring.Length;
        _length = Math.Min(_ring.Length, _length + text.Length);
    }
}
