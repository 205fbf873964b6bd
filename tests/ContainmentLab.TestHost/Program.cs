// Usage: ContainmentLab.TestHost RUNTIME_DIR [COMMAND ARG...]
//        ContainmentLab.TestHost RUNTIME_DIR --bridge AGENT_EXE SCRIPT
// Default mode: writes a lease in RUNTIME_DIR as a bridge would, starts COMMAND (default: a shell that starts two levels
// of descendants, one level ignoring SIGTERM) with the lease's cookie in its environment, prints "ROLE PID" lines on
// stdout (the agent's descendants print theirs to the same stdout), and waits to be killed.
// --bridge: runs a real AcpBridge (leases in RUNTIME_DIR) over the fake agent AGENT_EXE with SCRIPT, prompts once, and
// once the agent's terminal/create has run prints "lease ID", "host PID", "agent PID", "terminal PGID"; then waits to
// be killed. Whatever the bridge itself starts (the terminal) is then the sweep's to find.
using System.Diagnostics;
using System.Globalization;
using ContainmentLab.Bridge;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;
using ContainmentLab.Protocol;
using ContainmentLab.Sweep;

const string DefaultTree =
    """
    sh -c 'trap "" TERM; sleep 1000 & echo "grandchild $!"; wait' &
    echo "child $!"
    sleep 1000 &
    echo "child $!"
    wait
    """;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: ContainmentLab.TestHost RUNTIME_DIR [COMMAND ARG...] | RUNTIME_DIR --bridge AGENT_EXE SCRIPT");
    return 2;
}

if (args is [var runtime, "--bridge", var agentExe, var script])
{
    return await RunBridgeAsync(runtime, agentExe, script);
}

var table = ProcessTables.ForCurrentPlatform() ?? throw new PlatformNotSupportedException("the test host needs a process table (Linux)");
var registry = new LeaseRegistry(args[0]);
var lease = Lease.ForCurrentProcess(table, TimeProvider.System) ?? throw new InvalidOperationException("cannot read this process's start time");
registry.Write(lease);

var info = args.Length > 1 ? new ProcessStartInfo(args[1], args[2..]) : new ProcessStartInfo("/bin/sh", ["-c", DefaultTree]);
info.UseShellExecute = false;
info.Environment[AgentCookie.EnvironmentVariable] = lease.Cookie;
using var agent = Process.Start(info) ?? throw new InvalidOperationException("the agent did not start");
registry.Write(lease with { AgentPid = agent.Id, AgentStartTime = table.GetStartTime(agent.Id), Agent = info.FileName });

Console.WriteLine($"lease {lease.Id}");
Console.WriteLine($"host {Environment.ProcessId}");
Console.WriteLine($"agent {agent.Id}");
Console.Out.Flush();
Thread.Sleep(Timeout.Infinite);
return 0;

static async Task<int> RunBridgeAsync(string runtime, string agentExe, string script)
{
    Terminals? terminals = null;
    var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    var bridge = new AcpBridge(new BridgeOptions
    {
        Command = new AgentCommand(agentExe, ["--script", script]),
        Sweep = new OrphanSweepOptions { RuntimeDirectory = runtime, SweepAtStart = false },
        Policies = new PolicySet { Destructive = ToolPolicy.Allow },
        Tools = (sandbox, _, _) =>
        {
            terminals = new Terminals(sandbox);
            return new HostToolRegistry().AddTerminals(terminals);
        },
    });
    bridge.Events.Subscribe(e =>
    {
        if (e is ToolCompleted { Tool: AcpMethods.TerminalCreate } completed)
        {
            if (completed.Result == AuditKind.Completed)
            {
                created.TrySetResult();
            }
            else
            {
                created.TrySetException(new InvalidOperationException($"terminal/create ended {completed.Result}: {completed.Detail}"));
            }
        }
    });

    await bridge.StartAsync();
    var session = await bridge.NewSessionAsync();
    _ = bridge.PromptAsync(session, "start the terminal");
    await created.Task.WaitAsync(TimeSpan.FromSeconds(60));

    var lease = new LeaseRegistry(runtime).ReadAll().Leases.Single(l => l.HostPid == Environment.ProcessId);
    var pgid = terminals!.ProcessGroupOf("term-1") ?? throw new InvalidOperationException("terminal term-1 is not running");
    Console.WriteLine($"lease {lease.Id}");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"host {Environment.ProcessId}"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"agent {bridge.AgentProcessId}"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"terminal {pgid}"));
    Console.Out.Flush();

    // Never disposed: the test kills this process with SIGKILL, as a crash would.
    await Task.Delay(Timeout.Infinite);
    return 0;
}
