using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace ContainmentLab.FakeAgent;

/// <summary>The child-process meaning of <see cref="AgentHooks"/>: really exit or signal this process, really start descendants.</summary>
public static partial class ChildProcessHooks
{
    /// <param name="account">The agent's own account, when the runner asked for one (<see cref="AgentAccount.EnvironmentVariable"/>).</param>
    public static AgentHooks Create(TextWriter stderr, AgentAccount? account = null)
    {
        ArgumentNullException.ThrowIfNull(stderr);
        var stdout = DescriptorTarget(1);
        return new AgentHooks
        {
            Exit = exit => Die(exit, stderr),
            OutputClosed = () => DetachDescriptors(stdout, stderr),
            Spawn = (step, cancellationToken) => SpawnChainAsync(1, step.Depth, step.IgnoreSigterm, cancellationToken),
            Account = account,
        };
    }

    /// <summary>Ends this process now: <see cref="Environment.Exit"/> with the code, or kill(2) of its own pid with the signal.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Die(ExitRequest exit, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(exit);
        ArgumentNullException.ThrowIfNull(stderr);
        stderr.Flush();
        if (exit.SignalNumber is { } signal)
        {
            if (Kill(Environment.ProcessId, signal) != 0)
            {
                stderr.WriteLine($"fake-agent: kill({Environment.ProcessId}, {exit.Signal}) failed: errno {Marshal.GetLastPInvokeError()}");
            }

            // The runtime handles some signals itself (SIGTERM, SIGINT, SIGQUIT start an orderly shutdown; SIGSEGV from
            // kill(2) may be passed on): give it a moment to finish the job, then leave with the code a shell would show.
            Task.Delay(TimeSpan.FromSeconds(5), TimeProvider.System).Wait();
        }

        Environment.Exit(exit.ExitCode);
    }

    /// <summary>What a descriptor of this process refers to (<c>pipe:[1234]</c>), or null where /proc is missing.</summary>
    private static string? DescriptorTarget(int fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// After stdout is closed, points every other descriptor of the same pipe at /dev/null. The runtime keeps duplicates
    /// of the standard descriptors (fd 5–7 from its native layer, one more from the console), and the host sees end of
    /// stdout only when the last write end of the pipe is gone. dup2 rather than close: the runtime may still use those
    /// numbers, and they must not come to mean some other file.
    /// </summary>
    private static void DetachDescriptors(string? target, TextWriter stderr)
    {
        if (target is null)
        {
            stderr.WriteLine("fake-agent: no /proc/self/fd: duplicates of stdout may keep it open");
            return;
        }

        using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);
        var nullFd = (int)devNull.DangerousGetHandle();
        foreach (var entry in Directory.EnumerateFiles("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var fd)
                && fd != nullFd
                && DescriptorTarget(fd) == target
                && Dup2(nullFd, fd) < 0)
            {
                stderr.WriteLine($"fake-agent: dup2 over fd {fd} failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
    }

    /// <summary>
    /// Starts a linger process at <paramref name="level"/> (which starts the rest of the chain down to
    /// <paramref name="depth"/>) and returns it and everything it reported, once the whole chain is up.
    /// </summary>
    internal static async Task<IReadOnlyList<SpawnedProcess>> SpawnChainAsync(int level, int depth, bool ignoreSigterm, CancellationToken cancellationToken)
    {
        var (fileName, prefix) = LingerCommand();
        var info = new ProcessStartInfo(fileName)
        {
            // All three redirected: a descendant that kept the agent's stdio would hold the host's pipes open after the
            // agent died, which is a different misbehaviour from the one this step is about.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in prefix)
        {
            info.ArgumentList.Add(argument);
        }

        info.ArgumentList.Add(FakeAgentHost.LingerFlag);
        info.ArgumentList.Add("--level");
        info.ArgumentList.Add(level.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add("--depth");
        info.ArgumentList.Add(depth.ToString(CultureInfo.InvariantCulture));
        if (ignoreSigterm)
        {
            info.ArgumentList.Add("--ignore-sigterm");
        }

        // The environment is inherited (ProcessStartInfo's default): a sweep that looks for the host's cookie must find it.
        using var process = Process.Start(info) ?? throw new InvalidOperationException("the linger process did not start");
        var spawned = new List<SpawnedProcess> { new(process.Id, level) };
        while (await process.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line == LingerMode.Ready)
            {
                return spawned;
            }

            if (LingerMode.TryParseSpawned(line, out var descendant))
            {
                spawned.Add(descendant);
            }
        }

        throw new InvalidOperationException($"the linger process {process.Id} ended before it was ready");
    }

    /// <summary>This assembly's apphost if it is there (also when the engine runs inside the CLI), else dotnet + the dll.</summary>
    private static (string FileName, string[] Prefix) LingerCommand()
    {
        var assembly = typeof(ChildProcessHooks).Assembly.Location;
        var directory = Path.GetDirectoryName(assembly) ?? AppContext.BaseDirectory;
        var apphost = Path.Combine(directory, OperatingSystem.IsWindows() ? "ContainmentLab.FakeAgent.exe" : "ContainmentLab.FakeAgent");
        if (File.Exists(apphost))
        {
            return (apphost, []);
        }

        return (Environment.ProcessPath ?? "dotnet", [assembly]);
    }

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int Dup2(int oldFd, int newFd);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
