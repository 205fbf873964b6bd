namespace ContainmentLab.Scenarios;

/// <summary>
/// Runs a fixture with real processes in real time (DESIGN.md §7) and judges it: the fake agent (or any ACP agent) as
/// a child process, the bridge in this process — or, for <c>kill_host</c>, in a child host process — the timeline's
/// actions in order, then the guarantees and expectations. Never throws for a fixture's problems: they come back as
/// <see cref="Verdict.Invalid"/> or <see cref="Verdict.Failed"/> with the reason.
/// </summary>
public static class ScenarioRunner
{
    /// <summary>Loads and runs a fixture file; a fixture that does not load is <see cref="Verdict.Invalid"/>.</summary>
    public static async Task<FixtureResult> RunFileAsync(string path, ScenarioRunOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        Fixture fixture;
        try
        {
            fixture = FixtureLoader.Load(path);
        }
        catch (FixtureException ex)
        {
            return Invalid(path, ex.Message);
        }

        return await RunAsync(fixture, options, cancellationToken).ConfigureAwait(false);
    }

    public static async Task<FixtureResult> RunAsync(Fixture fixture, ScenarioRunOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        ArgumentNullException.ThrowIfNull(options);
        var usesFakeAgent = fixture.Agent.Kind != AgentKind.Command;
        if (usesFakeAgent && !File.Exists(options.FakeAgentPath))
        {
            return Invalid(fixture.Path, $"the fake agent executable is missing: {options.FakeAgentPath}", fixture);
        }

        if (fixture.KillsHost && !File.Exists(options.HostPath))
        {
            return Invalid(fixture.Path, $"kill_host needs the host executable, which is missing: {options.HostPath}", fixture);
        }

        if (fixture.KillsHost && !Os.ProcFs.Available)
        {
            return Invalid(fixture.Path, "kill_host needs Linux: its host runs under a child subreaper and its process tree is read from /proc", fixture);
        }

        if (fixture.KillsHost)
        {
            await using var host = new HostProcessRun(fixture, options);
            var hostLog = await host.ExecuteAsync(cancellationToken).ConfigureAwait(false);
            return Judge.Evaluate(hostLog, host.Problems, host.Duration, options.TranscriptPath);
        }

        await using var run = new ScenarioRun(fixture, options);
        var log = await run.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        return Judge.Evaluate(log, run.Problems, run.Duration, options.TranscriptPath);
    }

    internal static FixtureResult Invalid(string path, string error, Fixture? fixture = null) =>
        new(fixture?.Name ?? System.IO.Path.GetFileNameWithoutExtension(path), path, fixture?.Description ?? string.Empty, Verdict.Invalid,
            [], [], null, TimeSpan.Zero, [], [], null, error);
}
