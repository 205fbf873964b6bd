using System.Collections.Concurrent;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.FakeAgent;

namespace ContainmentLab.Benchmarks.Support;

/// <summary>
/// A bridge over the fake agent, as a child process (real stdio) or in process (in-memory pipes), on the real clock.
/// It tells when a session's turn is really running: its first tool call was dispatched (or completed).
/// </summary>
internal sealed class AgentHarness : IAsyncDisposable
{
    private static readonly TimeSpan s_setupBound = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, Waiter> _dispatching = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Waiter> _completed = new(StringComparer.Ordinal);
    private readonly string? _scriptPath;
    private readonly string _sandbox = Directory.CreateTempSubdirectory("cl-bench-sandbox-").FullName;

    private AgentHarness(string yaml, bool childProcess, string? auditPath)
    {
        BridgeOptions options;
        if (childProcess)
        {
            _scriptPath = Path.Combine(Path.GetTempPath(), $"cl-bench-{Guid.NewGuid():N}.yaml");
            File.WriteAllText(_scriptPath, yaml);
            options = new BridgeOptions { Command = FakeAgentExecutable.Command("--script", _scriptPath), SandboxRoot = _sandbox, AuditPath = auditPath };
        }
        else
        {
            var script = FakeAgentScript.Parse(yaml, "bench.yaml");
            options = new BridgeOptions
            {
                TransportFactory = () => new StreamTransport((input, output, ct) =>
                    new FakeAgentEngine(script, input, output, TimeProvider.System, TextWriter.Null).RunAsync(ct)),
                SandboxRoot = _sandbox,
                AuditPath = auditPath,
            };
        }

        Bridge = new AcpBridge(options);
        Bridge.Events.Subscribe(OnEvent);
    }

    public AcpBridge Bridge { get; }

    /// <param name="auditPath">Where the bridge writes its audit log; null keeps it in memory.</param>
    public static async Task<AgentHarness> StartAsync(string yaml, bool childProcess, string? auditPath = null)
    {
        var harness = new AgentHarness(yaml, childProcess, auditPath);
        try
        {
            await harness.Bridge.StartAsync().ConfigureAwait(false);
            return harness;
        }
        catch
        {
            // A script the agent rejects must not leave its file, sandbox or process behind.
            await harness.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Opens a session and starts a turn on it; returns once <paramref name="dispatches"/> of its tool calls were
    /// dispatched (or, with <paramref name="completed"/>, completed).
    /// </summary>
    public async Task<(string Session, Task<TurnOutcome> Turn)> StartRunningTurnAsync(int dispatches = 1, bool completed = false)
    {
        var session = await Bridge.NewSessionAsync().ConfigureAwait(false);
        var waiter = new Waiter(dispatches);
        (completed ? _completed : _dispatching)[session] = waiter;
        var turn = Bridge.PromptAsync(session, "go");
        await Task.WhenAny(waiter.Reached.Task, turn).WaitAsync(s_setupBound).ConfigureAwait(false);
        if (turn.IsCompleted)
        {
            throw new InvalidOperationException($"the turn of {session} ended before it was running: {turn.Result}");
        }

        return (session, turn);
    }

    /// <summary>Waits for a turn the benchmark interrupted (or left running) to end; a hang fails the benchmark.</summary>
    public static Task<TurnOutcome> Bounded(Task<TurnOutcome> turn) => turn.WaitAsync(s_setupBound);

    public async ValueTask DisposeAsync()
    {
        await Bridge.DisposeAsync().ConfigureAwait(false);
        if (_scriptPath is not null)
        {
            File.Delete(_scriptPath);
        }

        Directory.Delete(_sandbox, recursive: true);
    }

    private void OnEvent(ContainmentEvent e)
    {
        var waiters = e switch
        {
            ToolDispatched => _dispatching,
            ToolCompleted => _completed,
            _ => null,
        };
        if (waiters is not null && e.SessionId is { } session && waiters.TryGetValue(session, out var waiter) && waiter.Count())
        {
            waiters.TryRemove(session, out _);
        }
    }

    private sealed class Waiter(int target)
    {
        private int _seen;

        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Count()
        {
            if (Interlocked.Increment(ref _seen) < target)
            {
                return false;
            }

            Reached.TrySetResult();
            return true;
        }
    }
}
