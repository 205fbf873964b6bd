using BenchmarkDotNet.Attributes;
using ContainmentLab.Benchmarks.Support;
using ContainmentLab.Bridge;

namespace ContainmentLab.Benchmarks;

/// <summary>
/// Per-session Stop vs Stop-all with 1, 4 and 16 sessions storming over one child agent: Interrupt of one session
/// until its turn is acked (the others storm on), and InterruptAll until every turn is acked.
/// </summary>
[Config(typeof(SingleShotConfig))]
public class SessionScalingBenchmarks
{
    // Interrupted sessions stay in the bridge (never reused): recycle it before InterruptAll walks too many of them.
    private const int RecycleAfterSessions = 160;

    private AgentHarness _harness = null!;
    private StopChecks _checks = null!;
    private string[] _sessions = [];
    private Task<TurnOutcome>[] _turns = [];

    [Params(1, 4, 16)]
    public int Sessions { get; set; }

    [GlobalSetup(Target = nameof(Interrupt_OneSession))]
    public void SetupOne() => Setup(nameof(Interrupt_OneSession));

    [GlobalSetup(Target = nameof(InterruptAll))]
    public void SetupAll() => Setup(nameof(InterruptAll));

    [IterationSetup]
    public void StartStorms()
    {
        var started = Enumerable.Range(0, Sessions).Select(_ => _harness.StartRunningTurnAsync(dispatches: 32)).ToArray();
        Task.WhenAll(started).GetAwaiter().GetResult();
        _sessions = [.. started.Select(s => s.Result.Session)];
        _turns = [.. started.Select(s => s.Result.Turn)];
    }

    [Benchmark]
    public Task<TurnOutcome> Interrupt_OneSession()
    {
        _harness.Bridge.Interrupt(_sessions[0]);
        return _turns[0];
    }

    [Benchmark]
    public Task<TurnOutcome[]> InterruptAll()
    {
        _harness.Bridge.InterruptAll();
        return Task.WhenAll(_turns);
    }

    [IterationCleanup]
    public void StopTheRest()
    {
        // Per-session: the other sessions were left storming; they are stopped here, outside the measurement.
        _harness.Bridge.InterruptAll();
        var outcomes = Task.WhenAll(_turns.Select(AgentHarness.Bounded)).GetAwaiter().GetResult();
        _checks.Check(_harness.Bridge, _sessions, outcomes);
        if (_harness.Bridge.SessionIds.Count >= RecycleAfterSessions)
        {
            _harness.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _harness = AgentHarness.StartAsync(Scripts.EndlessStorm, childProcess: true).GetAwaiter().GetResult();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _checks.Publish();
        _harness.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private void Setup(string method)
    {
        _harness = AgentHarness.StartAsync(Scripts.EndlessStorm, childProcess: true).GetAwaiter().GetResult();
        _checks = new StopChecks(BenchMetrics.Key(nameof(SessionScalingBenchmarks), method, $"Sessions={Sessions}"));
    }
}
