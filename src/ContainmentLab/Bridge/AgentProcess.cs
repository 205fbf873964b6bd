using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace ContainmentLab.Bridge;

/// <summary>
/// An agent as a child process: all three pipes redirected, arguments as a list, UTF-8 without BOM, an
/// environment allow-list. stderr goes to a bounded tail. Stops: <see cref="StopAsync"/> (graceful: close stdin,
/// wait, SIGTERM, wait, kill the tree) and <see cref="Kill"/> (forced: kill the tree now).
/// </summary>
public sealed class AgentProcess : IAgentTransport
{
    /// <summary>How long a process whose stdout closed gets to exit by itself before it is killed.</summary>
    private static readonly TimeSpan s_reapGrace = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_killGrace = TimeSpan.FromSeconds(5);

    private readonly Process _process;
    private readonly StderrTail _stderr = new();
    private readonly Task _stderrLoop;
    private readonly Action<string>? _onStderrLine;
    private int _disposed;

    private AgentProcess(Process process, Action<string>? onStderrLine)
    {
        _process = process;
        _onStderrLine = onStderrLine;
        ProcessId = process.Id;
        Description = $"{process.StartInfo.FileName} (pid {process.Id})";
        _stderrLoop = Task.Run(ReadStderrAsync);
        Exited = WaitForExitAsync();
    }

    public Stream Output => _process.StandardOutput.BaseStream;

    public Stream Input => _process.StandardInput.BaseStream;

    public int? ProcessId { get; }

    public string Description { get; }

    public string StderrTail => _stderr.ToString();

    public Task<AgentExit> Exited { get; }

    public static AgentProcess Start(AgentCommand command, Action<string>? onStderrLine = null)
    {
        ArgumentNullException.ThrowIfNull(command);
        var info = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        foreach (var argument in command.Arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (command.WorkingDirectory is not null)
        {
            info.WorkingDirectory = command.WorkingDirectory;
        }

        // Start from nothing and add only what is allowed: the host's secrets never reach the agent.
        var inherited = info.Environment.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        info.Environment.Clear();
        foreach (var name in command.EnvironmentAllowList)
        {
            if (inherited.TryGetValue(name, out var value) && value is not null)
            {
                info.Environment[name] = value;
            }
        }

        foreach (var (name, value) in command.Environment)
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new AgentExitedException($"could not start the agent '{command}': {ex.Message}");
        }

        return new AgentProcess(process, onStderrLine);
    }

    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        catch (Win32Exception)
        {
            // Raced with its exit.
        }
    }

    public async Task StopAsync(TimeSpan grace, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (Exited.IsCompleted)
        {
            return;
        }

        // 1. Close stdin: a well-behaved ACP agent exits at end of input (the MCP SDK skips this and always waits its full grace).
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
        }

        if (await ExitedWithinAsync(grace, timeProvider, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        // 2. SIGTERM, then 3. kill the whole tree.
        NativeSignals.Send(_process.Id, NativeSignals.SigTerm);
        if (await ExitedWithinAsync(grace, timeProvider, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        Kill();
        await ExitedWithinAsync(grace, timeProvider, cancellationToken).ConfigureAwait(false);
    }

    public async Task<AgentExit> ExitAfterOutputClosedAsync(TimeProvider timeProvider)
    {
        if (await ExitedWithinAsync(s_reapGrace, timeProvider, CancellationToken.None).ConfigureAwait(false))
        {
            return await Exited.ConfigureAwait(false);
        }

        // Its stdout closed but the process lives on: of no use to anyone, and it must not linger.
        Kill();
        return await ExitedWithinAsync(s_killGrace, timeProvider, CancellationToken.None).ConfigureAwait(false)
            ? await Exited.ConfigureAwait(false)
            : new AgentExit(null, null, StderrTail);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (!Exited.IsCompleted)
        {
            Kill();
        }

        try
        {
            await Exited.WaitAsync(TimeSpan.FromSeconds(5), TimeProvider.System).ConfigureAwait(false);
            await _stderrLoop.WaitAsync(TimeSpan.FromSeconds(1), TimeProvider.System).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        _process.Dispose();
    }

    private async Task<bool> ExitedWithinAsync(TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        try
        {
            await Exited.WaitAsync(timeout, timeProvider, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private async Task<AgentExit> WaitForExitAsync()
    {
        await _process.WaitForExitAsync().ConfigureAwait(false);
        var code = _process.ExitCode;

        // .NET reports a death by signal n as exit code 128 + n.
        int? signal = code > 128 && code < 128 + 65 ? code - 128 : null;
        try
        {
            await _stderrLoop.WaitAsync(TimeSpan.FromMilliseconds(500), TimeProvider.System).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A grandchild may still hold stderr open; report the tail we have.
        }

        return new AgentExit(signal is null ? code : null, signal, _stderr.ToString());
    }

    private async Task ReadStderrAsync()
    {
        try
        {
            while (await _process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                _stderr.Append(line);
                try
                {
                    _onStderrLine?.Invoke(line);
                }
#pragma warning disable CA1031 // A user callback must not kill the reader.
                catch (Exception)
#pragma warning restore CA1031
                {
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }
}
