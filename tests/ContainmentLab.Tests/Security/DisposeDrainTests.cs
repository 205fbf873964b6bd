using System.Text;
using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Protocol;
using ContainmentLab.Scenarios.Evidence;
using ContainmentLab.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Security;

/// <summary>
/// G8 at shutdown: the agent dies while a host tool runs; the tool is cancelled but takes a moment to finish. When
/// <see cref="AcpBridge.DisposeAsync"/> returns, that call has its terminal audit record — the host closes its audit
/// log next, and a record written after it would be lost from the file. Found by the fuzzer (about 1 case in 10,000
/// ended "dispatched, never ended" with a watchdog timer still running).
/// </summary>
[TestFixture]
[Category("G8")]
[Category("G9")]
public sealed class DisposeDrainTests
{
    [Test]
    [CancelAfter(20_000)]
    public async Task DisposeAsync_AgentDiedWhileAToolFinishes_TheToolsTerminalRecordIsWrittenFirst(CancellationToken cancellationToken)
    {
        var (bridge, tool, clock) = DyingAgentBridge();
        await bridge.StartAsync(cancellationToken);
        var session = await bridge.NewSessionAsync(cancellationToken: cancellationToken);

        var outcome = await bridge.PromptAsync(session, "go", cancellationToken).OrTimeout(10);
        Assert.That(outcome.End, Is.EqualTo(TurnEnd.AgentExited));
        Assert.That(tool.Finished.IsCompleted, Is.False, "the tool is still finishing when the host shuts down");

        await bridge.DisposeAsync().AsTask().OrTimeout(10);

        var audit = bridge.Audit.Snapshot();
        Assert.That(AuditChecks.ExactlyOneTerminalRecord(audit), Is.Empty);
        Assert.That(audit.Select(r => r.Kind), Does.Contain(AuditKind.Canceled));
        Assert.That(WatchdogTimers(clock), Is.Zero, "no watchdog timer outlives its tool (the bridge's clock, not the watchdog's counter)");
    }

    /// <summary>
    /// The same death without the host shutting down: once the cancelled tool has finished, its timer is gone from the
    /// bridge's clock — by the tool's own end, not by the disposal that ends every timer anyway (and would hide a leak).
    /// </summary>
    [Test]
    [CancelAfter(20_000)]
    public async Task AgentDiedWhileAToolFinishes_OnceTheToolEnds_ItsTimerIsGoneBeforeAnyDisposal(CancellationToken cancellationToken)
    {
        var (bridge, tool, clock) = DyingAgentBridge();
        try
        {
            await bridge.StartAsync(cancellationToken);
            var session = await bridge.NewSessionAsync(cancellationToken: cancellationToken);
            await bridge.PromptAsync(session, "go", cancellationToken).OrTimeout(10);
            Assert.That(WatchdogTimers(clock), Is.EqualTo(1), "the tool still runs, watched");

            await tool.Finished.OrTimeout(10);
            await Until.TrueAsync(() => WatchdogTimers(clock) == 0, "the finished tool's watchdog timer to go (a leaked one never does)", 10_000);

            Assert.That(bridge.Audit.Snapshot().Select(r => r.Kind), Does.Contain(AuditKind.Canceled));
        }
        finally
        {
            await bridge.DisposeAsync().AsTask().OrTimeout(10);
        }
    }

    /// <summary>A bridge on a counting fake clock whose agent asks for the slow tool and dies while it runs.</summary>
    private static (AcpBridge Bridge, SlowToFinishTool Tool, CountingTimeProvider Clock) DyingAgentBridge()
    {
        var tool = new SlowToFinishTool();
        var clock = new CountingTimeProvider(new FakeTimeProvider());
        var bridge = new AcpBridge(new BridgeOptions
        {
            TimeProvider = clock,
            SandboxRoot = Directory.CreateTempSubdirectory("cl-dispose-drain-").FullName,
            Tools = (sandbox, desktop, http) => HostToolRegistry.CreateDefault(sandbox, desktop, http).Add(tool),
            TransportFactory = () => new StreamTransport((input, output, ct) => DyingAgentAsync(input, output, tool.Started, ct)),
        });
        return (bridge, tool, clock);
    }

    private static int WatchdogTimers(CountingTimeProvider clock) => clock.Armed().Count(o => o.StartsWith("ContainmentLab.Bridge.Watchdog", StringComparison.Ordinal));

    /// <summary>Answers the handshake, asks for the slow tool, and closes its stdout once the tool runs.</summary>
    private static async Task DyingAgentAsync(Stream input, Stream output, Task toolStarted, CancellationToken cancellationToken)
    {
        var reader = new LineReader(input);
        var parser = new MessageParser();
        while (await reader.ReadLineAsync(cancellationToken) is { Status: LineReadStatus.Line } read)
        {
            var message = parser.Parse(read.Line, read.LineNumber).Message!;
            var answer = message.Method switch
            {
                AcpMethods.Initialize => $$$"""{"jsonrpc":"2.0","id":{{{message.Id}}},"result":{"protocolVersion":1}}""",
                AcpMethods.SessionNew => $$$"""{"jsonrpc":"2.0","id":{{{message.Id}}},"result":{"sessionId":"s1"}}""",
                AcpMethods.SessionPrompt => """{"jsonrpc":"2.0","id":0,"method":"_containmentlab/tool","params":{"sessionId":"s1","toolCallId":"t1","name":"slow.finish","arguments":{}}}""",
                _ => null,
            };
            if (answer is null)
            {
                continue;
            }

            await output.WriteAsync(Encoding.UTF8.GetBytes(answer + "\n"), cancellationToken);
            await output.FlushAsync(cancellationToken);
            if (message.Method == AcpMethods.SessionPrompt)
            {
                await toolStarted.WaitAsync(cancellationToken);
                await output.DisposeAsync();
                return;
            }
        }
    }

    /// <summary>Honours its cancellation, but only after finishing what it was doing (a quarter of a second, real time).</summary>
    private sealed class SlowToFinishTool : HostTool
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Started => _started.Task;

        public Task Finished => _finished.Task;

        public override string Name => "slow.finish";

        public override ToolClass Classify(JsonElement arguments) => ToolClass.ReadOnly;

        public override async ValueTask<JsonElement> InvokeAsync(ToolInvocation call, CancellationToken cancellationToken)
        {
            _started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                await Task.Delay(250, CancellationToken.None);
                _finished.TrySetResult();
                throw;
            }

            return default;
        }
    }
}
