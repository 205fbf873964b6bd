using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.FakeAgent;
using Microsoft.Extensions.Time.Testing;

namespace ContainmentLab.Tests.Support;

/// <summary>A bridge driving the fake agent's engine in-process over pipes, on a fake clock; records events and wire lines.</summary>
internal sealed class InProcessBridge : IAsyncDisposable
{
    private static readonly string s_sandbox = Directory.CreateTempSubdirectory("cl-bridge-tests-").FullName;
    private static readonly HttpClient s_http = new();

    private InProcessBridge(FakeAgentScript script, Func<BridgeOptions, BridgeOptions>? configure)
    {
        var options = new BridgeOptions
        {
            TimeProvider = Time,
            SandboxRoot = s_sandbox,
            HttpClient = s_http,
            WireTap = Tap,
            TransportFactory = () => new StreamTransport((input, output, ct) =>
            {
                Engine = new FakeAgentEngine(script, input, output, Time, AgentLog);
                return Engine.RunAsync(ct);
            }),
        };
        Bridge = new AcpBridge(configure?.Invoke(options) ?? options);
        Bridge.Events.Subscribe(Events.Enqueue);
        Time.IsQuiet = () => Bridge.IsAgentWriterIdle;
    }

    /// <summary>The fake clock of the bridge and the agent; its <c>Advance</c> waits until the bridge's writer is idle.</summary>
    public QuiescentTimeProvider Time { get; } = new();

    public AcpBridge Bridge { get; }

    public FakeAgentEngine Engine { get; private set; } = null!;

    public ConcurrentQueue<ContainmentEvent> Events { get; } = new();

    public RecordingTap Tap { get; } = new();

    public StringWriter AgentLog { get; } = new();

    public static async Task<InProcessBridge> StartAsync(string yaml, Func<BridgeOptions, BridgeOptions>? configure = null)
    {
        var harness = new InProcessBridge(FakeAgentScript.Parse(yaml, "test.yaml"), configure);
        await harness.Bridge.StartAsync();
        return harness;
    }

    public IReadOnlyList<T> Of<T>() where T : ContainmentEvent => [.. Events.OfType<T>()];

    public int Dispatched(string sessionId) => Events.Count(e => e is ToolDispatched d && d.SessionId == sessionId);

    public IReadOnlyList<AuditRecord> Audit => Bridge.Audit.Snapshot();

    public async ValueTask DisposeAsync()
    {
        await Bridge.DisposeAsync();
        await AgentLog.DisposeAsync();
    }

    /// <summary>Builds a fresh <see cref="BridgeOptions"/> from <paramref name="o"/> with a few members changed (init-only).</summary>
    public static BridgeOptions With(
        BridgeOptions o,
        TimeSpan? ackTimeout = null,
        PolicySet? policies = null,
        Func<ConfirmRequest, CancellationToken, ValueTask<bool>>? confirm = null,
        Func<Sandbox, VirtualDesktop, HttpClient, HostToolRegistry>? tools = null,
        WatchdogOptions? watchdog = null,
        TimeSpan? writeStallTimeout = null,
        string? sandboxRoot = null,
        Func<IAgentTransport, IAgentTransport>? transport = null) => new()
    {
        TimeProvider = o.TimeProvider,
        SandboxRoot = sandboxRoot ?? o.SandboxRoot,
        HttpClient = o.HttpClient,
        WireTap = o.WireTap,
        TransportFactory = transport is null || o.TransportFactory is not { } factory ? o.TransportFactory : () => transport(factory()),
        Command = o.Command,
        AckTimeout = ackTimeout ?? o.AckTimeout,
        Policies = policies ?? o.Policies,
        ConfirmAsync = confirm ?? o.ConfirmAsync,
        Tools = tools ?? o.Tools,
        Watchdog = watchdog ?? o.Watchdog,
        WriteStallTimeout = writeStallTimeout ?? o.WriteStallTimeout,
    };
}

/// <summary>
/// A fake clock that moves only at a quiet moment of the bridge: no line queued for the agent and none being written.
/// Time moved while a write that has delivered its bytes is still returning (its thread descheduled on a busy machine)
/// fires the write-stall timer, and the agent is declared wedged although nothing stalled. Only the wedged-pipe tests,
/// whose writes are stuck on purpose, move time mid-write (<see cref="AdvanceDuringWrite"/>).
/// </summary>
internal sealed class QuiescentTimeProvider : FakeTimeProvider
{
    private static readonly TimeSpan s_quietBound = TimeSpan.FromSeconds(20);

    public Func<bool> IsQuiet { get; set; } = static () => true;

    /// <summary>Waits (bounded, failing loudly) until the bridge's writer is idle, then moves time on.</summary>
    public new void Advance(TimeSpan delta)
    {
        if (!SpinWait.SpinUntil(IsQuiet, s_quietBound))
        {
            Assert.Fail($"the bridge's writer was still busy after {s_quietBound.TotalSeconds:0} s: time was not moved");
        }

        base.Advance(delta);
    }

    /// <summary>Moves time on whatever the writer is doing: for a write that is stuck on purpose.</summary>
    public void AdvanceDuringWrite(TimeSpan delta) => base.Advance(delta);
}

/// <summary>Keeps the error responses the bridge sent, by request id, so a test can check every refusal was answered.</summary>
internal sealed class RecordingTap : IWireTap
{
    private readonly ConcurrentDictionary<string, int> _errorResponses = new(StringComparer.Ordinal);
    private long _sent;
    private long _received;

    public long SentLines => Interlocked.Read(ref _sent);

    public long ReceivedLines => Interlocked.Read(ref _received);

    public bool AnsweredWithError(string requestId) => _errorResponses.ContainsKey(requestId);

    public void Received(long lineNumber, ReadOnlySpan<byte> line) => Interlocked.Increment(ref _received);

    public void Sent(ReadOnlySpan<byte> line)
    {
        Interlocked.Increment(ref _sent);

        // Cheap check first: only error responses matter here.
        if (line.IndexOf("\"error\":"u8) < 0)
        {
            return;
        }

        var message = new ContainmentLab.Protocol.MessageParser().Parse(line[..^1].ToArray(), 0).Message;
        if (message is { Kind: ContainmentLab.Protocol.MessageKind.Response, Id: { } id, Error: not null })
        {
            _errorResponses.TryAdd(id.ToString(), 0);
        }
    }
}
