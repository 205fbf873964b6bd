using System.Text;
using ContainmentLab.Protocol;

namespace ContainmentLab.Tests.Protocol;

[TestFixture]
public sealed class LineReaderTests
{
    private static async Task<List<LineReadResult>> ReadAllAsync(byte[] input, int maxLineBytes, List<string>? texts = null, int chunk = 7)
    {
        using var stream = new ChunkedStream(input, chunk);
        var reader = new LineReader(stream, maxLineBytes);
        var results = new List<LineReadResult>();
        while (true)
        {
            var result = await reader.ReadLineAsync();
            if (result.Status == LineReadStatus.EndOfStream)
            {
                return results;
            }

            texts?.Add(Encoding.UTF8.GetString(result.Line.Span));
            results.Add(result);
        }
    }

    [Test]
    public async Task ReadLineAsync_CrLfAndLf_StripsTerminators()
    {
        var texts = new List<string>();
        var results = await ReadAllAsync("a\r\nbb\nccc\r\n"u8.ToArray(), 100, texts);

        Assert.That(texts, Is.EqualTo(new[] { "a", "bb", "ccc" }));
        Assert.That(results.Select(r => r.LineNumber), Is.EqualTo(new long[] { 1, 2, 3 }));
    }

    [Test]
    public async Task ReadLineAsync_LastLineWithoutNewline_IsReturned()
    {
        var texts = new List<string>();
        await ReadAllAsync("one\ntwo"u8.ToArray(), 100, texts);

        Assert.That(texts, Is.EqualTo(new[] { "one", "two" }));
    }

    [Test]
    public async Task ReadLineAsync_LineOverLimit_IsReportedOversizeAndNextLineStillReads()
    {
        var input = Encoding.ASCII.GetBytes(new string('x', 1000) + "\nok\n");
        var texts = new List<string>();
        var results = await ReadAllAsync(input, 64, texts);

        Assert.That(results.Select(r => r.Status), Is.EqualTo(new[] { LineReadStatus.Oversize, LineReadStatus.Line }));
        Assert.That(results[0].Length, Is.EqualTo(1000));
        Assert.That(results[0].LineNumber, Is.EqualTo(1));
        Assert.That(texts[1], Is.EqualTo("ok"));
        Assert.That(results[1].LineNumber, Is.EqualTo(2));
    }

    [Test]
    public async Task ReadLineAsync_LineExactlyAtLimit_IsAccepted()
    {
        var input = Encoding.ASCII.GetBytes(new string('y', 64) + "\r\n");
        var results = await ReadAllAsync(input, 64);

        Assert.That(results.Single().Status, Is.EqualTo(LineReadStatus.Line));
        Assert.That(results.Single().Length, Is.EqualTo(64));
    }

    [Test]
    public async Task ReadLineAsync_HugeLineWithoutNewline_NeverBuffersMoreThanTheLimit()
    {
        // 8 MiB of noise, no newline, through a 4 KiB limit: the reader must skip it in constant memory.
        var stream = new EndlessStream(8 * 1024 * 1024);
        var reader = new LineReader(stream, 4096);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var result = await reader.ReadLineAsync();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(result.Status, Is.EqualTo(LineReadStatus.Oversize));
        Assert.That(result.Length, Is.EqualTo(8 * 1024 * 1024));
        Assert.That(allocated, Is.LessThan(1024 * 1024), "the reader buffered the oversize line");
    }

    /// <summary>Hands out its bytes a few at a time, as a pipe does.</summary>
    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }

    /// <summary>A stream of 'z' bytes of a given length with no newline, generated on the fly.</summary>
    private sealed class EndlessStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - _position);
            buffer.AsSpan(offset, n).Fill((byte)'z');
            _position += n;
            return n;
        }

        // Synchronous, so every allocation the reader makes happens on the test's thread, where it is counted.
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = (int)Math.Min(buffer.Length, length - _position);
            buffer.Span[..n].Fill((byte)'z');
            _position += n;
            return ValueTask.FromResult(n);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
