using ContainmentLab.Bridge;
using ContainmentLab.Sweep;

namespace ContainmentLab.Scenarios;

/// <summary>
/// The host process of a <c>kill_host</c> fixture: a bridge with its agent, one session and a running turn, in a
/// process of its own, so the runner can SIGKILL it the way a user's desktop app dies (force-quit, crash) and then
/// check that the orphan sweep leaves nothing of it (G7). Arguments:
/// <c>--runtime-dir DIR --sandbox DIR -- AGENT ARGS…</c>. It prints <c>ready PID</c> (the agent's pid) once the turn
/// runs, then waits to be killed.
/// </summary>
public static class ScenarioHost
{
    public const string ReadyPrefix = "ready ";

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (args is not ["--runtime-dir", var runtime, "--sandbox", var sandbox, "--", var agent, .. var agentArgs])
        {
            await stderr.WriteLineAsync("usage: __host --runtime-dir DIR --sandbox DIR -- AGENT [ARGS...]").ConfigureAwait(false);
            return 2;
        }

        await using var bridge = new AcpBridge(new BridgeOptions
        {
            Command = new AgentCommand(agent, agentArgs),
            SandboxRoot = sandbox,
            Sweep = new OrphanSweepOptions { RuntimeDirectory = runtime, SweepAtStart = false },
        });
        await bridge.StartAsync(cancellationToken).ConfigureAwait(false);
        var session = await bridge.NewSessionAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        _ = bridge.PromptAsync(session, "work until the host dies", cancellationToken);
        await stdout.WriteLineAsync(ReadyPrefix + bridge.AgentProcessId).ConfigureAwait(false);
        await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);

        // Nothing more to do: the point of this process is to be killed.
        await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        return 0;
    }
}
