// Usage: ContainmentLab.TestHost RUNTIME_DIR [COMMAND ARG...]
// Writes a lease in RUNTIME_DIR as a bridge would, starts COMMAND (default: a shell that starts two levels of
// descendants, one level ignoring SIGTERM) with the lease's cookie in its environment, prints "ROLE PID" lines on
// stdout (the agent's descendants print theirs to the same stdout), and waits to be killed.
using System.Diagnostics;
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
    Console.Error.WriteLine("usage: ContainmentLab.TestHost RUNTIME_DIR [COMMAND ARG...]");
    return 2;
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
