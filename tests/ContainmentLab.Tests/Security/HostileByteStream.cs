using System.Text;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// A read-only stream that generates hostile agent output on the fly, never materialized: every chunk is a slice of
/// a few buffers built once and reused, so the stream itself costs a few MiB whatever its length. One cycle holds a
/// huge notification-shaped line with no newline for 96 MiB, 16 MiB of binary noise without a newline, deeply nested
/// JSON, invalid UTF-8, short binary-noise lines, well-formed updates and tool calls for sessions that do not exist,
/// requests for unknown methods, responses to ids never sent, and (in the first cycle) a valid line just at the limit.
/// Cycles repeat until <see cref="TotalBytes"/> is reached; every line it emits breaks the protocol exactly once, so
/// the bridge's reaction can be counted exactly.
/// </summary>
internal sealed class HostileByteStream : Stream
{
    public const int HugeLineMiB = 96;
    public const int HugeNoiseMiB = 16;
    public const int NoiseLinesPerCycle = 4096;
    public const int NoiseLineBytes = 256;
    public const int InvalidUtf8LinesPerCycle = 512;
    public const int GhostUpdatesPerCycle = 1024;
    public const int UnknownMethodsPerCycle = 256;
    public const int UnknownResponsesPerCycle = 256;
    public const int GhostToolCallsPerCycle = 64;
    private const int MiB = 1024 * 1024;

    private static readonly byte[] s_hugePrefix = Encoding.UTF8.GetBytes(
        """{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"ghost","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":" """.TrimEnd());

    private static readonly byte[] s_hugeSuffix = "\"}}}}\n"u8.ToArray();
    private static readonly byte[] s_newline = "\n"u8.ToArray();

    private readonly byte[] _letters = new byte[MiB];
    private readonly byte[] _noiseNoNewline = new byte[MiB];
    private readonly byte[] _noiseLines = new byte[NoiseLinesPerCycle * NoiseLineBytes];
    private readonly byte[] _openBrackets;
    private readonly byte[] _openObjects;
    private readonly byte[] _invalidUtf8;
    private readonly byte[] _ghostUpdates;
    private readonly byte[] _unknownMethods;
    private readonly byte[] _unknownResponses;
    private readonly byte[] _nearLimit;
    private readonly Action<long>? _sample;
    private readonly long _sampleEvery;
    private readonly IEnumerator<ReadOnlyMemory<byte>> _chunks;
    private ReadOnlyMemory<byte> _current;
    private long _position;
    private long _nextSample;

    /// <param name="totalBytes">Cycles are generated until at least this many bytes were produced.</param>
    /// <param name="maxLineBytes">The bridge's framing limit: the longest valid line is built just under it.</param>
    /// <param name="sample">Called with the position every <paramref name="sampleEvery"/> bytes, on the reading thread, between chunks.</param>
    public HostileByteStream(long totalBytes, int maxLineBytes, int seed, Action<long>? sample = null, long sampleEvery = 16 * MiB)
    {
        TotalBytes = totalBytes;
        _sample = sample;
        _sampleEvery = sampleEvery;
        _nextSample = sampleEvery;
        var random = new Random(seed);

        Array.Fill(_letters, (byte)'A');
        random.NextBytes(_noiseNoNewline);
        _noiseNoNewline.AsSpan().Replace((byte)'\n', (byte)0);

        random.NextBytes(_noiseLines);
        _noiseLines.AsSpan().Replace((byte)'\n', (byte)0);
        for (var i = 0; i < NoiseLinesPerCycle; i++)
        {
            // Each noise line starts with a byte that is never UTF-8 and ends with LF: exactly one bad line.
            _noiseLines[i * NoiseLineBytes] = 0xFF;
            _noiseLines[((i + 1) * NoiseLineBytes) - 1] = (byte)'\n';
        }

        // Deep, but within the line limit: these must fail as JSON, not as oversize lines.
        _openBrackets = new byte[Math.Min(2 * MiB, maxLineBytes / 2)];
        Array.Fill(_openBrackets, (byte)'[');
        _openBrackets[^1] = (byte)'\n';
        _openObjects = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", Math.Min(200_000, maxLineBytes / 10))) + "\n");

        var invalid = new List<byte>();
        for (var i = 0; i < InvalidUtf8LinesPerCycle; i++)
        {
            invalid.AddRange(Encoding.UTF8.GetBytes("""{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s"""));
            invalid.AddRange(i % 2 == 0 ? [0xC0, 0xAF] : [0xED, 0xA0, 0x80]); // overlong '/', a lone surrogate
            invalid.AddRange(Encoding.UTF8.GetBytes("\"}}\n"));
        }

        _invalidUtf8 = [.. invalid];
        _ghostUpdates = Lines(GhostUpdatesPerCycle, i =>
            $$$$"""{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"ghost-{{{{i}}}}","update":{"sessionUpdate":"tool_call","toolCallId":"g{{{{i}}}}","title":"rm -rf /","status":"in_progress"}}}""");
        _unknownMethods = Lines(UnknownMethodsPerCycle, i => $$$"""{"jsonrpc":"2.0","id":"evil-{{{i}}}","method":"evil/exec","params":{"cmd":"rm -rf /"}}""");
        _unknownResponses = Lines(UnknownResponsesPerCycle, i => $$$"""{"jsonrpc":"2.0","id":{{{900_000 + i}}},"result":{"stopReason":"end_turn"}}""");

        var nearLimitHead = """{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"ghost","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":" """.TrimEnd();
        const string nearLimitTail = "\"}}}}";
        _nearLimit = Encoding.UTF8.GetBytes(nearLimitHead + new string('B', maxLineBytes - nearLimitHead.Length - nearLimitTail.Length) + nearLimitTail + "\n");
        _chunks = Generate().GetEnumerator();
    }

