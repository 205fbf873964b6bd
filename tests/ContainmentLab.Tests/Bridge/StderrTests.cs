using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// stderr is read in bounded chunks (hole 5, G9): what the agent writes reaches the tail as it comes, a newline or not;
/// no line handed on is longer than the cap; and a gigabyte without a newline is held in fixed buffers, not whole.
/// </summary>
[TestFixture]
[Category("G9")]
public sealed class StderrTests
{
    [Test]
    [Category("Process")]
    [CancelAfter(30_000)]
    public async Task TextWithoutANewline_ReachesTheTailAsItComes()
    {
        await using var agent = AgentProcess.Start(new AgentCommand("/bin/sh", ["-c", "printf 'no newline yet' >&2; exec sleep 30"]));
        var pid = agent.ProcessId!.Value;
        try
        {
            // A line reader holds the text until a newline that never comes.
            await Until.TrueAsync(() => agent.StderrTail.Contains("no newline yet", StringComparison.Ordinal), "the unterminated text in the tail", 10_000);
        }
        finally
        {
            agent.Kill();
            await agent.DisposeAsync();
            await ChildAgent.AssertGoneAsync(pid);
        }
    }

    [Test]
    [Category("Process")]
    [CancelAfter(30_000)]
    public async Task OneMegabyteLine_HandedOnInPiecesOfAtMostTheCap_TailKeepsTheEnd()
    {
        var lines = new ConcurrentQueue<string>();
        await using var agent = AgentProcess.Start(
            new AgentCommand("/bin/sh", ["-c", "head -c 1048576 /dev/zero | tr '\\000' x >&2; printf '\\nthe end\\n' >&2"]),
            lines.Enqueue);
        var pid = agent.ProcessId!.Value;

        var exit = await agent.Exited.OrTimeout();

        Assert.That(exit.ExitCode, Is.Zero);
        await Until.TrueAsync(() => lines.Contains("the end"), "the last line");
        Assert.That(lines.Max(l => l.Length), Is.LessThanOrEqualTo(StderrReader.MaxLineChars), "no line handed on is longer than the cap");
        Assert.That(lines.Where(l => l != "the end").Sum(l => l.Length), Is.EqualTo(1_048_576), "nothing lost: the long line came in pieces");
        Assert.That(lines.Where(l => l != "the end").All(l => l.All(c => c == 'x')), Is.True);
        Assert.That(agent.StderrTail, Does.EndWith("x\nthe end\n"));
        Assert.That(agent.StderrTail, Has.Length.LessThanOrEqualTo(8 * 1024));
        await ChildAgent.AssertGoneAsync(pid);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task OneGigabyteWithoutANewline_IsReadInFixedBuffers()
    {
        const long Size = 1L << 30;
        var tail = new StderrTail();
        var stream = new Endless(Size);

        // The stream completes every read at once, so the whole read runs on this thread: what it allocates is measured.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var reading = StderrReader.ReadAsync(stream, tail, onLine: null);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        await reading;

        Assert.That(stream.Delivered, Is.EqualTo(Size));
        Assert.That(allocated, Is.LessThan(256 * 1024), "a gigabyte without a newline allocates only the reader's fixed buffers");
        Assert.That(tail.ToString(), Has.Length.EqualTo(tail.Capacity));
    }

    [Test]
    public void Tail_KeepsTheLastCharactersAcrossTheRingsEnd()
    {
        var tail = new StderrTail(8);

        tail.Append("abc");
        tail.AppendText("defgh");
        tail.AppendText("ij");

        Assert.That(tail.ToString(), Is.EqualTo("\ndefghij"));
        tail.AppendText("0123456789");
        Assert.That(tail.ToString(), Is.EqualTo("23456789"));
    }

    /// <summary>'x' bytes, <paramref name="size"/> of them, then end of stream; every read completes synchronously.</summary>
    private sealed class Endless(long size) : Stream
    {
        public long Delivered { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => size;

        public override long Position { get => Delivered; set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var count = (int)Math.Min(buffer.Length, size - Delivered);
            buffer.Span[..count].Fill((byte)'x');
            Delivered += count;
            return ValueTask.FromResult(count);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
