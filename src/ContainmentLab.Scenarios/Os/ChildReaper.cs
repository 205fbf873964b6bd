using System.Diagnostics;

namespace ContainmentLab.Scenarios.Os;

/// <summary>
/// The hidden <c>__reaper -- COMMAND ARGS…</c> mode: a small process that makes itself a child subreaper
/// (<c>prctl(PR_SET_CHILD_SUBREAPER)</c>), starts the command with its own stdin, stdout and stderr, and stays. Every
/// process below it that is orphaned — the host's agent once the host is SIGKILLed, a daemon that double-forked and
/// called setsid, a terminal's children — is reparented to it instead of to init, so the runner's process-tree sampler
/// finds the whole tree below one pid, whatever the timing. It reaps the orphans it adopts (a zombie must not pass for a
/// live process). When its stdin closes (the runner is done, or died) it SIGKILLs everything below it and exits.
/// </summary>
/// <remarks>
/// A process of its own because .NET reaps only the children it started itself (waitpid on each of their pids; all
/// children only when SIGCHLD was ignored at start-up): a test process made a subreaper would collect every other
/// test's orphans as zombies nobody reaps, and their "is it gone" checks would see them alive. Here the one child .NET
/// started is left to .NET; every other child is an adopted orphan, reaped by pid.
/// </remarks>
public static class ChildReaper
{
    public const string Verb = "__reaper";

    private static readonly TimeSpan s_reapInterval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan s_killBound = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stderr);
        if (args is not ["--", var fileName, .. var arguments])
        {
            await stderr.WriteLineAsync($"usage: {Verb} -- COMMAND [ARGS...]").ConfigureAwait(false);
            return 2;
        }

        if (!ProcFs.Available || !LinuxNative.BecomeChildSubreaper())
        {
            await stderr.WriteLineAsync($"{Verb}: cannot become a child subreaper (Linux prctl PR_SET_CHILD_SUBREAPER): orphans would escape the tree").ConfigureAwait(false);
            return 3;
        }

        // No redirection: the command gets this process's stdin, stdout and stderr themselves.
        var info = new ProcessStartInfo(fileName) { UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var child = Process.Start(info);
        if (child is null)
        {
            await stderr.WriteLineAsync($"{Verb}: could not start {fileName}").ConfigureAwait(false);
            return 3;
        }

        // Our own copies of stdout must not keep the runner's pipe open: it reads to end of file once the command is gone.
        DetachStdout();

        var stdinClosed = ReadToEndAsync(cancellationToken);
        while (!stdinClosed.IsCompleted)
        {
            ReapAdopted(child);
            await Task.WhenAny(stdinClosed, Task.Delay(s_reapInterval, TimeProvider.System, cancellationToken)).ConfigureAwait(false);
        }

        await KillEverythingBelowAsync(child).ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// Points every descriptor of this process that refers to its stdout's pipe at /dev/null: fd 1 and the duplicates
    /// the runtime keeps of it. dup2 rather than close, so the numbers the runtime holds never come to mean another file.
    /// </summary>
    private static void DetachStdout()
    {
        var target = LinkTarget("/proc/self/fd/1");
        using var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);
        var nullFd = (int)devNull.DangerousGetHandle();
        foreach (var entry in Directory.GetFiles("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var fd)
                && fd != nullFd
                && target is not null
                && LinkTarget(entry) == target)
            {
                LinuxNative.Dup2(nullFd, fd);
            }
        }
    }

    private static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Every process below this one, parents before children.</summary>
    private static List<ProcStat> Descendants()
    {
        var found = new List<ProcStat>();
        var queue = new Queue<int>([Environment.ProcessId]);
        while (queue.TryDequeue(out var pid))
        {
            foreach (var child in ProcFs.Children(pid))
            {
                if (ProcFs.Stat(child) is { } stat && stat.ParentPid == pid)
                {
                    found.Add(stat);
                    queue.Enqueue(child);
                }
            }
        }

        return found;
    }

    private static void ReapAdopted(Process child)
    {
        var ours = child.HasExited ? -1 : child.Id;
        foreach (var pid in ProcFs.Children(Environment.ProcessId))
        {
            if (pid != ours)
            {
                LinuxNative.TryReap(pid);
            }
        }
    }

    private static async Task KillEverythingBelowAsync(Process child)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (TimeProvider.System.GetElapsedTime(started) < s_killBound)
        {
            var alive = Descendants().Where(s => !s.Exited).ToList();
            foreach (var stat in alive)
            {
                // Re-checked just before the signal: the pid must still be the process found.
                if (ProcFs.Stat(stat.Pid)?.StartTime == stat.StartTime)
                {
                    LinuxNative.Kill(stat.Pid, LinuxNative.SigKill);
                }
            }

            ReapAdopted(child);
            if (alive.Count == 0)
            {
                return;
            }

            await Task.Delay(s_reapInterval, TimeProvider.System).ConfigureAwait(false);
        }
    }

    private static async Task ReadToEndAsync(CancellationToken cancellationToken)
    {
        using var stdin = Console.OpenStandardInput();
        var buffer = new byte[256];
        try
        {
            while (await stdin.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A broken stdin is a closed one.
        }
    }
}
