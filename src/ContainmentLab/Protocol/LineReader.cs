namespace ContainmentLab.Protocol;

/// <summary>
/// Splits a byte stream into newline-terminated lines (LF; a CR before it is dropped) with a hard cap on the line
/// length. A line over the cap is skipped as it streams past, so memory stays bounded whatever the peer sends.
/// </summary>
public sealed class LineReader
{
    private const int InitialBufferSize = 16 * 1024;

    /// <summary>How much of an oversize line is kept (<see cref="LineReadResult.Head"/>).</summary>
    public const int HeadBytes = 4096;

    private readonly Stream _stream;
    private readonly int _maxLineBytes;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private int _scanned;
    private long _lineNumber;
    private bool _eof;
    private byte[]? _head;
    private int _headLength;

    public LineReader(Stream stream, int maxLineBytes = FramingOptions.DefaultMaxLineBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineBytes, 1);
        _stream = stream;
        _maxLineBytes = maxLineBytes;
        _buffer = new byte[Math.Min(InitialBufferSize, maxLineBytes + 2)];
    }

    /// <summary>Lines returned so far, including oversize ones.</summary>
    public long LineNumber => _lineNumber;

    public async ValueTask<LineReadResult> ReadLineAsync(CancellationToken cancellationToken = default)
    {
        long discarded = 0;
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _scanned, _end - _scanned);
            if (newline >= 0)
            {
                var length = newline - _start;
                var lineStart = _start;
                _start = newline + 1;
                _scanned = _start;
                _lineNumber++;
                if (discarded > 0)
                {
                    return new LineReadResult(LineReadStatus.Oversize, default, _lineNumber, discarded + length) { Head = _head.AsMemory(0, _headLength) };
                }

                if (length > 0 && _buffer[newline - 1] == (byte)'\r')
                {
                    length--;
                }

                if (length > _maxLineBytes)
                {
                    return new LineReadResult(LineReadStatus.Oversize, default, _lineNumber, length) { Head = _buffer.AsMemory(lineStart, Math.Min(HeadBytes, length)) };
                }

                return new LineReadResult(LineReadStatus.Line, _buffer.AsMemory(lineStart, length), _lineNumber, length);
            }

            _scanned = _end;
            if (_end - _start > _maxLineBytes + 1)
            {
                // Over the cap with no newline in sight: forget what we have and skip to the next newline — all but its head.
                if (discarded == 0)
                {
                    _head ??= new byte[HeadBytes];
                    _headLength = Math.Min(HeadBytes, _end - _start);
                    Buffer.BlockCopy(_buffer, _start, _head, 0, _headLength);
                }

                discarded += _end - _start;
                _start = _end = _scanned = 0;
            }

            if (_eof)
            {
                if (_end > _start || discarded > 0)
                {
                    _lineNumber++;
                    var length = _end - _start;
                    var lineStart = _start;
                    _start = _scanned = _end;
                    if (discarded > 0 || length > _maxLineBytes)
                    {
                        var head = discarded > 0 ? _head.AsMemory(0, _headLength) : _buffer.AsMemory(lineStart, Math.Min(HeadBytes, length));
                        return new LineReadResult(LineReadStatus.Oversize, default, _lineNumber, discarded + length) { Head = head };
                    }

                    return new LineReadResult(LineReadStatus.Line, _buffer.AsMemory(lineStart, length), _lineNumber, length);
                }

                return new LineReadResult(LineReadStatus.EndOfStream, default, _lineNumber, 0);
            }

            MakeRoom();
            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                _eof = true;
            }

            _end += read;
        }
    }

    private void MakeRoom()
    {
        if (_start > 0)
        {
            var pending = _end - _start;
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, pending);
            _scanned -= _start;
            _end = pending;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            var grown = (int)Math.Min((long)_buffer.Length * 2, (long)_maxLineBytes + 2);
            if (grown <= _buffer.Length)
            {
                grown = _buffer.Length + 1;
            }

            Array.Resize(ref _buffer, grown);
        }
    }
}
