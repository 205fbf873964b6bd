using System.CommandLine;
using System.Globalization;
using ContainmentLab.Sweep;

namespace ContainmentLab.Cli;

/// <summary>
/// <c>containmentlab sweep [--dry-run] [--runtime-dir DIR]</c>: kill the orphans of dead hosts now (G7). Exits 1 when
/// the lease directory cannot be trusted, a lease file was refused, or an orphan survived; 0 otherwise.
/// </summary>
internal static class SweepCommand
{
    public static Command Create()
    {
        var dryRun = new Option<bool>("--dry-run") { Description = "Only list what would be killed; signal nothing, remove no lease" };
        var runtimeDir = new Option<DirectoryInfo?>("--runtime-dir") { Description = "The lease directory (default: $XDG_RUNTIME_DIR/containmentlab or /tmp/containmentlab-UID)" };
        var command = new Command("sweep", "Kill every process tree left behind by a dead ContainmentLab host (found by the host's cookie, re-verified before each signal)") { dryRun, runtimeDir };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (ProcessTables.ForCurrentPlatform() is not { } table)
            {
                Console.Out.WriteLine("sweep: no process table for this OS yet (Linux only); nothing done");
                return 0;
            }

            var registry = new LeaseRegistry(parse.GetValue(runtimeDir)?.FullName);
            var report = await new OrphanSweeper(registry, table).SweepAsync(parse.GetValue(dryRun), cancellationToken).ConfigureAwait(false);
            Write(report, registry.Directory, Console.Out);
            return report.DirectoryProblem is null && report.BadLeases.Count == 0 && report.Survivors.Count == 0 ? 0 : 1;
        });
        return command;
    }

    internal static void Write(SweepReport report, string directory, TextWriter output)
    {
        var inv = CultureInfo.InvariantCulture;
        if (report.DirectoryProblem is { } problem)
        {
            output.WriteLine(string.Create(inv, $"refused lease directory {directory}: {problem}"));
        }

        output.WriteLine(string.Create(inv, $"leases in {directory}: {report.LeasesExamined} examined, {report.StaleLeases.Count} with a dead host"));
        foreach (var bad in report.BadLeases)
        {
            output.WriteLine(string.Create(inv, $"bad lease {bad.Path}: {bad.Reason}"));
        }

        foreach (var stale in report.StaleLeases)
        {
            output.WriteLine(string.Create(inv, $"stale lease {stale.Lease.Id}: {stale.Reason}{(stale.Removed ? "; removed" : report.DryRun ? "" : "; kept (survivors)")}"));
        }

        foreach (var process in report.DryRun ? report.Found : report.Killed)
        {
            var verb = report.DryRun ? "would kill" : process.Forced ? "killed (SIGKILL)" : "killed (SIGTERM)";
            output.WriteLine(string.Create(inv, $"{verb} pid {process.Process.Pid} (start {process.Process.StartTime}, lease {process.LeaseId}): {process.CommandLine}"));
        }

        foreach (var process in report.Survivors)
        {
            output.WriteLine(string.Create(inv, $"survived pid {process.Process.Pid} (lease {process.LeaseId}): {process.CommandLine}"));
        }

        var count = report.DryRun ? report.Found.Count : report.Killed.Count;
        output.WriteLine(string.Create(inv, $"{(report.DryRun ? "would kill" : "killed")} {count} process(es), {report.Survivors.Count} survivor(s), in {report.Duration.TotalSeconds:0.000} s"));
    }
}