    /// <summary>Lines produced per cycle, by the violation the bridge should report for them.</summary>
    public static (int Oversize, int Malformed, int UnknownSession, int UnknownMethod, int UnknownResponse, int ErrorResponses) PerCycle
    {
        get
        {
            const int malformed = 2 + InvalidUtf8LinesPerCycle + NoiseLinesPerCycle; // two nestings, bad UTF-8, noise
            const int oversize = 2;
            const int unknownSession = GhostUpdatesPerCycle + GhostToolCallsPerCycle; // the near-limit update comes once, not per cycle
            return (oversize, malformed, unknownSession, UnknownMethodsPerCycle, UnknownResponsesPerCycle,
                oversize + malformed + UnknownMethodsPerCycle + GhostToolCallsPerCycle);
        }
    }

    public long TotalBytes { get; }

    /// <summary>Full cycles produced so far (the counts of <see cref="PerCycle"/> apply to each).</summary>
    public int Cycles { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        while (_current.IsEmpty)
        {
            if (!_chunks.MoveNext())
            {
                return 0;
            }

            _current = _chunks.Current;
        }

        var n = Math.Min(buffer.Length, _current.Length);
        _current.Span[..n].CopyTo(buffer);
        _current = _current[n..];
        _position += n;
        while (_sample is not null && _position >= _nextSample)
        {
            _nextSample += _sampleEvery;
            _sample(_position);
        }

        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private static byte[] Lines(int count, Func<int, string> line) =>
        Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, count).Select(i => line(i) + "\n")));

    private static byte[] GhostToolCalls(int cycle) => Lines(GhostToolCallsPerCycle, i =>
        $$$$"""{"jsonrpc":"2.0","id":"ghost-tool-{{{{cycle}}}}-{{{{i}}}}","method":"_containmentlab/tool","params":{"sessionId":"ghost","toolCallId":"g{{{{cycle}}}}-{{{{i}}}}","name":"desktop.press","arguments":{"target":"OK"}}}""");

    private IEnumerable<ReadOnlyMemory<byte>> Generate()
    {
        // The consumer asks for the next chunk only when it has copied the previous one, so _position is exact here.
        while (_position < TotalBytes)
        {
            yield return s_hugePrefix;
            for (var i = 0; i < HugeLineMiB; i++)
            {
                yield return _letters;
            }

            yield return s_hugeSuffix;
            for (var i = 0; i < HugeNoiseMiB; i++)
            {
                yield return _noiseNoNewline;
            }

            yield return s_newline;
            yield return _openBrackets;
            yield return _openObjects;
            yield return _invalidUtf8;
            yield return _noiseLines;
            yield return _ghostUpdates;
            yield return _unknownMethods;
            yield return _unknownResponses;
            // Each cycle asks for new tool calls: a repeated tool call id would be refused as a replay, not as a ghost.
            yield return GhostToolCalls(Cycles);
            if (Cycles == 0)
            {
                // Once: parsing a line at the limit rents limit-sized buffers that the shared pools keep, per thread. One
                // proves the limit holds; more would only make what stays depend on which threads ran the reader.
                yield return _nearLimit;
            }

            Cycles++;
        }
    }
}
