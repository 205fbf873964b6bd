using System.Diagnostics;
using System.Globalization;
using ContainmentLab.Sweep;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Sweep;

/// <summary>
/// The test host exe (ContainmentLab.TestHost, built next to the tests) as a real process: it writes a lease in the
/// runtime directory and starts an agent shell with two levels of descendants, the inner level ignoring SIGTERM.
/// </summary>
internal sealed class HostProcess : IDisposable
{
    private readonly Process _process;

    private HostProcess(Process process, string leaseId, ProcessIdentity host, ProcessIdentity agent, IReadOnlyList<ProcessIdentity> descendants)
    {
        _process = process;
        LeaseId = leaseId;
        Host = host;
        Agent = agent;
        Descendants = descendants;
    }

    public static string Executable => RepositoryPaths.TestHost;

    public string LeaseId { get; }

    public ProcessIdentity Host { get; }

    public ProcessIdentity Agent { get; }

    /// <summary>The agent's children and grandchild.</summary>
    public IReadOnlyList<ProcessIdentity> Descendants { get; }

    /// <summary>The agent and every descendant: everything that carries the cookie.</summary>
    public IEnumerable<ProcessIdentity> Tree => Descendants.Prepend(Agent);

    public static async Task<HostProcess> StartAsync(string runtimeDirectory, IProcessTable table, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(Executable, [runtimeDirectory]) { UseShellExecute = false, RedirectStandardOutput = true };
        var process = Process.Start(info) ?? throw new InvalidOperationException("the test host did not start");
        var pids = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        string? leaseId = null;

        // lease, host, agent, two children, one grandchild: in whatever order the shells print them.
        while (pids.Values.Sum(p => p.Count) < 5 || leaseId is null)
        {
            var line = await process.StandardOutput.ReadLineAsync(cancellationToken) ?? throw new InvalidOperationException("the test host's output ended early");
            var (role, value) = (line.Split(' ')[0], line.Split(' ')[1]);
            if (role == "lease")
            {
                leaseId = value;
                continue;
            }

            (pids.TryGetValue(role, out var list) ? list : pids[role] = []).Add(int.Parse(value, CultureInfo.InvariantCulture));
        }

        ProcessIdentity Identify(int pid) => new(pid, table.GetStartTime(pid) ?? throw new InvalidOperationException($"pid {pid} is already gone"));
        return new HostProcess(
            process,
            leaseId,
            Identify(pids["host"].Single()),
            Identify(pids["agent"].Single()),
            [.. pids["child"].Concat(pids["grandchild"]).Select(Identify)]);
    }

    /// <summary>Kills the host alone with SIGKILL, as a crash or force-quit would: its tree is left behind.</summary>
    public void KillHostOnly() => _process.Kill(entireProcessTree: false);

    public void Dispose() => _process.Dispose();
}
