using System.ComponentModel;
using System.Diagnostics;
using ContainmentLab.Bridge;
using ContainmentLab.Protocol;

namespace ContainmentLab.Dispatch;

/// <summary>
/// One ACP terminal: a command started through <c>setsid</c>, so it leads its own session and process group
/// (pgid = pid) and everything it spawns stays in that group unless it leaves on purpose. Kill means
/// <c>kill(-pgid, SIGKILL)</c>: grandchildren die with it, even once the leader is gone. stdin is closed at once;
/// stdout and stderr are read as bytes, concurrently, into one bounded buffer.
/// </summary>
internal sealed class Terminal : IAsyncDisposable
{
    /// <summary>util-linux: makes the command a session and group leader; it execs in place (no fork) because our child is not a group leader yet.</summary>
    public const string SetsidPath = "/usr/bin/setsid";

    /// <summary>What the command inherits from the host; everything else (tokens, keys) stays out.</summary>
    private static readonly string[] s_environmentAllowList = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TMPDIR", "TZ", "USER", "LOGNAME", "SHELL"];

    /// <summary>After SIGKILL, how long dispose waits for the leader to be reaped before it lets go of the process.</summary>
    private static readonly TimeSpan s_reapGrace = TimeSpan.FromSeconds(5);

    /// <summary>After the leader exited, how long wait_for_exit waits for the pipes to drain: a background child may hold them for ever.</summary>
    private static readonly TimeSpan s_drainGrace = TimeSpan.FromMilliseconds(250);

    private readonly Process _process;
    private readonly TerminalOutputBuffer _output;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Task _readers;
    private Action[] _watchers = [];
    private int _killed;
    private int _disposed;

    private Terminal(string id, string sessionId, Process process, int outputByteLimit, TimeProvider timeProvider)
    {
        Id = id;
        SessionId = sessionId;
        _process = process;
        _time = timeProvider;
        _output = new TerminalOutputBuffer(outputByteLimit);
        ProcessGroupId = process.Id;
        // The streams are taken here, not inside the tasks: a dispose that comes first must not find them gone.
        var stdout = process.StandardOutput.BaseStream;
        var stderr = process.StandardError.BaseStream;
        _readers = Task.WhenAll(Task.Run(() => ReadAsync(stdout)), Task.Run(() => ReadAsync(stderr)));
        Exited = WaitForLeaderAsync();
    }

    public string Id { get; }

    /// <summary>The session that created the terminal: the only one that may use it.</summary>
    public string SessionId { get; }

    /// <summary>The command's process group (and its pid: setsid made it the leader).</summary>
    public int ProcessGroupId { get; }

    /// <summary>Completes when the command (the group leader) has exited.</summary>
    public Task<TerminalExitStatus> Exited { get; }

    /// <param name="cookie">The host's cookie (<see cref="Sweep.AgentCookie.EnvironmentVariable"/>), set last so the request cannot replace it; null for none.</param>
    public static Terminal Start(string id, string sessionId, CreateTerminalRequest request, string workingDirectory, int outputByteLimit, string? cookie, TimeProvider timeProvider)
    {
        var info = new ProcessStartInfo(SetsidPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            WorkingDirectory = workingDirectory,
        };

        // "--" ends setsid's options: a command that starts with '-' is still the command.
        info.ArgumentList.Add("--");
        info.ArgumentList.Add(request.Command);
        foreach (var argument in request.Args ?? [])
        {
            info.ArgumentList.Add(argument);
        }

        var inherited = info.Environment.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        info.Environment.Clear();
        foreach (var name in s_environmentAllowList)
        {
            if (inherited.TryGetValue(name, out var value) && value is not null)
            {
                info.Environment[name] = value;
            }
        }

        foreach (var variable in request.Env ?? [])
        {
            info.Environment[variable.Name] = variable.Value;
        }

        // The terminal leads a session of its own: after the host's death only this mark ties it (and all it spawns) to
        // the host's lease (G7).
        if (cookie is not null)
        {
            info.Environment[Sweep.AgentCookie.EnvironmentVariable] = cookie;
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new ToolFailedException($"could not start '{request.Command}'");
        }
        catch (Win32Exception ex)
        {
            throw new ToolFailedException($"could not start '{request.Command}' through {SetsidPath}: {ex.Message}", ex);
        }

        // Nothing will ever be typed into a terminal: a command that reads stdin sees end of file, not a hang.
        process.StandardInput.Close();
        return new Terminal(id, sessionId, process, outputByteLimit, timeProvider);
    }

    /// <summary>Forced stop: SIGKILL to the whole group. Quick, never throws (it runs on the interrupt's path); a no-op once disposed.</summary>
    public void Kill()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        if (Exited.IsCompleted)
        {
            // The leader is gone but children may remain in its group. While any does, Linux reuses neither the id as a
            // pid nor as a pgid; once none does, a new group of that id needs a wrapped-around pid to lead it.
            NativeSignals.SendGroup(ProcessGroupId, NativeSignals.SigKill);
            return;
        }

