using System.Diagnostics;
using System.Globalization;
using ContainmentLab.Bridge;
using ContainmentLab.Tests.Support;

namespace ContainmentLab.Tests.Sweep;

/// <summary>
/// The test host exe in <c>--bridge</c> mode: a real <see cref="AcpBridge"/> in a process of its own, over the fake agent,
/// whose first turn creates a terminal. Killing it with SIGKILL leaves the bridge's own processes behind, as a crash does.
/// </summary>
internal sealed class BridgeHostProcess : IDisposable
{
    /// <summary>The agent's turn: a terminal with a background child (a group of three: sh and two sleeps), then a stall.</summary>
    public const string Script = """
        prompts:
          - steps:
              - tool: terminal/create
                arguments: { command: sh, args: ["-c", "sleep 300 & sleep 300"] }
              - stall: forever
        """;

    private readonly Process _process;

    private BridgeHostProcess(Process process, string leaseId, int host, int? agent, int terminalGroup)
    {
        _process = process;
        LeaseId = leaseId;
        HostPid = host;
        AgentPid = agent;
        TerminalGroup = terminalGroup;
    }

    public string LeaseId { get; }

    public int HostPid { get; }

    public int? AgentPid { get; }

    /// <summary>The terminal's process group (its leader's pid).</summary>
    public int TerminalGroup { get; }

    public static async Task<BridgeHostProcess> StartAsync(string runtimeDirectory, string scriptPath, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(HostProcess.Executable, [runtimeDirectory, "--bridge", ChildAgent.Executable, scriptPath])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("the test host did not start");
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        while (values.Count < 4)
        {
            var line = await process.StandardOutput.ReadLineAsync(cancellationToken)
                ?? throw new InvalidOperationException($"the bridge host's output ended early (exit {(process.HasExited ? process.ExitCode : "none yet")})");
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            values[line[..space]] = line[(space + 1)..];
        }

        int Pid(string role) => int.Parse(values[role], CultureInfo.InvariantCulture);
        return new BridgeHostProcess(process, values["lease"], Pid("host"), values["agent"].Length == 0 ? null : Pid("agent"), Pid("terminal"));
    }

    /// <summary>Kills the host alone with SIGKILL: its agent and its terminal are left behind.</summary>
    public void KillHostOnly() => _process.Kill(entireProcessTree: false);

    /// <summary>Kills whatever is left of this host (host, terminal group, agent) and waits until none of it runs.</summary>
    public async Task KillEverythingAsync(IReadOnlyCollection<int> terminalMembers)
    {
        NativeSignals.Send(HostPid, NativeSignals.SigKill);
        NativeSignals.SendGroup(TerminalGroup, NativeSignals.SigKill);
        foreach (var pid in terminalMembers)
        {
            NativeSignals.Send(pid, NativeSignals.SigKill);
        }

        if (AgentPid is { } agent)
        {
            NativeSignals.Send(agent, NativeSignals.SigKill);
        }

        await Until.TrueAsync(() => ProcessGroups.IsDead(HostPid), $"host {HostPid} gone");
        await Until.TrueAsync(() => ProcessGroups.GroupMembers(TerminalGroup).All(ProcessGroups.IsDead) && terminalMembers.All(ProcessGroups.IsDead), $"terminal group {TerminalGroup} gone");
        if (AgentPid is { } a)
        {
            await Until.TrueAsync(() => ProcessGroups.IsDead(a), $"agent {a} gone");
        }
    }

    public void Dispose() => _process.Dispose();
}
