using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.FakeAgent;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// Fake time and real writes: the write-stall timer runs from the start of a write to its return, so time moved while a
/// write that has already delivered its bytes is still returning (its thread descheduled on a loaded machine) reads as a
/// stalled pipe. The tests' clock therefore moves only when the bridge's writer is idle (<see cref="QuiescentTimeProvider"/>).
/// </summary>
[TestFixture]
[CancelAfter(30_000)]
public sealed class VirtualTimeWriteTests
{
    private const string Script = """
        prompts:
          - steps:
              - agent_tool: { title: Deploy, kind: execute, duration: 10m, heartbeat: 30s }
              - end: end_turn
        """;

    [Test]
    public async Task TimeMovedWhileTheWriteReturns_DeclaresTheAgentWedged()
    {
        using var held = new ManualResetEventSlim();
        await using var lab = await StartAsync(held);
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "deploy");
        await Until.TrueAsync(() => lab.Bridge.ActiveWatches == 1, "the agent got the prompt (its tool is watched)");

        // The prompt's bytes are delivered, and its write has not returned: to the stall timer, that write is stuck.
        Assert.That(lab.Bridge.IsAgentWriterIdle, Is.False);
        lab.Time.AdvanceDuringWrite(TimeSpan.FromSeconds(30));
        held.Set();

        Assert.That(lab.Of<AgentWedged>(), Has.Count.EqualTo(1));
        Assert.That((await turn.OrTimeout()).End, Is.EqualTo(TurnEnd.AgentExited));
    }

    [Test]
    public async Task Advance_WaitsUntilTheWriteReturned_SoNothingReadsAsStalled()
    {
        using var held = new ManualResetEventSlim();
        await using var lab = await StartAsync(held);
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "deploy");
        await Until.TrueAsync(() => lab.Bridge.ActiveWatches == 1, "the agent got the prompt (its tool is watched)");

        // The write returns a moment later, on its own thread; Advance waits for it, whenever that is.
        _ = Task.Run(async () =>
        {
            await Task.Delay(200);
            held.Set();
        });
        for (var beat = 1; beat <= 20; beat++)
        {
            var before = lab.Tap.ReceivedLines;
            lab.Time.Advance(TimeSpan.FromSeconds(30));
            await Until.TrueAsync(() => lab.Tap.ReceivedLines > before, $"heartbeat {beat} (or the tool's end)");
        }

        Assert.That((await turn.OrTimeout()).End, Is.EqualTo(TurnEnd.Completed));
        Assert.That(lab.Of<AgentWedged>(), Is.Empty);
    }

    /// <summary>The bridge's first prompt line reaches the agent, then its write holds until <paramref name="held"/> is set.</summary>
    private static Task<InProcessBridge> StartAsync(ManualResetEventSlim held) =>
        InProcessBridge.StartAsync(Script, o => InProcessBridge.With(o, watchdog: new WatchdogOptions(), transport: inner => new HeldAfterPromptTransport(inner, held)));

    private sealed class HeldAfterPromptTransport(IAgentTransport inner, ManualResetEventSlim held) : IAgentTransport
    {
        public Stream Output => inner.Output;

        public Stream Input { get; } = new HeldAfterPrompt(inner.Input, held);

        public int? ProcessId => inner.ProcessId;

        public string Description => inner.Description;

        public string StderrTail => inner.StderrTail;

        public Task<AgentExit> Exited => inner.Exited;

        public Task<AgentExit> ExitAfterOutputClosedAsync(TimeProvider timeProvider) => inner.ExitAfterOutputClosedAsync(timeProvider);

        public void Kill() => inner.Kill();

        public Task StopAsync(TimeSpan grace, TimeProvider timeProvider, CancellationToken cancellationToken = default) => inner.StopAsync(grace, timeProvider, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>Writes through at once; the write of the first <c>session/prompt</c> line returns only when released.</summary>
    private sealed class HeldAfterPrompt(Stream inner, ManualResetEventSlim held) : Stream
    {
        private int _promptsSeen;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            if (buffer.Span.IndexOf("\"session/prompt\""u8) >= 0 && Interlocked.Increment(ref _promptsSeen) == 1)
            {
                // Delivered, not yet returned: the writer's thread is "descheduled" here.
                held.Wait(cancellationToken);
            }
        }
    }
}