        Volatile.Write(ref _killed, 1);
        NativeSignals.SendGroup(ProcessGroupId, NativeSignals.SigKill);

        // Right after start, setsid may not have run yet: no group of that id exists and kill(-pgid) misses. The leader
        // has spawned nothing yet, and it is our child, not reaped before Exited completes (the pid is ours): kill it by pid.
        NativeSignals.Send(ProcessGroupId, NativeSignals.SigKill);
    }

    public TerminalOutputResponse Output()
    {
        var (output, truncated) = _output.Snapshot();
        return new TerminalOutputResponse(output, truncated, Exited.IsCompletedSuccessfully ? Exited.Result : null);
    }

    /// <summary>
    /// Waits for the command to exit, then (briefly) for its last output. <paramref name="reportActivity"/> runs for every
    /// output chunk meanwhile. A cancelled wait is a containment action (interrupt or watchdog; the agent's own
    /// <c>$/cancel_request</c> does not cancel tools), so it kills the group before it gives up.
    /// </summary>
    public async Task<TerminalExitStatus> WaitForExitAsync(Action reportActivity, CancellationToken cancellationToken)
    {
        using var watching = WatchActivity(reportActivity);
        try
        {
            var status = await Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
            await DrainAsync(cancellationToken).ConfigureAwait(false);
            return status;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Kill();
            throw;
        }
    }

    /// <summary>Calls <paramref name="reportActivity"/> for every output chunk until the result is disposed.</summary>
    public IDisposable WatchActivity(Action reportActivity)
    {
        lock (_lock)
        {
            _watchers = [.. _watchers, reportActivity];
        }

        return new Unwatch(this, reportActivity);
    }

    /// <summary>Kills the group, waits (bounded) for the leader, and closes the pipes. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        Kill();
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await Exited.WaitAsync(s_reapGrace, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A leader stuck in uninterruptible sleep: SIGKILL lands when it wakes; we let go of it meanwhile.
        }

        // Disposing closes our ends of the pipes: readers blocked on a child that left the group end too.
        _process.Dispose();
        try
        {
            await _readers.WaitAsync(s_reapGrace, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A read that did not notice the close: it ends with the last process holding the pipe.
        }
    }

    /// <summary>
    /// How many bytes at the end of <paramref name="bytes"/> are an unfinished UTF-8 character. A reader holds them back
    /// until the rest arrives, so a character cut between two reads is never split by the other stream's output.
    /// </summary>
    internal static int IncompleteUtf8Tail(ReadOnlySpan<byte> bytes)
    {
        for (var back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            var b = bytes[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }

            var needed = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return needed > back ? back : 0;
        }

        return 0;
    }

    private async Task<TerminalExitStatus> WaitForLeaderAsync()
    {
        int code;
        try
        {
            await _process.WaitForExitAsync().ConfigureAwait(false);
            code = _process.ExitCode;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            // Disposed after a leader that would not die within the grace: nobody can learn how it ends.
            return new TerminalExitStatus(null, null);
        }

        // .NET folds "killed by signal n" into exit code 128 + n, like a shell does; it is a signal only when we sent it.
        return Volatile.Read(ref _killed) != 0 && code == 128 + NativeSignals.SigKill
            ? new TerminalExitStatus(null, "SIGKILL")
            : new TerminalExitStatus(code);
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _readers.WaitAsync(s_drainGrace, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A background child still holds the pipes: its output keeps coming to terminal/output.
        }
    }

    private async Task ReadAsync(Stream stream)
    {
        var buffer = new byte[16 * 1024];
        var carried = 0;
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(carried)).ConfigureAwait(false)) > 0)
            {
                var filled = carried + read;
                var tail = IncompleteUtf8Tail(buffer.AsSpan(0, filled));
                _output.Append(buffer.AsSpan(0, filled - tail));
                buffer.AsSpan(filled - tail, tail).CopyTo(buffer);
                carried = tail;
                ReportActivity();
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // Our end was closed by dispose.
        }

        // An unfinished character at end of file stays as it is (the decoder shows it as U+FFFD).
        _output.Append(buffer.AsSpan(0, carried));
    }

    private void ReportActivity()
    {
        foreach (var report in Volatile.Read(ref _watchers))
        {
            try
            {
                report();
            }
#pragma warning disable CA1031 // A watcher's failure must not end the reader: the output would stop for every caller.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    private sealed class Unwatch(Terminal terminal, Action reportActivity) : IDisposable
    {
        public void Dispose()
        {
            lock (terminal._lock)
            {
                var index = Array.IndexOf(terminal._watchers, reportActivity);
                if (index >= 0)
                {
                    terminal._watchers = [.. terminal._watchers[..index], .. terminal._watchers[(index + 1)..]];
                }
            }
        }
    }
}
