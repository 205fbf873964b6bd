namespace ContainmentLab.Protocol;

/// <summary>
/// Splits a byte stream into newline-terminated lines (LF; a CR before it is dropped) with a hard cap on the line
/// length. A line over the cap is skipped as it streams past, so memory stays bounded whatever the peer sends: the
/// reader holds at most the cap (and a CRLF), the skipped line's first <see cref="HeadBytes"/> and a small envelope scan.
/// The line's end is its newline, found wherever a read splits the stream; the bytes after it are the next line's and
/// are kept, so every complete line after an oversize one is returned whole, with its own line number.
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
    private bool _discardEndedWithCr;
    private EnvelopeScanner? _scanner;

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

    /// <summary>The size of the line buffer: the memory bound (never more than the cap and a CRLF) is checked against it.</summary>
    internal int BufferCapacity => _buffer.Length;

    public async ValueTask<LineReadResult> ReadLineAsync(CancellationToken cancellationToken = default)
    {
        // Bytes of the current line already streamed past (it went over the cap before its newline came).
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
                if (length > 0 && _buffer[newline - 1] == (byte)'\r')
                {
                    length--;
                }
                else if (length == 0 && discarded > 0 && _discardEndedWithCr)
                {
                    // The CR of this CRLF went with the last bytes streamed past: it is the terminator, not the line's.
                    discarded--;
                }

                if (discarded > 0 || length > _maxLineBytes)
                {
                    return Oversize(lineStart, length, discarded);
                }

                return new LineReadResult(LineReadStatus.Line, _buffer.AsMemory(lineStart, length), _lineNumber, length);
            }

            _scanned = _end;
            if (_end - _start > _maxLineBytes + 1)
            {
                // Over the cap with no newline in sight: skip what we have and go on to the next newline, keeping only the
                // line's head and what its envelope says so far. The bytes after that newline are the next line's: kept.
                discarded += Discard(first: discarded == 0);
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
                        return Oversize(lineStart, length, discarded);
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

    /// <summary>Streams the pending bytes of an over-cap line past: into its head (until full) and its envelope scan.</summary>
    private int Discard(bool first)
    {
        var scanner = _scanner ??= new EnvelopeScanner();
        _head ??= new byte[HeadBytes];
        if (first)
        {
            scanner.Reset();
            _headLength = 0;
        }

        var skipped = _buffer.AsSpan(_start, _end - _start);
        scanner.Feed(skipped);
        AppendHead(skipped);
        _discardEndedWithCr = skipped[^1] == (byte)'\r';
        _start = _end = _scanned = 0;
        return skipped.Length;
    }

    /// <param name="lineStart">Where the line's last bytes (or all of them) are in the buffer.</param>
    /// <param name="length">How many are there, without the terminator.</param>
    /// <param name="discarded">How many went before them, streamed past.</param>
    private LineReadResult Oversize(int lineStart, int length, long discarded)
    {
        var rest = _buffer.AsSpan(lineStart, length);
        var scanner = _scanner ??= new EnvelopeScanner();
        ReadOnlyMemory<byte> head;
        if (discarded == 0)
        {
            // Over the cap but whole in the buffer: its head is right there.
            scanner.Reset();
            head = _buffer.AsMemory(lineStart, Math.Min(HeadBytes, length));
        }
        else
        {
            AppendHead(rest);
            head = _head.AsMemory(0, (int)Math.Min(_headLength, discarded + length));
        }

        scanner.Feed(rest);
        return new LineReadResult(LineReadStatus.Oversize, default, _lineNumber, discarded + length) { Head = head, Envelope = scanner.Envelope };
    }

    private void AppendHead(ReadOnlySpan<byte> bytes)
    {
        var n = Math.Min(HeadBytes - _headLength, bytes.Length);
        bytes[..n].CopyTo(_head.AsSpan(_headLength));
        _headLength += n;
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
