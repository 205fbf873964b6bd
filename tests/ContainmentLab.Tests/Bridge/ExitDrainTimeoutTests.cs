using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Bridge;

/// <summary>
/// The drain bound of the death watch, on fake time: an agent that exited while its output stays open and never ends
/// (a descendant holds it; or a platform where the pipe cannot be probed) has its reader stopped after
/// <see cref="BridgeOptions.ExitDrainTimeout"/>, never later, and the turn ends <c>AgentExited</c>.
/// </summary>
[TestFixture]
[Category("G5")]
public sealed class ExitDrainTimeoutTests
{
    private const string CrashInTurn = """
        prompts:
          - steps:
              - say: "about to die"
              - crash: { exit_code: 3 }
        """;

    [Test]
    [CancelAfter(30_000)]
    public async Task AgentExited_OutputNeverEnds_ReadingStopsAtTheBound_NotBefore()
    {
        await using var lab = await InProcessBridge.StartAsync(CrashInTurn, o => new BridgeOptions
        {
            TimeProvider = o.TimeProvider,
            SandboxRoot = o.SandboxRoot,
            HttpClient = o.HttpClient,
            WireTap = o.WireTap,
            ExitDrainTimeout = TimeSpan.FromSeconds(1),
            Restart = new RestartOptions { Budget = 0 },
            TransportFactory = () => new EndlessOutput(o.TransportFactory!()),
        });
        var session = await lab.Bridge.NewSessionAsync();
        var turn = lab.Bridge.PromptAsync(session, "die");
        var transport = EndlessOutput.Last!;
        await transport.Inner.Exited.OrTimeout();
        await Until.TrueAsync(() => transport.InnerEnded, "everything the agent wrote was read");

        // The watcher's drain timer may not be armed yet: step time forward in small slices until just before the bound.
        for (var i = 0; i < 9; i++)
        {
            lab.Time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
        }

        Assert.That(turn.IsCompleted, Is.False, "not before the bound");
        await Until.TrueAsync(() => { lab.Time.Advance(TimeSpan.FromMilliseconds(100)); return turn.IsCompleted; }, "the turn ends at the bound");

        var outcome = await turn;
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited));
        Assert.That(outcome.Reason, Does.Contain("still open and delivering 1 s later"));
        Assert.That(lab.Of<AgentExited>(), Has.Count.EqualTo(1));
        await Until.TrueAsync(() => transport.ReaderStopped, "the reader was stopped");
    }

    /// <summary>An agent's transport whose output never ends after the agent's own output did (a descendant holds it).</summary>
    private sealed class EndlessOutput : IAgentTransport
    {
        private readonly HeldOpen _output;

        public EndlessOutput(IAgentTransport inner)
        {
            Inner = inner;
            _output = new HeldOpen(inner.Output);
            Last = this;
        }

        public static EndlessOutput? Last { get; private set; }

        public IAgentTransport Inner { get; }

        public bool InnerEnded => _output.InnerEnded;

        public bool ReaderStopped => _output.Stopped;

        public Stream Output => _output;

        public Stream Input => Inner.Input;

        public int? ProcessId => null;

        public string Description => "in-process agent whose output is held open";

        public string StderrTail => string.Empty;

        public Task<AgentExit> Exited => Inner.Exited;

        public Task<AgentExit> ExitAfterOutputClosedAsync(TimeProvider timeProvider) => Inner.ExitAfterOutputClosedAsync(timeProvider);

        public void Kill() => Inner.Kill();

        public Task StopAsync(TimeSpan grace, TimeProvider timeProvider, CancellationToken cancellationToken = default) => Inner.StopAsync(grace, timeProvider, cancellationToken);

        public ValueTask DisposeAsync() => Inner.DisposeAsync();
    }

    private sealed class HeldOpen(Stream inner) : Stream
    {
        private volatile bool _innerEnded;
        private volatile bool _stopped;

        public bool InnerEnded => _innerEnded;

        public bool Stopped => _stopped;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_innerEnded)
            {
                var read = await inner.ReadAsync(buffer, cancellationToken);
                if (read > 0)
                {
                    return read;
                }

                _innerEnded = true;
            }

            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            finally
            {
                _stopped = true;
            }

            return 0;
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
