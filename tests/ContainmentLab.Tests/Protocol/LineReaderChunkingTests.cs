using System.Globalization;
using System.Text;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.Protocol;

/// <summary>
/// G9, "every complete line the agent wrote is read": the reader's output must not depend on how the pipe splits the
/// stream. Many random mixes of short, at-the-cap and oversize lines (with and without CR, the last one with or without
/// its newline) go through many chunkings — one byte at a time, at every newline and on either side of it, around the
/// cap and the buffer's sizes, at random — and every line must come out byte-exact, in order, with its line number,
/// and every oversize line with its length and head. Fixed seeds: a failure names the case that reproduces it.
/// </summary>
[TestFixture]
[Category("G9")]
public sealed class LineReaderChunkingTests
{
    // The caps sit on the reader's own edges: 1 byte, under, at and over its first buffer (16 KiB) and its head (4 KiB).
    private static readonly int[] s_caps = [1, 2, 3, 5, 17, 100, 4095, 4096, 4097, 16 * 1024 - 3, 16 * 1024 - 2, 16 * 1024, 16 * 1024 + 1, 40_000];

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var cap in s_caps)
        {
            foreach (var chunking in Enum.GetValues<Chunking>())
            {
                yield return new TestCaseData(cap, chunking).SetName($"ReadLineAsync_Cap{cap}_{chunking}_EveryLineExactAfterAnyOversize");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    [CancelAfter(60_000)]
    public async Task ReadLineAsync_ManyStreamsAndChunkings_EveryLineComesOutExact(int cap, Chunking chunking, CancellationToken cancellationToken)
    {
        var seeds = cap > 10_000 ? 12 : 40;
        for (var seed = 0; seed < seeds; seed++)
        {
            var random = new Random(HashCode.Combine(cap, (int)chunking, seed) & int.MaxValue);
            var lines = WireLine.RandomMix(random, cap);
            var bytes = WireLine.Encode(lines);
            var chunks = Chunks(chunking, bytes, cap, random);
            var where = $"cap {cap}, {chunking}, seed {seed}, {lines.Count} lines, {bytes.Length} bytes";
            await AssertReadsExactlyAsync(lines, bytes, chunks, cap, where, cancellationToken);
        }
    }

    /// <summary>
    /// The report from outside: a 64 MiB line, then a request in the same write. With the default cap, delivered as a
    /// pipe does (64 KiB reads), and as the next line's bytes trail the newline by one byte, by a whole read, or not at all.
    /// </summary>
    [TestCase(65_536)]
    [TestCase(65_535)]
    [TestCase(4 * 1024 * 1024)]
    [TestCase((4 * 1024 * 1024) + 3)]
    [CancelAfter(60_000)]
    public async Task ReadLineAsync_SixtyFourMiBLineThenRequest_RequestIsReadWhole(int readSize, CancellationToken cancellationToken)
    {
        const int huge = 64 * 1024 * 1024;
        var request = """{"jsonrpc":"2.0","id":7,"method":"fs/write_text_file","params":{"sessionId":"s","path":"/tmp/a","content":"after"}}"""u8.ToArray();
        var stream = new ConcatStream(readSize, new FilledSegment(huge, (byte)'x'), new BytesSegment([(byte)'\n', .. request, (byte)'\n']));
        var reader = new LineReader(stream);

        var first = await reader.ReadLineAsync(cancellationToken);
        var second = await reader.ReadLineAsync(cancellationToken);

        Assert.That((first.Status, first.LineNumber, first.Length), Is.EqualTo((LineReadStatus.Oversize, 1L, (long)huge)));
        Assert.That((second.Status, second.LineNumber), Is.EqualTo((LineReadStatus.Line, 2L)));
        Assert.That(Encoding.UTF8.GetString(second.Line.Span), Is.EqualTo(Encoding.UTF8.GetString(request)));
        Assert.That((await reader.ReadLineAsync(cancellationToken)).Status, Is.EqualTo(LineReadStatus.EndOfStream));
    }

    private static async Task AssertReadsExactlyAsync(List<WireLine> lines, byte[] bytes, List<int> chunks, int cap, string where, CancellationToken cancellationToken)
    {
        var stream = new ScriptedStream(bytes, chunks);
        var reader = new LineReader(stream, cap);
        for (var i = 0; i < lines.Count; i++)
        {
            var expected = lines[i];
            var read = await reader.ReadLineAsync(cancellationToken);
            var at = $"{where}: line {i + 1} ({expected})";
            Assert.That(read.LineNumber, Is.EqualTo(i + 1), at);
            if (expected.Content.Length <= cap)
            {
                Assert.That(read.Status, Is.EqualTo(LineReadStatus.Line), at);
                Assert.That(read.Line.Span.SequenceEqual(expected.Content), Is.True, $"{at}: read {read.Line.Length} bytes, not the line written");
                Assert.That(read.Length, Is.EqualTo(expected.Content.Length), at);
            }
            else
            {
                Assert.That(read.Status, Is.EqualTo(LineReadStatus.Oversize), at);
                Assert.That(read.Length, Is.EqualTo(expected.Content.Length), $"{at}: the oversize line's length, without its terminator");
                var head = expected.Content.AsSpan(0, Math.Min(LineReader.HeadBytes, expected.Content.Length));
                Assert.That(read.Head.Span.SequenceEqual(head), Is.True, $"{at}: the head is the line's first bytes ({read.Head.Length} read)");
            }

            Assert.That(reader.BufferCapacity, Is.LessThanOrEqualTo(cap + 2), $"{at}: the reader holds no more than the cap (and a terminator)");
        }

        var end = await reader.ReadLineAsync(cancellationToken);
        Assert.That(end.Status, Is.EqualTo(LineReadStatus.EndOfStream), $"{where}: nothing after the last line");
        Assert.That(stream.Remaining, Is.Zero, where);
    }

    public enum Chunking
    {
        OneByte,
        AtEveryNewline,
        JustBeforeEveryNewline,
        JustAfterEveryNewline,
        AroundTheCap,
        Random,
    }

    private static List<int> Chunks(Chunking chunking, byte[] bytes, int cap, Random random)
    {
        var sizes = new List<int>();
        switch (chunking)
        {
            case Chunking.OneByte:
                sizes.AddRange(Enumerable.Repeat(1, bytes.Length));
                return sizes;
            case Chunking.AtEveryNewline or Chunking.JustBeforeEveryNewline or Chunking.JustAfterEveryNewline:
            {
                // Cut at the newline itself, one byte before it (the CR) or one byte after it (the next line's first byte).
                var shift = chunking switch { Chunking.JustBeforeEveryNewline => 0, Chunking.AtEveryNewline => 1, _ => 2 };
                var last = 0;
                for (var i = 0; i < bytes.Length; i++)
                {
                    if (bytes[i] == (byte)'\n' && i + shift > last && i + shift <= bytes.Length)
                    {
                        sizes.Add(i + shift - last);
                        last = i + shift;
                    }
                }

                if (last < bytes.Length)
                {
                    sizes.Add(bytes.Length - last);
                }

                return sizes;
            }

            case Chunking.AroundTheCap:
            {
                int[] near = [cap - 1, cap, cap + 1, cap + 2, cap + 3, 16 * 1024, (16 * 1024) + 1, 2 * cap, 1];
                for (var total = 0; total < bytes.Length;)
                {
                    var size = Math.Clamp(near[random.Next(near.Length)], 1, bytes.Length - total);
                    sizes.Add(size);
                    total += size;
                }

                return sizes;
            }

            default:
                for (var total = 0; total < bytes.Length;)
                {
                    var size = random.Next(4) switch { 0 => 1, 1 => random.Next(1, 8), 2 => random.Next(1, cap + 8), _ => random.Next(1, (3 * cap) + 64) };
                    size = Math.Min(size, bytes.Length - total);
                    sizes.Add(size);
                    total += size;
                }

                return sizes;
        }
    }

    /// <summary>One line as written: its content (no LF in it), whether a CR precedes its LF, whether it has an LF at all.</summary>
    private sealed record WireLine(byte[] Content, bool Cr, bool Lf)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Content.Length} bytes{(Cr ? ", CRLF" : Lf ? ", LF" : ", no newline")}");

        /// <summary>Short lines, empty ones, lines just under, at and over the cap, and lines many times the cap, in runs.</summary>
        public static List<WireLine> RandomMix(Random random, int cap)
        {
            var count = random.Next(1, 24);
            var lines = new List<WireLine>(count);
            for (var i = 0; i < count; i++)
            {
                var length = random.Next(9) switch
                {
                    0 => 0,
                    1 => random.Next(0, Math.Min(cap, 40) + 1),
                    2 => Math.Max(0, cap - random.Next(0, 3)),
                    3 => cap,
                    4 => cap + 1,
                    5 => cap + 2,
                    6 => cap + random.Next(1, cap + 8),
                    7 => (cap * random.Next(2, 6)) + random.Next(0, 5),
                    _ => random.Next(0, cap + 1),
                };
                var content = new byte[length];
                random.NextBytes(content);
                for (var b = 0; b < content.Length; b++)
                {
                    if (content[b] == (byte)'\n')
                    {
                        content[b] = (byte)'n';
                    }
                }

                // A CR that ends the content would be read as the CR of a CRLF: not a line anyone can write unambiguously.
                if (content.Length > 0 && content[^1] == (byte)'\r')
                {
                    content[^1] = (byte)'r';
                }

                var lf = i < count - 1 || random.Next(3) > 0;

                // A line with neither CR nor LF at the end of the stream must have bytes to be a line at all.
                if (!lf && content.Length == 0)
                {
                    lf = true;
                }

                lines.Add(new WireLine(content, lf && random.Next(3) == 0, lf));
            }

            return lines;
        }

        public static byte[] Encode(List<WireLine> lines)
        {
            using var bytes = new MemoryStream();
            foreach (var line in lines)
            {
                bytes.Write(line.Content);
                if (line.Cr)
                {
                    bytes.WriteByte((byte)'\r');
                }

                if (line.Lf)
                {
                    bytes.WriteByte((byte)'\n');
                }
            }

            return bytes.ToArray();
        }
    }

    /// <summary>Hands out its bytes in exactly the given chunk sizes (less only when the reader asks for less), as a pipe might.</summary>
    private sealed class ScriptedStream(byte[] data, List<int> chunks) : Stream
    {
        private int _position;
        private int _chunk;
        private int _leftInChunk = chunks.Count > 0 ? chunks[0] : 0;

        public int Remaining => data.Length - _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => data.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_leftInChunk == 0 && _chunk < chunks.Count - 1)
            {
                _leftInChunk = chunks[++_chunk];
            }

            var n = Math.Min(Math.Min(buffer.Length, _leftInChunk), Remaining);
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            _leftInChunk -= n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private abstract class Segment
    {
        public abstract long Length { get; }

        public abstract void CopyTo(long offset, Span<byte> destination);
    }

    private sealed class FilledSegment(long length, byte value) : Segment
    {
        public override long Length => length;

        public override void CopyTo(long offset, Span<byte> destination) => destination.Fill(value);
    }

    private sealed class BytesSegment(byte[] bytes) : Segment
    {
        public override long Length => bytes.Length;

        public override void CopyTo(long offset, Span<byte> destination) => bytes.AsSpan((int)offset, destination.Length).CopyTo(destination);
    }

    /// <summary>Segments generated on the fly (a 64 MiB line costs nothing), handed out at most <c>readSize</c> bytes a read, across segment ends.</summary>
    private sealed class ConcatStream(int readSize, params Segment[] segments) : Stream
    {
        private int _segment;
        private long _offset;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            buffer = buffer[..Math.Min(buffer.Length, readSize)];
            var total = 0;
            while (total < buffer.Length && _segment < segments.Length)
            {
                var segment = segments[_segment];
                var n = (int)Math.Min(buffer.Length - total, segment.Length - _offset);
                segment.CopyTo(_offset, buffer.Slice(total, n));
                total += n;
                _offset += n;
                if (_offset == segment.Length)
                {
                    _segment++;
                    _offset = 0;
                }
            }

            return total;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
