using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace ContainmentLab.FakeAgent;

/// <summary>
/// The hidden <c>--linger</c> mode behind the <c>spawn</c> step: start the next level of the chain, report every pid
/// below this one on stdout, say <see cref="Ready"/>, then sleep for ever (optionally ignoring SIGTERM).
/// </summary>
internal static partial class LingerMode
{
    public const string Ready = "ready";

    public static string Spawned(SpawnedProcess process) =>
        string.Create(CultureInfo.InvariantCulture, $"spawned pid={process.Pid} depth={process.Depth}");

    public static bool TryParseSpawned(string line, out SpawnedProcess process)
    {
        var match = SpawnedPattern().Match(line);
        process = match.Success
            ? new SpawnedProcess(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture))
            : default;
        return match.Success;
    }

    public static async Task<int> RunAsync(int level, int depth, bool ignoreSigterm, CancellationToken cancellationToken = default)
    {
        using var sigterm = ignoreSigterm ? PosixSignalRegistration.Create(PosixSignal.SIGTERM, static context => context.Cancel = true) : null;
        using var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        if (level < depth)
        {
            foreach (var descendant in await ChildProcessHooks.SpawnChainAsync(level + 1, depth, ignoreSigterm, cancellationToken).ConfigureAwait(false))
            {
                await stdout.WriteLineAsync(Spawned(descendant)).ConfigureAwait(false);
            }
        }

        await stdout.WriteLineAsync(Ready).ConfigureAwait(false);

        // Real time is right here: this process only exists to be found and killed.
        await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        return 0;
    }

    [GeneratedRegex(@"^spawned pid=(\d+) depth=(\d+)$", RegexOptions.CultureInvariant)]
    private static partial Regex SpawnedPattern();
}
