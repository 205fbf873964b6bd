using System.Globalization;
using System.Text.Json;

namespace ContainmentLab.Scenarios;

/// <summary>
/// The host process of a <c>kill_host</c> fixture (<c>containmentlab __host</c>): it runs the fixture itself — the same
/// <see cref="ScenarioRun"/> as an in-process run, so the same bridge options from the fixture's <c>host:</c> block, the
/// same sessions, the same timeline with <c>at:</c> / <c>after:</c> judged on its own events — and streams everything
/// to its runner on stdout (<see cref="HostStream"/>). At <c>kill_host</c> it tells the runner, which SIGKILLs it the way
/// a user's desktop app dies (force-quit, crash), then sweeps. If its stdin closes first (the runner went away), it
/// stops its bridge and exits, so it never outlives its runner.
/// </summary>
/// <remarks>
/// Arguments: <c>--fixture FILE.json --work-dir DIR --fake-agent PATH --epoch TICKS --run-timeout SECONDS
/// --turn-wait SECONDS [--raw-budget BYTES]</c> (how many raw tap bytes to stream, for the runner's transcript; default
/// none). The fixture comes as JSON (a loaded <see cref="Fixture"/>: fixtures built in memory run
/// too); the work directory is the runner's, so the sandbox, the lease directory and the inline script are where the
/// runner looks; the epoch is the runner's start on the monotonic clock both processes share.
/// </remarks>
public static class ScenarioHost
{
    public const string Verb = "__host";

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (Parse(args) is not { } arguments)
        {
            await stderr.WriteLineAsync($"usage: {Verb} --fixture FILE.json --work-dir DIR --fake-agent PATH --epoch TICKS --run-timeout SECONDS --turn-wait SECONDS [--raw-budget BYTES]").ConfigureAwait(false);
            return 2;
        }

        Fixture fixture;
        try
        {
            fixture = JsonSerializer.Deserialize<Fixture>(await File.ReadAllTextAsync(arguments.FixturePath, cancellationToken).ConfigureAwait(false), HostStream.Options)
                ?? throw new JsonException("empty");
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync($"{Verb}: cannot read the fixture {arguments.FixturePath}: {ex.Message}").ConfigureAwait(false);
            return 2;
        }

        using var lifeline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _ = CancelWhenStdinClosesAsync(lifeline);
        await using var stream = new HostStreamWriter(stdout, fixture, arguments.RawBudget);
        stream.Hello(Environment.ProcessId);
        var options = new ScenarioRunOptions
        {
            FakeAgentPath = arguments.FakeAgentPath,
            RunTimeout = arguments.RunTimeout,
            TurnWait = arguments.TurnWait,
            WorkDirectory = arguments.WorkDirectory,
            Epoch = arguments.Epoch,
            HostStream = stream,
        };
        await using var run = new ScenarioRun(fixture, options);
        RunLog log;
        try
        {
            log = await run.ExecuteAsync(lifeline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (lifeline.IsCancellationRequested)
        {
            return 1; // the runner is gone: nobody to report to
        }

        // The timeline ended without reaching kill_host (an after: that never held, a failed start): say how it stood.
        await stream.SendStateAsync(HostState.From(HostState.End, log, run.Problems, run.Duration), lifeline.Token).ConfigureAwait(false);
        return 0;
    }

    private static async Task CancelWhenStdinClosesAsync(CancellationTokenSource lifeline)
    {
        try
        {
            using var stdin = Console.OpenStandardInput();
            var buffer = new byte[256];
            while (await stdin.ReadAsync(buffer, lifeline.Token).ConfigureAwait(false) > 0)
            {
            }

            await lifeline.CancelAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Ended otherwise: nothing to do.
        }
    }

    private static Arguments? Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i]] = args[i + 1];
        }

        return args.Length % 2 == 0
            && values.TryGetValue("--fixture", out var fixture)
            && values.TryGetValue("--work-dir", out var work)
            && values.TryGetValue("--fake-agent", out var fakeAgent)
            && values.TryGetValue("--epoch", out var epochText) && long.TryParse(epochText, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
            && values.TryGetValue("--run-timeout", out var runText) && double.TryParse(runText, NumberStyles.Float, CultureInfo.InvariantCulture, out var run)
            && values.TryGetValue("--turn-wait", out var waitText) && double.TryParse(waitText, NumberStyles.Float, CultureInfo.InvariantCulture, out var wait)
            && RawBudget(values) is { } raw
            ? new Arguments(fixture, work, fakeAgent, epoch, TimeSpan.FromSeconds(run), TimeSpan.FromSeconds(wait), raw)
            : null;
    }

    private static long? RawBudget(Dictionary<string, string> values)
    {
        if (!values.TryGetValue("--raw-budget", out var text))
        {
            return 0;
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var budget) ? budget : null;
    }

    /// <summary>The runner's side of the same arguments.</summary>
    internal static IEnumerable<string> CommandLine(string fixturePath, string workDirectory, ScenarioRunOptions options, long epoch) =>
    [
        Verb,
        "--fixture", fixturePath,
        "--work-dir", workDirectory,
        "--fake-agent", options.FakeAgentPath,
        "--epoch", epoch.ToString(CultureInfo.InvariantCulture),
        "--run-timeout", options.RunTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture),
        "--turn-wait", options.TurnWait.TotalSeconds.ToString(CultureInfo.InvariantCulture),
        "--raw-budget", (options.TranscriptPath is null ? 0 : Evidence.WireTap.TranscriptBudget).ToString(CultureInfo.InvariantCulture),
    ];

    private sealed record Arguments(string FixturePath, string WorkDirectory, string FakeAgentPath, long Epoch, TimeSpan RunTimeout, TimeSpan TurnWait, long RawBudget);
}
